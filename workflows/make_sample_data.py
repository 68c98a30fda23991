"""Make everything in ``sample_data/``: training image, truth, wells, grid template, checkpoint.

Reproduces the shipped sample data from seeds, with the package's own generator:

- ``training_image.tif``: 256x256 binary channels (code 1 = channel, 0 = floodplain), seed 1;
- ``truth.tif``: a 128x128 realization *not* in the training image (seed 2024), same settings;
- ``wells.csv``: 0.5% of the truth's pixels (82 wells) as x, y (EPSG:32631, metres), facies;
- ``grid.tif``: the 128x128 grid template, 25 m pixels, EPSG:32631 (UTM zone 31N);
- ``channels.safetensors``: a pixel-constrained cGAN trained on 128x128 patches of the
  training image, mirrored at random left-right and up-down (``flip``), with a discriminator
  of 5 strided layers that sees 222 px, i.e. whole channel bends (weights + JSON description,
  no optimizer state); λ = 10 plus two optional terms that are not in the paper: the
  neighbourhood term with weight ``--lam-local 3`` (honors wells by the geology around them
  rather than by isolated pixels; 0 gives the paper's loss alone, 10 collapsed the ensemble)
  and the moment term (``lam_moments`` = 100, keeps the channel proportion at the whole
  training image's 0.28: random windows see the image's border less often than its inside,
  where channels cover 0.33); generation by the generator's weight average (``ema`` 0.999).
  The recipe (data and settings) is ``geocgan.recipes``'s;
- ``training_log.jsonl``: the training curve (one JSON line per epoch).

Run: ``python workflows/make_sample_data.py [--epochs N] [--out sample_data]``.
Trains 100 epochs: about 15 minutes on a 2-core CPU with both threads (74 images/s), longer with
``make sample-data``, which runs torch on one thread. The shipped model is this
recipe trained longer: 425 epochs on an H200 (``workflows/train_models.py``, 430 images/s;
``lam_local`` 3 and the moment term at weight 10 toward each batch's proportions), 30 epochs on
the CPU with ``lam_local`` 5 (``workflows/results/gpu/README.md``, session 4), then 40 on the
CPU with the moment term as above (``workflows/results/benchmark/discussion.md``); each
chosen on wells other than the benchmark's. A run from scratch with this recipe has not been
measured.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from geocgan.checkpoint import export_model, read_checkpoint
from geocgan.constraints import sample_constraints
from geocgan.devices import resolve_device
from geocgan.fields import channel_field
from geocgan.io.images import read_training_image
from geocgan.models import build_model
from geocgan.recipes import (
    CHANNEL_FLIP,
    CHANNEL_MODEL,
    CHANNEL_PATCH,
    CHANNEL_SPEC,
    CHANNELS,
    DENSITY,
    channel_model_config,
    training_image,
)
from geocgan.train import PatchSampler, TrainConfig, Trainer

CRS = "EPSG:32631"
ORIGIN = (500_000.0, 5_700_000.0)  # upper-left corner, metres
RES = 25.0


def write_raster(path: Path, array: np.ndarray, transform, description: str) -> None:
    import rasterio

    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=array.shape[0],
        width=array.shape[1],
        count=1,
        dtype="uint8",
        crs=CRS,
        transform=transform,
        compress="deflate",
    ) as dst:
        dst.write(array.astype("uint8"), 1)
        dst.set_band_description(1, description)


def make_data(out: Path) -> None:
    import pandas as pd
    from affine import Affine

    from geocgan.io.grid import Grid

    out.mkdir(parents=True, exist_ok=True)
    ti = training_image()
    truth = channel_field((128, 128), seed=2024, **CHANNELS)
    # the training image is not a map of anywhere: 1 m pixels at the origin of the same CRS
    write_raster(
        out / "training_image.tif",
        ti,
        Affine(1, 0, 0, 0, -1, 256),
        "facies (0 floodplain, 1 channel)",
    )
    grid = Grid.from_bounds(
        ORIGIN[0], ORIGIN[1] - 128 * RES, ORIGIN[0] + 128 * RES, ORIGIN[1], RES, CRS
    )
    write_raster(out / "truth.tif", truth, grid.transform, "facies (0 floodplain, 1 channel)")
    grid.write_template(out / "grid.tif", overwrite=True)
    c = sample_constraints(truth, density=DENSITY, seed=7)
    rows, cols = c.rows_cols
    rng = np.random.default_rng(7)
    xs, ys = grid.transform @ (
        cols + rng.uniform(0.1, 0.9, len(cols)),
        rows + rng.uniform(0.1, 0.9, len(rows)),
    )
    pd.DataFrame(
        {
            "well_id": [f"W{i + 1:03d}" for i in range(len(rows))],
            "x": np.round(xs, 2),
            "y": np.round(ys, 2),
            "facies": c.values[rows, cols].astype(int),
        }
    ).to_csv(out / "wells.csv", index=False)


def train_checkpoint(
    out: Path,
    work: Path,
    epochs: int,
    steps: int,
    batch: int,
    device: str,
    lam_local: float = CHANNEL_MODEL["lam_local"],
    patch: int = CHANNEL_PATCH,
) -> None:
    ti = read_training_image(out / "training_image.tif")
    model = build_model(
        "pixel-cgan", channel_model_config(ti, lam_local=lam_local), CHANNEL_SPEC, seed=0
    )
    cfg = TrainConfig(
        epochs=epochs, batch_size=batch, steps_per_epoch=steps, seed=0, device=device, val_size=64
    )
    rows = Trainer(
        model,
        PatchSampler([ti], patch, device=resolve_device(device), flip=CHANNEL_FLIP),
        cfg,
        checkpoint=work / "checkpoint.safetensors",
        log=work / "log.jsonl",
        meta={"training_images": ["training_image.tif"], "patch": patch, "flip": CHANNEL_FLIP},
    ).fit(resume=True)
    shipped = export_model(
        work / "checkpoint.safetensors", out / "channels.safetensors", overwrite=True
    )
    (out / "training_log.jsonl").write_text((work / "log.jsonl").read_text())
    print(json.dumps(rows[-1] if rows else read_checkpoint(shipped)[1]["last"], indent=1))


if __name__ == "__main__":
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "sample_data")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument(
        "--patch", type=int, default=CHANNEL_PATCH, help="training patch side (multiple of 16)"
    )
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument(
        "--work", type=Path, default=Path("runs/sample_data"), help="training checkpoints"
    )
    p.add_argument("--device", default="auto")
    p.add_argument(
        "--lam-local",
        type=float,
        default=CHANNEL_MODEL["lam_local"],
        help="weight of the neighbourhood term",
    )
    a = p.parse_args()
    make_data(a.out)
    train_checkpoint(a.out, a.work, a.epochs, a.steps, a.batch, a.device, a.lam_local, a.patch)
