"""Side-by-side benchmark: geocgan against GSTools and geone on the same wells and grids.

Two cases, each on square grids (64, 128, 256 pixels a side by default):

* ``gaussian``: a stationary Gaussian field, exponential covariance ``exp(-h / 16)`` (length
  scale 16 px, practical range 48 px), variance 1, mean 0. Peers: GSTools ``CondSRF``, geone
  sequential Gaussian simulation (SGS) and geone FFT simulation with the kriged residual.
  geocgan uses ``gaussian_model.safetensors`` beside the results (trained on a few large
  unconditional fields: a generator of ngf 8 distilled from ``gaussian_model_ngf12.safetensors``,
  itself 120 epochs on a CPU and 155 more with an averaged generator on a GPU, see
  ``workflows/results/gpu/README.md``, with the noise of its 1/8-resolution stage × 1.5 after
  training: ``train_models.py --export ... --noise-gain 0=1.5``); ``--train-gaussian`` trains one of ``GAUSSIAN_MODEL``'s
  settings here instead (cached under ``runs/benchmark/``, reused and resumed when present).
* ``channels``: binary sinuous channels (1) in floodplain (0), the sample data's settings.
  Peer: geone DeeSse with the sample training image (TI), the one the channel model
  (``sample_data/channels.safetensors``) was trained on.

Each case and grid has a truth realization that is not part of any training data (seed 2024;
``--truth-seed``/``--wells-seed`` give validation wells to choose models on) and 0.5 % of its
pixels as wells. Every method makes ``n`` conditional realizations; time per realization is
the median over timed calls after a warm-up call, the one-off set-up (model loading and
compilation, GSTools' kriging of the grid) reported apart, with the protocol of
``geocgan.peers`` (geocgan, like geone, makes ``ceil(n / repeats)`` realizations a call).
geocgan generates through ``torch.compile`` (``--no-compile``: eager) and is timed before and
after the peers of each grid, its time the median of all its calls. ``--peers`` limits the
peers (none: geocgan alone).
Then every statistic of ``geocgan.evaluate`` (honoring, spread, variogram error against the
TI; proportion and connectivity errors for channels; conditional correlation against exact
simple kriging for the Gaussian case) and a leave-wells-out check: 20 % of the wells are held
out, every method re-simulates from the others, and the held-out values are scored (coverage
of the 5-95 % interval, or Brier score for facies).

Writes ``results.csv`` (one row per case, grid and method), ``results.md``, ``details.json``
(every statistic and curve) and PNG plots into ``workflows/results/benchmark/``.

Run: ``python workflows/benchmark_peers.py [--sizes 64 128 256] [--n 40] [--repeats 3]
[--cases gaussian channels] [--threads 1] [--quick] [--overwrite]``; about 12 min on a 2-core
CPU (``--train-gaussian [--train-epochs 120] [--train-patch 96]``: plus 20-40 min the first
time). The peers are an optional extra (``pip install geocgan[peers]``): a missing one is
skipped with a message.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import functools
import json
import math
import os
import platform
import shlex
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from geocgan.constraints import FieldSpec, sample_constraints
from geocgan.errors import GeocganError, InputError, OutputExistsError
from geocgan.evaluate import (
    KnownCovariance,
    WellPixels,
    conditional_realizations,
    ensemble_statistics,
    leave_wells_out_scores,
    reference_statistics,
    to_json,
)
from geocgan.fields import channel_field, gaussian_field
from geocgan.checkpoint import load_model, read_checkpoint
from geocgan.io.images import read_training_image
from geocgan.metrics.geostats import neighbourhood_share, split_wells
from geocgan.metrics.plots_geostats import distance_bin_labels
from geocgan.models import build_model
from geocgan.peers import (
    PEERS,
    PEERS_INSTALL_HINT,
    PeerRun,
    available_peers,
    peer_names_for,
    timed_runs,
)
from geocgan.train import PatchSampler, TrainConfig, Trainer, config_changes

ROOT = Path(__file__).resolve().parents[1]
CASES = ("gaussian", "channels")
CHANNELS = {"proportion": 0.28, "width": 6.0, "sinuosity": 0.3}  # as workflows/make_sample_data.py
CHANNEL_CODE = 1
CHANNEL_TRUTH_SIDE = 256  # channel truths are tiles of a field of the training image's side
COVARIANCE = KnownCovariance("exponential", len_scale=16.0, variance=1.0, mean=0.0)
TRUTH_SEED, WELLS_SEED, TRAIN_SEED = 2024, 7, 100
DENSITY = 0.005  # share of the truth's pixels taken as wells
GAUSSIAN_PATCH = 96  # side of the Gaussian model's training patches
GAUSSIAN_MODEL = {
    "arch": "fcn",
    "lam": 30.0,
    "lam_local": 10.0,  # 3x3-neighbourhood term: honor wells by the field around them
    "lam_moments": 10.0,  # batch mean and std on the data's
    "lam_div": 0.3,  # diversity-sensitive term against a too narrow ensemble
    "ngf": 12,
    "ndf": 16,
    "d_layers": 4,
    "nz": 16,
    "lr_g": 5e-4,
    "lr_d": 5e-4,
    "density": DENSITY,
    "ema": 0.999,  # generate with the average of the generator's recent weights
    "canvas": GAUSSIAN_PATCH,  # smaller grids: generated in the middle of a training-patch field
}
GAUSSIAN_WEIGHTS = {  # loss weights of the Gaussian model that have a command-line option
    "lam": "λ, weight of the constraint term,",
    "lam_local": "weight of the 3x3-neighbourhood constraint term",
    "lam_div": "weight of the diversity-sensitive term",
    "lam_moments": "weight of the moment-matching term",
}
TARGET_SIZE = 128  # grid side at which the speed targets are judged


@dataclass
class BenchConfig:
    """Settings of one benchmark run (the command-line options; sizes in pixels)."""

    sizes: tuple[int, ...] = (64, 128, 256)
    n: int = 40
    repeats: int = 3
    large_size: int = 256  # grids this large or larger use large_n / large_repeats
    large_n: int = 20
    large_repeats: int = 2
    cases: tuple[str, ...] = CASES
    holdout_share: float = 0.2
    holdout_n: int = 0  # realizations of the leave-wells-out ensembles; 0: the grid's n
    seed: int = 0
    truth_seed: int = TRUTH_SEED  # another seed gives validation wells, to choose models on
    wells_seed: int = WELLS_SEED
    peers: tuple[str, ...] | None = None  # None: every installed peer
    # the trained Gaussian model; None trains one (or reuses the cache under ``runs``)
    gaussian_trained: Path | None = ROOT / "workflows/results/benchmark/gaussian_model.safetensors"
    train_epochs: int = 120
    train_steps: int = 40
    train_batch: int = 16
    train_patch: int = GAUSSIAN_PATCH
    train_images: int = 4
    train_image_size: int = 512
    gaussian_model: dict = field(default_factory=lambda: dict(GAUSSIAN_MODEL))
    channel_model: Path = ROOT / "sample_data" / "channels.safetensors"
    channel_ti: Path = ROOT / "sample_data" / "training_image.tif"
    runs: Path = ROOT / "runs" / "benchmark"
    out: Path = ROOT / "workflows" / "results" / "benchmark"
    sampling_size: int = 2000
    threads: int = 1  # see --threads
    compile: bool = True  # geocgan generates through torch.compile (compiling is set-up)
    overwrite: bool = False


QUICK = {"sizes": (64,), "n": 10, "repeats": 2, "train_epochs": 3, "train_steps": 10}


def log(msg: str) -> None:
    """Progress line on stderr, with the wall-clock time and the 1-minute load average."""
    stamp = datetime.datetime.now().strftime("%H:%M:%S")
    sys.stderr.write(f"[{stamp} load {os.getloadavg()[0]:.1f}] {msg}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------- the cases


def truth_and_wells(
    case: str, size: int, truth_seed: int = TRUTH_SEED, wells_seed: int = WELLS_SEED
) -> tuple[np.ndarray, WellPixels]:
    """Truth realization (size, size) of a case and 0.5 % of its pixels as wells.

    A channel truth is one tile, drawn with ``truth_seed``, of a channel field as large as the
    training image (``CHANNEL_TRUTH_SIDE``, rounded up to a multiple of ``size``), so that it is
    a sample of what the statistics compare with: the training image's tiles of that size. A
    field made at 64² directly is not: ``channel_field`` runs its channels across the whole
    domain, and 64² truths made so had 0.87 of their channel pixels in grid-spanning channels
    against 0.52 in the training image's 64² tiles (truth seeds 3000-3007).
    """
    if case == "gaussian":
        truth = gaussian_field(
            (size, size),
            model=COVARIANCE.model,
            len_scale=COVARIANCE.len_scale,
            variance=COVARIANCE.variance,
            seed=truth_seed,
        )
    else:
        side = size * -(-CHANNEL_TRUTH_SIDE // size)
        field = channel_field((side, side), seed=truth_seed, **CHANNELS).astype(np.int64)
        per_row = side // size
        row, col = divmod(int(np.random.default_rng(truth_seed).integers(per_row**2)), per_row)
        truth = field[row * size : (row + 1) * size, col * size : (col + 1) * size]
    cons = sample_constraints(truth, density=DENSITY, seed=wells_seed)
    rows, cols = cons.rows_cols
    values = truth[rows, cols]  # (m,)
    ids = [f"W{i + 1:03d}" for i in range(len(rows))]
    return truth, WellPixels(rows.astype(np.int64), cols.astype(np.int64), values, ids)


def gaussian_training_images(cfg: BenchConfig) -> np.ndarray:
    """(k, S, S) unconditional training fields of the Gaussian case (seed 100, not the truth)."""
    s = cfg.train_image_size
    return gaussian_field(
        (s, s),
        model=COVARIANCE.model,
        len_scale=COVARIANCE.len_scale,
        variance=COVARIANCE.variance,
        n=cfg.train_images,
        seed=TRAIN_SEED,
    )


def gaussian_checkpoint(cfg: BenchConfig, tis: np.ndarray) -> Path:
    """Train (or reuse / resume) the Gaussian case's continuous model; return its path."""
    ckpt = cfg.runs / "gaussian.safetensors"
    model = build_model("pixel-cgan", cfg.gaussian_model, FieldSpec.from_data(tis, "continuous"))
    if ckpt.exists():
        doc = read_checkpoint(ckpt)[1]
        differ = set(config_changes(doc, model.config))
        if doc.get("patch", 64) != cfg.train_patch:
            differ.add("patch")
        if differ:
            raise InputError(
                f"{ckpt} holds a model with other settings ({sorted(differ)} differ); delete "
                "it or pass another --runs directory to train the benchmark's model."
            )
        if doc["epoch"] >= cfg.train_epochs:
            log(f"gaussian model: reusing {ckpt} (epoch {doc['epoch']})")
            return ckpt
        log(f"gaussian model: resuming {ckpt} from epoch {doc['epoch']} to {cfg.train_epochs}")
    else:
        log(f"gaussian model: training {cfg.train_epochs} epochs -> {ckpt}")
    train = TrainConfig(
        epochs=cfg.train_epochs,
        batch_size=cfg.train_batch,
        steps_per_epoch=cfg.train_steps,
        seed=cfg.seed,
        device="auto",
    )
    start = time.perf_counter()
    rows = Trainer(
        model,
        PatchSampler(list(tis), cfg.train_patch),
        train,
        checkpoint=ckpt,
        log=ckpt.with_suffix(".jsonl"),
        meta={"training_images": f"gaussian_field x{cfg.train_images}", "patch": cfg.train_patch},
        progress=True,
    ).fit(resume=True)
    last = rows[-1]
    log(
        f"gaussian model: {time.perf_counter() - start:.0f} s, epoch {last['epoch']}, "
        f"held-out well MSE {last['val_honoring']:.4f}"
    )
    return ckpt


# --------------------------------------------------------------------------- the methods


@functools.lru_cache(maxsize=4)
def _cpu_model(checkpoint: Path, compile: bool, mtime_ns: int):
    """A checkpoint's model, loaded (and compiled) once while the file is unchanged."""
    model, _ = load_model(checkpoint, device="cpu")
    if compile:
        model.compile_generator()
    return model


def geocgan_run(
    checkpoint: Path,
    shape,
    wells: WellPixels,
    *,
    n: int,
    seed: int,
    repeats: int,
    compile: bool = False,
) -> PeerRun:
    """geocgan timed like the peers: set-up = loading the model (once per benchmark run,
    then cached) + one warm-up call, which holds the compilation for this grid with
    ``compile``."""

    def build():
        model = _cpu_model(checkpoint, compile, checkpoint.stat().st_mtime_ns)

        def simulate(call_seed: int, k: int) -> np.ndarray:
            return conditional_realizations(model, shape, wells, n=k, seed=call_seed)

        return simulate

    per_call = math.ceil(n / repeats)
    return timed_runs(
        "geocgan",
        build,
        n=n,
        n_per_call=per_call,
        repeats=repeats,
        seed=seed,
        warmup=per_call if compile else 1,  # compiles for the timed calls' batch shape
    )


def method_run(
    method: str,
    case: str,
    shape,
    wells: WellPixels,
    *,
    checkpoint: Path,
    ti: np.ndarray,
    n: int,
    seed: int,
    repeats: int,
    threads: int,
    compile: bool = False,
) -> PeerRun:
    """Conditional realizations of one method (geocgan or a peer) with timings.

    geocgan runs on the CPU with the ``threads`` torch threads set by the caller; the peers
    get ``nthreads=threads`` (geone's FFT simulation has no thread option: numpy's FFT).
    """
    if method == "geocgan":
        return geocgan_run(
            checkpoint, shape, wells, n=n, seed=seed, repeats=repeats, compile=compile
        )
    args = (shape, wells.rows, wells.cols, wells.values)
    kwargs = {"n": n, "seed": seed, "repeats": repeats}
    if method != "geone_fft":
        kwargs["nthreads"] = threads
    if case == "channels":
        return PEERS[method](ti, *args, **kwargs)
    return PEERS[method](
        *args, len_scale=COVARIANCE.len_scale, variance=COVARIANCE.variance, **kwargs
    )


def _row(case, size, method, run: PeerRun, stats: dict, lwo: dict, load: float) -> dict:
    """One CSV row: timings, honoring and the headline statistics (None where not applicable)."""
    hon, conn = stats["honoring"], stats["connectivity"]
    props, corr = stats["proportions"], stats["conditional_correlation"]
    cspread, cmean = stats.get("conditional_spread"), stats.get("conditional_mean")
    channel = conn["by_facies"][CHANNEL_CODE] if conn else None
    k = None if props is None else list(props["codes"]).index(CHANNEL_CODE)
    return {
        "case": case,
        "size": size,
        "method": method,
        "n": len(run.realizations),
        "setup_s": run.setup_s,
        "per_realization_s": run.per_realization_s,
        "geocgan_speedup": None,  # filled once geocgan's time is known
        "load_1min": load,
        "honoring_metric": hon["metric"],
        "honoring": hon["overall"],
        "honoring_mse_over_variance": hon.get("mse_over_variance"),
        "worst_realization": hon["worst_realization"],
        "neighbourhood_share": hon.get("neighbourhood_share"),
        "neighbourhood_share_truth": None,  # filled by the grid, which knows the truth
        "spread": stats["spread"]["value"],
        "channel_proportion": None if props is None else props["ensemble"][k],
        "channel_proportion_ti": None if props is None else props["training_image"][k],
        "proportion_error": None if props is None else props["error"],
        "variogram_error": stats["variogram"]["error"],
        "connectivity_error": None if conn is None else conn["error"],
        "spanning_channel": None if channel is None else channel["spanning"]["ensemble"],
        "spanning_channel_ti": None if channel is None else channel["spanning"]["training_image"],
        "spanning_error": None if conn is None else conn["spanning_error"],
        "corr_error": None if corr is None else corr["mean_abs_error"],
        "corr_pair_error": None if corr is None else float(np.mean(corr["pair_abs_error"])),
        # ensemble std / simple-kriging std beside the wells (<= 1.5 px), and |ratio - 1|
        # averaged over distance bins (``conditional_spread_check``)
        "std_ratio_near": None if cspread is None else float(cspread["ratio"][0]),
        "std_ratio_error": None if cspread is None else cspread["mean_abs_error"],
        # RMS of (ensemble mean - simple-kriging estimate) / kriging std, the sampling error of
        # n taken out (``conditional_mean_check``): a biased conditional mean
        "mean_bias": None if cmean is None else cmean["rms_bias"],
        # the ensemble mean against the estimate, a least-squares line: 1 and 0 when exact
        "mean_slope": None if cmean is None else cmean["slope"],
        "mean_shift": None if cmean is None else cmean["shift"],
        "n_held_out": lwo["n_held_out"],
        "coverage": lwo.get("coverage"),
        "coverage_expected": lwo.get("expected_if_calibrated"),
        "brier": lwo.get("brier"),
        "holdout_accuracy": lwo.get("accuracy"),
    }


# --------------------------------------------------------------------------- the benchmark


def run_benchmark(cfg: BenchConfig, command: str = "") -> list[dict]:
    """Run every case, grid and method; write the results; return the CSV rows."""
    unknown = [c for c in cfg.cases if c not in CASES]
    if unknown:
        raise InputError(f"unknown case(s) {unknown}; choose from {list(CASES)}.")
    results = cfg.out / "results.csv"
    if results.exists() and not cfg.overwrite:
        raise OutputExistsError(f"{results} exists; pass --overwrite to replace the results.")
    cfg.out.mkdir(parents=True, exist_ok=True)
    cfg.runs.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    available = available_peers()
    missing = [p for p, ok in available.items() if not ok]
    if missing:
        log(f"peers missing, skipped: {', '.join(missing)} (install: {PEERS_INSTALL_HINT})")
    started = time.perf_counter()
    loads = [os.getloadavg()]
    rows, details, examples = [], {}, {}
    for case in cfg.cases:
        checkpoint, ti, codes = case_inputs(cfg, case)
        methods = case_methods(cfg, case, available)
        for size in cfg.sizes:
            rows_case, details_case = run_grid(cfg, case, size, methods, checkpoint, ti, codes)
            rows += rows_case
            details.update(details_case["stats"])
            examples[(case, size)] = details_case["examples"]
            loads.append(os.getloadavg())
    wall = time.perf_counter() - started
    _write_outputs(cfg, rows, details, examples, command, wall, loads)
    log(f"done in {wall / 60:.1f} min -> {cfg.out}")
    return rows


def case_inputs(cfg: BenchConfig, case: str) -> tuple[Path, np.ndarray, np.ndarray | None]:
    """(geocgan checkpoint, training image, facies codes or None) of a case."""
    if case == "gaussian":
        if cfg.gaussian_trained and not Path(cfg.gaussian_trained).is_file():
            raise InputError(
                f"Gaussian model {cfg.gaussian_trained} does not exist; pass --gaussian-model "
                "or --train-gaussian."
            )
        tis = gaussian_training_images(cfg)
        return cfg.gaussian_trained or gaussian_checkpoint(cfg, tis), tis[0], None
    if not cfg.channel_model.is_file():
        raise InputError(
            f"channel model {cfg.channel_model} does not exist; make it with "
            "`python workflows/make_sample_data.py` or pass --channel-model."
        )
    ti = read_training_image(cfg.channel_ti).astype(np.int64)
    return cfg.channel_model, ti, np.unique(ti)


def case_methods(cfg: BenchConfig, case: str, available: dict[str, bool]) -> list[str]:
    """geocgan, then the case's peers that are installed and asked for."""
    peers = peer_names_for(case)
    return ["geocgan"] + [
        p for p in peers if available[p] and (cfg.peers is None or p in cfg.peers)
    ]


def run_grid(cfg, case, size, methods, checkpoint, ti, codes) -> tuple[list[dict], dict]:
    """All methods on one case and grid size: (CSV rows, {"stats", "examples"})."""
    shape = (size, size)
    large = size >= cfg.large_size
    n, repeats = (cfg.large_n, cfg.large_repeats) if large else (cfg.n, cfg.repeats)
    truth, wells = truth_and_wells(case, size, cfg.truth_seed, cfg.wells_seed)
    k = max(1, round(cfg.holdout_share * len(wells.rows)))
    keep_idx, out_idx = split_wells(len(wells.rows), k, cfg.seed)
    kept, held_out = wells.subset(keep_idx), wells.subset(out_idx)
    categorical = case == "channels"
    log(f"{case} {size}x{size}: {len(wells.rows)} wells ({k} held out), n={n}")
    reference = reference_statistics(
        ti,
        shape,
        categorical=categorical,
        codes=codes,
        channel_axis="x",
        sampling_size=cfg.sampling_size,
        seed=cfg.seed,
    )
    rows, stats_all, examples = [], {}, {"truth": truth, "wells": wells}
    truth_share = (  # how often the truth itself has a well amid its own facies
        neighbourhood_share(truth, wells.rows, wells.cols, wells.values) if categorical else None
    )
    for method in methods:
        load = os.getloadavg()[0]
        common = {
            "checkpoint": checkpoint,
            "ti": ti,
            "n": n,
            "threads": cfg.threads,
            "compile": cfg.compile,
        }
        run = method_run(method, case, shape, wells, repeats=repeats, seed=cfg.seed, **common)
        log(
            f"  {method:16s} {run.per_realization_s * 1e3:9.2f} ms/realization "
            f"(set-up {run.setup_s:.2f} s)"
        )
        stats = ensemble_statistics(
            run.realizations,
            reference,
            wells,
            known_covariance=None if categorical else COVARIANCE,
            seed=cfg.seed,
        )
        held = method_run(  # coverage of an exact n-member ensemble is 0.9 (n - 1) / (n + 1)
            method,
            case,
            shape,
            kept,
            repeats=1,
            seed=cfg.seed + 1,
            **{**common, "n": cfg.holdout_n or n},
        )
        lwo = leave_wells_out_scores(
            held.realizations, held_out, categorical=categorical, codes=codes
        )
        rows.append(_row(case, size, method, run, stats, lwo, load))
        if categorical:
            rows[-1]["neighbourhood_share_truth"] = truth_share
        stats_all[f"{case}/{size}/{method}"] = {
            "timing": {key: v for key, v in asdict(run).items() if key != "realizations"},
            "statistics": stats,
            "leave_wells_out": lwo,
        }
        examples[method] = run.realizations[:2]
        examples[f"{method} mean"] = run.realizations.astype(float).mean(axis=0)
    if len(methods) > 1:
        # geocgan again after the peers, and the median of all its calls: a machine whose speed
        # drifts during the grid (shared cores) then slows both sides alike
        first = stats_all[f"{case}/{size}/geocgan"]["timing"]
        again = geocgan_run(
            checkpoint, shape, wells, n=n, seed=cfg.seed, repeats=repeats, compile=cfg.compile
        )
        per_call = [t / first["n_per_call"] for t in first["times_s"]]
        per_call += [t / again.n_per_call for t in again.times_s]
        first["times_after_peers_s"] = again.times_s
        first["per_realization_s"] = rows[0]["per_realization_s"] = statistics.median(per_call)
        log(
            f"  {'geocgan':16s} {rows[0]['per_realization_s'] * 1e3:9.2f} ms/realization "
            "(median of its calls before and after the peers)"
        )
    base = rows[0]["per_realization_s"]  # geocgan comes first
    for r in rows:
        r["geocgan_speedup"] = r["per_realization_s"] / base
    return rows, {"stats": stats_all, "examples": examples}


# --------------------------------------------------------------------------- outputs


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        names = [ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln]
        cpu = names[0].split(":", 1)[1].strip()
    except (OSError, IndexError):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU (CPU only)"
    return f"{cpu}, {os.cpu_count()} cores, {gpu}; torch {torch.__version__}"


def _targets(rows: list[dict]) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) at TARGET_SIZE (speed) and at every grid (quality)."""
    out = []
    by = {(r["case"], r["size"], r["method"]): r for r in rows}
    sizes = sorted({r["size"] for r in rows})
    speed_size = TARGET_SIZE if TARGET_SIZE in sizes else sizes[-1]

    def verdict(ok: bool, margin: str) -> str:
        return ("met" if ok else "MISSED") + f" ({margin})"

    if ("channels", speed_size, "geone_deesse") in by:
        s = by[("channels", speed_size, "geone_deesse")]["geocgan_speedup"]
        out.append(
            (
                f"{speed_size}²: ≥ 100x faster than DeeSse",
                f"{s:.3g}x",
                verdict(s >= 100, f"{s / 100:.2f} of target"),
            )
        )
    fastest = [
        by[("gaussian", speed_size, p)]["geocgan_speedup"]
        for p in ("gstools_condsrf", "geone_sgs", "geone_fft")
        if ("gaussian", speed_size, p) in by
    ]
    if fastest:
        s = min(fastest)
        out.append(
            (
                f"{speed_size}²: ≥ 10x faster than the fastest Gaussian peer",
                f"{s:.3g}x",
                verdict(s >= 10, f"{s / 10:.2f} of target"),
            )
        )
    for size in sizes:
        g = by.get(("channels", size, "geocgan"))
        if g:
            out.append(
                (
                    f"channels {size}²: facies match at wells ≥ 99 %",
                    f"{100 * g['honoring']:.2f} %",
                    verdict(g["honoring"] >= 0.99, f"{100 * (g['honoring'] - 0.99):+.2f} pts"),
                )
            )
            d = by.get(("channels", size, "geone_deesse"))
            if d:
                for key in (
                    "proportion_error",
                    "variogram_error",
                    "connectivity_error",
                    "spanning_error",
                ):
                    a, b = g[key], d[key]
                    out.append(
                        (
                            f"channels {size}²: {key.replace('_', ' ')} < DeeSse's",
                            f"{a:.3f} vs {b:.3f}",
                            verdict(a < b, f"{a - b:+.3f}"),
                        )
                    )
        g = by.get(("gaussian", size, "geocgan"))
        if g:
            r = g["honoring_mse_over_variance"]
            out.append(
                (
                    f"gaussian {size}²: well MSE ≤ 1 % of variance",
                    f"{100 * r:.2f} %",
                    verdict(r <= 0.01, f"{100 * (r - 0.01):+.2f} pts"),
                )
            )
            geone = [
                by[("gaussian", size, p)]["corr_error"]
                for p in ("geone_sgs", "geone_fft")
                if ("gaussian", size, p) in by
            ]
            if geone:
                ref = max(geone)
                out.append(
                    (
                        f"gaussian {size}²: conditional-correlation error ≤ geone's",
                        f"{g['corr_error']:.3f} vs {ref:.3f}",
                        verdict(g["corr_error"] <= ref, f"{g['corr_error'] - ref:+.3f}"),
                    )
                )
            c = g["coverage"]
            out.append(
                (
                    f"gaussian {size}²: 5-95 % coverage of held-out wells within 5 pts of 90 %",
                    f"{100 * c:.0f} % ({g['n_held_out']} wells; exact ensemble of this n: {100 * g['coverage_expected']:.0f} %)",
                    verdict(abs(c - 0.9) <= 0.05, f"{100 * (c - 0.9):+.0f} pts"),
                )
            )
    return out


COLUMNS = {
    "gaussian": [
        ("method", "method"),
        ("size", "grid"),
        ("per_realization_s", "s / real."),
        ("setup_s", "set-up s"),
        ("geocgan_speedup", "geocgan speed-up"),
        ("honoring_mse_over_variance", "well MSE / var"),
        ("spread", "spread (std)"),
        ("variogram_error", "variogram err"),
        ("corr_error", "cond. corr. err"),
        ("corr_pair_error", "per-pair corr. err"),
        ("std_ratio_near", "std / kriging std ≤ 1.5 px"),
        ("std_ratio_error", "std / kriging std err"),
        ("mean_bias", "mean bias (kriging stds)"),
        ("mean_slope", "mean vs estimate: slope"),
        ("mean_shift", "mean vs estimate: shift"),
        ("coverage", "coverage 5-95 %"),
        ("coverage_expected", "exact-ensemble coverage"),
        ("load_1min", "load"),
    ],
    "channels": [
        ("method", "method"),
        ("size", "grid"),
        ("per_realization_s", "s / real."),
        ("setup_s", "set-up s"),
        ("geocgan_speedup", "geocgan speed-up"),
        ("honoring", "facies match"),
        ("neighbourhood_share", "wells amid own facies"),
        ("neighbourhood_share_truth", "truth: amid own facies"),
        ("channel_proportion", "channel prop."),
        ("channel_proportion_ti", "TI prop."),
        ("proportion_error", "prop. err"),
        ("variogram_error", "ind. variogram err"),
        ("connectivity_error", "connectivity err"),
        ("spanning_channel", "spanning share"),
        ("spanning_channel_ti", "TI spanning"),
        ("spread", "spread (bits)"),
        ("brier", "Brier held-out"),
        ("load_1min", "load"),
    ],
}


def _write_outputs(cfg, rows, details, examples, command, wall, loads) -> None:
    with (cfg.out / "results.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: _fmt(v, 6) for k, v in r.items()} for r in rows)
    (cfg.out / "details.json").write_text(
        json.dumps(to_json({"config": asdict(cfg), "results": details}), indent=1, allow_nan=False)
    )
    plots = _plot_all(cfg.out, rows, details, examples)
    load_txt = ", ".join(f"{a:.1f}/{b:.1f}/{c:.1f}" for a, b, c in loads)
    lines = [
        "# geocgan vs GSTools and geone: side-by-side benchmark",
        "",
        f"- command: `{command}`",
        f"- truth seed {cfg.truth_seed}, wells seed {cfg.wells_seed}"
        + ("" if cfg.truth_seed == TRUTH_SEED else " (validation wells, not the reported case)"),
        f"- date: {datetime.datetime.now().isoformat(timespec='minutes')}",
        f"- machine: {_machine()}; every method on {cfg.threads} threads; geocgan "
        + ("through torch.compile (compilation counted in its set-up)" if cfg.compile else "eager"),
        f"- wall time: {wall / 60:.1f} min",
        f"- load average (1/5/15 min) at the start and after each grid: {load_txt}. The cores "
        "were shared with other jobs: timings are noisy, the `load` column is the 1-minute load "
        "when each method started.",
        f"- realizations: n = {cfg.n} ({cfg.repeats} timed calls) below {cfg.large_size}², "
        f"n = {cfg.large_n} ({cfg.large_repeats} timed calls) from {cfg.large_size}²; "
        f"{100 * cfg.holdout_share:.0f} % of the wells held out for the leave-wells-out check"
        + (f", re-simulated with n = {cfg.holdout_n}" if cfg.holdout_n else ""),
        "- s / real.: median over timed calls of call time / realizations per call, after a "
        "warm-up; geocgan is timed before and after the peers of each grid and its time is the "
        "median of all its calls, so that a drift of the machine's speed does not favour either "
        "side; set-up: one-off work plus the warm-up call; geocgan speed-up: the method's "
        "time per realization / geocgan's.",
        "- statistics (definitions in `geocgan/evaluate.py`), against windows of the training "
        "image of the grid's size: wells amid own facies = share of (realization, well) whose 8 "
        "neighbours are mostly of the well's facies (low: wells honored by isolated pixels; the "
        "truth's own share beside it); prop. err = largest |proportion difference|; variogram err = "
        "relative RMSE of the (indicator) variograms over x, y, omni and all lags up to half the "
        "grid; connectivity err = mean |tau_ens - tau_TI| over lags, x/y and facies; spanning "
        "share = channel pixels in components touching both x edges (spanning error in the "
        "targets: largest difference over facies); cond. corr. err = |exact - ensemble| of the "
        "mean conditional correlation of 200 random off-well pixel pairs per lag, averaged over "
        "lags 1, 3, 6, 12 px (per-pair: mean over pairs, includes sampling noise ~(1 - rho²) / "
        "sqrt(n)); std / kriging std = the ensemble's std over the exact simple-kriging std at "
        "4000 random off-well pixels, beside the wells (<= 1.5 px) and as |ratio - 1| averaged "
        "over distance bins 0-1.5, 1.5-3, 3-6, 6-12, 12-24, > 24 px (an exact simulator: 1 and "
        "0, up to sampling noise ~1/sqrt(2n)); coverage = held-out wells inside the 5-95 % interval of the ensemble simulated "
        "without them; Brier = multi-class Brier score of the facies probabilities there; "
        "spread = mean per-pixel std (Gaussian) or entropy in bits (channels).",
        "",
    ]
    for case in cfg.cases:
        cols = COLUMNS[case]
        lines += [f"## {case}", "", "| " + " | ".join(h for _, h in cols) + " |"]
        lines.append("|" + "---|" * len(cols))
        for r in rows:
            if r["case"] == case:
                lines.append("| " + " | ".join(_fmt(r[k]) for k, _ in cols) + " |")
        lines.append("")
    lines += ["## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {v} |" for t, m, v in _targets(rows)]
    lines += ["", "## Plots", ""] + [f"- [{p.name}]({p.name})" for p in plots] + [""]
    if (cfg.out / "discussion.md").exists():
        lines += [
            "Analysis, written by hand (check its date against this run's): "
            "[discussion.md](discussion.md)",
            "",
        ]
    (cfg.out / "results.md").write_text("\n".join(lines))


# --------------------------------------------------------------------------- plots


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=90, format="png")
    return path


def _plot_all(out: Path, rows, details, examples) -> list[Path]:
    paths = [_plot_timing(out / "timing.png", rows)]
    cases = {r["case"] for r in rows}
    if "channels" in cases:
        paths.append(_plot_channel_errors(out / "channel_statistics.png", rows))
    if "gaussian" in cases:
        paths.append(_plot_correlation(out / "gaussian_correlation.png", details))
        paths.append(_plot_coverage(out / "gaussian_coverage.png", rows))
        paths.append(_plot_spread(out / "gaussian_spread.png", details))
    for (case, size), ex in examples.items():
        paths.append(_plot_examples(out / f"examples_{case}_{size}.png", case, size, ex))
    return paths


def _plot_timing(path: Path, rows) -> Path:
    cases = sorted({r["case"] for r in rows})
    fig = Figure(figsize=(5 * len(cases), 4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(cases)))
    for ax, case in zip(axes, cases, strict=True):
        for method in dict.fromkeys(r["method"] for r in rows if r["case"] == case):
            sel = [r for r in rows if r["case"] == case and r["method"] == method]
            ax.plot(
                [r["size"] for r in sel],
                [r["per_realization_s"] for r in sel],
                marker="o",
                label=method,
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("grid side (pixels)")
        ax.set_ylabel("time per realization (s)")
        ax.set_title(f"{case}: median time per conditional realization")
        ax.legend(fontsize="small")
    return _save(fig, path)


def _plot_channel_errors(path: Path, rows) -> Path:
    keys = ["proportion_error", "variogram_error", "connectivity_error", "spanning_error"]
    sel = [r for r in rows if r["case"] == "channels"]
    labels = [f"{r['method']} {r['size']}²" for r in sel]
    fig = Figure(figsize=(4 * len(keys), 3.5), layout="constrained")
    for ax, key in zip(fig.subplots(1, len(keys)), keys, strict=True):
        ax.bar(
            range(len(sel)),
            [r[key] for r in sel],
            color=["C0" if r["method"] == "geocgan" else "C1" for r in sel],
        )
        ax.set_xticks(range(len(sel)), labels, fontsize="x-small", rotation=45)
        ax.set_title(f"{key.replace('_', ' ')} vs TI (lower is better)", fontsize="small")
    return _save(fig, path)


def _gaussian_panels(details) -> tuple[Figure, list]:
    """One panel per Gaussian grid, titled: ``(figure, [(ax, [(method, statistics), ...])])``."""
    keys = [k for k in details if k.startswith("gaussian/")]
    sizes = sorted({int(k.split("/")[1]) for k in keys})
    fig = Figure(figsize=(4.5 * len(sizes), 3.8), layout="constrained")
    panels = []
    for ax, size in zip(np.atleast_1d(fig.subplots(1, len(sizes))), sizes, strict=True):
        runs = [
            (k.split("/")[2], details[k]["statistics"])
            for k in keys
            if int(k.split("/")[1]) == size
        ]
        ax.set_title(f"gaussian {size}²")
        panels.append((ax, runs))
    return fig, panels


def _plot_correlation(path: Path, details) -> Path:
    fig, panels = _gaussian_panels(details)
    for ax, runs in panels:
        for i, (method, stats) in enumerate(runs):
            corr = stats["conditional_correlation"]
            if i == 0:
                ax.plot(
                    corr["lags"],
                    corr["exact"],
                    color="k",
                    linestyle="--",
                    label="exact (simple kriging)",
                )
            ax.plot(corr["lags"], corr["ensemble"], marker="o", label=method)
        ax.set_xlabel("lag (pixels)")
        ax.set_ylabel("mean conditional correlation (-)")
        ax.legend(fontsize="small")
    return _save(fig, path)


def _plot_spread(path: Path, details) -> Path:
    """Ensemble std / simple-kriging std by distance to the nearest well, per grid and method."""
    fig, panels = _gaussian_panels(details)
    for ax, runs in panels:
        for method, stats in runs:
            check = stats["conditional_spread"]
            ax.plot(distance_bin_labels(check["edges"]), check["ratio"], marker="o", label=method)
        ax.axhline(1.0, color="k", linestyle="--", label="exact")
        ax.set_xlabel("distance to the nearest well (pixels)")
        ax.set_ylabel("ensemble std / kriging std (-)")
        ax.legend(fontsize="small")
    return _save(fig, path)


def _plot_coverage(path: Path, rows) -> Path:
    sel = [r for r in rows if r["case"] == "gaussian"]
    fig = Figure(figsize=(1.2 * len(sel) + 2, 3.5), layout="constrained")
    ax = fig.subplots()
    ax.bar(
        range(len(sel)),
        [r["coverage"] for r in sel],
        color=["C0" if r["method"] == "geocgan" else "C1" for r in sel],
    )
    ax.plot(
        range(len(sel)),
        [r["coverage_expected"] for r in sel],
        "k_",
        markersize=20,
        label="exact ensemble of this n",
    )
    ax.axhline(0.9, color="grey", linestyle="--", label="nominal 90 %")
    ax.set_xticks(
        range(len(sel)),
        [f"{r['method']}\n{r['size']}² ({r['n_held_out']})" for r in sel],
        fontsize="x-small",
    )
    ax.set_ylabel("held-out wells inside 5-95 % (fraction)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize="small")
    return _save(fig, path)


def _plot_examples(path: Path, case: str, size: int, ex: dict) -> Path:
    methods = [k for k in ex if k not in ("truth", "wells") and not k.endswith(" mean")]
    panels = [("truth + wells", ex["truth"])]
    for m in methods:
        panels += [
            (f"{m} #0", ex[m][0]),
            (f"{m} mean" if case == "gaussian" else f"{m} P(channel)", ex[f"{m} mean"]),
        ]
    fig = Figure(figsize=(2.6 * len(panels), 2.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    vmin, vmax = (-2.5, 2.5) if case == "gaussian" else (0, 1)
    for ax, (title, img) in zip(axes, panels, strict=True):
        ax.imshow(img, cmap="viridis", vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
    w = ex["wells"]
    axes[0].scatter(w.cols, w.rows, c="r", s=6)
    fig.suptitle(f"{case} {size}² (pixels; wells in red)", fontsize="small")
    return _save(fig, path)


# --------------------------------------------------------------------------- command line


def parse_args(argv: list[str] | None = None) -> BenchConfig:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    d = BenchConfig()
    p.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=list(d.sizes),
        help="grid sides in pixels (multiples of 16)",
    )
    p.add_argument("--n", type=int, default=d.n, help="realizations per method and grid")
    p.add_argument(
        "--repeats", type=int, default=d.repeats, help="timed calls per method (at least)"
    )
    p.add_argument(
        "--large-n", type=int, default=d.large_n, help=f"n for grids of {d.large_size}² and larger"
    )
    p.add_argument(
        "--holdout-n",
        type=int,
        default=d.holdout_n,
        help="realizations of the leave-wells-out ensembles (0: the grid's n); an exact "
        "ensemble of n covers 0.9 (n - 1) / (n + 1) of the held-out wells: 85.6 %% for 40, "
        "89.6 %% for 400",
    )
    p.add_argument(
        "--large-repeats",
        type=int,
        default=d.large_repeats,
        help=f"repeats for grids of {d.large_size}² and larger",
    )
    p.add_argument(
        "--cases", nargs="+", default=list(d.cases), choices=CASES, help="benchmark cases"
    )
    p.add_argument(
        "--train-epochs",
        type=int,
        default=d.train_epochs,
        help="epochs of the Gaussian model (40 steps of 16 patches each)",
    )
    p.add_argument(
        "--train-patch",
        type=int,
        default=d.train_patch,
        help="training patch side of the Gaussian model (multiple of 16)",
    )
    p.add_argument(
        "--channel-model", type=Path, default=d.channel_model, help="trained channel checkpoint"
    )
    p.add_argument(
        "--gaussian-model",
        type=Path,
        default=d.gaussian_trained,
        help="trained Gaussian checkpoint (default: the committed benchmark model)",
    )
    p.add_argument(
        "--train-gaussian",
        action="store_true",
        help="train the Gaussian model here (cached under --runs) instead of --gaussian-model",
    )
    p.add_argument("--runs", type=Path, default=d.runs, help="cache of the Gaussian model")
    p.add_argument(
        "--peers",
        nargs="*",
        choices=list(PEERS),
        help="peers to run (default: every installed one; none: geocgan alone)",
    )
    p.add_argument(
        "--truth-seed",
        type=int,
        default=d.truth_seed,
        help="seed of the truth fields; another one than the default gives validation wells "
        "on which to choose among models without looking at the reported case",
    )
    p.add_argument("--wells-seed", type=int, default=d.wells_seed, help="seed of the wells")
    p.add_argument("--out", type=Path, default=d.out, help="results directory")
    p.add_argument(
        "--quick", action="store_true", help=f"smoke run: {QUICK}, results under <out>/quick"
    )
    for key, what in GAUSSIAN_WEIGHTS.items():  # --lam, --lam-local, --lam-div, --lam-moments
        p.add_argument(
            "--" + key.replace("_", "-"),
            type=float,
            default=d.gaussian_model[key],
            help=f"{what} of the Gaussian model",
        )
    p.add_argument(
        "--threads",
        type=int,
        default=d.threads,
        help="CPU threads of every method (torch, peers); 1 by default: on a 2-core machine "
        "torch's 2 threads were up to 20x slower after GSTools' OpenMP work in the same process",
    )
    p.add_argument(
        "--no-compile",
        dest="compile",
        action="store_false",
        help="geocgan without torch.compile (the eager net; no compilation in the set-up)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace earlier results")
    a = p.parse_args(argv)
    cfg = BenchConfig(
        sizes=tuple(a.sizes),
        n=a.n,
        repeats=a.repeats,
        large_n=a.large_n,
        large_repeats=a.large_repeats,
        holdout_n=a.holdout_n,
        cases=tuple(a.cases),
        train_epochs=a.train_epochs,
        train_patch=a.train_patch,
        channel_model=a.channel_model,
        gaussian_trained=None if a.train_gaussian else a.gaussian_model,
        peers=None if a.peers is None else tuple(a.peers),
        truth_seed=a.truth_seed,
        wells_seed=a.wells_seed,
        runs=a.runs,
        out=a.out,
        threads=a.threads,
        compile=a.compile,
        gaussian_model={**d.gaussian_model, **{k: getattr(a, k) for k in GAUSSIAN_WEIGHTS}},
        overwrite=a.overwrite,
    )
    if a.quick:
        cfg = replace(cfg, **QUICK, runs=cfg.runs / "quick", out=cfg.out / "quick")
    return cfg


def cli(script: str, parse, run, argv: list[str] | None) -> int:
    """A workflow's command line: ``run(parse(argv), command)``, where ``command`` is the
    command as typed (for the results); an error the user can fix -> ``error: ...``, status 1."""
    cfg = parse(argv)
    command = shlex.join(["python", script, *(sys.argv[1:] if argv is None else argv)])
    try:
        run(cfg, command)
    except GeocganError as err:
        sys.stderr.write(f"error: {err}\n")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli("workflows/benchmark_peers.py", parse_args, run_benchmark, argv)


if __name__ == "__main__":
    sys.exit(main())
