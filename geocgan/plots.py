"""The figures people look at: realizations with the wells, summary maps, training curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from geocgan.files import atomic_path  # noqa: E402


def _save(fig, path: Path) -> Path:
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def plot_overview(
    path,
    fields: np.ndarray,
    grid,
    wells,
    spec,
    summary: dict[str, np.ndarray],
    n_show: int = 4,
    *,
    n_total: int | None = None,
    value_range: tuple[float, float] | None = None,
) -> Path:
    """Realizations and summary maps side by side, wells overlaid, axes in the CRS's units.

    fields: (n, H, W) realizations (or only the first ones, with ``n_total`` the ensemble size and
    ``value_range`` its min/max); summary: band name -> (H, W) map.
    """
    n_show = min(n_show, len(fields))
    cats = spec.kind == "categorical"
    panels = [(f"realization {i}", fields[i]) for i in range(n_show)] + list(summary.items())
    ncol = min(4, len(panels))
    nrow = -(-len(panels) // ncol)
    fig, axes = plt.subplots(
        nrow, ncol, figsize=(3.6 * ncol, 3.4 * nrow), squeeze=False, layout="constrained"
    )
    xmin, ymin, xmax, ymax = grid.bounds
    extent = (xmin, xmax, ymin, ymax)
    unit = grid.units
    for ax, (title, img) in zip(axes.flat, panels, strict=False):
        is_real = title.startswith("realization")
        if cats and is_real:
            im = ax.imshow(
                img,
                extent=extent,
                cmap="viridis",
                vmin=min(spec.codes),
                vmax=max(spec.codes),
                interpolation="nearest",
            )
        elif title.startswith("probability"):
            im = ax.imshow(
                img, extent=extent, cmap="magma", vmin=0, vmax=1, interpolation="nearest"
            )
        else:
            im = ax.imshow(img, extent=extent, cmap="viridis", interpolation="nearest")
        fig.colorbar(im, ax=ax, shrink=0.8)
        lo, hi = (
            (min(spec.codes), max(spec.codes))
            if cats
            else (value_range or (np.nanmin(fields), np.nanmax(fields)))
        )
        ax.scatter(
            wells.x,
            wells.y,
            c=wells.values,
            cmap="viridis",
            s=16,
            edgecolors="red",
            linewidths=0.8,
            vmin=lo,
            vmax=hi,
        )
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(f"x ({unit})", fontsize=8)
        ax.set_ylabel(f"y ({unit})", fontsize=8)
        ax.ticklabel_format(useOffset=False, style="plain")
        ax.tick_params(labelsize=6)
        ax.tick_params(axis="x", labelrotation=30)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle(
        f"{n_total or len(fields)} realizations conditioned on {len(wells)} wells (dots: observed, same colours)",
        fontsize=10,
    )
    return _save(fig, path)


def plot_training(path, rows: list[dict]) -> Path:
    """Losses and held-out constrained-pixel error per epoch, from the trainer's JSON lines."""
    ep = [r["epoch"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    for k in ("loss_d", "loss_g"):
        a.plot(ep, [r[k] for r in rows], label=k)
    a.set_xlabel("epoch")
    a.set_ylabel("GAN loss")
    a.legend()
    b.plot(ep, [r["val_loss_c"] for r in rows], label="held-out constraint term")
    b.set_yscale("log")
    b.set_xlabel("epoch")
    b.set_ylabel("per-well squared error")
    b.legend()
    return _save(fig, path)
