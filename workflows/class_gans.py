"""The literature's class-conditional GANs compared on MNIST and Fashion-MNIST.

What it reproduces
------------------
The comparison these models come from (``../shared/REFERENCES.md``, "Class-conditional GANs"):
the 2N-GAN trained most stably with the highest Inception Score, the conditional DCGAN
showed the most in-class variety but more wrong classes, ACGAN had the lowest score, and
InfoGAN found interpretable codes without labels. Here: ``dcgan`` (unconditional),
``cgan`` (Mirza & Osindero, MLP), ``cdcgan``, ``acgan``, ``twon-gan`` and ``infogan``, all of
``geocgan.models``, on one model contract and one trainer.

Protocol
--------
- data: the official train split, a class-balanced subset of ``train_images`` for training;
  ``eval_n`` further training images (not trained on) are the validation set; the test
  split's first ``eval_n`` class-balanced images the test set.
- the same budget per model: ``epochs`` x ``steps_per_epoch`` steps of ``batch_size``
  images, Adam(``lr``, 0.5, 0.999), the non-saturating loss, one D and one G step; the conv
  models share ``ngf``/``ndf`` (``width``), the MLP cGAN keeps its own widths (256).
- after every epoch an ``on_epoch`` hook scores ``val_n`` samples (labels 0..9 in turn)
  by FID against the validation set on the features of the dataset's classifier
  (``geocgan.metrics.fid.SmallClassifier``, cached); ``BestEpoch`` keeps the best weights.
- at the best epoch: ``geocgan.metrics.classes.class_scores`` of ``eval_n`` samples against
  the test set: FID, Inception Score (10 splits), GAN-test accuracy (conditional models),
  per-class FID, intra-class diversity over the real data's. Unconditional models' per-class
  scores use the classes the classifier assigns. Beside the FIDs: the real-vs-real floor
  (validation vs test, ``eval_n`` each) and a blank (all-black) image set's value.
- stability: the spread of the best FID over seeds, and the late rise (last epoch's
  validation FID minus the best). A run is flagged ``collapsed`` when its test FID is above
  half the blank value or its diversity below a fifth of the real data's.

Modes
-----
- ``--mode cpu`` (committed): 2 seeds, 6 000 training images, 6 epochs of 90 steps of 32
  images (540 steps, Adam lr 5e-4 for the short budget), ngf = ndf = 16; 300 samples per
  epoch for the validation FID, 1 000 for the final scores. About 20 minutes of one thread
  of the shared 2-core development machine: a smoke-level comparison, far from converged.
- ``--mode full`` (one GPU, one command of under 10 minutes): 3 seeds, 55 000 training
  images, 10 epochs of 300 steps of 64 images, lr 2e-4, ngf = ndf = 64; 2 000 samples per
  epoch, 5 000 for the final scores: 36 runs of 3 000 steps, under 10 minutes at the ~4 ms
  a step such small nets take on one GPU (an estimate: written for a GPU, not run yet).
- ``--mode tiny``: a smoke test (seconds).

Run: ``python workflows/class_gans.py --mode cpu --threads 1``. Checkpoints go to
``runs/class_gans/<mode>/`` (an interrupted study resumes); results to
``workflows/results/class_gans/<mode>/``: ``runs.csv`` (one row per run), ``epochs.csv``
(the validation log), ``summary.md``, and PNGs per dataset: ``samples_<ds>.png`` (rows =
classes), ``interpolations_<ds>.png``, ``infogan_codes_<ds>.png``, ``curves_<ds>.png``.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from geocgan import (
    datasets,  # noqa: E402
    noise,  # noqa: E402
)
from geocgan.checkpoint import load_model  # noqa: E402
from geocgan.devices import resolve_device  # noqa: E402
from geocgan.metrics.classes import (  # noqa: E402
    class_probabilities,
    class_scores,
    fid_references,
    normalized_mutual_information,
)
from geocgan.metrics.fid import (  # noqa: E402
    embed,
    feature_stats,
    frechet_distance,
    load_classifier,
    save_classifier,
    train_classifier,
)
from geocgan.models import MODELS, build_model  # noqa: E402
from geocgan.simulate import sample  # noqa: E402
from geocgan.train import BestEpoch, FieldArray, TrainConfig, Trainer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "workflows/results/class_gans"
CLASSIFIERS = [RESULTS / "classifiers", ROOT / "workflows/results/lambda_study/classifiers"]
MODEL_NAMES = ["dcgan", "cgan", "cdcgan", "acgan", "twon-gan", "infogan"]
N_CLASSES = 10


@dataclass
class StudyConfig:
    """Settings of the study (see the module docstring)."""

    datasets: list[str] = field(default_factory=lambda: ["mnist", "fashion-mnist"])
    models: list[str] = field(default_factory=lambda: list(MODEL_NAMES))
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    train_images: int = 6000
    epochs: int = 6
    steps_per_epoch: int = 90
    batch_size: int = 32
    width: int = 16
    lr: float = 5e-4
    val_n: int = 300
    eval_n: int = 1000


MODES = {
    "cpu": StudyConfig(),
    "full": StudyConfig(
        seeds=[0, 1, 2], train_images=55000, epochs=10, steps_per_epoch=300, batch_size=64,
        width=64, lr=2e-4, val_n=2000, eval_n=5000,
    ),
    "tiny": StudyConfig(
        datasets=["mnist"], seeds=[0], train_images=200, epochs=2, steps_per_epoch=2, width=8,
        val_n=100, eval_n=100,
    ),
}  # fmt: skip


# -- data and classifiers ------------------------------------------------------------------


def balanced(labels: np.ndarray, n: int, skip: int = 0) -> np.ndarray:
    """Indices of ``n`` images, classes in turn (0, 1, ..., 9, 0, ...), after the first
    ``skip`` of each class's turn order (so two calls with skip 0 and n do not overlap)."""
    per_class = [np.flatnonzero(labels == k) for k in range(N_CLASSES)]
    take = (np.arange(n) + skip) // N_CLASSES
    return np.array([per_class[i % N_CLASSES][t] for i, t in enumerate(take)])


def load_data(name: str, cfg: StudyConfig) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Train / validation / test images (uint8 ``(N, 28, 28)``) and labels (int64)."""
    d = datasets.load(name)
    (xtr, ytr), (xte, yte) = d["train"], d["test"]
    ytr, yte = ytr.astype(np.int64), yte.astype(np.int64)
    train = balanced(ytr, cfg.train_images)
    val = balanced(ytr, cfg.eval_n, skip=cfg.train_images)
    test = balanced(yte, cfg.eval_n)
    return {
        "train": (xtr[train], ytr[train]),
        "val": (xtr[val], ytr[val]),
        "test": (xte[test], yte[test]),
        "all_train": (xtr, ytr),
        "all_test": (xte, yte),
    }


def get_classifier(name: str, data: dict, device: torch.device):
    """The dataset's FID classifier, cached (ours, else the λ study's), else trained on the
    full official train split (4 epochs) and cached."""
    for folder in CLASSIFIERS:
        path = folder / f"{name}.safetensors"
        if path.exists():
            model, meta = load_classifier(path, device=device)
            return model, {**meta, "file": str(path.relative_to(ROOT))}
    (x, y), (xt, yt) = data["all_train"], data["all_test"]
    t0 = time.perf_counter()
    model, acc = train_classifier(x, y, xt, yt, epochs=4, device=device, seed=0)
    meta = {"dataset": name, "epochs": 4, "test_accuracy": acc,
            "train_s": round(time.perf_counter() - t0, 1)}  # fmt: skip
    path = CLASSIFIERS[0] / f"{name}.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_classifier(model, path, meta, overwrite=True)
    return model, {**meta, "file": str(path.relative_to(ROOT))}


# -- generation -------------------------------------------------------------------------------


def generate(model, n: int, seed: int) -> tuple[torch.Tensor, np.ndarray | None]:
    """``n`` samples in ``[-1, 1]`` ``(n, 1, 28, 28)`` (labels 0..9 in turn for a
    class-conditional model, else None)."""
    labels = np.arange(n) % N_CLASSES if model.condition == "labels" else None
    raw = sample(model, n, labels=labels, seed=seed, batch_size=500)  # (n, 28, 28) raw values
    return model.spec.encode(torch.as_tensor(raw)), labels


class ValidationFID:
    """``on_epoch`` hook: FID of ``n`` samples against the validation images (``val_fid``)."""

    def __init__(self, classifier, val_images: np.ndarray, n: int):
        self.classifier, self.n = classifier, n
        self.mu, self.cov = feature_stats(embed(classifier, val_images[:n]))

    def __call__(self, trainer, epoch: int, row: dict) -> dict:
        fake, _ = generate(trainer.model, self.n, seed=12345)
        mu, cov = feature_stats(embed(self.classifier, fake))
        return {"val_fid": float(frechet_distance(self.mu, self.cov, mu, cov))}


# -- one run ------------------------------------------------------------------------------------


def model_config(name: str, cfg: StudyConfig) -> dict:
    """The settings of ``name`` in this study: defaults, with the study's learning rate and
    the conv models' widths."""
    lr = {"lr_g": cfg.lr, "lr_d": cfg.lr}
    return lr if name == "cgan" else lr | {"ngf": cfg.width, "ndf": cfg.width}


def train_run(ds: str, name: str, seed: int, data, classifier, cfg, work: Path, device) -> dict:
    """Train one model (resuming), return its log rows and the best checkpoint's path."""
    x, y = data["train"]
    spec = MODELS[name].field_spec(x)
    model = build_model(name, model_config(name, cfg), spec, seed=seed)
    tcfg = TrainConfig(
        epochs=cfg.epochs, batch_size=cfg.batch_size, steps_per_epoch=cfg.steps_per_epoch,
        seed=seed, device=str(device), val_size=256,
    )  # fmt: skip
    ck = work / f"{ds}_{name}_s{seed}.safetensors"
    best = BestEpoch("val_fid")
    trainer = Trainer(
        model,
        FieldArray(x, device, labels=y, n_classes=N_CLASSES),
        tcfg,
        checkpoint=ck,
        log=ck.with_suffix(".jsonl"),
        progress=False,
        on_epoch=[ValidationFID(classifier, data["val"][0], cfg.val_n), best],
    )
    t0 = time.perf_counter()
    rows = trainer.fit(resume=True)  # a finished run: its log, read back
    return {"rows": rows, "best": best.path(trainer), "seconds": time.perf_counter() - t0}


def score_run(best: Path, data, classifier, cfg, device, refs: dict) -> tuple[dict, object]:
    model, doc = load_model(best, device=device)
    fake, labels = generate(model, cfg.eval_n, seed=777)
    xt, yt = data["test"]
    s = class_scores(classifier, xt, yt, fake, labels, N_CLASSES)
    s["collapsed"] = bool(s["fid"] > refs["blank"] / 2 or s["diversity_ratio"] < 0.2)
    if model.name == "infogan" and model.config.cat_codes:
        s["code_nmi"] = infogan_code_nmi(model, classifier, cfg.eval_n)
    return s, model


def infogan_code_nmi(model, classifier, n: int) -> float:
    """Normalized mutual information between InfoGAN's first categorical code (its values in
    turn over ``n`` samples, the rest of the latent drawn) and the classifier's class of the
    samples: 1 when the code picks the class, 0 when unrelated."""
    k = model.config.cat_codes[0]
    z = latent_draw(model, n, 5)
    code = np.arange(n) % k
    z[1] = torch.eye(k)[code]
    pred = class_probabilities(classifier, gen(model, z, None)).argmax(1).numpy()
    return normalized_mutual_information(code, pred)


# -- figures -------------------------------------------------------------------------------------


def show(ax, img: torch.Tensor) -> None:
    ax.imshow(img.squeeze().cpu().numpy(), cmap="gray", vmin=-1, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])


def latent_draw(model, n: int, seed: int) -> list[torch.Tensor]:
    """Latent parts of ``n`` realizations of ``seed`` (``geocgan.noise``), on the CPU."""
    return noise.draw(model.latent(), seed, range(n))


@torch.no_grad()
def gen(model, z: list[torch.Tensor], labels) -> torch.Tensor:
    model.eval()
    dev = model.device
    y = None if labels is None else torch.as_tensor(labels, dtype=torch.int64, device=dev)
    return model.generate([t.to(dev) for t in z], y).cpu()


def plot_samples(path: Path, models: dict, classifier, per_class: int = 8) -> None:
    """Per model a panel of rows = classes; an unconditional model's samples are sorted into
    rows by the classifier's class (blank where it made fewer than ``per_class``)."""
    fig, axes = plt.subplots(
        N_CLASSES, len(models) * (per_class + 1), figsize=(len(models) * 4.2, 5.2)
    )
    for m_i, (name, model) in enumerate(models.items()):
        if model.condition == "labels":
            z = latent_draw(model, N_CLASSES * per_class, 1)
            lab = np.repeat(np.arange(N_CLASSES), per_class)
            imgs = gen(model, z, lab).reshape(N_CLASSES, per_class, 1, 28, 28)
            grid = [[imgs[k, j] for j in range(per_class)] for k in range(N_CLASSES)]
        else:
            imgs = gen(model, latent_draw(model, 400, 1), None)
            pred = classifier.predict_proba(imgs.to(next(classifier.parameters()).device))
            pred = pred.argmax(1).cpu().numpy()
            grid = [
                [imgs[i] for i in np.flatnonzero(pred == k)[:per_class]] for k in range(N_CLASSES)
            ]
        for k in range(N_CLASSES):
            for j in range(per_class + 1):
                ax = axes[k, m_i * (per_class + 1) + j]
                ax.axis("off")
                if j < len(grid[k]):
                    show(ax, grid[k][j])
        axes[0, m_i * (per_class + 1) + per_class // 2].set_title(name, fontsize=10)
    fig.suptitle("Samples by class (rows 0-9; unconditional models: the classifier's class)")
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def plot_interpolations(path: Path, models: dict, steps: int = 10, rows: int = 3) -> None:
    """Per model ``rows`` linear paths between two latent draws (labels 0, 1, 2... held
    fixed along a row for class-conditional models; InfoGAN's codes interpolate too)."""
    fig, axes = plt.subplots(
        len(models) * rows, steps, figsize=(steps * 0.8, len(models) * rows * 0.85)
    )
    w = torch.linspace(0, 1, steps)
    for m_i, (name, model) in enumerate(models.items()):
        za, zb = latent_draw(model, rows, 2), latent_draw(model, rows, 3)
        for r in range(rows):
            z = [(1 - w[:, None]) * a[r] + w[:, None] * b[r] for a, b in zip(za, zb, strict=True)]
            lab = np.full(steps, r) if model.condition == "labels" else None
            imgs = gen(model, z, lab)
            for j in range(steps):
                show(axes[m_i * rows + r, j], imgs[j])
            axes[m_i * rows + r, 0].set_ylabel(name if r == 0 else "", fontsize=7)
    fig.suptitle("Latent interpolations (class held fixed per row)", fontsize=9)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def plot_infogan_codes(path: Path, model, rows: int = 5, steps: int = 9) -> None:
    """InfoGAN: each categorical code swept over its values (columns), each continuous code
    from -1 to 1 (columns), the rest of the latent held fixed per row."""
    cfg = model.config
    sweeps = [("categorical", i, k) for i, k in enumerate(cfg.cat_codes)]
    sweeps += [("continuous", j, steps) for j in range(cfg.n_cont)]
    cols = max(s[2] for s in sweeps)
    fig, axes = plt.subplots(
        rows * len(sweeps), cols, figsize=(cols * 0.8, rows * len(sweeps) * 0.85)
    )
    base = latent_draw(model, rows, 4)
    n_cat = len(cfg.cat_codes)
    for s_i, (kind, i, n) in enumerate(sweeps):
        for r in range(rows):
            z = [t[r : r + 1].repeat(n, 1) for t in base]
            if kind == "categorical":
                z[1 + i] = torch.eye(n)
            else:
                z[1 + n_cat][:, i] = torch.linspace(-1, 1, n)
            imgs = gen(model, z, None)
            for j in range(cols):
                ax = axes[s_i * rows + r, j]
                ax.axis("off") if j >= n else show(ax, imgs[j])
            axes[s_i * rows + r, 0].set_ylabel(f"{kind[:4]} {i}" if r == 0 else "", fontsize=7)
    fig.suptitle("InfoGAN: each code swept, the rest held (rows: latent draws)", fontsize=9)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def plot_curves(path: Path, logs: dict) -> None:
    """Per model: D and G losses per epoch (top) and the validation FID of every seed."""
    names = list(dict.fromkeys(m for m, _ in logs))
    fig, axes = plt.subplots(2, len(names), figsize=(3 * len(names), 5), squeeze=False)
    for c, name in enumerate(names):
        for (m, seed), rows in logs.items():
            if m != name:
                continue
            ep = [r["epoch"] for r in rows]
            for key, color in (("loss_d", "tab:blue"), ("loss_g", "tab:orange")):
                axes[0, c].plot(ep, [r[key] for r in rows], color=color, alpha=0.7,
                                label=key if seed == min(s for mm, s in logs if mm == name) else None)  # fmt: skip
            axes[1, c].plot(ep, [r["val_fid"] for r in rows], marker=".", label=f"seed {seed}")
        axes[0, c].set_title(name)
        axes[0, c].legend(fontsize=7)
        axes[1, c].set_xlabel("epoch")
        axes[1, c].legend(fontsize=7)
    axes[0, 0].set_ylabel("loss")
    axes[1, 0].set_ylabel("validation FID")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# -- the study ---------------------------------------------------------------------------------


def summarise(runs: list[dict], refs: dict, clf_meta: dict, cfg: StudyConfig, how: str) -> str:
    """The Markdown summary: one table per dataset (mean ± std over seeds), floors, verdicts."""

    def ms(vals, fmt="{:.2f}"):
        v = np.asarray([x for x in vals if x is not None and np.isfinite(x)], float)
        if not len(v):
            return "—"
        return fmt.format(v.mean()) + (" ± " + fmt.format(v.std()) if len(v) > 1 else "")

    out = ["# Class-conditional GANs on MNIST and Fashion-MNIST", "", how, ""]
    for ds in cfg.datasets:
        rs = [r for r in runs if r["dataset"] == ds]
        m = clf_meta[ds]
        out += [
            f"## {ds}",
            "",
            f"Classifier: test accuracy {m['test_accuracy']:.4f} ({m['file']}). "
            f"FID of {cfg.eval_n} samples vs {cfg.eval_n} test images; real-vs-real floor "
            f"(validation vs test, {cfg.eval_n} each) **{refs[ds]['floor']:.2f}**, blank images "
            f"**{refs[ds]['blank']:.1f}**. Inception Score of the {cfg.eval_n} test images: "
            f"{refs[ds]['is_real']:.2f}.",
            "",
            "| model | FID | Inception Score | GAN-test acc. | per-class FID | diversity / real | "
            "best epoch | late FID rise | collapsed |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name in cfg.models:
            r = [x for x in rs if x["model"] == name]
            out.append(
                f"| {name} | {ms([x['fid'] for x in r])} | {ms([x['is_mean'] for x in r])} | "
                f"{ms([x.get('gan_test') for x in r], '{:.3f}')} | "
                f"{ms([x['class_fid'] for x in r])} | {ms([x['diversity_ratio'] for x in r], '{:.3f}')} | "
                f"{ms([x['best_epoch'] for x in r], '{:.1f}')} | {ms([x['late_rise'] for x in r])} | "
                f"{sum(x['collapsed'] for x in r)}/{len(r)} |"
            )
        info = [x for x in rs if "code_nmi" in x and np.isfinite(x["code_nmi"])]
        if info:
            out += [
                "",
                f"InfoGAN, no labels: normalized mutual information between its first "
                f"categorical code and the classifier's class of the samples "
                f"{ms([x['code_nmi'] for x in info], '{:.3f}')} (1: the code picks the class, "
                "0: unrelated).",
            ]
        out += ["", *verdicts(rs, cfg.models), ""]
    return "\n".join(out)


def verdicts(rs: list[dict], models: list[str]) -> list[str]:
    """The published comparison's three claims, checked on one dataset's runs."""

    def mean(name, key):
        return float(
            np.nanmean([np.nan if r.get(key) is None else r[key] for r in rs if r["model"] == name])
        )

    def spread(name):  # relative spread of the test FID over seeds
        fids = [r["fid"] for r in rs if r["model"] == name]
        return float(np.std(fids) / np.mean(fids))

    cond = [m for m in models if m in ("cgan", "cdcgan", "acgan", "twon-gan")]
    by_is = sorted(cond, key=lambda m: -mean(m, "is_mean"))
    by_div = sorted(cond, key=lambda m: -mean(m, "diversity_ratio"))
    by_acc = sorted(cond, key=lambda m: mean(m, "gan_test"))
    stable = sorted(cond, key=lambda m: spread(m) + max(mean(m, "late_rise"), 0) / mean(m, "fid"))
    untested = all(r["late_rise"] == 0 and not r["collapsed"] for r in rs if r["model"] in cond)
    yes = {True: "agrees", False: "differs"}
    return [
        "Against the published comparison (class-conditional models only):",
        f"- highest Inception Score: {by_is[0]} (order {', '.join(by_is)}); "
        + (
            "stability not tested: no conditional run collapsed and every one's validation FID "
            "was lowest at its last epoch (the runs are too short to show late collapse) — the "
            f"claim '2N-GAN has the highest score' {yes[by_is[0] == 'twon-gan']}."
            if untested
            else f"most stable (relative FID spread over seeds + relative late rise): "
            f"{stable[0]} — the claim '2N-GAN most stable with the highest score' "
            f"{yes[by_is[0] == 'twon-gan' and stable[0] == 'twon-gan']}."
        ),
        f"- most in-class variety (diversity / real): {by_div[0]}; fewest right classes (GAN-test): "
        f"{by_acc[0]} — the claim 'cDCGAN most variety but more wrong classes' "
        f"{yes[by_div[0] == 'cdcgan' and by_acc.index('cdcgan') < len(by_acc) / 2]}.",
        f"- lowest Inception Score: {by_is[-1]} — the claim 'ACGAN lowest score' "
        f"{yes[by_is[-1] == 'acgan']}.",
    ]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=sorted(MODES), default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = MODES[args.mode]
    device = resolve_device(args.device)
    out = RESULTS / args.mode
    work = ROOT / "runs/class_gans" / args.mode
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)
    t_start = time.perf_counter()
    runs, epochs, refs, clf_meta = [], [], {}, {}
    jobs = [(ds, m, s) for ds in cfg.datasets for m in cfg.models for s in cfg.seeds]
    bar = tqdm(total=len(jobs), desc="runs", unit="run", file=sys.stderr)
    for ds in cfg.datasets:
        data = load_data(ds, cfg)
        classifier, clf_meta[ds] = get_classifier(ds, data, device)
        refs[ds] = fid_references(classifier, data["val"][0], data["test"][0], cfg.eval_n)
        refs[ds]["is_real"] = class_scores(classifier, *data["test"], *data["test"])["is_mean"]
        logs, best_models = {}, {}
        for name in cfg.models:
            for seed in cfg.seeds:
                bar.set_postfix_str(f"{ds} {name} seed {seed}")
                run = train_run(ds, name, seed, data, classifier, cfg, work, device)
                scores, model = score_run(run["best"], data, classifier, cfg, device, refs[ds])
                rows = run["rows"]
                fids = [r["val_fid"] for r in rows]
                best_epoch = int(np.argmin(fids)) + 1
                runs.append({
                    "dataset": ds, "model": name, "seed": seed, "best_epoch": best_epoch,
                    "val_fid_best": min(fids), "val_fid_last": fids[-1],
                    "late_rise": fids[-1] - min(fids), **scores,
                    "train_seconds": round(sum(r["seconds"] for r in rows), 1),
                })  # fmt: skip
                epochs += [{"dataset": ds, "model": name, "seed": seed, **r} for r in rows]
                logs[(name, seed)] = rows
                if seed == cfg.seeds[0]:
                    best_models[name] = model
                bar.update(1)
        plot_samples(out / f"samples_{ds}.png", best_models, classifier)
        plot_interpolations(out / f"interpolations_{ds}.png", best_models)
        if "infogan" in best_models:
            plot_infogan_codes(out / f"infogan_codes_{ds}.png", best_models["infogan"])
        plot_curves(out / f"curves_{ds}.png", logs)
    bar.close()
    minutes = (time.perf_counter() - t_start) / 60
    write_csv(out / "runs.csv", runs)
    write_csv(out / "epochs.csv", epochs)
    how = (
        f"Mode `{args.mode}`: `python workflows/class_gans.py --mode {args.mode}"
        f"{f' --threads {args.threads}' if args.threads else ''}`, {started:%Y-%m-%d %H:%M} UTC, "
        f"on {device} ({torch.get_num_threads()} thread(s), "
        f"{platform.processor() or platform.machine()}): training steps "
        f"{sum(r['train_seconds'] for r in runs) / 60:.1f} min by the runs' logs (validation "
        "and scoring not counted), "
        f"this invocation {minutes:.1f} min (runs finished earlier are read back from "
        f"`runs/class_gans/{args.mode}/`). Settings: `{json.dumps(asdict(cfg))}`. Mean ± std "
        f"over seeds {cfg.seeds}; FIDs on the classifier's 256 features, not comparable with "
        "Inception FIDs. GAN-test: conditional models only. Diversity / real: mean pairwise "
        "feature distance within a class over the real test images'. Late FID rise: last "
        "epoch's validation FID minus the best. Collapsed: test FID above half the blank "
        "value, or diversity below a fifth of the real data's."
    )
    (out / "summary.md").write_text(summarise(runs, refs, clf_meta, cfg, how) + "\n")
    print((out / "summary.md").read_text())


def write_csv(path: Path, rows: list[dict]) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, keys)
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main()
