"""Volumes, soft probability maps and proportions: small CPU runs of issue 22's measurements.

What it does (one torch thread, CPU; about 10-15 minutes of CPU on the 2-core machine):

1. **3D.** Trains a facies model with ``ndim=3`` (fcn, ngf 8) on 32³ patches of seeded 3D
   channel volumes (``channel_field_3d``), vertical wells drawn as boreholes, λ = 10; then
   generates 64 × 64 × 32 volumes (x, y, z; array ``(32, 64, 64)``) conditioned on the wells
   of a held-out volume: raw honoring of the well voxels, proportion, and the time per
   conditional realization (one thread, batch 1, median of ``--timing`` calls, after a
   warm-up), for this model and for the default width (ngf 16, untrained: time only);
   proportions, indicator variograms along z, y, x and 3D connectivity of the sand against
   the training volumes' (``geocgan.metrics.volume``). Writes a
   Zarr store, a VTK image and PNG slices of one realization with the wells.
2. **Soft maps and proportion (2D, 64²).** Trains a two-facies model with ``soft=True,
   proportion=True`` on 2D channel images whose channel proportion varies from 0.1 to 0.5;
   then measures (a) calibration: the ensemble's facies frequency against the input
   probability, for soft maps made from held-out images (their indicators smoothed with a
   Gaussian of 4 px), without wells, and the slope of that line (1: calibrated, 0: the map
   is ignored), and the same line for the held-out images themselves (what a perfect
   conditional sampler would follow); (b) requested against achieved channel proportion
   (0.1 ... 0.5): slope and offset of the line, alone, with wells (0.5 % of the pixels of an
   image of that proportion) and with wells and that image's soft map.

3. **DeeSse 3D** (geone): the same grid and wells, one training volume as training image,
   one thread: time per realization, honoring, proportion (``--deesse-n``, 2 by default).

Everything is seeded (``--seed``). Results: ``workflows/results/volumes/`` (``results.json``,
``README.md`` written by hand from it, PNGs). Run: ``python workflows/volumes.py`` or
``--quick`` for a smoke run (a minute; numbers meaningless; written under ``quick/``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from geocgan.conditioning import (
    calibration,
    condition_maps,
    proportion_line,
    smooth,
)
from geocgan.constraints import Constraints, FieldSpec, random_masks
from geocgan.fields import channel_field, channel_field_3d
from geocgan.io.grid import Grid
from geocgan.io.grid3d import Grid3D
from geocgan.io.volume import plot_slices, write_volume_zarr, write_vti
from geocgan.io.wells3d import Wells3D
from geocgan.metrics.volume import statistics_error, volume_statistics
from geocgan.models import build_model
from geocgan.models.base import Batch
from geocgan.models.pixel_cgan import PixelCGANConfig
from geocgan.plots import _save, plt
from geocgan.simulate import generate_batches

OUT = Path(__file__).parent / "results" / "volumes"
SPEC = FieldSpec(kind="categorical", codes=[0, 1])
VOLUME = (32, 64, 64)  # (D, H, W): 64 x 64 x 32 voxels


def windows(images: torch.Tensor, n: int, size: tuple[int, ...], g: torch.Generator):
    """``n`` random windows of ``size`` from a stack ``(N, *S)``: ``(n, *size)``."""
    pick = torch.randint(len(images), (n,), generator=g)
    out = []
    for i in pick.tolist():
        starts = [
            int(torch.randint(s - w + 1, (), generator=g))
            for s, w in zip(images.shape[1:], size, strict=True)
        ]
        out.append(images[(i, *(slice(a, a + w) for a, w in zip(starts, size, strict=True)))])
    return torch.stack(out)


def train(model, images: torch.Tensor, size, steps: int, batch: int, seed: int, desc: str):
    """``steps`` train steps on random windows; the last step's losses."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for _ in tqdm(range(steps), desc=desc, unit="step"):
        x = SPEC.encode(windows(images, batch, size, g).float())
        out = model.train_step(Batch(x=x), g)
    return {k: round(float(v), 4) for k, v in out.items()}


def timed(model, cond, n: int) -> dict:
    """Median wall-clock and CPU seconds of one conditional realization (batch 1, noise drawn
    and output decoded as ``generate_batches`` does) over ``n`` calls. One torch thread runs
    in the calling thread, so its CPU time is what an idle core would take; the wall-clock
    time also holds what other users of the shared machine took."""
    list(generate_batches(model, cond, [0], seed=99, batch_size=1))  # warm-up
    wall, cpu = [], []
    for i in range(n):
        t, c = time.perf_counter(), time.thread_time()
        list(generate_batches(model, cond, [i], seed=99, batch_size=1))
        wall.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
    return {"wall_s": round(statistics.median(wall), 4), "cpu_s": round(statistics.median(cpu), 4)}


def study_3d(args) -> dict:
    """Train a 3D model, generate 64 x 64 x 32 conditional volumes, time them."""
    train_vols, truth, mask = held_out_case(args.seed)  # (8, D, H, W), (D, H, W), (D, H, W)
    train_vols = torch.as_tensor(train_vols)
    cfg = PixelCGANConfig(
        ndim=3, nz=4, ngf=8, ndf=8, d_layers=3, lam=10.0, density=0.01, mode="borehole"
    )
    model = build_model("pixel-cgan", cfg, SPEC, seed=args.seed)
    t0 = time.process_time()
    last = train(model, train_vols, (32, 32, 32), args.steps_3d, 4, args.seed, "3d train")
    train_cpu = time.process_time() - t0
    wells = Constraints(np.where(mask, truth, np.nan), mask)
    fields = np.concatenate(
        [f for _, f in generate_batches(model.eval(), wells, range(args.n), seed=args.seed)]
    )  # (n, D, H, W)
    honoring = float((fields[:, mask] == truth[mask]).mean())
    reference = volume_statistics(train_vols.numpy(), SPEC.codes)
    stats = volume_statistics(fields, SPEC.codes)
    cond = wells.tensor(SPEC)
    seconds = timed(model, cond, args.timing)
    wide = build_model("pixel-cgan", PixelCGANConfig(ndim=3, mode="borehole"), SPEC, seed=0)
    seconds_wide = timed(wide.eval(), cond, max(3, args.timing // 3))

    grid = Grid3D.from_plan(Grid.from_bounds(0, 0, 640, 640, 10.0, "EPSG:32631"), (-64, 0), 2.0)
    write_volume_zarr(
        args.out / "volume_3d.zarr",
        grid,
        fields[:4].astype(np.uint8),
        name="facies",
        codes=[0, 1],
        attrs={"seed": args.seed, "model": "pixel-cgan ndim=3 ngf=8, workflows/volumes.py"},
        overwrite=True,
    )
    write_vti(
        args.out / "volume_3d.vti",
        grid,
        {"facies": fields[0], "p_channel": (fields == 1).mean(0)},
        overwrite=True,
    )
    layers, rows, cols = np.nonzero(mask)
    samples = Wells3D(
        ids=np.array([f"W{r}_{c}" for r, c in zip(rows, cols, strict=True)]),
        x=grid.plan.x[cols],
        y=grid.plan.y[rows],
        z=grid.z[layers],
        layers=layers,
        rows=rows,
        cols=cols,
        values=truth[mask].astype(np.int64),
        members=[[f"W{r}_{c}"] for r, c in zip(rows, cols, strict=True)],
        source=Path("random boreholes"),
        crs=grid.crs,
        source_crs=grid.crs,
        categorical=True,
    )
    at = (VOLUME[0] // 2, int(rows[0]), int(cols[0]))
    plot_slices(
        args.out / "slices_realization.png",
        grid,
        fields[0],
        wells=samples,
        at=at,
        categorical=True,
        title="geocgan 3D realization 0 (wells: squares)",
    )
    plot_slices(
        args.out / "slices_truth.png",
        grid,
        truth,
        wells=samples,
        at=at,
        categorical=True,
        title="held-out training volume the wells come from",
    )
    return {
        "train_steps": args.steps_3d,
        "train_cpu_s": round(train_cpu, 1),
        "last_losses": last,
        "n_well_voxels": int(mask.sum()),
        "n_wells": int(len(set(zip(rows.tolist(), cols.tolist(), strict=True)))),
        "honoring": round(honoring, 4),
        "proportion_truth": round(float(truth.mean()), 4),
        "proportion_ensemble": round(float(fields.mean()), 4),
        "statistics": stats,
        "statistics_training": reference,
        "error_vs_training": statistics_error(stats, reference),
        "per_realization_ngf8": seconds,
        "per_realization_ngf16_untrained": seconds_wide,
        "cells": int(np.prod(VOLUME)),
    }


def held_out_case(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training volumes ``(8, D, H, W)``, the held-out volume and its well mask (boreholes)."""
    vols = channel_field_3d(VOLUME, proportion=0.25, width=6, thickness=4, n=9, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    mask = random_masks(1, VOLUME, density=0.004, mode="borehole", generator=g)[0, 0].numpy()
    return vols[:8], vols[8], mask


def study_deesse_3d(args) -> dict:
    """geone's DeeSse in 3D on the same grid and wells, one training volume as TI, 1 thread."""
    import geone.deesseinterface as gdi
    import geone.img as gimg

    train_vols, truth, mask = held_out_case(args.seed)
    depth, height, width = VOLUME
    ti = gimg.Img(
        width,
        height,
        depth,
        1.0,
        1.0,
        1.0,
        0.0,
        0.0,
        0.0,
        nv=1,
        val=train_vols[0][None].astype(float),
        varname=["facies"],
    )  # (1, D, H, W)
    layers, rows, cols = np.nonzero(mask)
    hard = gimg.PointSet(  # geone (x, y, z) = (col, row, layer) + 0.5: no flips needed
        npt=len(layers),
        nv=4,
        varname=["X", "Y", "Z", "facies"],
        val=np.vstack([cols + 0.5, rows + 0.5, layers + 0.5, truth[mask]]),
    )
    sims, wall, cpu = [], [], []
    for k in tqdm(range(args.deesse_n), desc="deesse 3d", unit="real"):
        deesse_input = gdi.DeesseInput(
            nx=width,
            ny=height,
            nz=depth,
            nv=1,
            varname=["facies"],
            TI=ti,
            dataPointSet=[hard],
            distanceType=["categorical"],
            nneighboringNode=[24],
            distanceThreshold=[0.05],
            maxScanFraction=[0.25],
            seed=args.seed + k,
            nrealization=1,
        )
        t, c = time.perf_counter(), time.process_time()
        out = gdi.deesseRun(deesse_input, nthreads=1, verbose=0)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        sims.append(np.rint(out["sim"][0].val[0]).astype(np.uint8))  # (D, H, W)
    sims = np.stack(sims)
    stats = volume_statistics(sims, SPEC.codes)
    reference = volume_statistics(train_vols, SPEC.codes)
    return {
        "statistics": stats,
        "error_vs_training": statistics_error(stats, reference),
        "realizations": args.deesse_n,
        "settings": "nneighboringNode 24, distanceThreshold 0.05, maxScanFraction 0.25, 1 thread",
        "per_realization": {
            "wall_s": round(statistics.median(wall), 2),
            "cpu_s": round(statistics.median(cpu), 2),
        },
        "honoring": round(float((sims[:, mask] == truth[mask]).mean()), 4),
        "proportion_ensemble": round(float(sims.mean()), 4),
        "proportion_ti": round(float(train_vols[0].mean()), 4),
    }


def study_soft(args) -> dict:
    """Train a 2D soft/proportion model; calibration and proportion lines."""
    rng = np.random.default_rng(args.seed)
    props = rng.uniform(0.1, 0.5, args.images)
    images = torch.as_tensor(
        np.stack(
            [
                channel_field((64, 64), proportion=float(p), width=5.0, seed=args.seed + i)
                for i, p in enumerate(props)
            ]
        )
    )  # (N, 64, 64)
    cfg = PixelCGANConfig(
        nz=4,
        ngf=8,
        ndf=8,
        d_layers=3,
        lam=10.0,
        density=0.005,
        soft=True,
        proportion=True,
        proportion_range=[[0.5, 0.9], [0.1, 0.5]],  # what the training proportions span
        lam_soft=args.lam_soft,
        lam_prop=args.lam_prop,
        soft_scales=[2.0, 8.0],
        drop=0.5,
    )
    model = build_model("pixel-cgan", cfg, SPEC, seed=args.seed)
    t0 = time.process_time()
    last = train(model, images, (64, 64), args.steps_2d, 16, args.seed, "2d soft train")
    train_cpu = time.process_time() - t0
    model.eval()

    held = channel_field((64, 64), proportion=0.3, width=5.0, n=args.maps, seed=10_000 + args.seed)
    all_real, all_soft = [], []
    for j, truth in enumerate(held):
        soft = smooth(SPEC.encode(torch.as_tensor(truth)[None].float()), 4.0)[0].numpy()
        soft = soft / soft.sum(0, keepdims=True)  # exact sums after float rounding
        cond = condition_maps(SPEC, (64, 64), soft=True, proportion=True, soft_map=soft)
        real = np.concatenate(
            [f for _, f in generate_batches(model, cond, range(args.n), seed=j)]
        )  # (n, 64, 64)
        all_real.append(real)
        all_soft.append(soft)
    # calibration pooled over maps: frequency per cell and facies against probability
    cal = calibration(np.stack(all_real, 1), np.stack(all_soft, 1), SPEC.codes)  # (n, maps, ...)
    # the held-out images against their own maps: a smoothed indicator is not the probability
    # of the facies given the map, so a perfect conditional sampler follows this line, not 1:1
    truth_line = calibration(held[None], np.stack(all_soft, 1), SPEC.codes)
    requested = [0.1, 0.2, 0.3, 0.4, 0.5]
    achieved = []
    for p in requested:
        cond = condition_maps(SPEC, (64, 64), soft=True, proportion=True, target=p)
        real = np.concatenate([f for _, f in generate_batches(model, cond, range(args.n), seed=7)])
        achieved.append(round(float(real.mean()), 4))
    line = proportion_line(requested, achieved)
    combined = {"wells": [], "wells_and_soft": []}
    for k, p in enumerate(requested):
        truth = channel_field((64, 64), proportion=p, width=5.0, seed=20_000 + k)
        g = torch.Generator().manual_seed(k)
        mask = random_masks(1, (64, 64), density=0.005, generator=g)[0, 0].numpy()
        wells = Constraints(np.where(mask, truth, np.nan), mask)
        soft = smooth(SPEC.encode(torch.as_tensor(truth)[None].float()), 4.0)[0].numpy()
        soft = soft / soft.sum(0, keepdims=True)
        for key, given in (("wells", {}), ("wells_and_soft", {"soft_map": soft})):
            cond = condition_maps(
                SPEC, (64, 64), soft=True, proportion=True, constraints=wells, target=p, **given
            )
            real = np.concatenate(
                [f for _, f in generate_batches(model, cond, range(args.n), seed=7)]
            )
            combined[key].append(round(float(real.mean()), 4))
    plot_curves(args.out, cal, truth_line, requested, achieved, line)
    return {
        "train_steps": args.steps_2d,
        "train_images": args.images,
        "train_cpu_s": round(train_cpu, 1),
        "last_losses": last,
        "calibration": {**cal, "maps": args.maps, "realizations_per_map": args.n, "sigma": 4.0},
        "calibration_of_the_truth": truth_line,
        "proportion": {"requested": requested, "achieved": achieved, **line},
        "proportion_combined": {
            key: {"achieved": got, **proportion_line(requested, got)}
            for key, got in combined.items()
        },
    }


def plot_curves(out: Path, cal: dict, truth: dict, requested, achieved, line: dict) -> None:
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 4), constrained_layout=True)
    p = [c["p"] for c in cal["curve"]]
    a.plot([0, 1], [0, 1], "k:", label="calibrated")
    a.plot(p, [c["freq"] for c in cal["curve"]], "o-", label=f"ensemble, slope {cal['slope']:.2f}")
    a.plot(
        [c["p"] for c in truth["curve"]],
        [c["freq"] for c in truth["curve"]],
        "s--",
        label=f"the images the maps came from, slope {truth['slope']:.2f}",
    )
    a.set(xlabel="input probability", ylabel="ensemble frequency", title="soft-map calibration")
    a.legend()
    b.plot([0, 0.6], [0, 0.6], "k:")
    b.plot(
        requested, achieved, "o-", label=f"slope {line['slope']:.2f}, offset {line['offset']:.2f}"
    )
    b.set(xlabel="requested proportion", ylabel="achieved", title="proportion conditioning")
    b.legend()
    _save(fig, out / "soft_and_proportion.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps-3d", type=int, default=600)
    ap.add_argument("--steps-2d", type=int, default=1500)
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--maps", type=int, default=8)
    ap.add_argument("--n", type=int, default=32, help="realizations per case")
    ap.add_argument("--timing", type=int, default=9)
    ap.add_argument("--lam-soft", type=float, default=10.0)
    ap.add_argument("--lam-prop", type=float, default=10.0)
    ap.add_argument("--quick", action="store_true", help="smoke run: numbers meaningless")
    ap.add_argument("--deesse-n", type=int, default=2, help="DeeSse 3D realizations")
    ap.add_argument("--only", choices=["3d", "soft", "deesse"], default=None)
    args = ap.parse_args()
    if args.quick:
        args.steps_3d, args.steps_2d, args.images, args.maps, args.n, args.timing = 2, 2, 8, 2, 4, 2
    torch.set_num_threads(1)
    args.out = OUT / "quick" if args.quick else OUT  # a smoke run never replaces results
    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "device": f"CPU ({platform.processor() or platform.machine()}), 1 torch thread",
        "torch": torch.__version__,
    }
    studies = {"3d": study_3d, "soft_and_proportion": study_soft, "deesse_3d": study_deesse_3d}
    for key, study in studies.items():
        if args.only in (None, key.split("_")[0]):
            date = datetime.now(timezone.utc).isoformat(timespec="seconds")
            result[key] = {
                "date": date,
                "args": {**vars(args), "out": str(args.out)},
                **study(args),
            }
    path = args.out / "results.json"
    if args.only and path.exists():  # one study rerun: keep the others
        result = {**json.loads(path.read_text()), **result}
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
