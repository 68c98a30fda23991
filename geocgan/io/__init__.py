"""Files in and out: wells, grids, training images, ensembles, checkpoints."""

from geocgan.io.checkpoint import load_model, read_checkpoint, save_checkpoint
from geocgan.io.ensemble import (
    EnsembleStore,
    open_ensemble,
    write_geotiff_stack,
    write_region,
    write_summary_geotiff,
)
from geocgan.io.grid import Grid, parse_crs
from geocgan.io.idx import read_idx, write_idx
from geocgan.io.images import read_training_image
from geocgan.io.wells import Wells, read_wells

__all__ = [
    "EnsembleStore",
    "Grid",
    "Wells",
    "load_model",
    "open_ensemble",
    "parse_crs",
    "read_checkpoint",
    "read_idx",
    "read_training_image",
    "read_wells",
    "save_checkpoint",
    "write_geotiff_stack",
    "write_idx",
    "write_region",
    "write_summary_geotiff",
]
