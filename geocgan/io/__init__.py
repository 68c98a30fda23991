"""Files in and out: wells, grids, training images, ensembles (GIS and file formats only;
checkpoints are ``geocgan.checkpoint``).

The names below are imported on first use (PEP 562), so that training and generation
(``geocgan.train``, ``geocgan.simulate``) work where the GIS
stack (rasterio, pyproj, zarr, dask) is not installed, e.g. on a bare GPU node.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "EnsembleStore": "ensemble",
    "open_ensemble": "ensemble",
    "write_geotiff_stack": "ensemble",
    "write_region": "ensemble",
    "write_summary_geotiff": "ensemble",
    "Grid": "grid",
    "parse_crs": "grid",
    "Grid3D": "grid3d",
    "read_idx": "idx",
    "write_idx": "idx",
    "read_training_image": "images",
    "Wells": "wells",
    "read_wells": "wells",
    "Wells3D": "wells3d",
    "read_wells_3d": "wells3d",
    "VolumeStore": "volume",
    "open_volume": "volume",
    "write_volume_zarr": "volume",
    "write_volume_netcdf": "volume",
    "write_vti": "volume",
    "read_training_volume": "volume",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value  # once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
