"""Statistics of facies volumes ``(n, D, H, W)``: proportions, indicator variograms along z,
y and x, and 3-D connectivity; and how far an ensemble's are from a training image's.

Axes: z is the layer axis (layer 0 on top), y the rows, x the columns; lags are in voxels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from geocgan.errors import InputError

AXES = {"z": 1, "y": 2, "x": 3}  # axis of an (n, D, H, W) stack


def _volumes(fields) -> np.ndarray:
    arr = np.asarray(fields)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4:
        raise InputError(f"expected volumes (n, D, H, W) or one (D, H, W), got shape {arr.shape}")
    return arr


def indicator_variograms(fields, code: int, max_lag: int) -> dict[str, np.ndarray]:
    """Indicator semivariogram of facies ``code`` along z, y and x, lags 1..max_lag.

    ``gamma(h) = mean (I(p) - I(p + h))² / 2`` over every voxel pair ``h`` apart along the
    axis, pooled over the volumes; a lag longer than the axis is NaN.
    """
    ind = (_volumes(fields) == code).astype(np.float32)  # (n, D, H, W)
    out = {}
    for name, axis in AXES.items():
        n = ind.shape[axis]
        gamma = np.full(max_lag, np.nan)
        for h in range(1, min(max_lag, n - 1) + 1):
            head = np.take(ind, range(n - h), axis=axis)
            tail = np.take(ind, range(h, n), axis=axis)
            gamma[h - 1] = 0.5 * np.mean((head - tail) ** 2)
        out[name] = gamma
    return out


def connectivity(fields, code: int) -> dict[str, float]:
    """3-D connectivity of facies ``code`` (6-connected bodies), means over the volumes.

    ``largest``: share of the facies' voxels in its largest body; ``spanning_x`` /
    ``spanning_y``: share in bodies that touch both faces of the volume across x / y.
    """
    shares: dict[str, list[float]] = {"largest": [], "spanning_x": [], "spanning_y": []}
    for vol in _volumes(fields) == code:
        total = vol.sum()
        if total == 0:
            for v in shares.values():
                v.append(0.0)
            continue
        labels, count = ndimage.label(vol)  # (D, H, W), 6-connectivity
        sizes = np.bincount(labels.ravel())[1:]  # (count,)
        shares["largest"].append(float(sizes.max() / total))
        for key, axis in (("spanning_x", 2), ("spanning_y", 1)):
            first = np.unique(np.take(labels, 0, axis=axis))
            last = np.unique(np.take(labels, -1, axis=axis))
            spanning = np.setdiff1d(np.intersect1d(first, last), [0])
            shares[key].append(float(sizes[spanning - 1].sum() / total))
    return {k: float(np.mean(v)) for k, v in shares.items()}


def volume_statistics(fields, codes: Sequence[int], *, max_lag: int = 16) -> dict:
    """Proportions of every code; variograms and connectivity of the last code (e.g. sand)."""
    arr = _volumes(fields)
    code = int(codes[-1])
    return {
        "proportions": [float((arr == c).mean()) for c in codes],
        "variograms": {k: v.tolist() for k, v in indicator_variograms(arr, code, max_lag).items()},
        "connectivity": connectivity(arr, code),
    }


def statistics_error(stats: dict, reference: dict) -> dict:
    """How far ``stats`` are from ``reference`` (both from :func:`volume_statistics`).

    ``proportion``: largest absolute proportion difference; ``variogram_<axis>``: mean
    absolute difference over the lags both have; ``connectivity_<key>``: absolute difference.
    """
    out = {
        "proportion": float(
            np.max(np.abs(np.subtract(stats["proportions"], reference["proportions"])))
        )
    }
    for axis, gamma in stats["variograms"].items():
        a, b = np.asarray(gamma, float), np.asarray(reference["variograms"][axis], float)
        out[f"variogram_{axis}"] = float(np.nanmean(np.abs(a - b)))
    for key, value in stats["connectivity"].items():
        out[f"connectivity_{key}"] = abs(value - reference["connectivity"][key])
    return out
