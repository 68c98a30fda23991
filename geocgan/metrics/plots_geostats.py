"""PNG plots of the geostatistical validation metrics (matplotlib Agg, no pyplot state)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from geocgan.errors import InputError, OutputExistsError
from geocgan.metrics.geostats import AXES, DIRECTIONS, coverage


def _target(path, overwrite: bool) -> Path:
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100, format="png")
    return path


def _nonempty(mapping: Mapping, name: str) -> None:
    if not mapping:
        raise InputError(f"{name} is empty; give at least one labelled curve.")


def plot_variograms(
    varios: Mapping[str, dict], path, *, overwrite: bool = False, units: str = "field units"
) -> Path:
    """Plot variograms (outputs of ``variogram``) of several sources against lag in pixels.

    One column per direction, one row per facies for categorical variograms; one line per
    label (e.g. ``{"training image": v_ti, "ensemble": v_ens}``).

    Parameters
    ----------
    varios : mapping of str to dict
        Label -> variogram dict; all continuous or all computed with the same codes.
    path : str or Path
        Output PNG.
    overwrite : bool, default False
        Replace an existing file.
    units : str, default "field units"
        Units of continuous fields, for the y label.

    Returns
    -------
    Path
        The PNG written.
    """
    _nonempty(varios, "varios")
    path = _target(path, overwrite)
    first = next(iter(varios.values()))
    codes = first["codes"]
    dirs = [d for d in DIRECTIONS if any(d in v["gamma"] for v in varios.values())]
    n_rows = 1 if codes is None else len(codes)
    fig = Figure(figsize=(4 * len(dirs), 3 * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, len(dirs), squeeze=False)  # (rows, cols) of Axes
    ylabel = f"semivariance ({units}²)" if codes is None else "indicator semivariance (-)"
    for label, vario in varios.items():
        for j, d in enumerate(dirs):
            if d not in vario["gamma"]:
                continue
            gamma = np.atleast_2d(vario["gamma"][d])  # (K or 1, L)
            for i in range(n_rows):
                axes[i, j].plot(vario["lags"][d], gamma[i], marker=".", label=label)
    for i in range(n_rows):
        for j, d in enumerate(dirs):
            ax = axes[i, j]
            facies = "" if codes is None else f", facies {codes[i]}"
            ax.set_title(f"{d}{facies}")
            ax.set_xlabel("lag (pixels)")
            ax.set_ylabel(ylabel)
            ax.legend(fontsize="small")
    return _save(fig, path)


def plot_proportions(
    proportions: Mapping[str, np.ndarray], codes: Sequence[int], path, *, overwrite: bool = False
) -> Path:
    """Grouped bar chart of facies proportions (outputs of ``facies_proportions``).

    Parameters
    ----------
    proportions : mapping of str to np.ndarray, each shape (K,)
        Label -> proportions in the order of ``codes``.
    codes : sequence of int, length K
        Facies codes.
    path : str or Path
        Output PNG.
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    Path
        The PNG written.
    """
    _nonempty(proportions, "proportions")
    for label, p in proportions.items():
        if np.shape(p) != (len(codes),):
            raise InputError(
                f"proportions[{label!r}] has shape {np.shape(p)}; expected (K,) = "
                f"({len(codes)},), one value per code."
            )
    path = _target(path, overwrite)
    fig = Figure(figsize=(1.5 + 1.2 * len(codes), 3.5), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(codes))
    width = 0.8 / len(proportions)
    for i, (label, p) in enumerate(proportions.items()):
        ax.bar(x + (i - (len(proportions) - 1) / 2) * width, p, width, label=label)
    ax.set_xticks(x, [str(k) for k in codes])
    ax.set_xlabel("facies code")
    ax.set_ylabel("proportion (fraction of pixels)")
    ax.legend(fontsize="small")
    return _save(fig, path)


def plot_connectivity(
    curves: Mapping[str, tuple[np.ndarray, dict]], path, *, overwrite: bool = False
) -> Path:
    """Plot connectivity functions (outputs of ``connectivity_function``) along x and y.

    Parameters
    ----------
    curves : mapping of str to (lags, tau)
        Label -> ``(lags (L,), {"x": (L,), "y": (L,)})``.
    path : str or Path
        Output PNG.
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    Path
        The PNG written.
    """
    _nonempty(curves, "curves")
    path = _target(path, overwrite)
    fig = Figure(figsize=(8, 3.5), layout="constrained")
    axes = fig.subplots(1, len(AXES), sharey=True)
    for ax, name in zip(axes, AXES, strict=True):
        for label, (lags, tau) in curves.items():
            ax.plot(lags, tau[name], marker=".", label=label)
        ax.set_title(f"along {name}")
        ax.set_xlabel("lag (pixels)")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize="small")
    axes[0].set_ylabel("P(connected | both facies) (-)")
    return _save(fig, path)


def distance_bin_labels(edges) -> list[str]:
    """``"0–1.5", ..., "> 24"`` for bin edges in pixels (the last edge ``inf``, NaN or None)."""
    edges = np.asarray(edges, dtype=float)
    return [
        f"{lo:g}–{hi:g}" if np.isfinite(hi) else f"> {lo:g}"
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]


def plot_conditional_spread(
    check: Mapping, path, *, mean_check: Mapping | None = None, overwrite: bool = False
) -> Path:
    """Ensemble vs exact (simple-kriging) standard deviation by distance to the nearest well,
    and beside it, with ``mean_check``, the bias of the ensemble mean in kriging stds.

    Parameters
    ----------
    check : mapping
        Output of ``conditional_spread_check``.
    path : str or Path
        Output PNG.
    mean_check : mapping, optional
        Output of ``conditional_mean_check`` with the same bins.
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    Path
        The PNG written.
    """
    edges = np.asarray(check["edges"], dtype=float)
    if edges.size < 2 or len(check["exact_std"]) != edges.size - 1:
        raise InputError("check is not an output of conditional_spread_check (bins and edges).")
    path = _target(path, overwrite)
    labels = distance_bin_labels(edges)
    x = np.arange(len(labels))
    if mean_check is not None and len(mean_check["bias"]) != len(labels):
        raise InputError("mean_check has other distance bins than check; use the same edges.")
    fig = Figure(figsize=(6 if mean_check is None else 11, 3.5), layout="constrained")
    ax, *rest = np.atleast_1d(fig.subplots(1, 1 if mean_check is None else 2))
    ax.plot(x, check["exact_std"], marker="o", label="exact (simple kriging)")
    ax.plot(x, check["ensemble_std"], marker="s", label="ensemble")
    for xi, n, ratio in zip(x, check["pixels"], check["ratio"], strict=True):
        if n:
            ax.annotate(
                f"×{ratio:.2f}",
                (xi, 0),
                textcoords="offset points",
                xytext=(0, 4),
                ha="center",
                fontsize="small",
            )
    ax.set_xticks(x, labels)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("distance to the nearest well (pixels)")
    ax.set_ylabel("conditional std (field units)")
    ax.set_title("conditional spread: ensemble / exact", fontsize="medium")
    ax.legend(fontsize="small")
    if mean_check is not None:
        bx = rest[0]
        bx.bar(x, mean_check["bias"], color="tab:red", alpha=0.7)
        bx.set_xticks(x, labels)
        bx.set_ylim(bottom=0)
        bx.set_xlabel("distance to the nearest well (pixels)")
        bx.set_ylabel("RMS bias (kriging stds)")
        bx.set_title(
            f"ensemble mean - kriging mean: {mean_check['rms_bias']:.2f} overall "
            f"(sampling error of n taken out)",
            fontsize="medium",
        )
    return _save(fig, path)


def plot_calibration(
    fields,
    rows,
    cols,
    values,
    path,
    *,
    levels: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
    overwrite: bool = False,
) -> Path:
    """Reliability diagram: empirical coverage of central intervals at held-out wells.

    For each nominal level ``a`` the central interval runs from quantile ``(1 - a) / 2`` to
    ``(1 + a) / 2`` of the ensemble at each held-out pixel (see ``coverage``); a calibrated
    ensemble lies on the diagonal.

    Parameters
    ----------
    fields : np.ndarray of float, shape (n, H, W)
        Realizations conditioned to the kept wells.
    rows, cols : np.ndarray of int, shape (m,)
        Held-out well pixels.
    values : np.ndarray of float, shape (m,)
        Held-out well values.
    path : str or Path
        Output PNG.
    levels : sequence of float, default 0.1..0.9
        Nominal coverages, each in (0, 1].
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    Path
        The PNG written.
    """
    levels = np.asarray(levels, dtype=float)
    if levels.ndim != 1 or levels.size == 0 or np.any((levels <= 0) | (levels > 1)):
        raise InputError(f"levels={levels.tolist()}: give nominal coverages in (0, 1].")
    empirical = [coverage(fields, rows, cols, values, ((1 - a) / 2, (1 + a) / 2)) for a in levels]
    path = _target(path, overwrite)
    fig = Figure(figsize=(4, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="calibrated")
    ax.plot(levels, empirical, marker="o", label=f"ensemble ({len(np.atleast_1d(rows))} wells)")
    ax.set_xlabel("nominal coverage of central interval (fraction)")
    ax.set_ylabel("held-out wells covered (fraction)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize="small")
    return _save(fig, path)
