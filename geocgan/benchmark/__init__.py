"""The benchmark of geocgan against GSTools and geone: the machinery of its two workflows.

* :mod:`geocgan.benchmark.config`: :class:`BenchConfig`, the cases' constants (covariance,
  truth and wells seeds) and progress lines;
* :mod:`geocgan.benchmark.run`: truths and wells, every method on a grid
  (:func:`run_grid`), the whole benchmark (:func:`run_benchmark`);
* :mod:`geocgan.benchmark.report`: its CSV rows, tables, targets and figures;
* :mod:`geocgan.benchmark.replicates`: the quality statistics over many independent cases
  (:func:`run_replicates`).

``workflows/benchmark_peers.py`` and ``workflows/benchmark_replicates.py`` are their command
lines; they say where the models, training image and results lie.
"""

from geocgan.benchmark.config import CASES, BenchConfig
from geocgan.benchmark.replicates import ReplicateConfig, run_replicates
from geocgan.benchmark.run import run_benchmark, run_grid, truth_and_wells, workflow_main

__all__ = [
    "CASES",
    "BenchConfig",
    "ReplicateConfig",
    "run_benchmark",
    "run_grid",
    "run_replicates",
    "truth_and_wells",
    "workflow_main",
]
