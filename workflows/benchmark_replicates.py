"""The benchmark's quality statistics over many independent truths and wells, judged on their mean.

``benchmark_peers.py`` compares the methods on one truth and one set of wells per grid: 20 wells
at 64², 82 at 128². Differences of a few hundredths in its statistics are then partly chance,
and the leave-wells-out coverage rests on 4 and 16 held-out wells. This workflow draws ``K``
new cases (truth seed ``first_seed + k``, wells seed ``first_seed + 100 + k``: neither the
reported case, 2024/7, nor the validation sets the models were chosen on, 2025/8 and 2026/9),
runs every method on each exactly as the benchmark does (same models, ``n``, statistics and
held-out share; no repeated timed calls, eager geocgan) and reports:

* for every method, grid and statistic: the mean over the cases and its standard error;
* for every quality target: the paired difference geocgan - peer over the cases (mean,
  standard error, and in how many cases geocgan is better). A target is met when the mean
  difference favours geocgan; "clear" when it does so by more than two standard errors,
  "within noise" otherwise;
* coverage of the 5-95 % interval pooled over every held-out well of every case.

Peers: geone SGS and FFT (the exact Gaussian simulators the target names) and DeeSse; GSTools'
``CondSRF`` only when asked for (``--peers``), it is the slowest at 256².

Writes ``replicates.csv`` (the benchmark's rows, one per case seed, case, grid and method),
``summary.md``, ``summary.json`` and ``replicates.png`` into
``workflows/results/benchmark/replicates/``. Each finished case is kept under ``cases/`` as it
ends, so an interrupted run resumes where it stopped; the summary is written only once every
case is in. A case made with other settings (another model, ``n``, grids or peers) is refused;
``--overwrite`` makes those cases again (a new channel model: the channel cases alone) and
keeps the others, which would come out the same. Delete the folder to start from nothing.

Run: ``python workflows/benchmark_replicates.py [--replicates 8] [--jobs 2] [--overwrite]``;
about 25 min with 8 cases on a 2-core CPU (two processes of one thread each). The work is
done by ``geocgan.benchmark.replicates``; this script says where the models and results lie.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from geocgan.benchmark import CASES, BenchConfig, ReplicateConfig, run_replicates, workflow_main
from geocgan.peers import PEERS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "workflows" / "results" / "benchmark"
BENCH = BenchConfig(  # the benchmark's models and training image, as benchmark_peers.py's
    gaussian_trained=RESULTS / "gaussian_model.safetensors",
    channel_model=ROOT / "sample_data" / "channels.safetensors",
    channel_ti=ROOT / "sample_data" / "training_image.tif",
    runs=ROOT / "runs" / "benchmark",
    out=RESULTS,
)
DEFAULT_PEERS = ("geone_sgs", "geone_fft", "geone_deesse")


def parse_args(argv: list[str] | None = None) -> ReplicateConfig:
    d = ReplicateConfig(bench=BENCH, out=RESULTS / "replicates", root=ROOT)
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--replicates", type=int, default=d.replicates, help="cases per grid (K)")
    p.add_argument("--first-seed", type=int, default=d.first_seed, help="first truth seed")
    p.add_argument("--jobs", type=int, default=d.jobs, help="worker processes")
    p.add_argument("--sizes", type=int, nargs="+", default=list(d.bench.sizes))
    p.add_argument("--n", type=int, default=d.bench.n, help="realizations per method and grid")
    p.add_argument("--large-n", type=int, default=d.bench.large_n)
    p.add_argument(
        "--holdout-n",
        type=int,
        default=d.bench.holdout_n,
        help="realizations of the leave-wells-out ensembles (0: the grid's n); with 400 an "
        "exact ensemble covers 89.6 %% of the held-out wells, so coverage can be judged against "
        "90 %%",
    )
    p.add_argument("--cases", nargs="+", default=list(d.bench.cases), choices=CASES)
    p.add_argument(
        "--peers",
        nargs="*",
        default=list(DEFAULT_PEERS),
        choices=sorted(PEERS),
        help="peers to run (default: geone's; none: geocgan alone)",
    )
    p.add_argument("--channel-model", type=Path, default=d.bench.channel_model)
    p.add_argument("--gaussian-model", type=Path, default=d.bench.gaussian_trained)
    p.add_argument("--threads", type=int, default=d.bench.threads, help="threads per process")
    p.add_argument("--out", type=Path, default=d.out, help="results directory")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="make again the cases made with other settings, and the summary",
    )
    a = p.parse_args(argv)
    if a.replicates < 2:
        p.error("--replicates must be at least 2 (a standard error needs two cases)")
    bench = replace(
        d.bench,
        sizes=tuple(a.sizes),
        n=a.n,
        large_n=a.large_n,
        holdout_n=a.holdout_n,
        repeats=1,
        large_repeats=1,
        cases=tuple(a.cases),
        peers=tuple(a.peers),
        channel_model=a.channel_model,
        gaussian_trained=a.gaussian_model,
        threads=a.threads,
        compile=False,
    )
    return replace(
        d,
        bench=bench,
        replicates=a.replicates,
        first_seed=a.first_seed,
        jobs=a.jobs,
        out=a.out,
        overwrite=a.overwrite,
    )


def main(argv: list[str] | None = None) -> int:
    return workflow_main("workflows/benchmark_replicates.py", parse_args, run_replicates, argv)


if __name__ == "__main__":
    sys.exit(main())
