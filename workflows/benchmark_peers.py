"""Side-by-side benchmark: geocgan against GSTools and geone on the same wells and grids.

Two cases, each on square grids (64, 128, 256 pixels a side by default):

* ``gaussian``: a stationary Gaussian field, exponential covariance ``exp(-h / 16)`` (length
  scale 16 px, practical range 48 px), variance 1, mean 0. Peers: GSTools ``CondSRF``, geone
  sequential Gaussian simulation (SGS) and geone FFT simulation with the kriged residual.
  geocgan uses ``gaussian_model.safetensors`` beside the results (trained on a few large
  unconditional fields: a generator of ngf 8 distilled from ``gaussian_model_ngf12.safetensors``,
  itself 120 epochs on a CPU and 155 more with an averaged generator on a GPU, see
  ``workflows/results/gpu/README.md``, with the noise of its 1/8-resolution stage × 1.5 after
  training: ``train_models.py --export ... --noise-gain 0=1.5``); ``--train-gaussian`` trains
  one of ``geocgan.recipes.GAUSSIAN_MODEL``'s settings here instead (cached under
  ``runs/benchmark/``, reused and resumed when present).
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
skipped with a message. The work is done by ``geocgan.benchmark``; this script says where the
models and results lie.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from geocgan.benchmark import CASES, BenchConfig, run_benchmark, workflow_main
from geocgan.peers import PEERS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "workflows" / "results" / "benchmark"
DEFAULTS = BenchConfig(  # where the models, the training image and the results lie
    gaussian_trained=RESULTS / "gaussian_model.safetensors",
    channel_model=ROOT / "sample_data" / "channels.safetensors",
    channel_ti=ROOT / "sample_data" / "training_image.tif",
    runs=ROOT / "runs" / "benchmark",
    out=RESULTS,
)
QUICK = {"sizes": (64,), "n": 10, "repeats": 2, "train_epochs": 3, "train_steps": 10}
GAUSSIAN_WEIGHTS = {  # loss weights of the Gaussian model that have a command-line option
    "lam": "λ, weight of the constraint term,",
    "lam_local": "weight of the 3x3-neighbourhood constraint term",
    "lam_div": "weight of the diversity-sensitive term",
    "lam_moments": "weight of the moment-matching term",
}


def parse_args(argv: list[str] | None = None) -> BenchConfig:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    d = DEFAULTS
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
    cfg = replace(
        d,
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


def main(argv: list[str] | None = None) -> int:
    return workflow_main("workflows/benchmark_peers.py", parse_args, run_benchmark, argv)


if __name__ == "__main__":
    sys.exit(main())
