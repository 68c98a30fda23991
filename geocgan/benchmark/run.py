"""One benchmark grid and the whole benchmark: truths, wells, methods and their statistics.

A case (``gaussian`` or ``channels``) and a grid side give a truth that is in no training data
and 0.5 % of its pixels as wells (:func:`truth_and_wells`); every method makes ``n`` conditional
realizations from them, timed with the protocol of :mod:`geocgan.peers` (:func:`method_run`),
and every statistic of :mod:`geocgan.evaluate` is taken, with a leave-wells-out check
(:func:`run_grid`). :func:`run_benchmark` does so for every case, grid and method of a
:class:`~geocgan.benchmark.config.BenchConfig` and writes the results
(:mod:`geocgan.benchmark.report`).
"""

from __future__ import annotations

import functools
import math
import os
import shlex
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from geocgan.benchmark import report
from geocgan.benchmark.config import (
    CASES,
    CHANNEL_TRUTH_SIDE,
    COVARIANCE,
    TRUTH_SEED,
    WELLS_SEED,
    BenchConfig,
    log,
)
from geocgan.checkpoint import load_model, read_checkpoint
from geocgan.constraints import FieldSpec, sample_constraints
from geocgan.errors import GeocganError, InputError, OutputExistsError
from geocgan.evaluate import (
    WellPixels,
    conditional_realizations,
    ensemble_statistics,
    leave_wells_out_scores,
    reference_statistics,
)
from geocgan.fields import channel_field, gaussian_field
from geocgan.io.images import read_training_image
from geocgan.metrics.geostats import neighbourhood_share, split_wells
from geocgan.models import build_model
from geocgan.peers import (
    PEERS,
    PEERS_INSTALL_HINT,
    PeerRun,
    available_peers,
    peer_names_for,
    timed_runs,
)
from geocgan.recipes import CHANNELS, DENSITY, gaussian_training_images
from geocgan.train import PatchSampler, TrainConfig, Trainer, config_changes

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


def gaussian_checkpoint(cfg: BenchConfig, tis: np.ndarray) -> Path:
    """Train (or reuse / resume) the Gaussian case's continuous model; return its path."""
    ckpt = cfg.runs / "gaussian.safetensors"
    model = build_model(
        "pixel-cgan", cfg.gaussian_model, FieldSpec.from_data(tis, "continuous"), seed=cfg.seed
    )
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
    report.write_outputs(cfg, rows, details, examples, command, wall, loads)
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
        tis = gaussian_training_images(cfg.train_images, cfg.train_image_size)
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
        rows.append(report.row(case, size, method, run, stats, lwo, load))
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


def workflow_main(script: str, parse, run, argv: list[str] | None) -> int:
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
