"""Validate an ensemble against a training image and the wells (``geocgan evaluate``).

Everything is measured on the raw generator output that ``geocgan simulate`` stores in
``ensemble.zarr`` (never on the snapped GeoTIFFs):

* honoring at the well pixels (share of right facies, or MSE and MSE / variance);
* facies proportions, variograms (indicator variograms for facies) along x, y and
  omnidirectional and, for facies, the connectivity function and the share of each facies
  in components spanning the grid along the channel direction, each with its error against
  the training image;
* ensemble spread (mean per-pixel standard deviation, or entropy for facies);
* with a known covariance (a Gaussian case): the ensemble's conditional correlation at a few
  lags against the exact simple-kriging one, and its standard deviation against simple
  kriging's by distance to the nearest well (held too tightly beside the wells, too loosely
  between them);
* leave-wells-out: ``holdout`` wells are dropped from the conditioning, the same checkpoint
  re-simulates the ensemble from the others (no retraining), and the held-out values are
  scored by the coverage of the 5-95 % interval (continuous) or the Brier score (facies).

The training image (TI) is compared window by window: it is cut into non-overlapping windows
of the ensemble's grid size (the whole TI along an axis where it is smaller), so statistics
that depend on the size of the domain (spanning, connectivity at long lags) compare like
with like. Lags are in pixels; direction ``"x"`` runs along columns, ``"y"`` along rows.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from geocgan.constraints import from_points
from geocgan.errors import CheckpointError, InputError, OutputExistsError
from geocgan.fields import COVARIANCE_MODELS, covariance
from geocgan.io.jsonio import to_json
from geocgan.metrics.geostats import (
    AXES,
    brier_score,
    conditional_correlation_check,
    conditional_mean_check,
    conditional_spread_check,
    connectivity_function,
    coverage,
    ensemble_spread,
    facies_proportions,
    honoring,
    neighbourhood_share,
    spanning_fraction,
    split_wells,
    variogram,
    variogram_error,
)
from geocgan.metrics.plots_geostats import (
    plot_calibration,
    plot_conditional_spread,
    plot_connectivity,
    plot_proportions,
    plot_variograms,
)

STATS_FILE = "evaluation.json"
PLOT_FILES = {
    "variograms": "variograms.png",
    "proportions": "proportions.png",
    "connectivity": "connectivity.png",
    "calibration": "calibration.png",
    "conditional_spread": "conditional_spread.png",
}
INTERVAL = (0.05, 0.95)  # leave-wells-out coverage interval (quantile levels)


@dataclass(frozen=True)
class KnownCovariance:
    """Stationary isotropic covariance of a Gaussian case, for the exact correlation check.

    Parameters
    ----------
    model : str, default "exponential"
        A name of :data:`geocgan.fields.COVARIANCE_MODELS` (conventions of
        :func:`geocgan.fields.covariance`: exponential ``variance * exp(-h / len_scale)``).
    len_scale : float, default 16.0
        Length scale in pixels.
    variance : float, default 1.0
        Sill, field units squared.
    mean : float, optional
        The field's mean, for the simple-kriging estimate the ensemble mean is checked against
        (:func:`geocgan.metrics.geostats.conditional_mean_check`); default: the training
        image's mean.
    """

    model: str = "exponential"
    len_scale: float = 16.0
    variance: float = 1.0
    mean: float | None = None

    def __post_init__(self) -> None:
        if self.model not in COVARIANCE_MODELS:
            raise InputError(
                f"covariance model {self.model!r} is unknown; use one of {sorted(COVARIANCE_MODELS)}."
            )
        for name in ("len_scale", "variance"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"covariance {name}={value}: give a positive number.")
        if self.mean is not None and not math.isfinite(self.mean):
            raise InputError(f"covariance mean={self.mean}: give the field's finite mean.")

    def __call__(self, h: np.ndarray) -> np.ndarray:
        """Covariance at distances ``h`` (pixels), same shape out as in."""
        return covariance(self.model, np.asarray(h, dtype=float), self.len_scale, self.variance)


@dataclass(frozen=True)
class WellPixels:
    """Wells as pixel indices on the ensemble's grid.

    Attributes
    ----------
    rows, cols : np.ndarray of int, shape (m,)
        Pixel indices (row 0 at the top).
    values : np.ndarray, shape (m,)
        Values (float) or facies codes (int).
    ids : list of str, length m
        Well names, for the report.
    """

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    ids: list[str]

    @classmethod
    def from_object(cls, wells, categorical: bool) -> WellPixels:
        """From anything with ``rows``, ``cols``, ``values`` (and optionally ``ids``) arrays."""
        try:
            rows, cols, values = (np.asarray(getattr(wells, k)) for k in ("rows", "cols", "values"))
        except AttributeError:
            raise InputError(
                f"wells of type {type(wells).__name__} have no rows/cols/values; give a wells "
                "file path, a geocgan.io.wells.Wells, or an object with those arrays."
            ) from None
        if not (
            rows.ndim == cols.ndim == values.ndim == 1 and len(rows) == len(cols) == len(values)
        ):
            raise InputError(
                f"wells rows, cols and values must be 1-D and of one length; got shapes "
                f"{rows.shape}, {cols.shape}, {values.shape}."
            )
        ids = getattr(wells, "ids", None)
        ids = [str(i) for i in ids] if ids is not None else [f"well {i}" for i in range(len(rows))]
        values = _as_codes(values, "well values") if categorical else values.astype(float)
        return cls(rows.astype(np.int64), cols.astype(np.int64), values, ids)

    def subset(self, idx: np.ndarray) -> WellPixels:
        """The wells at positions ``idx``."""
        return WellPixels(
            self.rows[idx], self.cols[idx], self.values[idx], [self.ids[i] for i in idx]
        )


# --------------------------------------------------------------------------- helpers


def _as_codes(arr: np.ndarray, what: str) -> np.ndarray:
    """Float facies codes as int64, refusing non-integer values."""
    arr = np.asarray(arr)
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64)
    if not np.all(np.isfinite(arr)) or not np.all(arr == np.rint(arr)):
        bad = arr[~(np.isfinite(arr) & (arr == np.rint(arr)))].ravel()[0]
        raise InputError(
            f"{what} holds {bad}, not an integer facies code; is the field continuous?"
        )
    return np.rint(arr).astype(np.int64)


def training_windows(training_image: np.ndarray, grid_shape: tuple[int, int]) -> np.ndarray:
    """Non-overlapping windows of the training image with the grid's shape.

    Parameters
    ----------
    training_image : np.ndarray, shape (H_ti, W_ti)
        Training image.
    grid_shape : tuple of int
        ``(H, W)`` of the ensemble's grid.

    Returns
    -------
    np.ndarray, shape (k, min(H, H_ti), min(W, W_ti))
        Windows tiled from the top-left corner (``floor(H_ti / h) * floor(W_ti / w)`` of them);
        along an axis where the TI is smaller than the grid, the window is the whole TI.
    """
    ti = np.asarray(training_image)
    h, w = min(grid_shape[0], ti.shape[0]), min(grid_shape[1], ti.shape[1])
    windows = [
        ti[i * h : (i + 1) * h, j * w : (j + 1) * w]
        for i in range(ti.shape[0] // h)
        for j in range(ti.shape[1] // w)
    ]
    return np.stack(windows)  # (k, h, w)


def _connectivity(fields: np.ndarray, codes: np.ndarray, max_lag: int, axis: str) -> dict:
    """Connectivity functions and spanning shares per facies; NaN for a facies never present."""
    out = {}
    for code in codes:
        if np.any(fields == code):
            _, tau = connectivity_function(fields, int(code), max_lag=max_lag)
            span = spanning_fraction(fields, int(code), axis)
        else:
            tau, span = {a: np.full(max_lag, np.nan) for a in AXES}, np.nan
        out[int(code)] = {"tau": tau, "spanning": span}
    return out


# --------------------------------------------------------------------------- statistics


def reference_statistics(
    training_image,
    grid_shape: tuple[int, int],
    *,
    categorical: bool,
    codes: Sequence[int] | None = None,
    channel_axis: str = "x",
    sampling_size: int | None = 2000,
    seed: int = 0,
) -> dict:
    """Statistics of the training image on windows of the grid's size, and their settings.

    Parameters
    ----------
    training_image : np.ndarray, shape (H_ti, W_ti)
        Training image: facies codes (categorical) or values.
    grid_shape : tuple of int
        ``(H, W)`` of the ensembles that will be compared with it.
    categorical : bool
        Facies codes or a continuous property.
    codes : sequence of int, optional
        Facies codes (categorical); default the codes in the training image.
    channel_axis : {"x", "y"}, default "x"
        Direction of the channels, along which spanning is measured.
    sampling_size : int or None, default 2000
        Random pixels per field for the omnidirectional variogram (None: all, slow).
    seed : int, default 0
        Seed of that pixel sample.

    Returns
    -------
    dict
        Settings (``categorical``, ``codes``, ``channel_axis``, ``max_lag`` in pixels,
        ``bins``, ``sampling_size``, ``seed``, ``n_windows``, ``window_shape``) and the TI's
        ``variance``, ``proportions`` (K,), ``variogram`` and ``connectivity`` (per facies:
        ``tau`` and ``spanning``; None for continuous fields).
    """
    ti = np.asarray(training_image)
    if ti.ndim != 2:
        raise InputError(f"the training image must be 2-D (H, W); got shape {ti.shape}.")
    if channel_axis not in AXES:
        raise InputError(f"channel_axis={channel_axis!r}: use 'x' (along columns) or 'y'.")
    ti = _as_codes(ti, "the training image") if categorical else ti.astype(float)
    codes = np.unique(ti) if codes is None else np.asarray(codes, dtype=np.int64)
    windows = training_windows(ti, grid_shape)  # (k, h, w)
    max_lag = max(1, min(*grid_shape, *windows.shape[1:]) // 2)
    bins = np.arange(0.5, max_lag + 1.0)  # one bin per integer lag, 1..max_lag
    ref = {
        "categorical": categorical,
        "codes": codes if categorical else None,
        "channel_axis": channel_axis,
        "max_lag": max_lag,
        "bins": bins,
        "sampling_size": sampling_size,
        "seed": seed,
        "n_windows": len(windows),
        "window_shape": windows.shape[1:],
        "variance": float(np.var(ti)),
        "mean": float(np.mean(ti)),
    }
    ref["variogram"] = variogram(
        windows, bins=bins, sampling_size=sampling_size, seed=seed, codes=ref["codes"]
    )
    ref["proportions"] = facies_proportions(windows, codes) if categorical else None
    ref["connectivity"] = (
        _connectivity(windows, codes, max_lag, channel_axis) if categorical else None
    )
    return ref


def ensemble_statistics(
    fields,
    reference: dict,
    wells: WellPixels,
    *,
    known_covariance: KnownCovariance | None = None,
    lags: Sequence[int] = (1, 3, 6, 12),
    n_pairs: int = 200,
    seed: int = 0,
) -> dict:
    """Every statistic of an ensemble conditioned on ``wells``, against the training image.

    Parameters
    ----------
    fields : np.ndarray, shape (n, H, W)
        Realizations: int facies codes (categorical reference) or float values.
    reference : dict
        Output of :func:`reference_statistics` for this grid; its settings are reused.
    wells : WellPixels
        The wells the ensemble was conditioned on.
    known_covariance : KnownCovariance, optional
        Continuous fields: compute the conditional correlation, spread and mean checks
        against it.
    lags : sequence of int, default (1, 3, 6, 12)
        Lags in pixels of the conditional-correlation check.
    n_pairs : int, default 200
        Pixel pairs per lag of that check.
    seed : int, default 0
        Seed of the pair draw.

    Returns
    -------
    dict
        ``honoring`` (``metric``, ``overall``, ``worst_realization`` and, continuous,
        ``mse_over_variance`` with the TI variance, or, categorical, ``neighbourhood_share``:
        see :func:`geocgan.metrics.geostats.neighbourhood_share`), ``proportions`` (``codes``, ``ensemble``,
        ``training_image``, ``error``: largest absolute difference, fraction of pixels),
        ``variogram`` (curves, ``error``: relative RMSE over all directions, lags and facies,
        ``error_by_direction``), ``connectivity`` (per facies: curves, ``spanning`` shares and
        ``error``: mean |tau_ens - tau_TI| over lags and axes; overall ``error`` averaged over
        facies, ``spanning_error``: largest |difference| of spanning shares), ``spread``, and
        ``conditional_correlation`` (the output of
        :func:`geocgan.metrics.geostats.conditional_correlation_check` plus ``mean_abs_error``
        over lags) and ``conditional_spread`` (the ensemble's standard deviation against simple
        kriging's by distance to the nearest well,
        :func:`geocgan.metrics.geostats.conditional_spread_check`) and ``conditional_mean``
        (the ensemble mean against the simple-kriging estimate, in kriging stds, by the same
        bins: :func:`geocgan.metrics.geostats.conditional_mean_check`). Entries that do not
        apply are None. Arrays are numpy; see :func:`to_json`.
    """
    categorical = reference["categorical"]
    codes = reference["codes"]
    arr = np.asarray(fields)
    arr = _as_codes(arr, "the ensemble") if categorical else arr.astype(float)
    hon = honoring(arr, wells.rows, wells.cols, wells.values, categorical)
    per = hon["per_realization"]
    stats: dict = {
        "n_realizations": arr.shape[0],
        "grid": arr.shape[1:],
        "kind": "categorical" if categorical else "continuous",
        "honoring": {
            "metric": hon["metric"],
            "overall": hon["overall"],
            "worst_realization": float(min(per) if categorical else max(per)),
        },
    }
    if categorical:
        stats["honoring"]["neighbourhood_share"] = neighbourhood_share(
            arr, wells.rows, wells.cols, wells.values
        )
    else:
        stats["honoring"]["mse_over_variance"] = hon["overall"] / reference["variance"]

    vario = variogram(
        arr,
        bins=reference["bins"],
        sampling_size=reference["sampling_size"],
        seed=reference["seed"],
        codes=codes,
    )
    ref_vario = reference["variogram"]
    stats["variogram"] = {
        "lags": vario["lags"],
        "ensemble": vario["gamma"],
        "training_image": ref_vario["gamma"],
        "error": variogram_error(vario, ref_vario),
        "error_by_direction": {
            d: variogram_error(_direction(vario, d), _direction(ref_vario, d))
            for d in vario["gamma"]
        },
    }
    stats["proportions"] = stats["connectivity"] = None
    if categorical:
        props = facies_proportions(arr, codes)  # (K,)
        stats["proportions"] = {
            "codes": codes,
            "ensemble": props,
            "training_image": reference["proportions"],
            "error": float(np.max(np.abs(props - reference["proportions"]))),
        }
        stats["connectivity"] = _compare_connectivity(
            _connectivity(arr, codes, reference["max_lag"], reference["channel_axis"]),
            reference,
        )
    stats["spread"] = {
        "value": ensemble_spread(arr) if len(arr) >= 2 else None,
        "units": "bits (mean per-pixel entropy)" if categorical else "field units (mean std)",
        "prior_std": None if categorical else math.sqrt(reference["variance"]),
    }
    stats["conditional_correlation"] = stats["conditional_spread"] = None
    stats["conditional_mean"] = None
    if known_covariance is not None and not categorical and len(arr) >= 3:
        stats["conditional_spread"] = conditional_spread_check(
            arr, wells.rows, wells.cols, known_covariance, seed=seed
        )
        mean = reference["mean"] if known_covariance.mean is None else known_covariance.mean
        stats["conditional_mean"] = conditional_mean_check(
            arr, wells.rows, wells.cols, wells.values, known_covariance, mean, seed=seed
        )
        stats["conditional_mean"]["mean"] = mean  # the one the estimate was made with
        check = conditional_correlation_check(
            arr, wells.rows, wells.cols, known_covariance, lags=lags, n_pairs=n_pairs, seed=seed
        )
        stats["conditional_correlation"] = {
            **check,
            "mean_abs_error": float(np.mean(check["abs_error"])),
            "covariance": {
                "model": known_covariance.model,
                "len_scale": known_covariance.len_scale,
                "variance": known_covariance.variance,
                "mean": mean,
            },
        }
    return stats


def _direction(vario: dict, d: str) -> dict:
    """The variogram ``vario`` restricted to direction ``d``."""
    return {"lags": {d: vario["lags"][d]}, "gamma": {d: vario["gamma"][d]}, "codes": vario["codes"]}


def _compare_connectivity(ens: dict, reference: dict) -> dict:
    """Connectivity curves and spanning shares of the ensemble vs the TI, with errors."""
    ref = reference["connectivity"]
    by_facies, errors, span_errors = {}, [], []
    for code, cur in ens.items():
        diff = np.concatenate([cur["tau"][a] - ref[code]["tau"][a] for a in AXES])  # (2 L,)
        error = float(np.nanmean(np.abs(diff))) if np.any(np.isfinite(diff)) else np.nan
        span_error = abs(cur["spanning"] - ref[code]["spanning"])
        by_facies[code] = {
            "ensemble": cur["tau"],
            "training_image": ref[code]["tau"],
            "error": error,
            "spanning": {"ensemble": cur["spanning"], "training_image": ref[code]["spanning"]},
        }
        errors.append(error)
        span_errors.append(span_error)
    return {
        "lags": np.arange(1, reference["max_lag"] + 1),
        "axis": reference["channel_axis"],
        "by_facies": by_facies,
        "error": float(np.mean(errors)),
        "spanning_error": float(np.max(span_errors)),
    }


def leave_wells_out_scores(
    fields, held_out: WellPixels, *, categorical: bool, codes: Sequence[int] | None = None
) -> dict:
    """Score an ensemble simulated without ``held_out`` at the held-out wells.

    Parameters
    ----------
    fields : np.ndarray, shape (n, H, W), n >= 2
        Realizations conditioned on the other wells only.
    held_out : WellPixels
        The held-out wells.
    categorical : bool
        Brier score of the facies probabilities, else coverage of the 5-95 % interval.
    codes : sequence of int, optional
        All facies codes (categorical).

    Returns
    -------
    dict
        Continuous: ``coverage`` (fraction of held-out values inside the interval) and
        ``expected_if_calibrated`` = 0.9 (n - 1) / (n + 1), the mean coverage of an exact
        ensemble of n realizations. Categorical: ``brier`` (0 best, 2 worst) and
        ``accuracy`` of the most probable facies.
    """
    arr = np.asarray(fields)
    n = arr.shape[0]
    if categorical:
        arr = _as_codes(arr, "the ensemble")
        at = arr[:, held_out.rows, held_out.cols]  # (n, k)
        probs = np.stack([np.mean(at == c, axis=0) for c in codes])  # (K, k)
        mode = np.asarray(codes)[np.argmax(probs, axis=0)]  # (k,)
        return {
            "n_held_out": len(held_out.rows),
            "brier": brier_score(arr, held_out.rows, held_out.cols, held_out.values, codes),
            "accuracy": float(np.mean(mode == held_out.values)),
        }
    lo, hi = INTERVAL
    return {
        "n_held_out": len(held_out.rows),
        "interval": INTERVAL,
        "coverage": coverage(arr, held_out.rows, held_out.cols, held_out.values, INTERVAL),
        "expected_if_calibrated": (hi - lo) * (n - 1) / (n + 1),
    }


def conditional_realizations(
    model,
    grid_shape: tuple[int, int],
    wells: WellPixels,
    *,
    n: int,
    seed: int = 0,
    batch_size: int | None = None,
) -> np.ndarray:
    """``n`` raw realizations of ``model`` conditioned on ``wells``, as ``geocgan simulate``.

    The grid is generated on the model's canvas for it (``model.canvas``) and cut out;
    realization ``i`` uses noise seeded by ``(seed, i)``.

    Parameters
    ----------
    model : geocgan.models.GANModel
        A trained model.
    grid_shape : tuple of int
        ``(H, W)`` pixels.
    wells : WellPixels
        Conditioning wells.
    n : int
        Number of realizations.
    seed : int, default 0
        Noise seed.
    batch_size : int, optional
        Realizations per forward pass; by default chosen for the device and grid.

    Returns
    -------
    np.ndarray, shape (n, H, W)
        int64 facies codes (categorical models) or float32 values.
    """
    from geocgan.simulate import simulate

    cons = from_points(
        grid_shape, wells.rows, wells.cols, wells.values, spec=model.spec, labels=wells.ids
    )
    fields = simulate(model, cons, n, seed=seed, batch_size=batch_size)  # on model.canvas
    return _as_codes(fields, "the generator output") if model.spec.kind == "categorical" else fields


# --------------------------------------------------------------------------- plots


def plot_reliability(
    probs: np.ndarray, truth: np.ndarray, path, *, n_bins: int = 5, overwrite: bool = False
) -> Path:
    """Reliability diagram of facies probabilities at held-out wells.

    Parameters
    ----------
    probs : np.ndarray, shape (K, k)
        Ensemble probability of each facies at each held-out well.
    truth : np.ndarray of bool, shape (K, k)
        Whether each held-out well is of each facies.
    path : str or Path
        Output PNG.
    n_bins : int, default 5
        Equal-width probability bins.
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    Path
        The PNG written.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it.")
    p, t = np.ravel(probs), np.ravel(truth).astype(float)
    which = np.minimum((p * n_bins).astype(int), n_bins - 1)  # bin of each (facies, well)
    used = [b for b in range(n_bins) if np.any(which == b)]
    fig = Figure(figsize=(4, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="calibrated")
    ax.plot(
        [p[which == b].mean() for b in used],
        [t[which == b].mean() for b in used],
        marker="o",
        label=f"ensemble ({np.shape(probs)[1]} wells)",
    )
    ax.set_xlabel("ensemble probability of the facies (fraction)")
    ax.set_ylabel("held-out wells of that facies (fraction)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize="small")
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100, format="png")
    return path


def _plots(stats: dict, reference: dict, out_dir: Path, holdout: dict | None) -> dict:
    """Write the PNGs of one evaluation; return {plot name: path}."""
    codes = reference["codes"]
    varios = {
        label: {
            "lags": stats["variogram"]["lags"],
            "gamma": stats["variogram"][key],
            "codes": codes,
        }
        for label, key in (("training image", "training_image"), ("ensemble", "ensemble"))
    }
    paths = {
        "variograms": plot_variograms(varios, out_dir / PLOT_FILES["variograms"], overwrite=True)
    }
    if reference["categorical"]:
        props = stats["proportions"]
        paths["proportions"] = plot_proportions(
            {"training image": props["training_image"], "ensemble": props["ensemble"]},
            codes,
            out_dir / PLOT_FILES["proportions"],
            overwrite=True,
        )
        conn = stats["connectivity"]
        curves = {
            f"{label}, facies {code}": (conn["lags"], cur[key])
            for code, cur in conn["by_facies"].items()
            for label, key in (("training image", "training_image"), ("ensemble", "ensemble"))
        }
        paths["connectivity"] = plot_connectivity(
            curves, out_dir / PLOT_FILES["connectivity"], overwrite=True
        )
    if stats.get("conditional_spread") is not None:
        paths["conditional_spread"] = plot_conditional_spread(
            stats["conditional_spread"],
            out_dir / PLOT_FILES["conditional_spread"],
            mean_check=stats.get("conditional_mean"),
            overwrite=True,
        )
    if holdout is not None:
        target = out_dir / PLOT_FILES["calibration"]
        fields, wells = holdout["fields"], holdout["wells"]
        if reference["categorical"]:
            at = fields[:, wells.rows, wells.cols]  # (n, k)
            probs = np.stack([np.mean(at == c, axis=0) for c in codes])  # (K, k)
            truth = wells.values[None, :] == np.asarray(codes)[:, None]  # (K, k)
            paths["calibration"] = plot_reliability(probs, truth, target, overwrite=True)
        else:
            paths["calibration"] = plot_calibration(
                fields, wells.rows, wells.cols, wells.values, target, overwrite=True
            )
    return paths


# --------------------------------------------------------------------------- the command


def _store_fields(store_path: Path) -> tuple[np.ndarray, dict, object]:
    """Raw realizations (n, H, W), store attributes and grid of a complete ensemble store."""
    from geocgan.io.ensemble import DIMS, open_ensemble
    from geocgan.io.grid import Grid

    ds = open_ensemble(store_path)
    name = next(k for k, v in ds.data_vars.items() if v.dims == DIMS)
    fields = ds[name].values  # (n, H, W) float32
    grid = Grid(fields.shape[1], fields.shape[2], ds.rio.transform(), ds.rio.crs)
    return fields, dict(ds.attrs), grid


def _field_kind(attrs: dict, store_path: Path) -> dict:
    field = attrs.get("field")
    if field is None:
        raise InputError(
            f"{store_path} does not record its field spec (store attribute 'field'); it was "
            "not written by `geocgan simulate`. Regenerate it with geocgan simulate."
        )
    return _stored_dict(attrs, "field")


def _stored_dict(attrs: dict, key: str) -> dict:
    """A store attribute holding a dict (kept as JSON text), or {} if absent."""
    value = attrs.get(key, {})
    return json.loads(value) if isinstance(value, str) else dict(value)


def _read_wells(wells, attrs: dict, grid, spec: dict, columns: Mapping[str, str] | None, crs):
    from geocgan.io.wells import read_wells

    categorical = spec["kind"] == "categorical"
    source = wells if wells is not None else attrs.get("wells")
    if source is None:
        raise InputError(
            "no wells given and the store does not record its wells file; pass wells= (--wells)."
        )
    if not isinstance(source, str | Path):
        return WellPixels.from_object(source, categorical), type(source).__name__
    if not Path(source).is_file():
        raise InputError(
            f"wells file {source} does not exist (recorded in the store when not given); pass "
            "wells= (--wells) with its path."
        )
    read = read_wells(
        source,
        grid,
        crs=crs,
        categorical=categorical,
        codes=spec["codes"] if categorical else None,
        **dict(columns or {}),
    )
    return WellPixels.from_object(read, categorical), str(source)


def _check_outputs(out_dir: Path, overwrite: bool) -> None:
    existing = [p for p in [STATS_FILE, *PLOT_FILES.values()] if (out_dir / p).exists()]
    if existing and not overwrite:
        raise OutputExistsError(
            f"{out_dir} already holds {', '.join(existing)}; pass overwrite=True (--overwrite) "
            "to replace them, or choose another output directory."
        )


def _load_checkpoint(checkpoint, attrs: dict, store_path: Path, spec: dict, device: str):
    """The model that made the store (``checkpoint`` or the one recorded), with its path."""
    from geocgan.checkpoint import load_model
    from geocgan.devices import resolve_device

    path = checkpoint if checkpoint is not None else attrs.get("checkpoint")
    if path is None or not Path(path).is_file():
        where = "given" if checkpoint is not None else f"recorded in {store_path}"
        raise CheckpointError(
            f"the leave-wells-out check needs the model that made the ensemble; the checkpoint "
            f"{where} ({path}) is not a file. Pass checkpoint= (--model) with its path."
        )
    model, _ = load_model(path, device=resolve_device(device))
    made_with = _stored_dict(attrs, "model_config").get("canvas", 0)
    if getattr(model.config, "canvas", 0) != made_with:  # re-exported since: generate as then
        warnings.warn(
            f"checkpoint {path} now has canvas {model.config.canvas}; the ensemble in "
            f"{store_path} was made with {made_with}, which the leave-wells-out check uses",
            stacklevel=3,
        )
        model.config = replace(model.config, canvas=made_with)
    if model.spec.kind != spec["kind"]:
        raise InputError(
            f"checkpoint {path} is a {model.spec.kind} model but the ensemble in {store_path} "
            f"is {spec['kind']}; pass the checkpoint that made it."
        )
    return model, str(path)


def _holdout_run(
    model,
    wells: WellPixels,
    grid_shape,
    *,
    k: int,
    seed: int,
    n: int,
    store_seed: int,
    batch_size: int | None,
) -> dict:
    """Re-simulate with ``model`` without ``k`` random wells; score the held-out ones."""
    keep_idx, out_idx = split_wells(len(wells.rows), k, seed)
    fields = conditional_realizations(
        model, grid_shape, wells.subset(keep_idx), n=n, seed=store_seed, batch_size=batch_size
    )
    held_out = wells.subset(out_idx)
    categorical = model.spec.kind == "categorical"
    scores = leave_wells_out_scores(
        fields, held_out, categorical=categorical, codes=model.spec.codes if categorical else None
    )
    return {
        "seed": store_seed,
        "split_seed": seed,
        "n_realizations": n,
        "held_out": held_out.ids,
        **scores,
        "fields": fields,
        "wells": held_out,
    }


def evaluate(
    store_path,
    *,
    training_image,
    out_dir,
    wells=None,
    wells_columns: Mapping[str, str] | None = None,
    wells_crs: str | None = None,
    holdout: int = 0,
    holdout_seed: int = 0,
    checkpoint=None,
    known_covariance: KnownCovariance | None = None,
    channel_axis: str = "x",
    lags: Sequence[int] = (1, 3, 6, 12),
    sampling_size: int | None = 2000,
    batch_size: int | None = None,
    device: str = "auto",
    overwrite: bool = False,
) -> dict:
    """Evaluate an ensemble store; write ``evaluation.json`` and PNG plots into ``out_dir``.

    Parameters
    ----------
    store_path : str or Path
        A complete ``ensemble.zarr`` written by ``geocgan simulate``.
    training_image : str, Path or np.ndarray
        Training image (``.tif``, ``.nc``, ``.zarr``, ``.npy`` or a 2-D array), in the
        orientation of the grid; facies codes for categorical ensembles.
    out_dir : str or Path
        Output directory (created if needed).
    wells : str, Path or wells-like, optional
        The conditioning wells: a CSV/GeoJSON file (read onto the store's grid), a
        :class:`geocgan.io.wells.Wells`, or any object with ``rows``, ``cols``, ``values``
        pixel arrays. Default: the wells file recorded in the store.
    wells_columns : mapping, optional
        Column names for a wells file: keys ``value``, ``x``, ``y``, ``well_id`` (as in
        :func:`geocgan.io.wells.read_wells`).
    wells_crs : str, optional
        CRS of the wells file's coordinates if not the grid's.
    holdout : int, default 0
        Wells held out for the leave-wells-out check (0 skips it; ``1 <= holdout < m``).
    holdout_seed : int, default 0
        Seed of the choice of held-out wells.
    checkpoint : str or Path, optional
        Model for the leave-wells-out re-simulation; default the one recorded in the store.
        It is re-run with the store's seed and number of realizations.
    known_covariance : KnownCovariance, optional
        Continuous ensembles of a Gaussian case: run the conditional-correlation check.
    channel_axis : {"x", "y"}, default "x"
        Channel direction, for the spanning share.
    lags : sequence of int, default (1, 3, 6, 12)
        Lags (pixels) of the conditional-correlation check.
    sampling_size : int or None, default 2000
        Random pixels per field for the omnidirectional variograms.
    batch_size : int, optional
        Realizations per forward pass of the re-simulation; by default chosen for the
        device and grid.
    device : str, default "auto"
        Device of the re-simulation.
    overwrite : bool, default False
        Replace earlier outputs in ``out_dir``.

    Returns
    -------
    dict
        The JSON written: ``store``, ``training_image``, ``wells``, ``summary`` (headline
        numbers), ``statistics`` (see :func:`ensemble_statistics`), ``leave_wells_out``
        (None when ``holdout`` is 0) and ``outputs`` (file paths).

    Raises
    ------
    OutputExistsError
        ``out_dir`` holds earlier outputs and ``overwrite`` is False.
    InputError
        Missing or incomplete store, wells or training image that do not fit it.
    CheckpointError
        ``holdout`` > 0 and the checkpoint cannot be found.
    """
    from geocgan.io.images import read_training_image

    store_path, out_dir = Path(store_path), Path(out_dir)
    _check_outputs(out_dir, overwrite)
    fields, attrs, grid = _store_fields(store_path)
    spec = _field_kind(attrs, store_path)
    categorical = spec["kind"] == "categorical"
    well_pixels, wells_source = _read_wells(wells, attrs, grid, spec, wells_columns, wells_crs)
    if holdout:  # fail early, before the statistics
        model, model_path = _load_checkpoint(checkpoint, attrs, store_path, spec, device)
    if isinstance(training_image, str | Path):
        ti_source, ti = str(training_image), read_training_image(training_image)
    else:
        ti_source, ti = "array", np.asarray(training_image)
    reference = reference_statistics(
        ti,
        grid.shape,
        categorical=categorical,
        codes=spec["codes"] if categorical else None,
        channel_axis=channel_axis,
        sampling_size=sampling_size,
    )
    stats = ensemble_statistics(
        fields, reference, well_pixels, known_covariance=known_covariance, lags=lags
    )
    held = None
    if holdout:
        held = _holdout_run(
            model,
            well_pixels,
            grid.shape,
            k=holdout,
            seed=holdout_seed,
            n=fields.shape[0],
            store_seed=int(attrs.get("seed", 0)),
            batch_size=batch_size,
        )
        held["checkpoint"] = model_path
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = _plots(stats, reference, out_dir, held)
    result = {
        "store": str(store_path),
        "training_image": ti_source,
        "training_image_windows": {
            "n": reference["n_windows"],
            "shape": reference["window_shape"],
        },
        "wells": {"source": wells_source, "n": len(well_pixels.rows)},
        "summary": _summary(stats, held),
        "statistics": stats,
        "leave_wells_out": (
            None
            if held is None
            else {k: v for k, v in held.items() if k not in ("fields", "wells")}
        ),
        "outputs": {
            "evaluation": str(out_dir / STATS_FILE),
            **{k: str(p) for k, p in plots.items()},
        },
    }
    result = to_json(result)
    tmp = out_dir / (STATS_FILE + ".partial")
    tmp.write_text(json.dumps(result, indent=1, allow_nan=False))
    tmp.replace(out_dir / STATS_FILE)
    return result


def _summary(stats: dict, held: dict | None) -> dict:
    """Headline numbers of an evaluation (None where a statistic does not apply)."""
    conn, props, corr = (
        stats["connectivity"],
        stats["proportions"],
        stats["conditional_correlation"],
    )
    return {
        "honoring_metric": stats["honoring"]["metric"],
        "honoring": stats["honoring"]["overall"],
        "honoring_mse_over_variance": stats["honoring"].get("mse_over_variance"),
        "neighbourhood_share": stats["honoring"].get("neighbourhood_share"),
        "proportion_error": None if props is None else props["error"],
        "variogram_error": stats["variogram"]["error"],
        "connectivity_error": None if conn is None else conn["error"],
        "spanning_error": None if conn is None else conn["spanning_error"],
        "spread": stats["spread"]["value"],
        "conditional_correlation_error": None if corr is None else corr["mean_abs_error"],
        "conditional_spread_error": None
        if stats.get("conditional_spread") is None
        else stats["conditional_spread"]["mean_abs_error"],
        "conditional_mean_bias": None
        if stats.get("conditional_mean") is None
        else stats["conditional_mean"]["rms_bias"],
        "coverage": None if held is None else held.get("coverage"),
        "brier": None if held is None else held.get("brier"),
    }
