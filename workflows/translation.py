"""Image-to-image translation on rasters: pix2pix, CycleGAN and super-resolution, in miniature.

What it reproduces
------------------
The ablations of pix2pix (Isola et al. 2017, tables 1-2: L1 vs cGAN vs L1 + cGAN; encoder-
decoder vs U-Net; PatchGAN of 1, 16, 70 or 286 px) and of CycleGAN (Zhu et al. 2017, table
4: cycle alone, GAN alone, GAN + forward cycle, GAN + backward cycle, full), on geoscience
tasks made here (``geocgan.fields.pairs``), and whether our table shows the papers' ordering:
pix2pix found L1 alone blurry and right on average, cGAN alone sharp but with artefacts,
L1 + cGAN best; the U-Net far better than the encoder-decoder; the 70 px PatchGAN best (1 px:
colour but no structure; 286 px: no better than 70). CycleGAN found every partial loss worse
than the full one, cycle alone and GAN alone failing outright. Also: SRGAN-style ×4
super-resolution of a block-mean field, Fashion-MNIST edges → images, and pix2pix beside
the pixel-constrained cGAN on a field with 99.5 % of its pixels missing (honoring vs realism).

Protocol
--------
- tasks (train / test pairs from disjoint seeds): ``perm`` facies → log10 permeability;
  ``seg`` its reverse (segmentation); ``sr`` 4×4 block mean → fine Gaussian field; ``edges``
  Canny edges → Fashion-MNIST images (training split; test images from the test split);
  ``missing`` values at 0.5 % of the pixels + their mask → full field (``sr`` also with wells
  at 0.5 % of the fine pixels, the model's ``lam_wells`` term); ``styles`` unpaired
  Gaussian fields elongated along x (A) and along y (B), the hidden A-B pairing kept for
  scoring only.
- every run: the same budget (``steps`` of ``batch`` images, Adam), seed 0, one realization
  per test input (``generate_batches``, realization i from (seed, i)).
- scores on the test set, in data units: L1, PSNR and SSIM (scikit-image, data range of the
  test targets), the variogram error along x and y against the test targets
  (``geocgan.metrics.geostats``; realism); facies: per-pixel accuracy, mean per-class accuracy,
  mean class IoU, proportion error. ``missing``: also the squared error at the known pixels
  (honoring) and the spread of 4 realizations. ``styles``: A → B against the hidden partner,
  the cycle error ‖F(G(a)) − a‖₁ and the variogram error against domain B.
- a run whose outputs have less than 5 % of the targets' spread is flagged ``collapsed``.

Modes
-----
- ``--mode cpu`` (committed): 32 x 32 px, 256 training pairs, 200 steps of 16 (CycleGAN 120),
  ngf = ndf = 16 (CycleGAN 8, 2 residual blocks), U-Net of 5 levels, Adam lr 5e-4. About 10 minutes
  of CPU time on ONE thread of the shared 2-core development machine (more wall time when the
  machine is busy: both are recorded): a smoke-level study, far from converged.
  The 286 px PatchGAN needs images of at least 96 px and is not run at 32 px.
- ``--mode full`` (one GPU, one command of under 10 minutes): 128 x 128 px, 2 048 pairs,
  3 000 steps of 32, ngf = ndf = 64, U-Net of 7 levels, 286 px included. Written for a GPU;
  not run yet.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python workflows/translation.py --mode cpu``; results in
``workflows/results/translation/`` (``results.csv``, ``summary.md``, figures as PNG).
"""

from __future__ import annotations

import argparse
import datetime
import json
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from geocgan import datasets  # noqa: E402
from geocgan.constraints import FieldSpec, constraint_tensor, from_points  # noqa: E402
from geocgan.fields.pairs import (  # noqa: E402
    coarse_fine,
    edges_images,
    facies_permeability,
    missing_pixels,
    two_styles,
)
from geocgan.files import atomic_path  # noqa: E402
from geocgan.models import MODELS, build_model  # noqa: E402
from geocgan.pairs import PairedArray, Unpaired  # noqa: E402
from geocgan.simulate import generate_batches  # noqa: E402
from geocgan.train import FieldArray, TrainConfig, Trainer  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "translation"
MODES = {
    "cpu": {
        "size": 32,
        "n_train": 256,
        "n_test": 64,
        "steps": 200,
        "batch": 16,
        "width": 16,
        "levels": 5,
        "cyc_steps": 120,
        "cyc_width": 8,
        "cyc_blocks": 2,
        "lr": 5e-4,
    },
    "full": {
        "size": 128,
        "n_train": 2048,
        "n_test": 256,
        "steps": 3000,
        "batch": 32,
        "width": 64,
        "levels": 7,
        "cyc_steps": 3000,
        "cyc_width": 64,
        "cyc_blocks": 6,
        "lr": 2e-4,
    },
}


# -- scores ---------------------------------------------------------------------------------


def scores(pred: np.ndarray, target: np.ndarray, facies: bool) -> dict:
    """Scores of predictions against targets ``(n, H, W)`` (data units or codes)."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from geocgan.metrics.geostats import proportion_error, variogram, variogram_error

    rng = float(target.max() - target.min()) or 1.0
    out = {
        "l1": float(np.abs(pred - target).mean()),
        "psnr": float(peak_signal_noise_ratio(target, pred, data_range=rng)),
        "ssim": float(
            np.mean(
                [
                    structural_similarity(t, p, data_range=rng)
                    for t, p in zip(target, pred, strict=True)
                ]
            )
        ),
        "collapsed": bool(pred.std() < 0.05 * target.std()),
    }
    codes = sorted(np.unique(target).astype(int).tolist()) if facies else None
    if facies:
        target, pred = target.astype(np.int64), pred.astype(np.int64)
    vt = variogram(target, directions=("x", "y"), codes=codes)
    vp = variogram(pred, directions=("x", "y"), codes=codes)
    out["variogram_err"] = float(variogram_error(vp, vt))
    if facies:
        acc, iou = [], []
        for c in codes:
            t, p = target == c, pred == c
            acc.append((p & t).sum() / max(t.sum(), 1))
            iou.append((p & t).sum() / max((p | t).sum(), 1))
        out |= {
            "pixel_acc": float((pred == target).mean()),
            "class_acc": float(np.mean(acc)),
            "class_iou": float(np.mean(iou)),
            "proportion_err": float(proportion_error(pred, target, codes)),
        }
    return out


# -- training and prediction ----------------------------------------------------------------


def fit(name: str, cfg: dict, spec: FieldSpec, data, steps: int, batch: int, ckdir: Path):
    model = build_model(name, cfg, spec, seed=0)
    epochs = max(1, steps // 100)
    tc = TrainConfig(
        epochs=epochs,
        batch_size=batch,
        steps_per_epoch=steps // epochs,
        device="cpu",
        val_size=8,
    )
    t0 = time.perf_counter()
    Trainer(model, data, tc, checkpoint=ckdir / f"{name}.safetensors", progress=False).fit()
    return model, time.perf_counter() - t0


def predict(model, inputs: np.ndarray, seed: int = 0) -> np.ndarray:
    """One realization per raw input ``(n, [C,] h, w)``: realization i of input i."""
    cond = model.input_spec.encode(torch.as_tensor(inputs, dtype=torch.float32))
    return np.concatenate(
        [f for _, f in generate_batches(model, cond, range(len(inputs)), seed=seed)]
    )


def ensemble(model, one_input: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` realizations of one raw input (the condition broadcast)."""
    cond = model.input_spec.encode(torch.as_tensor(one_input[None], dtype=torch.float32))
    return np.concatenate([f for _, f in generate_batches(model, cond, range(n), seed=seed)])


# -- figures --------------------------------------------------------------------------------


def triplets(path: Path, rows: list[tuple[str, np.ndarray]], k: int = 4) -> None:
    """Columns: test items; rows: input, outputs of runs, target."""
    fig, axes = plt.subplots(len(rows), k, figsize=(1.6 * k, 1.6 * len(rows)), squeeze=False)
    for r, (label, arr) in enumerate(rows):
        lo, hi = np.nanpercentile(arr[:k], [1, 99])  # NaN: not shown (unknown pixels)
        for c in range(k):
            ax = axes[r, c]
            ax.imshow(arr[c], cmap="viridis", vmin=lo, vmax=hi, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


# -- the study ------------------------------------------------------------------------------


def run(mode: str, out: Path) -> list[dict]:
    p = MODES[mode]
    s, nt, ne = p["size"], p["n_train"], p["n_test"]
    w, lr, steps, batch = p["width"], p["lr"], p["steps"], p["batch"]
    p2p = {"ngf": w, "ndf": w, "levels": p["levels"], "lr": lr}
    rows: list[dict] = []
    ckdir = Path(tempfile.mkdtemp(prefix="translation_"))
    out.mkdir(parents=True, exist_ok=True)

    def record(task, run_name, pred, target, facies, seconds, **extra):
        row = {"task": task, "run": run_name, **scores(pred, target, facies), "train_s": seconds}
        rows.append(row | extra)
        print(json.dumps(rows[-1]), flush=True)

    # perm: facies -> log10 permeability, with the pix2pix ablations
    fac_tr, k_tr = facies_permeability(nt, (s, s), seed=1)
    fac_te, k_te = facies_permeability(ne, (s, s), seed=2)
    spec = MODELS["pix2pix"].translation_spec(k_tr, fac_tr, "continuous", "categorical")
    runs = {
        "L1": {"lam_gan": 0.0},
        "cGAN": {"lam_l1": 0.0},
        "L1+cGAN": {},
        "encoder-decoder (L1+cGAN)": {"skips": False},
        "patch 1": {"receptive_field": 1},
        "patch 16": {"receptive_field": 16},
    }
    if s >= 96:
        runs["patch 286"] = {"receptive_field": 286}
    shown = [("facies (input)", fac_te), ("log10 k (target)", k_te)]
    for label, extra in runs.items():
        model, sec = fit(
            "pix2pix", p2p | extra, spec, PairedArray(k_tr, fac_tr), steps, batch, ckdir
        )
        pred = predict(model, fac_te)
        record("perm", label, pred, k_te, False, sec)
        shown.insert(-1, (label, pred))
        if label == "L1+cGAN":
            ens = ensemble(model, fac_te[0], 4)
            triplets(
                out / "perm_ensemble.png",
                [("realizations", ens), ("input x4", np.repeat(fac_te[:1], 4, 0))],
            )
    triplets(out / "perm_triplets.png", shown)

    # seg: log10 permeability -> facies
    spec = MODELS["pix2pix"].translation_spec(fac_tr, k_tr, "categorical", "continuous")
    model, sec = fit("pix2pix", p2p, spec, PairedArray(fac_tr, k_tr), steps, batch, ckdir)
    pred = predict(model, k_te)
    record("seg", "L1+cGAN", pred, fac_te, True, sec)
    triplets(out / "seg_triplets.png", [("log10 k", k_te), ("pix2pix", pred), ("facies", fac_te)])

    # sr: x4 block mean -> fine field
    c_tr, f_tr = coarse_fine(nt, (s, s), factor=4, seed=3)
    c_te, f_te = coarse_fine(ne, (s, s), factor=4, seed=4)
    spec = MODELS["srgan"].translation_spec(f_tr, c_tr, "continuous", "continuous")
    sr_cfg = {"factor": 4, "nf": w, "n_blocks": 4, "ndf": w, "nz": 2, "lr": lr}
    model, sec = fit("srgan", sr_cfg, spec, PairedArray(f_tr, c_tr, scale=4), steps, batch, ckdir)
    pred = predict(model, c_te)
    # wells at 0.5 % of the fine pixels of each test field, scored on every run
    rng = np.random.default_rng(10)
    wells = [rng.choice(s * s, max(1, round(0.005 * s * s)), replace=False) for _ in range(ne)]
    cons = [from_points((s, s), w_ // s, w_ % s, f_te[i].ravel()[w_]) for i, w_ in enumerate(wells)]

    def well_mse(fields):
        return float(
            np.mean([((fields[i] - f_te[i]) ** 2)[c_.mask].mean() for i, c_ in enumerate(cons)])
        )

    record("sr", "srgan", pred, f_te, False, sec, honoring_mse=well_mse(pred))
    nearest = np.repeat(np.repeat(c_te, 4, 1), 4, 2)
    record(
        "sr", "block repeat (baseline)", nearest, f_te, False, 0.0, honoring_mse=well_mse(nearest)
    )
    wcfg = sr_cfg | {"lam_wells": 30.0, "well_density": 0.005}
    model, sec = fit("srgan", wcfg, spec, PairedArray(f_tr, c_tr, scale=4), steps, batch, ckdir)
    pred_w = np.concatenate(
        [model.ensemble_with_wells(c_te[i], cons[i], 1, seed=i) for i in range(ne)]
    )
    record("sr", "srgan + wells (0.5 %)", pred_w, f_te, False, sec, honoring_mse=well_mse(pred_w))
    triplets(
        out / "sr_triplets.png",
        [("coarse", nearest), ("srgan", pred), ("srgan + wells", pred_w), ("fine", f_te)],
    )

    # edges -> Fashion-MNIST images
    fm = datasets.load("fashion-mnist")
    e_tr, i_tr = edges_images(fm["train"][0][:nt], size=s if s >= 28 else 32)
    e_te, i_te = edges_images(fm["test"][0][:ne], size=s if s >= 28 else 32)
    spec = MODELS["pix2pix"].translation_spec(i_tr, e_tr, "continuous", "continuous")
    model, sec = fit("pix2pix", p2p, spec, PairedArray(i_tr, e_tr), steps, batch, ckdir)
    pred = predict(model, e_te)
    record("edges", "L1+cGAN", pred, i_te, False, sec)
    triplets(out / "edges_triplets.png", [("edges", e_te), ("pix2pix", pred), ("image", i_te)])

    # missing: 0.5 % of the pixels -> full field; pix2pix beside the pixel-constrained cGAN
    m_tr, full_tr = missing_pixels(nt, (s, s), density=0.005, seed=5)
    m_te, full_te = missing_pixels(ne, (s, s), density=0.005, seed=6)
    known = m_te[:, 1] > 0

    def missing_row(label, pred, ens, sec):
        honor = float(((pred - full_te)[known] ** 2).mean())
        record(
            "missing",
            label,
            pred,
            full_te,
            False,
            sec,
            honoring_mse=honor,
            spread=float(ens.std(0).mean()),
        )

    spec = MODELS["pix2pix"].translation_spec(full_tr, m_tr, "continuous", "continuous")
    model, sec = fit("pix2pix", p2p, spec, PairedArray(full_tr, m_tr), steps, batch, ckdir)
    missing_row("pix2pix", predict(model, m_te), ensemble(model, m_te[0], 4), sec)
    pix = predict(model, m_te)
    cg_spec = FieldSpec.from_data(full_tr, "continuous")
    cg_cfg = {
        "ngf": w,
        "ndf": w,
        "d_layers": 3,
        "density": 0.005,
        "lam": 10.0,
        "nz": 4,
        "lr_g": lr,
        "lr_d": lr,
    }
    model, sec = fit("pixel-cgan", cg_cfg, cg_spec, FieldArray(full_tr), steps, batch, ckdir)
    enc = cg_spec.encode(torch.as_tensor(full_te))
    cond = constraint_tensor(enc, torch.as_tensor(known)[:, None])
    cgan = np.concatenate([f for _, f in generate_batches(model, cond, range(ne), seed=0)])
    ens = np.concatenate([f for _, f in generate_batches(model, cond[:1], range(4), seed=0)])
    missing_row("pixel-constrained cGAN", cgan, ens, sec)
    triplets(
        out / "missing_triplets.png",
        [
            ("known pixels", np.where(known, m_te[:, 0], np.nan)),
            ("pix2pix", pix),
            ("pixel cGAN", cgan),
            ("full field", full_te),
        ],
    )

    # styles: unpaired, with the CycleGAN ablations
    a_tr, b_tr = two_styles(nt, (s, s), seed=7)
    a_te, b_te = two_styles(ne, (s, s), seed=8)
    spec = MODELS["cyclegan"].translation_spec(a_tr, b_tr, "continuous", "continuous")
    cw = p["cyc_width"]
    cyc = {"ngf": cw, "ndf": cw, "n_blocks": p["cyc_blocks"], "lr": lr}
    cyc_runs = {
        "cycle alone": {"lam_gan": 0.0},
        "GAN alone": {"lam_cycle": 0.0},
        "GAN + forward cycle": {"cycle": "forward"},
        "GAN + backward cycle": {"cycle": "backward"},
        "full (GAN + both cycles + identity)": {},
    }
    shown = [("A (input)", a_te), ("B (hidden pair)", b_te)]
    for label, extra in cyc_runs.items():
        data = Unpaired(FieldArray(a_tr), FieldArray(b_tr[::-1].copy()))  # pairing hidden
        model, sec = fit("cyclegan", cyc | extra, spec, data, p["cyc_steps"], batch, ckdir)
        to_b, to_a = model.oriented("AtoB"), model.oriented("BtoA")
        fake_b = predict(to_b, a_te)
        back = predict(to_a, fake_b)
        record(
            "styles", label, fake_b, b_te, False, sec, cycle_l1=float(np.abs(back - a_te).mean())
        )
        shown.insert(-1, (label, fake_b))
    triplets(out / "styles_triplets.png", shown)
    return rows


def summary(rows: list[dict], info: dict) -> str:
    cols = [
        "task",
        "run",
        "l1",
        "psnr",
        "ssim",
        "variogram_err",
        "pixel_acc",
        "class_acc",
        "class_iou",
        "honoring_mse",
        "spread",
        "cycle_l1",
        "collapsed",
        "train_s",
    ]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c, "")
            cells.append(f"{v:.3g}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    head = (
        f"# Translation study ({info['mode']} mode)\n\n"
        f"Command: `{info['command']}`; device: {info['device']}; started {info['started']}, "
        f"{info['minutes']:.1f} min wall time, {info['cpu_minutes']:.1f} min CPU time; "
        f"collapsed runs: {info['collapsed']}.\n\n"
    )
    return head + "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=sorted(MODES), default="cpu")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    out = args.out or OUT / ("" if args.mode == "cpu" else args.mode)
    if args.mode == "cpu":
        torch.set_num_threads(1)
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    t0, c0 = time.perf_counter(), time.process_time()
    rows = run(args.mode, out)
    info = {
        "mode": args.mode,
        "command": f"OMP_NUM_THREADS=1 .venv/bin/python workflows/translation.py --mode {args.mode}",
        "device": "cpu, 1 thread (shared 2-core development machine)"
        if args.mode == "cpu"
        else str(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"),
        "started": started,
        "minutes": (time.perf_counter() - t0) / 60,
        "cpu_minutes": (time.process_time() - c0) / 60,
        "collapsed": sum(r["collapsed"] for r in rows),
    }
    import csv

    keys = sorted({k for r in rows for k in r}, key=lambda k: (k not in ("task", "run"), k))
    with atomic_path(out / "results.csv") as tmp, open(tmp, "w", newline="") as f:
        wr = csv.DictWriter(f, keys)
        wr.writeheader()
        wr.writerows(rows)
    with atomic_path(out / "results.json") as tmp:
        tmp.write_text(json.dumps({"info": info, "rows": rows}, indent=1))
    with atomic_path(out / "summary.md") as tmp:
        tmp.write_text(summary(rows, info))
    print(summary(rows, info))


if __name__ == "__main__":
    main()
