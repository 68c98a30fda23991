"""The main job: wells + a grid + a trained model -> a georeferenced ensemble on disk.

Outputs, in one directory::

    ensemble.zarr      realizations (realization, y, x) with CRS; the raw generator output
    realizations.tif   the realizations as bands (snapped to the wells with ``exact``)
    summary.tif        mean + std (continuous) or one probability band per facies
    honoring.json      per well: observed value vs the realizations at its pixel
    overview.png       realizations, summary maps and the wells, axes in CRS units

Resumable and never half-done: realizations go to the Zarr store as they are made, each
with a ``written`` flag; the store is marked ``complete`` only after every other output has
been written, so an interrupted run leaves a store that refuses to open as complete, and
rerunning the same command generates only the missing realizations (realization ``i`` depends
only on ``(seed, i)``, so the result is identical to an uninterrupted run).
"""

from __future__ import annotations

import shutil
import sys
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from geocgan import __version__
from geocgan.background import Background
from geocgan.checkpoint import load_model
from geocgan.constraints import Canvas, Constraints, from_points
from geocgan.devices import resolve_device
from geocgan.errors import InputError, OutputExistsError
from geocgan.files import atomic_path, is_partial, remove_partials
from geocgan.io.ensemble import (
    EnsembleStore,
    iter_realizations,
    storage,
    stored_noise_scheme,
    write_geotiff_chunks,
    write_geotiff_stack,
    write_summary_geotiff,
)
from geocgan.io.grid import Grid
from geocgan.io.jsonio import dumps
from geocgan.io.wells import Wells, read_wells
from geocgan.metrics.geostats import honoring_at_wells, neighbourhood_majority
from geocgan.models import GANModel
from geocgan.noise import SCHEMES
from geocgan.simulate import PRECISIONS, generate_batches, require_command

OUTPUTS = ("ensemble.zarr", "realizations.tif", "summary.tif", "honoring.json", "overview.png")
FACIES_OUTPUTS = ("most_likely.tif",)  # facies models only


MAX_TIFF_BANDS = 65535  # GDAL's GeoTIFF limit (samples per pixel)


@dataclass
class SimulateConfig:
    """Settings of ``geocgan simulate`` (see the CLI's ``--help`` for each)."""

    n: int = 100
    seed: int = 0
    batch_size: int | None = None  # None: chosen for the device and grid (auto_batch_size)
    device: str = "auto"
    exact: bool = False
    zarr_format: int = 2
    overwrite: bool = False
    progress: bool = True
    dask_address: str | None = None
    wells_columns: dict = field(
        default_factory=lambda: {"value": "value", "x": "x", "y": "y", "well_id": "well_id"}
    )
    wells_crs: str | None = None
    drop_outside: bool = False
    write_chunk: int = 64  # realizations read at a time to write the outputs (no CLI flag)
    compile: bool = False  # torch.compile the generator (each Dask task compiles its own)
    noise_scheme: str | None = None  # None: philox for a new ensemble, a resumed one's own
    precision: str = "float32"  # or bfloat16 (an opt-in, recorded in the store)

    def __post_init__(self) -> None:
        if (
            self.n < 1
            or (self.batch_size is not None and self.batch_size < 1)
            or self.write_chunk < 1
        ):
            raise InputError(
                "n, batch_size and write_chunk must be >= 1, got "
                f"n={self.n}, batch_size={self.batch_size}, write_chunk={self.write_chunk}"
            )
        if self.seed < 0:
            raise InputError(f"seed must be >= 0, got {self.seed}")
        if self.n > MAX_TIFF_BANDS:  # checked now, not after generating them all
            raise InputError(
                f"n={self.n}: realizations.tif holds one band per realization and a GeoTIFF "
                f"has at most {MAX_TIFF_BANDS}; run at most {MAX_TIFF_BANDS} per output "
                "directory (e.g. two runs with different --seed)"
            )
        if self.zarr_format not in (2, 3):
            raise InputError(f"zarr format must be 2 or 3, got {self.zarr_format}")
        if self.noise_scheme not in (None, *SCHEMES) or self.precision not in PRECISIONS:
            raise InputError(
                f"noise scheme {self.noise_scheme!r} or precision {self.precision!r} is "
                f"unknown; use one of {SCHEMES} and of {PRECISIONS}"
            )


def _generate_range(
    checkpoint: str,
    constraints: Constraints,
    start: int,
    stop: int,
    seed: int,
    batch_size: int | None,
    device: str,
    store: str,
    canvas: Canvas,
    compile: bool = False,
    noise_scheme: str = "philox",
    precision: str = "float32",
) -> int:
    """A unit of work (also a Dask task): generate realizations [start, stop) and store them."""
    from geocgan.io.ensemble import write_region

    model, _ = load_model(checkpoint, device=resolve_device(device))
    if compile:
        model.compile_generator()
    batches = generate_batches(
        model,
        constraints,
        range(start, stop),
        seed=seed,
        batch_size=batch_size,
        noise_scheme=noise_scheme,
        precision=precision,
    )
    with Background() as writer:  # the generator does not wait for the disk
        for idx, fields in batches:
            writer.submit(write_region, store, int(idx[0]), canvas.crop(fields))
    return stop - start


def _write_most_likely(path: Path, grid: Grid, spec, summary: dict, n: int) -> bool:
    """The most likely facies of each pixel over the ensemble (ties: the lower code), one band
    of uint8 codes with a colour table, so that GIS tools show it as classes."""
    from geocgan.plots import facies_colours

    probs = np.stack(list(summary.values()))  # (K, H, W), in spec.codes order
    codes = np.asarray(spec.codes)
    if codes.min() < 0 or codes.max() > 254:
        return False  # no uint8 palette for these codes; summary.tif holds the probabilities
    mode = codes[np.argmax(probs, axis=0)].astype(np.uint8)[None]  # (1, H, W)
    write_geotiff_stack(
        path,
        grid,
        mode,
        band_names=["most likely facies"],
        tags={"n": n, "facies_codes": list(spec.codes), "what": "argmax of summary.tif"},
        nodata=255,
        colormap=facies_colours(list(spec.codes)),
        overwrite=True,
    )
    return True


def _runs(indices: list[int], size: int) -> list[tuple[int, int]]:
    """Contiguous [start, stop) runs of at most ``size`` covering ``indices`` (sorted)."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i and i - runs[-1][0] < size:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


def run_simulation(wells_path, checkpoint, out, *, grid: Grid, config: SimulateConfig) -> dict:
    """Run the main job; returns the summary printed by the CLI (paths, honoring)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a directory for the outputs")
    model, doc = load_model(checkpoint, device=resolve_device(config.device))
    if getattr(model.config, "ndim", 2) == 3:
        raise InputError(
            f"{checkpoint} is a 3-D model: give the volume's layers with --z-bounds ZMIN ZMAX "
            "and --dz DZ (wells located by z, --depth-column or --md-column)"
        )
    require_command(model, "simulate")
    if config.compile:
        model.compile_generator()
    if doc.get("complete") is False:
        warnings.warn(
            f"{checkpoint} is from an unfinished training run (epoch {doc.get('epoch')} of "
            f"{doc.get('train', {}).get('epochs')}); resume it with `geocgan train --resume`",
            stacklevel=2,
        )
    spec = model.spec
    categorical = spec.kind == "categorical"
    wells = read_wells(
        wells_path,
        grid,
        crs=config.wells_crs,
        categorical=categorical,
        codes=spec.codes if categorical else None,
        drop_outside=config.drop_outside,
        **config.wells_columns,
    )
    cons = from_points(
        grid.shape, wells.rows, wells.cols, wells.values, spec=spec, labels=list(wells.ids)
    )
    canvas = model.canvas(*grid.shape)

    store_path = out / "ensemble.zarr"
    foreign = (  # names a geocgan run (finished, killed or being replaced) never leaves
        sorted(
            p.name
            for p in out.iterdir()
            if p.name not in OUTPUTS + FACIES_OUTPUTS and not is_partial(p.name)
        )
        if out.exists()
        else []
    )
    if foreign and not config.overwrite and not store_path.exists():
        raise OutputExistsError(
            f"{out} exists and is not a geocgan output directory (it holds "
            f"{', '.join(foreign[:5])}); choose a new or empty directory"
        )
    if config.overwrite and out.exists():
        if foreign:
            raise OutputExistsError(
                f"{out} holds files geocgan did not write ({', '.join(foreign[:5])}); "
                "--overwrite only replaces geocgan's outputs: choose a new or empty directory"
            )
        for name_ in OUTPUTS + FACIES_OUTPUTS:
            p = out / name_
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    remove_partials(out)  # what a killed run was writing
    if config.noise_scheme is None:  # a resumed ensemble keeps its own; a new one: Philox
        resuming = store_path.exists() and not config.overwrite
        stored = stored_noise_scheme(store_path) if resuming else None
        config = replace(config, noise_scheme=stored or "philox")
    name = "facies" if categorical else "value"
    attrs = {
        "title": f"geocgan ensemble of {name}",
        "model": doc["model"],
        "model_config": doc["config"],
        "checkpoint": str(checkpoint),
        "checkpoint_epoch": doc.get("epoch"),
        "field": doc["field"],
        "seed": config.seed,
        "lambda": doc["config"]["lam"],
        "wells": str(wells_path),
        "n_wells": len(wells),
        "geocgan_version": __version__,
        "realization_rule": "realization i is generated from noise seeded by (seed, i)",
        "exact": config.exact,
        "noise_scheme": config.noise_scheme,  # geocgan.noise; absent in older stores: torch
        **({"precision": config.precision} if config.precision != "float32" else {}),
        "canvas": {  # the grid the nets generated, and where this grid sits in it
            "shape": list(canvas.shape),
            "top": canvas.top,
            "left": canvas.left,
        },
    }
    store = EnsembleStore.open_or_create(
        store_path,
        grid,
        config.n,
        name=name,
        attrs=attrs,
        codes=spec.codes if categorical else None,
        zarr_format=config.zarr_format,
        overwrite=config.overwrite,
    )
    todo = store.missing()
    resumed = config.n - len(todo)
    if todo:
        _generate(
            str(Path(checkpoint).resolve()),
            canvas.place(cons),
            todo,
            str(store_path.resolve()),
            canvas,
            config,
            model,
        )

    stats = _EnsembleStats(wells, spec, grid.shape, config.exact)

    def outputs():  # (start, chunk) of the GeoTIFF's bands, snapped with exact; feeds stats
        for start, raw in iter_realizations(
            store_path, config.write_chunk, allow_incomplete=True
        ):  # (k, H, W) raw generator output
            yield start, stats.add(raw)

    dtype, fill = storage(spec.codes if categorical else None)
    write_geotiff_chunks(
        out / "realizations.tif",
        grid,
        outputs(),
        count=config.n,
        dtype=dtype,
        nodata=fill,
        band_names=[f"realization {i}" for i in range(config.n)],
        tags={"seed": config.seed, "model": str(checkpoint), "exact": config.exact},
        overwrite=True,
    )
    report = stats.report()
    report.update(wells=wells.to_dict(), seed=config.seed, n=config.n, model=str(checkpoint))

    from geocgan.plots import plot_overview

    summary = stats.summary()
    head, n_total, value_range = stats.overview()
    plot_overview(
        out / "overview.png",
        head,
        grid,
        wells,
        spec,
        summary,
        n_total=n_total,
        value_range=value_range,
    )
    write_summary_geotiff(out / "summary.tif", grid, summary, tags={"n": config.n}, overwrite=True)
    outputs = OUTPUTS
    if spec.kind == "categorical" and _write_most_likely(
        out / "most_likely.tif", grid, spec, summary, config.n
    ):
        outputs = OUTPUTS + FACIES_OUTPUTS
    with atomic_path(out / "honoring.json") as tmp:
        tmp.write_text(dumps(report, indent=1))
    store.finalize()  # last: until here the store says the run is unfinished, and a rerun resumes
    return {
        "out": str(out),
        "outputs": {k: str(out / k) for k in outputs},
        "n": config.n,
        "resumed_from": resumed,
        "n_wells": len(wells),
        "honoring": {
            k: report[k] for k in ("metric", "overall", "neighbourhood_match") if k in report
        },
        "config": asdict(config),
    }


def _bar(config: SimulateConfig) -> dict:
    """tqdm's settings for the generation's progress bar."""
    return {"desc": "simulate", "unit": "real", "disable": not config.progress, "file": sys.stderr}


def _generate(
    checkpoint: str,
    cons: Constraints,
    todo: list[int],
    store: str,
    canvas: Canvas,
    config: SimulateConfig,
    model: GANModel,
) -> None:
    runs = _runs(todo, max(config.batch_size or 0, config.write_chunk))  # units of work
    if config.dask_address:
        from dask.distributed import Client, as_completed

        with (
            Client(config.dask_address) as client,
            tqdm(total=len(todo), **_bar(config)) as bar,
        ):
            futures = [
                client.submit(
                    _generate_range,
                    checkpoint,
                    cons,
                    a,
                    b,
                    config.seed,
                    config.batch_size,
                    config.device,  # each worker resolves it: auto -> its own GPU
                    store,
                    canvas,
                    config.compile,
                    config.noise_scheme,
                    config.precision,
                    pure=False,
                )
                for a, b in runs
            ]
            for f in as_completed(futures):
                bar.update(f.result())
        return

    from geocgan.io.ensemble import write_region

    with tqdm(total=len(todo), **_bar(config)) as bar, Background() as writer:
        for a, b in runs:  # in-process: reuse the loaded model
            for idx, fields in generate_batches(
                model,
                cons,
                range(a, b),
                seed=config.seed,
                batch_size=config.batch_size,
                noise_scheme=config.noise_scheme,
                precision=config.precision,
            ):
                writer.submit(write_region, store, int(idx[0]), canvas.crop(fields))
                bar.update(len(idx))


class _Moments:
    """Per-pixel mean and sum of squared deviations, merged chunk by chunk in float64.

    Chan et al.'s pairwise update: exact to rounding and free of the cancellation of
    ``sum(x**2) - n * mean**2``.
    """

    def __init__(self, shape: tuple[int, int]) -> None:
        self.n = 0
        self.mean = np.zeros(shape)  # (H, W)
        self.m2 = np.zeros(shape)  # (H, W) sum of squared deviations from the mean

    def add(self, chunk: np.ndarray) -> None:
        c = chunk.astype(np.float64)  # (k, H, W)
        k, mean = len(c), c.mean(0)
        delta = mean - self.mean  # (H, W)
        total = self.n + k
        self.mean += delta * k / total
        self.m2 += ((c - mean) ** 2).sum(0) + delta**2 * self.n * k / total
        self.n = total

    def variance(self) -> float:
        """Variance of all values (every pixel of every realization), as ``fields.var()``."""
        return float((self.m2 / self.n).mean() + self.mean.var())


class _EnsembleStats:
    """What the outputs need of an ensemble, accumulated chunk by chunk (see :meth:`add`).

    Parameters
    ----------
    wells : Wells
        The conditioning wells.
    spec : FieldSpec
        Continuous or categorical (with its facies codes).
    shape : tuple of int
        Grid (height, width).
    exact : bool
        Snap the realizations to the wells in the outputs (not in the honoring report).
    n_show : int, default 4
        Realizations kept for the overview figure.
    """

    def __init__(self, wells: Wells, spec, shape: tuple[int, int], exact: bool, n_show: int = 4):
        self.wells, self.spec, self.exact, self.n_show = wells, spec, exact, n_show
        self.categorical = spec.kind == "categorical"
        self.sim: list[np.ndarray] = []  # (k, n_wells) raw values at the well pixels
        self.snapped: list[np.ndarray] = []  # (k, n_wells) the same after snapping
        self.around: list[np.ndarray] = []  # (k, n_wells) majority of the 8 neighbours
        self.head: list[np.ndarray] = []  # (H, W) the first n_show output realizations
        self.n = 0
        self.lo, self.hi = np.inf, -np.inf  # range of the output values
        if self.categorical:
            self.counts = np.zeros((len(spec.codes), *shape), np.int64)  # (K, H, W)
        else:
            self.raw = _Moments(shape)  # of the generator output: the report's field_variance
            self.moments = _Moments(shape) if exact else self.raw  # of the output: summary.tif

    def add(self, chunk: np.ndarray) -> np.ndarray:
        """Take realizations (k, H, W) of raw generator output; return them as output."""
        rows, cols = self.wells.rows, self.wells.cols
        self.sim.append(chunk[:, rows, cols])  # (k, n_wells)
        if self.categorical:
            self.around.append(neighbourhood_majority(chunk, rows, cols))
        else:
            self.raw.add(chunk)
        if self.exact:
            chunk = chunk.copy()
            chunk[:, rows, cols] = self.wells.values
            self.snapped.append(chunk[:, rows, cols])
        if self.categorical:
            for k, code in enumerate(self.spec.codes):
                self.counts[k] += (chunk == code).sum(0)
        elif self.exact:
            self.moments.add(chunk)
        self.head.extend(np.array(chunk[: self.n_show - len(self.head)]))  # copies, not views
        if np.isfinite(chunk).any():
            self.lo, self.hi = min(self.lo, np.nanmin(chunk)), max(self.hi, np.nanmax(chunk))
        self.n += len(chunk)
        return chunk

    def summary(self) -> dict[str, np.ndarray]:
        """Mean and standard deviation, or one probability band per facies (float32 maps)."""
        if self.categorical:
            return {
                f"probability of facies {c}": (self.counts[k] / self.n).astype(np.float32)
                for k, c in enumerate(self.spec.codes)
            }
        std = np.sqrt(self.moments.m2 / self.n)  # (H, W) population std, as numpy's
        return {"mean": self.moments.mean.astype(np.float32), "std": std.astype(np.float32)}

    def report(self) -> dict:
        """The honoring report of the raw output (plus ``after_exact_snapping`` with exact)."""
        report = honoring_report(
            np.concatenate(self.sim),
            self.wells,
            self.categorical,
            around=np.concatenate(self.around) if self.categorical else None,
            field_variance=None if self.categorical else self.raw.variance(),
        )
        if self.exact:
            report["after_exact_snapping"] = {
                "metric": report["metric"],
                "overall": honoring_at_wells(
                    np.concatenate(self.snapped), self.wells.values, self.categorical
                )["overall"],
                "note": "realizations.tif and summary.tif are snapped to the wells",
            }
        return report

    def overview(self) -> tuple[np.ndarray, int, tuple[float, float]]:
        """First realizations ``(n_show, H, W)``, ensemble size and value range, for the overview."""
        return np.stack(self.head), self.n, (self.lo, self.hi)


def honoring_report(
    sim: np.ndarray,
    wells: Wells,
    categorical: bool,
    *,
    around: np.ndarray | None = None,
    field_variance: float | None = None,
) -> dict:
    """Per well: observed value vs the realizations at its pixel (raw generator output).

    Parameters
    ----------
    sim : numpy.ndarray
        Values at the well pixels, ``fields[:, wells.rows, wells.cols]``, shape (n, n_wells).
    wells : Wells
        The wells.
    categorical : bool
        Facies codes (match shares) or continuous values (MSE).
    around : numpy.ndarray, optional
        Categorical only (required): :func:`neighbourhood_majority`, shape (n, n_wells).
    field_variance : float, optional
        Continuous only (required): variance of all values of the realizations.
    """
    if (around is None) if categorical else (field_variance is None):
        raise ValueError("honoring_report needs `around` (categorical) or `field_variance`.")
    per_well = []
    for j in range(len(wells)):
        s = sim[:, j]
        entry = {
            "id": str(wells.ids[j]),
            "row": int(wells.rows[j]),
            "col": int(wells.cols[j]),
            "x": float(wells.x[j]),
            "y": float(wells.y[j]),
        }
        if categorical:
            entry.update(
                observed=int(wells.values[j]), match_share=float((s == wells.values[j]).mean())
            )
        else:
            entry.update(
                observed=float(wells.values[j]),
                mean=float(s.mean()),
                std=float(s.std()),
                p05=float(np.quantile(s, 0.05)),
                p95=float(np.quantile(s, 0.95)),
                mse=float(((s - wells.values[j]) ** 2).mean()),
            )
        per_well.append(entry)
    hon = honoring_at_wells(sim, wells.values, categorical)  # the ensemble's (metric, overall)
    if categorical:
        for j, e in enumerate(per_well):
            e["neighbourhood_match_share"] = float((around[:, j] == wells.values[j]).mean())
        return {
            "metric": hon["metric"],
            "overall": hon["overall"],
            "per_well": per_well,
            "wells_always_matched": int(sum(e["match_share"] == 1.0 for e in per_well)),
            "neighbourhood_match": float((around == wells.values[None]).mean()),
            "neighbourhood_note": "share of wells whose 8 neighbouring pixels are mostly of the well's facies: "
            "low values while facies_match is high mean the wells are honored by "
            "isolated pixels rather than by the geology around them",
        }
    return {
        "metric": hon["metric"],
        "overall": hon["overall"],
        "per_well": per_well,
        "field_variance": field_variance,
    }
