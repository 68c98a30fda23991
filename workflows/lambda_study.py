"""The λ study of Ruffino et al. (2019) on MNIST and Fashion-MNIST, every run trained at once.

What it reproduces
------------------
"Pixel-wise conditioned generative adversarial networks for image synthesis and completion"
(Ruffino, Hérault, Laloy & Gasso): with 0.5 % of the pixels given, the weight λ of the
constraint term trades respect of the constraints (MSE at the constrained pixels) against
quality (FID), and some λ beats both the unconditional GAN and the plain conditional GAN.

Protocol
--------
- splits (``split_indices``): validation = a seeded 1/6 of the official train split; 10 %
  of each split is set aside as *constraint sources* and removed from it. Train 45 000 +
  5 000 sources, validation 9 000 + 1 000, test 9 000 + 1 000 (the authors' code: 52 000
  train, 8 000 validation, 10 000 test).
- constraints: ``max(1, round(0.005 * 784)) = 4`` pixels per 28x28 map, drawn uniformly
  without replacement (the 4 largest of 784 uniform keys), values read from the image.
- the discriminator's real pairs are an image with constraints drawn from *that image*,
  (X, C(X)); the generator's constraints C' come from the training sources (fresh pixels
  and a random source image each step). Validation and test constraints come from the
  validation and test sources (fixed maps, the same for every run).
- settings: the unconditional GAN, λ = 0 (plain cGAN), λ ∈ {0.1, 1, 10, 100, 10³, 10⁴};
  seeds 0..n-1; generator designs ``input`` (constraints at the input only: the paper's)
  and ``skip`` (ours: the raw maps also reach the output layer).
- nets: ``geocgan.models.nets`` dcgan28 (tanh output, pixels in [-1, 1]), non-saturating
  loss, Adam(2e-4, 0.5, 0.999), batch 64 (the authors: 32), one D and one G step.
- every epoch each run is scored on the validation maps (MSE and FID); two epoch rules:
  the authors' (argmin over epochs of sqrt(normMSE² + normFID²), each min-max normalised
  over the run's epochs) and validation MSE alone. At each chosen epoch the test metrics:
  MSE at the constrained pixels in [-1, 1] units (the authors') and [0, 1] units (/ 4);
  FID of generated vs real test images on the 256-d features of a classifier trained on
  the dataset (cached in ``results/lambda_study/classifiers/``); the real-vs-real floor
  (test vs as many training images) and the value of a blank (all-black) image set.
- collapse: each run's test samples are flagged ``blank`` (mean within-image standard
  deviation < 0.05, [-1, 1] units) or ``collapsed`` (per-pixel spread across samples,
  averaged over pixels, < 1/4 of the real test images'); medians are given with and
  without flagged runs.
- all runs train at once (``geocgan.models.stacked``): one stacked model per generator
  design holds every dataset, setting and seed; a run in the stack equals the run alone.

Modes
-----
- default (full): both datasets, 8 settings, 10 seeds, both designs (300 runs), 40 epochs
  of 45 000 images, 10 000 test samples per run (9 000 real). For one GPU
  (``workflows/lambda_study_gpu.sh``); not yet run.
- ``--quick``: the CPU mode: both datasets, 8 settings, 3 seeds, the paper's design (48
  runs), smaller nets (nz = 32, ngf = ndf = 8), 4 epochs of 4 000 training images, batch 32;
  400 validation and 2 000 test samples per run. About 15 min of one thread (on a quiet
  machine; 40 min of wall time on the shared 2-core one). ``--designs skip`` adds ours.
- ``--tiny``: a smoke test (seconds).

Run: ``python workflows/lambda_study.py --quick --threads 1``. Data are found by
``geocgan.datasets.fetch`` (or ``--data-dir`` with the four IDX files); nothing is
downloaded. Every epoch the stacks are checkpointed (``runs/lambda_study/<mode>/``): an
interrupted study resumes where it stopped, with the same numbers.

Outputs (``workflows/results/lambda_study/<mode>/``): ``runs.csv``, ``epochs.csv`` (the
validation log), ``summary.md`` (tables, floors, verdicts, how it was run), PNG plots
``mse_vs_lambda.png``, ``fid_vs_lambda.png``, ``mse_vs_fid.png``, ``samples_<dataset>.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from geocgan import datasets  # noqa: E402
from geocgan.errors import InputError  # noqa: E402
from geocgan.io.idx import read_idx  # noqa: E402
from geocgan.metrics.fid import (  # noqa: E402
    SmallClassifier,
    embed,
    feature_stats,
    frechet_distance,
    load_classifier,
    save_classifier,
    train_classifier,
)
from geocgan.models.stacked import (  # noqa: E402
    RunSpec,
    StackConfig,
    StackData,
    StackedGAN,
    constrained_mse,
    constraint_maps,
    draw_pixels,
)
from geocgan.seeds import torch_generator  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "workflows" / "results" / "lambda_study"
ALL_SETTINGS = ("uncond", "0", "0.1", "1", "10", "100", "1000", "10000")
DESIGNS = ("input", "skip")
VAL_STREAM, TEST_STREAM = 2**31 - 3, 2**31 - 2  # seed streams of the validation / test maps
SATISFIED = 0.1  # a constraint is satisfied when |error| < 0.1 in [0, 1] pixel units
BLANK_STD, COLLAPSE_RATIO = 0.05, 0.25  # collapse flags (see collapse_flags)
N_SHOWN = 4  # test maps shown per run in the sample grids
RULES = ("authors", "valmse")
CLASSIFIER_EPOCHS = 4
MIN_ACCURACY = {"mnist": 0.99, "fashion-mnist": 0.90}


@dataclass
class StudyConfig:
    """Everything that fixes the numbers of a study.

    Attributes
    ----------
    datasets, settings, designs : tuple of str
        What runs: ``"mnist"``/``"fashion-mnist"``; ``"uncond"`` or a λ; ``"input"``
        (the paper's generator) / ``"skip"`` (raw constraints also at the output layer).
    seeds : int
        Seeds 0 .. seeds-1 per setting.
    epochs : int
        Passes over the training images.
    train_images : int, optional
        Cap on the training images (None: all 45 000).
    val_maps, test_maps : int
        Generated images per run for the validation and the test metrics (the constraint
        sources are cycled, each with its own pixels).
    val_real : int
        Real validation images of the validation FID (at most 9 000).
    stack : StackConfig
        Nets, batch size, optimiser, constraint density.
    split_seed : int
        Seed of the splits and of the validation / test constraint pixels.
    """

    datasets: tuple[str, ...] = ("mnist", "fashion-mnist")
    settings: tuple[str, ...] = ALL_SETTINGS
    designs: tuple[str, ...] = DESIGNS
    seeds: int = 10
    epochs: int = 40
    train_images: int | None = None
    val_maps: int = 2000
    test_maps: int = 10000
    val_real: int = 9000
    stack: StackConfig = field(default_factory=StackConfig)
    split_seed: int = 0


MODES: dict[str, StudyConfig] = {
    "full": StudyConfig(),
    "quick": StudyConfig(
        designs=("input",), seeds=3, epochs=4, train_images=4000, val_maps=400,
        test_maps=2000, val_real=2000,
        stack=StackConfig(nz=32, ngf=8, ndf=8, batch_size=32),
    ),
    "tiny": StudyConfig(
        datasets=("mnist",), settings=("uncond", "0", "10"), designs=("input",), seeds=1,
        epochs=2, train_images=96, val_maps=24, test_maps=40, val_real=30,
        stack=StackConfig(nz=8, ngf=4, ndf=4, batch_size=16),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Setting:
    """The unconditional GAN (``lam`` 0, not conditional) or the cGAN with weight ``lam``."""

    name: str
    conditional: bool
    lam: float

    @classmethod
    def parse(cls, token: str) -> Setting:
        """``"uncond"`` or a λ >= 0 (``"0"``, ``"0.1"``, ``"1e4"``...)."""
        token = token.strip()
        if token == "uncond":
            return cls("uncond", False, 0.0)
        try:
            lam = float(token)
        except ValueError:
            lam = -1.0
        if not (lam >= 0 and math.isfinite(lam)):
            raise InputError(
                f"setting {token!r} is neither 'uncond' nor a lambda >= 0; "
                f"use e.g. --settings {','.join(ALL_SETTINGS)}"
            )
        return cls(f"lambda={lam:g}", True, lam)


# -- data ---------------------------------------------------------------------------------


def split_indices(n_train: int, n_test: int, cfg: StudyConfig) -> dict[str, np.ndarray]:
    """Indices of the six parts into the official train (``train*``, ``val*``) and test splits.

    The validation split is a seeded random 1/6 of the official train split; then 10 % of
    each split becomes its constraint sources (``*_source``), removed from it. Returns
    sorted int64 arrays: ``train``, ``train_source``, ``val``, ``val_source`` (into the
    official train split), ``test``, ``test_source``.
    """
    order = np.random.default_rng(cfg.split_seed).permutation(n_train)  # (n_train,)
    n_val = round(n_train / 6)
    if not 0 < n_val < n_train:
        raise InputError(f"{n_train} training images cannot be split; give at least 2")
    parts = {"train": np.sort(order[n_val:]), "val": np.sort(order[:n_val]),
             "test": np.arange(n_test)}  # fmt: skip
    out = {}
    for k, (name, idx) in enumerate(parts.items()):
        keep, source = datasets.constraint_split(len(idx), 0.1, cfg.split_seed + k)
        out[name], out[f"{name}_source"] = idx[keep], idx[source]
    return out


def _read_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise InputError(
            f"{images_path}: expected uint8 images of shape (N, 28, 28), found "
            f"{images.dtype} {images.shape}; give the standard MNIST-like IDX files"
        )
    if labels.shape != images.shape[:1] or labels.max(initial=0) > 9:
        raise InputError(
            f"{labels_path}: expected {len(images)} labels in 0..9 (one per image of "
            f"{images_path.name}), found shape {labels.shape}"
        )
    return images, labels


def load_dataset(name: str, data_dir: str | Path | None) -> tuple[dict, str]:
    """The official splits ``{"train": (images, labels), "test": ...}`` (uint8) and their source.

    With ``data_dir`` holding the four IDX files (in ``data_dir/<name>/`` or ``data_dir``),
    those are used, checked against the standard checksums where possible (a mismatch is
    reported, not refused). Otherwise ``geocgan.datasets.fetch`` searches (no download).
    """
    if data_dir is not None:
        base = Path(data_dir) / name if (Path(data_dir) / name).is_dir() else Path(data_dir)
        paths = []
        for file_name in datasets.FILE_NAMES:
            hits = [p for p in (base / file_name, base / f"{file_name}.gz") if p.is_file()]
            paths.append(hits[0] if hits else None)
        if all(paths):
            try:
                for path, file_name in zip(paths, datasets.FILE_NAMES, strict=True):
                    datasets.verify(name, path, file_name)
                source = f"{base} (standard {name} files, checksums verified)"
            except InputError:
                source = f"{base} (NOT the standard {name} files: checksums differ)"
                print(f"note: {source}; numbers are not comparable to published ones")
            return {"train": _read_pair(*paths[:2]), "test": _read_pair(*paths[2:])}, source
    files = datasets.fetch(name, directory=data_dir, allow_download=False)
    arrays = {
        "train": _read_pair(files.train_images, files.train_labels),
        "test": _read_pair(files.test_images, files.test_labels),
    }
    return arrays, f"{files.source} (checksums verified)"


def to_unit(images: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] images -> float32 in [-1, 1]."""
    return images.astype(np.float32) / 127.5 - 1.0


@dataclass
class StudyData:
    """One dataset, split as ``split_indices`` says; images float32 in [-1, 1], (N, 28, 28).

    ``train``/``train_source`` train the GANs; ``val``/``val_source`` choose the epoch;
    ``test``/``test_source`` score it. ``official`` holds the uint8 official splits
    ``(train images, labels, test images, labels)`` for the FID classifier.
    """

    name: str
    train: np.ndarray
    train_source: np.ndarray
    val: np.ndarray
    val_source: np.ndarray
    test: np.ndarray
    test_source: np.ndarray
    official: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    source: str


def prepare(name: str, cfg: StudyConfig, data_dir: str | Path | None) -> StudyData:
    """Load ``name`` and split it (see ``split_indices``)."""
    arrays, source = load_dataset(name, data_dir)
    (tr_x, tr_y), (te_x, te_y) = arrays["train"], arrays["test"]
    idx = split_indices(len(tr_x), len(te_x), cfg)
    return StudyData(
        name=name,
        train=to_unit(tr_x[idx["train"][: cfg.train_images]]),
        train_source=to_unit(tr_x[idx["train_source"]]),
        val=to_unit(tr_x[idx["val"][: cfg.val_real]]),
        val_source=to_unit(tr_x[idx["val_source"]]),
        test=to_unit(te_x[idx["test"]]),
        test_source=to_unit(te_x[idx["test_source"]]),
        official=(tr_x, tr_y, te_x, te_y),
        source=source,
    )


def get_classifier(
    data: StudyData, folder: Path, device: torch.device
) -> tuple[SmallClassifier, dict]:
    """The dataset's FID classifier: cached in ``folder`` or trained (all 60 000 official
    training images, ``CLASSIFIER_EPOCHS`` epochs) and cached; its meta with test accuracy."""
    path = folder / f"{data.name}.safetensors"
    images, labels, test_images, test_labels = data.official
    if path.exists():
        model, meta = load_classifier(path, device=device)
        if meta.get("images") == len(images) and meta.get("epochs") == CLASSIFIER_EPOCHS:
            return model, meta
    t0 = time.perf_counter()
    model, acc = train_classifier(images, labels, test_images, test_labels,
                                  epochs=CLASSIFIER_EPOCHS, device=device, seed=0)  # fmt: skip
    meta = {"dataset": data.name, "images": len(images), "epochs": CLASSIFIER_EPOCHS, "seed": 0,
            "batch_size": 128, "lr": 1e-3, "test_accuracy": acc,
            "train_s": round(time.perf_counter() - t0, 1), "device": str(device)}  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    save_classifier(model, path, meta, overwrite=True)
    return model, meta


# -- metrics ------------------------------------------------------------------------------


def choose_epochs(val_mse: np.ndarray, val_fid: np.ndarray) -> dict[str, int]:
    """The epoch (1-based) each rule picks from a run's validation log.

    ``authors``: argmin of sqrt(normMSE² + normFID²), each metric min-max normalised over
    the run's epochs (a constant metric counts 0); ``valmse``: argmin of the validation MSE.
    Ties go to the earliest epoch.
    """
    val_mse, val_fid = np.asarray(val_mse, float), np.asarray(val_fid, float)

    def norm(x: np.ndarray) -> np.ndarray:
        span = x.max() - x.min()
        return (x - x.min()) / span if span > 0 else np.zeros_like(x)

    score = np.hypot(norm(val_mse), norm(val_fid))
    return {"authors": int(np.argmin(score)) + 1, "valmse": int(np.argmin(val_mse)) + 1}


def sample_spread(images: torch.Tensor) -> tuple[float, float]:
    """``(spread, image_std)`` of samples (N, 28, 28): the per-pixel standard deviation
    across samples averaged over pixels, and the mean within-image standard deviation."""
    flat = images.flatten(1).double()  # (N, 784)
    return float(flat.std(0, correction=0).mean()), float(flat.std(1, correction=0).mean())


def collapse_flags(spread: float, image_std: float, real_spread: float) -> tuple[bool, bool]:
    """``(blank, collapsed)``: images nearly uniform (mean within-image std < BLANK_STD);
    samples nearly alike (spread < COLLAPSE_RATIO x the real images' spread)."""
    return image_std < BLANK_STD, spread < COLLAPSE_RATIO * real_spread


@dataclass
class Reference:
    """Real statistics of one dataset for one split: feature mean/covariance, pixel spread."""

    mu: torch.Tensor
    cov: torch.Tensor
    spread: float

    @classmethod
    def of(cls, images: torch.Tensor, classifier: SmallClassifier) -> Reference:
        mu, cov = feature_stats(embed(classifier, images))
        return cls(mu, cov, sample_spread(images)[0])


@torch.no_grad()
def score(
    stack: StackedGAN,
    params: dict,
    maps: torch.Tensor,
    z: torch.Tensor,
    classifiers: list[SmallClassifier],
    refs: list[Reference],
    keep: int = 0,
    chunk: int = 500,
) -> dict[str, torch.Tensor]:
    """Metrics of every run of ``stack`` (generator weights ``params``) on shared maps.

    Parameters
    ----------
    maps : (P, N, 2, 28, 28) constraint maps of each pool; a run uses its pool's.
    z : (R, N, nz) noise of each run.
    classifiers, refs : per pool, the FID feature extractor and the real statistics.
    keep : samples of each run to return (the first maps).

    Returns
    -------
    dict of (R,) tensors ``mse`` ([-1, 1] units), ``fid``, ``spread``, ``image_std``, and
    ``samples`` (R, keep, 28, 28) on the CPU.
    """
    n_runs, n = z.shape[:2]
    dev, pools = maps.device, stack.pool
    d = refs[0].mu.shape[0]
    s1 = torch.zeros(n_runs, d, dtype=torch.float64, device=dev)
    s2 = torch.zeros(n_runs, d, d, dtype=torch.float64, device=dev)
    px1 = torch.zeros(n_runs, 784, dtype=torch.float64, device=dev)
    px2 = torch.zeros_like(px1)
    mse = torch.zeros(n_runs, dtype=torch.float64, device=dev)
    image_std = torch.zeros_like(mse)
    samples = None
    for start in range(0, n, chunk):
        cond = maps[pools, start : start + chunk]  # (R, c, 2, 28, 28)
        fake = stack.generate(
            cond, z[:, start : start + chunk], params, batch=chunk
        )  # (R, c, 28, 28)
        c = fake.shape[1]
        mse += constrained_mse(fake, cond).double() * c
        for p, clf in enumerate(classifiers):
            idx = (pools == p).nonzero()[:, 0]
            if len(idx):
                f = clf.features(fake[idx].reshape(-1, 28, 28)).double().view(len(idx), c, d)
                s1[idx] += f.sum(1)
                s2[idx] += f.transpose(1, 2) @ f
        flat = fake.flatten(2).double()  # (R, c, 784)
        px1 += flat.sum(1)
        px2 += (flat**2).sum(1)
        image_std += flat.std(2, correction=0).sum(1)
        if samples is None:
            samples = fake[:, :keep].cpu()
    mu = s1 / n
    cov = (s2 - n * mu[:, :, None] * mu[:, None, :]) / (n - 1)
    fid = torch.zeros(n_runs, dtype=torch.float64, device=dev)
    for p, ref in enumerate(refs):
        idx = (pools == p).nonzero()[:, 0]
        if len(idx):
            fid[idx] = frechet_distance(ref.mu, ref.cov, mu[idx], cov[idx])
    spread = (px2 / n - (px1 / n) ** 2).clamp_min(0).sqrt().mean(1)
    out = {"mse": mse / n, "fid": fid, "spread": spread, "image_std": image_std / n}
    return {k: v.cpu() for k, v in out.items()} | {"samples": samples}


def eval_maps(sources: list[np.ndarray], n: int, k: int, stream: int, cfg: StudyConfig,
              device: torch.device) -> torch.Tensor:  # fmt: skip
    """``(P, n, 2, 28, 28)``: per pool, ``n`` maps from its sources (cycled), pixels shared.

    Drawn on the CPU, so the maps are the same on every device."""
    pixels = draw_pixels(n, k, torch_generator(cfg.split_seed, stream))  # (n, k)
    out = []
    for src in sources:
        src = torch.as_tensor(src)
        out.append(constraint_maps(src[torch.arange(n) % len(src)], pixels))
    return torch.stack(out).to(device)


def eval_noise(runs: list[RunSpec], n: int, nz: int, stream: int, device) -> torch.Tensor:
    """``(R, n, nz)``: each run's evaluation noise, from its seed (the same at every epoch
    and, drawn on the CPU, on every device)."""
    z = [torch.randn(n, nz, generator=torch_generator(r.seed, stream)) for r in runs]
    return torch.stack(z).to(device)


# -- one stack: every run of one generator design -------------------------------------------


def train_stack(
    design: str, runs: list[tuple[str, Setting, int]], data: list[StudyData], cfg: StudyConfig,
    classifiers: list, work: Path, device: torch.device, progress: bool,
) -> tuple[list[dict], list[dict], dict]:  # fmt: skip
    """Train the runs ``(dataset, setting, seed)`` of ``design`` as one stack, score them.

    Returns the runs' rows, the validation log rows and the samples to show.
    """
    t0 = time.perf_counter()
    names = [d.name for d in data]
    specs = [RunSpec(seed, s.lam, s.conditional, names.index(ds)) for ds, s, seed in runs]
    stack_cfg = replace(cfg.stack, cond_skip=design == "skip")
    stack = StackedGAN(specs, stack_cfg, device)
    k = stack_cfg.n_constrained
    n_train = min(len(d.train) for d in data)
    stack_data = StackData(
        torch.stack([torch.as_tensor(d.train[:n_train]) for d in data]).to(device),
        torch.stack([torch.as_tensor(d.train_source) for d in data]).to(device),
    )
    val_maps = eval_maps([d.val_source for d in data], cfg.val_maps, k, VAL_STREAM, cfg, device)
    val_refs = [Reference.of(torch.as_tensor(d.val, device=device), c)
                for d, c in zip(data, classifiers, strict=True)]  # fmt: skip
    val_z = eval_noise(specs, cfg.val_maps, stack_cfg.nz, VAL_STREAM, device)
    work.mkdir(parents=True, exist_ok=True)
    ckpt, log_path = work / "stack.safetensors", work / "val_log.json"
    log: list[dict] = []
    if ckpt.exists() and log_path.exists():
        stack.load(ckpt)  # resume: the same runs and settings, or CheckpointError
        log = [row for row in json.loads(log_path.read_text()) if row["epoch"] <= stack.epoch]
    steps = n_train // stack_cfg.batch_size
    bar = tqdm(total=cfg.epochs * steps, initial=stack.epoch * steps, unit="step",
               desc=f"{design}: {len(specs)} runs", disable=not progress, file=sys.stderr)  # fmt: skip
    while stack.epoch < cfg.epochs:
        t_epoch, cpu_epoch = time.perf_counter(), time.process_time()
        losses = stack.train_epoch(stack_data, on_step=lambda: bar.update(1))
        val = score(stack, stack.g_params, val_maps, val_z, classifiers, val_refs)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        spent = {"epoch_wall_s": time.perf_counter() - t_epoch,  # the whole stack's epoch
                 "epoch_cpu_s": time.process_time() - cpu_epoch}  # fmt: skip
        for i, (ds, s, seed) in enumerate(runs):
            log.append({"design": design, "dataset": ds, "setting": s.name, "seed": seed,
                        "epoch": stack.epoch, "val_mse": float(val["mse"][i]),
                        "val_fid": float(val["fid"][i]),
                        **{k_: float(v[i]) for k_, v in losses.items()}, **spent})  # fmt: skip
        save_file({k_: v.cpu().contiguous() for k_, v in stack.g_params.items()},
                  str(work / f"g-epoch{stack.epoch}.safetensors"))  # fmt: skip
        stack.save(ckpt)
        log_path.write_text(json.dumps(log))
    bar.close()
    per_epoch = {row["epoch"]: row for row in log}  # every session's epochs
    train_s = sum(row.get("epoch_wall_s", math.nan) for row in per_epoch.values())
    train_cpu_s = sum(row.get("epoch_cpu_s", math.nan) for row in per_epoch.values())
    # the epochs each rule picks, then the test metrics there
    frame = pd.DataFrame(log)
    chosen = {rule: [] for rule in RULES}
    for i in range(len(runs)):
        rows = frame.iloc[i :: len(runs)].sort_values("epoch")
        for rule, epoch in choose_epochs(rows["val_mse"], rows["val_fid"]).items():
            chosen[rule].append(epoch)
    test_maps = eval_maps([d.test_source for d in data], cfg.test_maps, k, TEST_STREAM, cfg, device)
    test_refs = [Reference.of(torch.as_tensor(d.test, device=device), c)
                 for d, c in zip(data, classifiers, strict=True)]  # fmt: skip
    test_z = eval_noise(specs, cfg.test_maps, stack_cfg.nz, TEST_STREAM, device)
    snaps = {e: load_file(str(work / f"g-epoch{e}.safetensors"), device=str(device))
             for e in sorted(set(chosen["authors"]) | set(chosen["valmse"]))}  # fmt: skip
    results = {}
    for rule in RULES:
        params = {key: torch.stack([snaps[e][key][i] for i, e in enumerate(chosen[rule])])
                  for key in stack.g_params}  # fmt: skip
        results[rule] = score(stack, params, test_maps, test_z, classifiers, test_refs,
                              keep=N_SHOWN)  # fmt: skip
    wall = time.perf_counter() - t0
    rows = []
    for i, (ds, s, seed) in enumerate(runs):
        p = names.index(ds)
        row = {"design": design, "dataset": ds, "setting": s.name,
               "lambda": s.lam if s.conditional else math.nan, "seed": seed}  # fmt: skip
        for rule in RULES:
            r = results[rule]
            blank, collapsed = collapse_flags(float(r["spread"][i]), float(r["image_std"][i]),
                                              test_refs[p].spread)  # fmt: skip
            row |= {f"epoch_{rule}": chosen[rule][i], f"mse_{rule}": float(r["mse"][i]),
                    f"mse01_{rule}": float(r["mse"][i]) / 4, f"fid_{rule}": float(r["fid"][i]),
                    f"spread_{rule}": float(r["spread"][i]) / test_refs[p].spread,
                    f"blank_{rule}": blank, f"collapsed_{rule}": collapsed}  # fmt: skip
        row |= {"stack_runs": len(runs), "train_s": round(train_s, 1),
                "train_cpu_s": round(train_cpu_s, 1), "wall_s": round(wall, 1)}  # fmt: skip
        rows.append(row)
    shown = {(design, ds, s.name, seed): results["authors"]["samples"][i].numpy()
             for i, (ds, s, seed) in enumerate(runs)}  # fmt: skip
    return rows, log, shown


# -- outputs ------------------------------------------------------------------------------


def flagged(runs: pd.DataFrame, rule: str) -> pd.Series:
    return runs[f"blank_{rule}"].astype(bool) | runs[f"collapsed_{rule}"].astype(bool)


def setting_order(name: str) -> float:
    """uncond first, then λ ascending."""
    return -1.0 if name == "uncond" else float(name.split("=")[1])


def summary_table(runs: pd.DataFrame, rule: str) -> pd.DataFrame:
    """Per design x dataset x setting: medians, spread (min-max), flagged runs, medians without."""
    out = []
    for (design, ds, setting), g in runs.groupby(["design", "dataset", "setting"]):
        ok = g[~flagged(g, rule)]
        mse, fid = g[f"mse_{rule}"], g[f"fid_{rule}"]
        out.append({"design": design, "dataset": ds, "setting": setting,
                    "lambda": g["lambda"].iloc[0], "runs": len(g),
                    "flagged": int(flagged(g, rule).sum()),
                    "epoch": g[f"epoch_{rule}"].median(),
                    "mse": mse.median(), "mse_min": mse.min(), "mse_max": mse.max(),
                    "mse_sd": mse.std(), "fid": fid.median(), "fid_min": fid.min(),
                    "fid_max": fid.max(), "fid_sd": fid.std(),
                    "mse_ok": ok[f"mse_{rule}"].median() if len(ok) else math.nan,
                    "fid_ok": ok[f"fid_{rule}"].median() if len(ok) else math.nan})  # fmt: skip
    table = pd.DataFrame(out)
    table["_o"] = table["setting"].map(setting_order)
    return table.sort_values(["dataset", "design", "_o"]).drop(columns="_o").reset_index(drop=True)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    return float(pd.Series(x).rank().corr(pd.Series(y).rank()))


def verdicts(table: pd.DataFrame) -> list[str]:
    """The paper's three claims, judged on one design x dataset's medians (all runs)."""
    lam = table[table["lambda"] > 0].sort_values("lambda")
    lines = []
    if len(lam) >= 3:
        rm = _spearman(np.log10(lam["lambda"]), lam["mse"])
        rf = _spearman(np.log10(lam["lambda"]), lam["fid"])
        holds = rm <= -0.8 and rf >= 0.8
        seq = ", ".join(f"{a:g}: {m:.3g}/{f:.3g}" for a, m, f in
                        zip(lam["lambda"], lam["mse"], lam["fid"], strict=True))  # fmt: skip
        lines.append(f"(a) trade-off from λ = 0.1 up: **{'holds' if holds else 'does not hold'}** "
                     f"(Spearman of median MSE with λ {rm:+.2f}, of median FID {rf:+.2f}; "
                     f"λ: MSE/FID {seq})")  # fmt: skip
    un = table[table["setting"] == "uncond"]
    if len(un) and len(lam):
        u = un.iloc[0]
        better = lam[(lam["fid"] + lam["fid_sd"].fillna(0)) < (u["fid"] - (u["fid_sd"] or 0))]
        best = lam.loc[lam["fid"].idxmin()]
        lines.append(
            f"(b) some λ beats the unconditional GAN's FID by more than the seed spread: "
            f"**{'yes' if len(better) else 'no'}** (uncond {u['fid']:.3g} ± {u['fid_sd']:.2g}; "
            f"best λ = {best['lambda']:g}: {best['fid']:.3g} ± {best['fid_sd']:.2g}"
            + (
                f"; clear: λ = {', '.join(f'{v:g}' for v in better['lambda'])}"
                if len(better)
                else ""
            )
            + "; ± = sd over seeds, 'clear' = the ±1 sd intervals do not overlap)"
        )
    zero = table[table["setting"] == "lambda=0"]
    if len(zero) and len(lam):
        z = zero.iloc[0]
        both = lam[(lam["mse"] < z["mse"]) & (lam["fid"] < z["fid"])]
        lines.append(
            f"(c) some λ beats λ = 0 on both MSE and FID (medians): **{'yes' if len(both) else 'no'}**"
            f" (λ = 0: {z['mse']:.3g}/{z['fid']:.3g}"
            + (f"; better on both: {', '.join(f'λ = {r.lambda_:g} ({r.mse:.3g}/{r.fid:.3g})' for r in both.rename(columns={'lambda': 'lambda_'}).itertuples())}" if len(both) else "")
            + ")"
        )  # fmt: skip
    return lines


def plot_vs_lambda(runs: pd.DataFrame, metric: str, ylabel: str, path: Path) -> None:
    """Median ``metric`` (authors' epoch rule) vs λ per dataset, seeds as dots, min-max band;
    λ = 0 and the unconditional GAN as horizontal lines."""
    dss = sorted(runs["dataset"].unique())
    fig, axes = plt.subplots(1, len(dss), figsize=(6.2 * len(dss), 4.6), squeeze=False,
                             layout="constrained")  # fmt: skip
    col = f"{metric}_authors"
    for ax, ds in zip(axes[0], dss, strict=True):
        sub = runs[runs["dataset"] == ds]
        for j, (design, g) in enumerate(sub.groupby("design")):
            color = f"C{j}"
            lam = g[g["lambda"] > 0]
            med = lam.groupby("lambda")[col].agg(["median", "min", "max"])
            ax.plot(med.index, med["median"], "o-", color=color, label=f"{design}: median")
            ax.fill_between(med.index, med["min"], med["max"], color=color, alpha=0.15)
            ax.plot(lam["lambda"], lam[col], ".", color=color, alpha=0.5)
            for name, ls in (("lambda=0", ":"), ("uncond", "-.")):
                ref = g[g["setting"] == name][col]
                if len(ref):
                    ax.axhline(ref.median(), color=color, ls=ls, lw=1.2, label=f"{design}: {name}")
        ax.set(xscale="log", yscale="log", xlabel="λ", title=ds)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel(ylabel)
    fig.suptitle("authors' epoch rule; median line, seeds as dots, band = min-max over seeds",
                 fontsize=9)  # fmt: skip
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_mse_fid(runs: pd.DataFrame, floors: dict, path: Path) -> None:
    """Median MSE vs median FID per setting (authors' rule), seed sd as error bars."""
    dss = sorted(runs["dataset"].unique())
    fig, axes = plt.subplots(1, len(dss), figsize=(6.2 * len(dss), 4.6), squeeze=False,
                             layout="constrained")  # fmt: skip
    for ax, ds in zip(axes[0], dss, strict=True):
        table = summary_table(runs[runs["dataset"] == ds], "authors")
        for j, (design, t) in enumerate(table.groupby("design")):
            lam = t[t["lambda"] > 0]
            ax.errorbar(lam["fid"], lam["mse"], xerr=lam["fid_sd"], yerr=lam["mse_sd"], fmt="o-",
                        color=f"C{j}", label=f"{design}: λ > 0", capsize=2, lw=1)  # fmt: skip
            for _, r in t.iterrows():
                text = "uncond" if r["setting"] == "uncond" else f"λ={r['lambda']:g}"
                marker = {"uncond": "s", "lambda=0": "D"}.get(r["setting"])
                if marker:
                    ax.plot(r["fid"], r["mse"], marker, color=f"C{j}", mfc="none", ms=9)
                ax.annotate(text, (r["fid"], r["mse"]), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")  # fmt: skip
        ax.axvline(floors[ds]["floor"], color="k", ls=":", lw=1, label="FID real vs real")
        ax.axvline(floors[ds]["blank"], color="k", ls="--", lw=1, label="FID of blank images")
        ax.set(xscale="log", yscale="log", xlabel="test FID", title=ds)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("test MSE at constrained pixels ([-1, 1] units)")
    fig.suptitle("medians over seeds (authors' epoch rule); square: unconditional, "
                 "diamond: λ = 0; bars: sd over seeds", fontsize=9)  # fmt: skip
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_samples(ds: str, design: str, shown: dict, maps: np.ndarray, seeds: list[int],
                 settings: list[str], path: Path) -> None:  # fmt: skip
    """Rows: the test constraint sources, then each setting; columns: the first test maps of
    several seeds. Green o: constraint satisfied (|error| < SATISFIED in [0, 1] units); red x: not."""
    cols = [(seed, j) for seed in seeds for j in range(N_SHOWN)]
    rows = ["sources"] + settings
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(0.95 * len(cols) + 1.5, 1.0 * len(rows)),
                             squeeze=False)  # fmt: skip
    values, mask = maps[:, 0], maps[:, 1]
    for i, name in enumerate(rows):
        for c, (seed, j) in enumerate(cols):
            ax = axes[i, c]
            image = values[j] if name == "sources" else shown.get((design, ds, name, seed))
            ax.set_xticks([])
            ax.set_yticks([])
            if image is None:
                continue
            if name == "sources":
                image = np.where(mask[j] > 0, values[j], np.nan)  # only the given pixels
                ax.set_facecolor("0.5")
            else:
                image = image[j]
            ax.imshow(image, cmap="gray", vmin=-1, vmax=1)
            rr, cc = np.nonzero(mask[j])
            ok = np.abs(np.nan_to_num(image[rr, cc]) - values[j][rr, cc]) / 2 < SATISFIED
            ax.scatter(cc[ok], rr[ok], s=30, facecolors="none", edgecolors="lime", linewidths=1)
            ax.scatter(cc[~ok], rr[~ok], s=24, marker="x", color="red", linewidths=1)
            if i == 0:
                ax.set_title(f"seed {seed}", fontsize=6)
        axes[i, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=7)
    fig.suptitle(f"{ds}, generator '{design}': test samples at the authors'-rule epoch; top row: "
                 f"the 4 given pixels. green o: |error| < {SATISFIED} in [0, 1] units; red x: not",
                 fontsize=8)  # fmt: skip
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _fmt_table(t: pd.DataFrame, floor: dict) -> list[str]:
    lines = [
        "| design | setting | runs | flagged | epoch (median) | MSE [-1,1] median (min–max) "
        "| MSE [0,1] | FID median (min–max) | MSE / FID without flagged |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in t.iterrows():
        lines.append(
            f"| {r['design']} | {r['setting']} | {r['runs']} | {r['flagged']} | {r['epoch']:g} "
            f"| {r['mse']:.4g} ({r['mse_min']:.3g}–{r['mse_max']:.3g}) | {r['mse'] / 4:.3g} "
            f"| {r['fid']:.4g} ({r['fid_min']:.3g}–{r['fid_max']:.3g}) "
            f"| {r['mse_ok']:.4g} / {r['fid_ok']:.4g} |"
        )
    lines.append(f"| reference | real vs real (floor) | | | | | | {floor['floor']:.4g} | |")
    lines.append(f"| reference | blank (all-black) images | | | | {floor['blank_mse']:.4g} "
                 f"| {floor['blank_mse'] / 4:.3g} | {floor['blank']:.4g} | |")  # fmt: skip
    return lines


def write_summary(out: Path, runs: pd.DataFrame, floors: dict, meta: dict) -> None:
    """``summary.md``: per dataset the tables of both epoch rules, floors, verdicts, targets."""
    lines = [
        "# λ study (Ruffino et al. 2019) — written by `workflows/lambda_study.py`",
        "",
        f"- command: `{meta['command']}`",
        f"- date {meta['date']}, device {meta['device']}, {meta['runs']} runs in "
        f"{len(meta['stacks'])} stacks; training with validation (all sessions, wall / CPU "
        f"of this process): "
        + ", ".join(
            f"{d}: {g['train_s'].iloc[0]:.0f} s / {g['train_cpu_s'].iloc[0]:.0f} s"
            for d, g in runs.groupby("design")
        )
        + f"; this session (training left + test scoring): "
        f"{', '.join(f'{k}: {v:.0f} s' for k, v in meta['stacks'].items())}; "
        f"total {meta['wall_s'] / 60:.1f} min wall, "
        f"{meta['cpu_s'] / 60:.1f} min CPU time of this process; 1-min load "
        f"{meta['load'][0]:.2f} → {meta['load'][1]:.2f}",
        f"- protocol: {meta['protocol']}",
        "- **MSE**: at the 4 constrained pixels of each test map, in [-1, 1] pixel units (the "
        "authors'; [0, 1] units = / 4). **FID**: generated vs real test images on the 256-d "
        "features of the dataset's classifier (not comparable with Inception FIDs). "
        "**flagged**: blank or collapsed samples (see the workflow's docstring).",
        "- **epoch rules**: *authors* = argmin over epochs of sqrt(normMSE² + normFID²) on "
        "validation (min-max normalised per run); *valmse* = argmin of validation MSE.",
        "",
    ]
    for ds in sorted(runs["dataset"].unique()):
        sub = runs[runs["dataset"] == ds]
        cl = meta["classifiers"][ds]
        lines += [f"## {ds}", "",
                  f"Classifier test accuracy {cl['test_accuracy']:.4f} ({cl['epochs']} epochs, "
                  f"{cl['images']} images); data: {meta['sources'][ds]}.", ""]  # fmt: skip
        for rule in RULES:
            table = summary_table(sub, rule)
            lines += [f"### epoch rule: {rule}", "", *_fmt_table(table, floors[ds]), ""]
        lines += ["### The paper's claims (authors' epoch rule, all runs)", ""]
        for design, t in summary_table(sub, "authors").groupby("design"):
            lines += [f"- generator `{design}`:"] + [f"  - {v}" for v in verdicts(t)]
        lines += ["", "### Targets (median test MSE, [-1, 1] units; the authors' figures)", ""]
        for rule in RULES:
            for design, t in summary_table(sub, rule).groupby("design"):
                for lam, target in ((10, 0.014), (1, 0.124)):
                    row = t[t["lambda"] == lam]
                    if len(row):
                        v = row["mse"].iloc[0]
                        lines.append(f"- {rule} rule, `{design}`, λ = {lam}: {v:.4g} vs ≤ {target}"
                                     f" — **{'met' if v <= target else 'missed'}**")  # fmt: skip
        lines.append("")
    (out / "summary.md").write_text("\n".join(lines))


# -- command line -------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> tuple[StudyConfig, argparse.Namespace]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="the CPU mode (~20 min, one thread)")
    mode.add_argument("--tiny", action="store_true", help="smoke test (seconds)")
    p.add_argument("--datasets", help="comma-separated: mnist,fashion-mnist")
    p.add_argument("--settings", help=f"comma-separated: {','.join(ALL_SETTINGS)}")
    p.add_argument("--designs", help="comma-separated: input (the paper's generator), skip")
    p.add_argument("--seeds", type=int, help="runs per setting (seeds 0..N-1)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--train-images", type=int, help="cap on training images")
    p.add_argument("--data-dir", help="directory with the IDX files (or DIR/<dataset>/)")
    p.add_argument("--out", help="results folder (default workflows/results/lambda_study/<mode>)")
    p.add_argument("--runs-dir", help="stack checkpoints (default runs/lambda_study/<mode>)")
    p.add_argument("--classifiers", help="FID classifier cache (default results/lambda_study/"
                   "classifiers)")  # fmt: skip
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1...")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--report", action="store_true", help="only rebuild summary.md and the "
                   "figures of --out (or the mode's folder) from its runs.csv, meta.json and "
                   "samples.npz")  # fmt: skip
    args = p.parse_args(argv)
    args.mode = "quick" if args.quick else "tiny" if args.tiny else "full"
    cfg = MODES[args.mode]
    split = {k: tuple(getattr(args, k).split(",")) for k in ("datasets", "settings", "designs")
             if getattr(args, k)}  # fmt: skip
    plain = {"seeds": args.seeds, "epochs": args.epochs, "train_images": args.train_images}
    cfg = replace(cfg, **split, **{k: v for k, v in plain.items() if v is not None})
    for ds in cfg.datasets:
        if ds not in datasets.DATASETS:
            raise InputError(f"dataset {ds!r} is unknown; use {','.join(datasets.DATASETS)}")
    for d in cfg.designs:
        if d not in DESIGNS:
            raise InputError(f"design {d!r} is unknown; use {','.join(DESIGNS)}")
    for token in cfg.settings:
        Setting.parse(token)
    for name, value in (("seeds", cfg.seeds), ("epochs", cfg.epochs)):
        if value < 1:
            raise InputError(f"{name} must be >= 1, got {value}")
    return cfg, args


def main(argv: list[str] | None = None) -> Path:
    """Run the study; return the results folder."""
    t_start, cpu_start, load_start = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    cfg, args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    if device.type == "cuda":  # TF32 matmuls and convolutions, tuned grouped convolutions
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    device_name = (torch.cuda.get_device_name(device) if device.type == "cuda"
                   else f"cpu ({torch.get_num_threads()} threads, {os.cpu_count()} cores)")  # fmt: skip
    out = Path(args.out) if args.out else RESULTS / args.mode
    if args.report:
        report(out)
        return out
    work = Path(args.runs_dir) if args.runs_dir else ROOT / "runs" / "lambda_study" / args.mode
    clf_dir = Path(args.classifiers) if args.classifiers else RESULTS / "classifiers"
    out.mkdir(parents=True, exist_ok=True)
    command = shlex.join(["python", "workflows/lambda_study.py",
                          *(sys.argv[1:] if argv is None else argv)])  # fmt: skip
    data = [prepare(ds, cfg, args.data_dir) for ds in cfg.datasets]
    classifiers, clf_meta = [], {}
    for d in data:
        model, meta = get_classifier(d, clf_dir, device)
        if meta["test_accuracy"] < MIN_ACCURACY.get(d.name, 0) and d.source.endswith("verified)"):
            print(f"warning: {d.name} classifier accuracy {meta['test_accuracy']:.4f} is under "
                  f"{MIN_ACCURACY[d.name]}")  # fmt: skip
        classifiers.append(model)
        clf_meta[d.name] = meta
    # floors: real test images vs as many training images, and vs blank images
    floors = {}
    for d, clf in zip(data, classifiers, strict=True):
        ref = Reference.of(torch.as_tensor(d.test, device=device), clf)
        n = min(cfg.test_maps, len(d.train))
        other = torch.as_tensor(d.train[:n], device=device)
        blank = -torch.ones(n, 28, 28, device=device)
        maps = eval_maps([d.test_source], cfg.test_maps, cfg.stack.n_constrained, TEST_STREAM, cfg,
                         device)[0]  # fmt: skip
        floors[d.name] = {
            "floor": float(frechet_distance(ref.mu, ref.cov, *feature_stats(embed(clf, other)))),
            "blank": float(frechet_distance(ref.mu, ref.cov, *feature_stats(embed(clf, blank)))),
            "blank_mse": float(
                constrained_mse(-torch.ones(1, len(maps), 28, 28, device=device), maps[None])
            ),  # fmt: skip
        }
    settings = [Setting.parse(s) for s in cfg.settings]
    rows, logs, shown, stacks = [], [], {}, {}
    for design in cfg.designs:
        runs = [(d.name, s, seed) for d in data for s in settings for seed in range(cfg.seeds)
                if s.conditional or design == cfg.designs[0]]  # fmt: skip
        t0 = time.perf_counter()
        r, log, sh = train_stack(design, runs, data, cfg, classifiers, work / design, device,
                                 not args.no_progress)  # fmt: skip
        stacks[design] = time.perf_counter() - t0
        rows += r
        logs += log
        shown |= sh
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    runs_frame = pd.DataFrame(rows).assign(device=device_name, date=date)
    runs_frame.to_csv(out / "runs.csv", index=False)
    pd.DataFrame(logs).to_csv(out / "epochs.csv", index=False)
    protocol = (f"{cfg.epochs} epochs of {min(len(d.train) for d in data)} training images, "
                f"batch {cfg.stack.batch_size}, nz {cfg.stack.nz}, ngf {cfg.stack.ngf}, "
                f"ndf {cfg.stack.ndf}, {cfg.stack.n_constrained} constrained pixels per map, "
                f"{cfg.val_maps} validation maps (vs {len(data[0].val)} real), {cfg.test_maps} "
                f"test maps (vs {len(data[0].test)} real test images)")  # fmt: skip
    meta = {"command": command, "date": date, "device": device_name, "runs": len(rows),
            "stacks": stacks, "wall_s": time.perf_counter() - t_start,
            "cpu_s": time.process_time() - cpu_start,
            "load": (load_start, os.getloadavg()[0]), "protocol": protocol,
            "classifiers": clf_meta, "sources": {d.name: d.source for d in data}}  # fmt: skip
    (out / "meta.json").write_text(json.dumps({**meta, "config": asdict(cfg), "floors": floors},
                                              indent=1, default=str))  # fmt: skip
    arrays = {"|".join(map(str, key)): v.astype(np.float16) for key, v in shown.items()}
    for d in data:  # the first test maps, as scored (drawn on the CPU, see eval_maps)
        maps = eval_maps([d.test_source], N_SHOWN, cfg.stack.n_constrained, TEST_STREAM, cfg,
                         torch.device("cpu"))[0]  # fmt: skip
        arrays[f"maps|{d.name}"] = maps.numpy().astype(np.float16)
    np.savez_compressed(out / "samples.npz", **arrays)
    report(out)
    print(f"{len(rows)} runs in {(time.perf_counter() - t_start) / 60:.1f} min; results in {out}")
    return out


def report(out: Path) -> None:
    """Summary and figures from a results folder's ``runs.csv``, ``meta.json`` and (for the
    sample grids) ``samples.npz``: rebuilds them without training, e.g. for GPU results."""
    meta = json.loads((out / "meta.json").read_text())
    runs = pd.read_csv(out / "runs.csv")
    write_summary(out, runs, meta["floors"], meta)
    plot_vs_lambda(runs, "mse", "test MSE at constrained pixels ([-1, 1] units)",
                   out / "mse_vs_lambda.png")  # fmt: skip
    plot_vs_lambda(runs, "fid", "test FID (classifier features)", out / "fid_vs_lambda.png")
    plot_mse_fid(runs, meta["floors"], out / "mse_vs_fid.png")
    if not (out / "samples.npz").exists():
        return
    with np.load(out / "samples.npz") as npz:
        arrays = {k: npz[k].astype(np.float32) for k in npz.files}
    shown = {}
    for key, v in arrays.items():
        if not key.startswith("maps|"):
            design, ds, setting, seed = key.split("|")
            shown[(design, ds, setting, int(seed))] = v
    seeds = sorted(runs["seed"].unique())[:3]
    for (ds, design), g in runs.groupby(["dataset", "design"]):
        settings = sorted(g["setting"].unique(), key=setting_order)
        plot_samples(ds, design, shown, arrays[f"maps|{ds}"], seeds, settings,
                     out / f"samples_{ds}_{design}.png")  # fmt: skip


if __name__ == "__main__":
    main()
