"""The benchmark's settings, its cases' constants and its progress lines."""

from __future__ import annotations

import datetime
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from geocgan.evaluate import KnownCovariance
from geocgan.recipes import GAUSSIAN_FIELD, GAUSSIAN_MODEL, GAUSSIAN_PATCH

CASES = ("gaussian", "channels")
CHANNEL_CODE = 1
CHANNEL_TRUTH_SIDE = 256  # channel truths are tiles of a field of the training image's side
COVARIANCE = KnownCovariance(**GAUSSIAN_FIELD, mean=0.0)
TRUTH_SEED, WELLS_SEED = 2024, 7  # the reported case; other seeds give validation wells


@dataclass
class BenchConfig:
    """Settings of one benchmark run (the command-line options; sizes in pixels).

    The files (``gaussian_trained``, ``channel_model``, ``channel_ti``) and folders (``runs``,
    ``out``) have no default: a workflow says where they lie, by keyword.
    """

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
    gaussian_trained: Path | None = field(kw_only=True)
    train_epochs: int = 120
    train_steps: int = 40
    train_batch: int = 16
    train_patch: int = GAUSSIAN_PATCH
    train_images: int = 4
    train_image_size: int = 512
    gaussian_model: dict = field(default_factory=lambda: dict(GAUSSIAN_MODEL))
    channel_model: Path = field(kw_only=True)  # the trained channel model
    channel_ti: Path = field(kw_only=True)  # its training image
    runs: Path = field(kw_only=True)  # cache of a Gaussian model trained here
    out: Path = field(kw_only=True)  # results folder
    sampling_size: int = 2000
    threads: int = 1  # see --threads
    compile: bool = True  # geocgan generates through torch.compile (compiling is set-up)
    overwrite: bool = False


def log(msg: str) -> None:
    """Progress line on stderr, with the wall-clock time and the 1-minute load average."""
    stamp = datetime.datetime.now().strftime("%H:%M:%S")
    sys.stderr.write(f"[{stamp} load {os.getloadavg()[0]:.1f}] {msg}\n")
    sys.stderr.flush()
