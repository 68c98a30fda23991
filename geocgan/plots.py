"""The figures people look at: realizations with the wells, summary maps, training curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import BoundaryNorm, ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from geocgan.files import atomic_path  # noqa: E402


def _save(fig, path: Path) -> Path:
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def facies_colours(codes: list[int]) -> dict[int, tuple[int, int, int]]:
    """One colour per facies code (tab10/tab20, in code order), as 0-255 RGB: the overview
    PNG's classes and the colour table of the most-likely-facies GeoTIFF."""
    return {
        int(c): tuple(int(round(255 * v)) for v in rgba[:3])
        for c, rgba in zip(codes, _class_colours(len(codes)), strict=True)
    }


def _class_colours(n: int) -> np.ndarray:
    """``(n, 4)`` RGBA in [0, 1], one per class: tab10 up to 10 classes, else tab20."""
    return plt.get_cmap("tab10" if n <= 10 else "tab20")(np.arange(n))


def _class_index(values: np.ndarray, codes: list[int]) -> np.ndarray:
    """Position of each value in the sorted ``codes``, NaN where it is none of them."""
    values = np.asarray(values, dtype=np.float64)
    k = np.searchsorted(codes, values).clip(0, len(codes) - 1)
    return np.where(np.asarray(codes)[k] == values, k, np.nan)


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
    if cats:  # one colour per facies code, named in a legend: classes, not a scale
        codes = sorted(int(c) for c in spec.codes)
        colours = _class_colours(len(codes))  # as facies_colours: the GeoTIFF's table
        classes = ListedColormap(colours[:, :3])
        edges = BoundaryNorm(np.arange(len(codes) + 1) - 0.5, len(codes))
    for ax, (title, img) in zip(axes.flat, panels, strict=False):
        is_real = title.startswith("realization")
        if cats and is_real:
            im = ax.imshow(
                _class_index(img, codes),  # (H, W)
                extent=extent,
                cmap=classes,
                norm=edges,
                interpolation="nearest",
            )
        elif title.startswith("probability"):
            im = ax.imshow(
                img, extent=extent, cmap="magma", vmin=0, vmax=1, interpolation="nearest"
            )
        else:
            im = ax.imshow(img, extent=extent, cmap="viridis", interpolation="nearest")
        if not (cats and is_real):
            fig.colorbar(im, ax=ax, shrink=0.8)
        if cats:
            ax.scatter(
                wells.x,
                wells.y,
                c=_class_index(wells.values, codes),
                cmap=classes,
                norm=edges,
                s=16,
                edgecolors="red",
                linewidths=0.8,
            )
        else:
            lo, hi = value_range or (np.nanmin(fields), np.nanmax(fields))
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
    if cats:
        fig.legend(
            handles=[Patch(color=colours[k], label=f"facies {c}") for k, c in enumerate(codes)],
            loc="outside lower center",
            ncols=min(len(codes), 8),
            fontsize=8,
        )
    fig.suptitle(
        f"{n_total or len(fields)} realizations conditioned on {len(wells)} wells (dots: observed, same colours)",
        fontsize=10,
    )
    return _save(fig, path)


def plot_training(path, rows: list[dict]) -> Path:
    """Every logged loss (left) and every validation number (right) per epoch, from the
    trainer's JSON lines, whichever model wrote them."""
    ep = [r["epoch"] for r in rows]
    losses = [k for k in rows[-1] if k.startswith("loss")]
    vals = [k for k in rows[-1] if k.startswith(("val_", "fid", "is_", "gan_test"))]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    for k in losses:
        a.plot(ep, [r.get(k, np.nan) for r in rows], label=k)
    a.set_xlabel("epoch")
    a.set_ylabel("loss")
    a.legend(fontsize=7)
    for k in vals:
        b.plot(ep, [r.get(k, np.nan) for r in rows], label=k)
    if vals and all(r.get(k, 1) > 0 for r in rows for k in vals):
        b.set_yscale("log")
    b.set_xlabel("epoch")
    b.set_ylabel("validation")
    if vals:
        b.legend(fontsize=7)
    return _save(fig, path)


def plot_sample_grid(path, images: np.ndarray, labels=None, cols: int = 10) -> Path:
    """Samples ``(n, H, W)`` (or ``(n, C, H, W)``, first channel shown) as a grid, each
    titled with its class when ``labels`` are given."""
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[:, 0]
    n = len(images)
    cols = min(cols, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.95), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray")
            if labels is not None:
                ax.set_title(str(int(labels[i])), fontsize=7)
    return _save(fig, path)
