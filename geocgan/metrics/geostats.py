"""Geostatistical validation of realization ensembles: pure functions on numpy arrays.

Conventions used by every function here:

* ``fields`` is a ``(n, H, W)`` stack of realizations; functions that also make sense for a
  single image (a training image, TI) accept ``(H, W)``. Float arrays are continuous fields,
  integer (or bool) arrays are categorical facies codes.
* Lags and distances are in pixels. Direction ``"x"`` runs along columns (array axis 1 of a
  field, ``W``), ``"y"`` along rows (array axis 0, ``H``).
* Wells are pixel indices ``rows``, ``cols`` (integer arrays of one length) with ``values``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.linalg
import scipy.ndimage
import scipy.spatial

from geocgan.errors import ConstraintError, GeocganError, InputError

DIRECTIONS = ("omni", "x", "y")
AXES = ("x", "y")
_AXIS_INDEX = {"x": 1, "y": 0}  # direction -> axis of an (H, W) field


# --------------------------------------------------------------------------- input checks


def _stack(fields, name: str = "fields", min_n: int = 1, allow_2d: bool = True) -> np.ndarray:
    """Return ``fields`` as an ``(n, H, W)`` array, raising InputError for anything else."""
    arr = np.asarray(fields)
    if arr.ndim == 2 and allow_2d:
        arr = arr[None]  # (1, H, W)
    shapes = "(n, H, W) or (H, W)" if allow_2d else "(n, H, W)"
    if arr.ndim != 3:
        raise InputError(
            f"{name} must be a {shapes} array of realizations; got shape {arr.shape}. "
            "Stack realizations along axis 0."
        )
    if arr.shape[0] < min_n:
        raise InputError(
            f"{name} has {arr.shape[0]} realization(s); this metric needs at least {min_n}. "
            "Generate a larger ensemble."
        )
    if arr.shape[1] < 2 or arr.shape[2] < 2:
        raise InputError(f"{name} has grid {arr.shape[1:]}; each side must be at least 2 pixels.")
    if arr.dtype == bool:
        arr = arr.astype(np.int8)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise InputError(f"{name} has dtype {arr.dtype}; expected float (continuous) or int codes.")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise InputError(
            f"{name} contains NaN/inf, first at index (realization, row, col) = {bad}; "
            "fill or drop those realizations."
        )
    return arr


def _is_categorical(arr: np.ndarray) -> bool:
    return bool(np.issubdtype(arr.dtype, np.integer))


def _codes(codes, name: str = "codes") -> np.ndarray:
    """Return facies codes as a 1-D int array of unique values."""
    arr = np.asarray(codes)
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"{name} must be a non-empty 1-D sequence of facies codes; got {codes!r}.")
    if not np.all(arr == np.round(arr)):
        raise InputError(f"{name} must be integers; got {arr.tolist()}.")
    arr = arr.astype(np.int64)
    if np.unique(arr).size != arr.size:
        raise InputError(f"{name} has repeated values: {arr.tolist()}; list each facies once.")
    return arr


def _check_codes_cover(arr: np.ndarray, codes: np.ndarray, name: str) -> None:
    extra = np.setdiff1d(np.unique(arr), codes)
    if extra.size:
        raise ConstraintError(
            f"{name} contains facies codes {extra.tolist()} that are not in codes="
            f"{codes.tolist()}; add them to codes."
        )


def _wells(rows, cols, grid_shape: tuple[int, int], values=None) -> tuple:
    """Validate well pixel indices (and values) against a grid; return int rows, cols, values."""
    r, c = np.asarray(rows), np.asarray(cols)
    if r.ndim != 1 or c.ndim != 1 or r.shape != c.shape or r.size == 0:
        raise ConstraintError(
            f"rows and cols must be non-empty 1-D arrays of one length; got shapes "
            f"{r.shape} and {c.shape}."
        )
    for name, idx, size in (("rows", r, grid_shape[0]), ("cols", c, grid_shape[1])):
        if not np.issubdtype(idx.dtype, np.integer):
            raise ConstraintError(f"{name} must be integer pixel indices; got dtype {idx.dtype}.")
        outside = np.flatnonzero((idx < 0) | (idx >= size))
        if outside.size:
            i = int(outside[0])
            raise ConstraintError(
                f"well {i}: {name[:-1]} {int(idx[i])} is outside the grid (0..{size - 1}); "
                "drop the well or fix its pixel index."
            )
    if values is None:
        return r.astype(np.int64), c.astype(np.int64)
    v = np.asarray(values, dtype=float)
    if v.shape != r.shape:
        raise ConstraintError(f"values has shape {v.shape}; expected {r.shape} (one per well).")
    nonfinite = np.flatnonzero(~np.isfinite(v))
    if nonfinite.size:
        raise ConstraintError(f"well {int(nonfinite[0])}: value is {v[nonfinite[0]]}; drop it.")
    return r.astype(np.int64), c.astype(np.int64), v


def _pairs(pairs, grid_shape: tuple[int, int]) -> np.ndarray:
    """Validate a ``(P, 4)`` array of pixel pairs ``(row_a, col_a, row_b, col_b)``."""
    p = np.asarray(pairs)
    if p.ndim != 2 or p.shape[1] != 4 or p.shape[0] == 0:
        raise InputError(
            f"pairs must be a (P, 4) integer array of (row_a, col_a, row_b, col_b); "
            f"got shape {p.shape}."
        )
    if not np.issubdtype(p.dtype, np.integer):
        raise InputError(f"pairs must be integer pixel indices; got dtype {p.dtype}.")
    size = np.array(grid_shape * 2)  # (4,) = (H, W, H, W)
    bad = np.argwhere((p < 0) | (p >= size))
    if bad.size:
        i = int(bad[0, 0])
        raise InputError(
            f"pair {i}: {p[i].tolist()} lies outside the {grid_shape[0]}x{grid_shape[1]} grid."
        )
    return p.astype(np.int64)


def _pixels(pixels, grid_shape: tuple[int, int]) -> np.ndarray:
    """Validate a ``(P, 2)`` array of pixels ``(row, col)``."""
    p = np.asarray(pixels)
    if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] == 0 or not np.issubdtype(p.dtype, np.integer):
        raise InputError(
            f"pixels must be a (P, 2) integer array of (row, col); got shape {p.shape}, "
            f"dtype {p.dtype}."
        )
    bad = np.flatnonzero(np.any((p < 0) | (p >= np.array(grid_shape)), axis=1))
    if bad.size:
        i = int(bad[0])
        raise InputError(
            f"pixel {i}: {p[i].tolist()} lies outside the {grid_shape[0]}x{grid_shape[1]} grid."
        )
    return p.astype(np.int64)


# --------------------------------------------------------------------------- proportions


def facies_proportions(fields, codes) -> np.ndarray:
    """Share of pixels of each facies, pooled over all realizations.

    Parameters
    ----------
    fields : np.ndarray of int, shape (n, H, W) or (H, W)
        Facies codes.
    codes : sequence of int, length K
        Facies codes to count; every code in ``fields`` must be listed.

    Returns
    -------
    np.ndarray, shape (K,)
        Proportions (fraction of pixels, 0..1, sums to 1), in the order of ``codes``.
    """
    arr = _stack(fields)
    codes = _codes(codes)
    if not _is_categorical(arr):
        raise InputError(f"fields has dtype {arr.dtype}; facies proportions need integer codes.")
    _check_codes_cover(arr, codes, "fields")
    return np.array([np.mean(arr == k) for k in codes])  # (K,)


def proportion_error(fields, ti, codes) -> float:
    """Largest absolute difference between ensemble and training-image facies proportions.

    Parameters
    ----------
    fields : np.ndarray of int, shape (n, H, W) or (H, W)
        Realizations (facies codes).
    ti : np.ndarray of int, shape (H', W') or (n', H', W')
        Training image; its grid may differ from the realizations'.
    codes : sequence of int, length K
        Facies codes.

    Returns
    -------
    float
        ``max_k |p_fields[k] - p_ti[k]|`` in fraction of pixels (0.05 = five percentage points).
    """
    diff = facies_proportions(fields, codes) - facies_proportions(ti, codes)  # (K,)
    return float(np.max(np.abs(diff)))


# --------------------------------------------------------------------------- variograms


def _gstools():
    try:
        import gstools
    except ImportError as err:
        raise GeocganError(
            "Variograms need the optional dependency gstools, which is not installed; "
            "run `pip install geocgan[geostats]`."
        ) from err
    return gstools


def variogram(
    fields,
    *,
    bins: Sequence[float] | None = None,
    directions: Sequence[str] = DIRECTIONS,
    sampling_size: int | None = None,
    seed: int = 0,
    codes: Sequence[int] | None = None,
) -> dict:
    """Experimental (Matheron) variograms, averaged over realizations, lags in pixels.

    Continuous fields give the semivariance ``gamma(h) = E[(Z(x) - Z(x+h))^2] / 2`` in field
    units squared. Categorical fields give one indicator variogram per facies ``k`` (of
    ``1[Z = k]``, unitless, at most 0.5), which is the probability that two pixels at lag ``h``
    differ in membership of ``k``, halved.

    Computed with GSTools (Cython): ``gs.vario_estimate_axis`` for ``"x"``/``"y"`` (exact, every
    pixel pair at integer lags, O(n H W) fast) and ``gs.vario_estimate`` on the structured grid
    for ``"omni"`` (all pixel pairs, O((H W)^2): about 1.5 s for 64x64 on one core, the
    cost shared by all realizations). GSTools is preferred to scikit-gstat, which builds the
    full pairwise distance matrix per field. For large grids pass ``sampling_size`` (e.g. 2000).
    Every realization has the same pair counts (the same random pixel sample when sampling),
    so pooling the pairs equals averaging the realizations' variograms.

    Parameters
    ----------
    fields : np.ndarray, shape (n, H, W) or (H, W)
        Realizations (float) or facies codes (int).
    bins : sequence of float, optional
        Increasing omnidirectional bin edges in pixels. Default ``0.5, 1.5, ..., L + 0.5`` with
        ``L = min(H, W) // 2``. The axis directions use every integer lag ``1..floor(bins[-1])``
        (capped at the grid side minus 1).
    directions : sequence of {"omni", "x", "y"}, default all three
        Which variograms to compute.
    sampling_size : int, optional
        Number of random pixels used for ``"omni"``; default None uses every pixel.
    seed : int, default 0
        Seed of the ``"omni"`` pixel sample.
    codes : sequence of int, optional
        Facies codes for categorical fields; default the codes present in ``fields``. Pass the
        same codes for an ensemble and the training image you compare it with.

    Returns
    -------
    dict
        ``"lags"``: {direction: (L_d,) float lags in pixels}; ``"gamma"``: {direction: (L_d,)
        for continuous fields or (K, L_d) for categorical ones}; ``"codes"``: (K,) int array
        or None for continuous fields.
    """
    gs = _gstools()
    arr = _stack(fields)
    n, h, w = arr.shape
    directions = tuple(directions)
    unknown = [d for d in directions if d not in DIRECTIONS]
    if not directions or unknown or len(set(directions)) != len(directions):
        raise InputError(
            f"directions={directions!r}: give one or more distinct names from {DIRECTIONS}."
        )
    edges = np.arange(0.5, min(h, w) // 2 + 1.0) if bins is None else np.asarray(bins, float)
    if edges.ndim != 1 or edges.size < 2 or edges[0] < 0 or np.any(np.diff(edges) <= 0):
        raise InputError(f"bins={bins!r}: give at least two increasing, non-negative bin edges.")
    if edges[-1] < 1 and {"x", "y"} & set(directions):
        raise InputError(f"bins={bins!r}: the last edge must reach lag 1 pixel for 'x'/'y'.")
    if sampling_size is not None and sampling_size < 2:
        raise InputError(f"sampling_size={sampling_size}: give at least 2 pixels, or None.")

    if _is_categorical(arr):
        codes = np.unique(arr) if codes is None else _codes(codes)
        _check_codes_cover(arr, codes, "fields")
        layers = [(arr == k).astype(float) for k in codes]  # K x (n, H, W) indicators
    elif codes is not None:
        raise InputError("codes was given but fields are continuous (float); drop codes.")
    else:
        layers = [arr.astype(float)]  # 1 x (n, H, W)

    lags, gamma = {}, {}
    for d in directions:
        if d == "omni":
            pos = (np.arange(h, dtype=float), np.arange(w, dtype=float))
            per_layer = []
            for layer in layers:
                centers, g = gs.vario_estimate(
                    pos,
                    list(layer),  # pooled over the n realizations
                    edges,
                    sampling_size=sampling_size,
                    sampling_seed=seed,
                    mesh_type="structured",
                )
                per_layer.append(g)  # (L,)
            lags[d] = np.asarray(centers, float)
        else:
            axis = _AXIS_INDEX[d]
            max_lag = min(int(np.floor(edges[-1])), arr.shape[axis + 1] - 1)
            # vario_estimate_axis returns lags 0..size-1 pooled over the other axes
            per_layer = [
                gs.vario_estimate_axis(layer, direction=axis + 1)[1 : max_lag + 1]
                for layer in layers
            ]
            lags[d] = np.arange(1, max_lag + 1, dtype=float)
        gamma[d] = np.stack(per_layer) if codes is not None else per_layer[0]
    return {"lags": lags, "gamma": gamma, "codes": codes}


def variogram_error(vario_a: dict, vario_b: dict) -> float:
    """Relative RMSE of variogram ``a`` against reference variogram ``b`` over common lags.

    ``sqrt(mean((gamma_a - gamma_b)^2)) / sqrt(mean(gamma_b^2))``, the mean running over every
    direction present in both, every lag present in both (matched to 1e-9 pixels) and, for
    categorical variograms, every facies. Unitless: 0 is a perfect match, 0.1 is a 10 % error,
    and ``gamma_a = 2 gamma_b`` gives 1.

    Parameters
    ----------
    vario_a, vario_b : dict
        Outputs of :func:`variogram`; ``b`` is the reference (e.g. the training image).

    Returns
    -------
    float
        Relative RMSE (unitless).
    """
    codes_a, codes_b = vario_a["codes"], vario_b["codes"]
    if (codes_a is None) != (codes_b is None) or (
        codes_a is not None and not np.array_equal(codes_a, codes_b)
    ):
        raise InputError(
            f"variograms have different facies codes ({codes_a} vs {codes_b}); compute both "
            "with the same codes= (continuous fields: codes None)."
        )
    diffs, refs = [], []
    for d in vario_a["gamma"].keys() & vario_b["gamma"].keys():
        la, lb = np.round(vario_a["lags"][d], 9), np.round(vario_b["lags"][d], 9)
        _, ia, ib = np.intersect1d(la, lb, return_indices=True)
        ga = np.asarray(vario_a["gamma"][d])[..., ia]  # (L,) or (K, L)
        gb = np.asarray(vario_b["gamma"][d])[..., ib]
        diffs.append((ga - gb).ravel())
        refs.append(gb.ravel())
    diff, ref = np.concatenate(diffs or [[]]), np.concatenate(refs or [[]])
    if diff.size == 0:
        raise InputError(
            "the two variograms share no direction and lag; compute them with the same bins "
            "and directions."
        )
    ref_rms = np.sqrt(np.mean(ref**2))
    if ref_rms == 0:
        raise InputError("the reference variogram is zero at every lag (a constant field).")
    return float(np.sqrt(np.mean(diff**2)) / ref_rms)


# --------------------------------------------------------------------------- connectivity


def _axis_name(axis) -> str:
    if axis not in AXES:
        raise InputError(f"axis={axis!r}: use 'x' (along columns) or 'y' (along rows).")
    return axis


def _require_code(arr: np.ndarray, code: int) -> None:
    if not _is_categorical(arr):
        raise InputError(f"fields has dtype {arr.dtype}; connectivity needs integer facies codes.")
    if not np.any(arr == code):
        present = np.unique(arr).tolist()
        raise InputError(f"facies code {code} occurs in no realization; codes present: {present}.")


def connectivity_function(fields, code: int, *, max_lag: int) -> tuple[np.ndarray, dict]:
    """Connectivity function of one facies along x and y.

    ``tau(h) = P(x and x+h are in the same connected component | both are facies code)``,
    with 4-connectivity (``scipy.ndimage.label``). Pairs are pooled over realizations
    (connected pairs / pairs of ``code``), i.e. a pair-weighted average of the realizations.

    Parameters
    ----------
    fields : np.ndarray of int, shape (n, H, W) or (H, W)
        Facies codes.
    code : int
        Facies whose connectivity is measured.
    max_lag : int
        Largest lag in pixels, ``1 <= max_lag < min(H, W)``.

    Returns
    -------
    lags : np.ndarray of int, shape (max_lag,)
        Lags 1..max_lag in pixels.
    tau : dict
        ``{"x": (max_lag,), "y": (max_lag,)}`` probabilities in 0..1; NaN at a lag where no
        pair of ``code`` pixels exists.
    """
    arr = _stack(fields)
    _require_code(arr, code)
    n, h, w = arr.shape
    if not 1 <= max_lag < min(h, w):
        raise InputError(f"max_lag={max_lag}: must be between 1 and {min(h, w) - 1} pixels.")
    labels = np.stack([scipy.ndimage.label(f == code)[0] for f in arr])  # (n, H, W), 0 = other
    lags = np.arange(1, max_lag + 1)
    tau = {}
    for name in AXES:
        axis = _AXIS_INDEX[name] + 1  # axis of the (n, H, W) stack
        size = arr.shape[axis]
        values = []
        for lag in lags:
            a = np.take(labels, np.arange(size - lag), axis=axis)
            b = np.take(labels, np.arange(lag, size), axis=axis)
            both = (a > 0) & (b > 0)
            n_pairs = np.count_nonzero(both)
            values.append(np.count_nonzero(both & (a == b)) / n_pairs if n_pairs else np.nan)
        tau[name] = np.array(values)  # (max_lag,)
    return lags, tau


def spanning_fraction(fields, code: int, axis: str) -> float:
    """Share of the pixels of one facies lying in components that span the grid along ``axis``.

    A component (4-connectivity) spans along ``"x"`` when it touches the first and the last
    column, along ``"y"`` the first and the last row. The per-realization shares are averaged
    over the realizations that contain ``code``.

    Parameters
    ----------
    fields : np.ndarray of int, shape (n, H, W) or (H, W)
        Facies codes.
    code : int
        Facies measured.
    axis : {"x", "y"}
        Spanning direction.

    Returns
    -------
    float
        Fraction of the facies' pixels (0..1): 1 for channels crossing the grid, 0 for blobs.
    """
    arr = _stack(fields)
    _require_code(arr, code)
    ax = _AXIS_INDEX[_axis_name(axis)]
    shares = []
    for f in arr:
        labels = scipy.ndimage.label(f == code)[0]  # (H, W)
        if not labels.any():
            continue
        first = np.take(labels, 0, axis=ax)  # edge line, (W,) or (H,)
        last = np.take(labels, -1, axis=ax)
        spanning = np.intersect1d(first[first > 0], last[last > 0])
        shares.append(np.count_nonzero(np.isin(labels, spanning)) / np.count_nonzero(labels))
    return float(np.mean(shares))


# --------------------------------------------------------------------------- ensemble spread


def ensemble_spread(fields) -> float:
    """Mean per-pixel spread of an ensemble; 0 for a collapsed ensemble.

    Continuous fields: per-pixel standard deviation across realizations (population, ddof=0),
    averaged over pixels, in field units. Categorical fields: per-pixel Shannon entropy of the
    ensemble's facies frequencies in bits (1 bit = two equally likely facies, ``log2 K`` at
    most), averaged over pixels.

    Parameters
    ----------
    fields : np.ndarray, shape (n, H, W), n >= 2
        Realizations (float) or facies codes (int).

    Returns
    -------
    float
        Mean standard deviation (field units) or mean entropy (bits).
    """
    arr = _stack(fields, min_n=2, allow_2d=False)
    if not _is_categorical(arr):
        # shifting by realization 0 leaves the std unchanged and makes a collapsed ensemble
        # exactly 0 (no rounding in the mean)
        return float(np.mean(np.std(arr - arr[0], axis=0)))
    entropy = np.zeros(arr.shape[1:])  # (H, W)
    for k in np.unique(arr):
        p = np.mean(arr == k, axis=0)  # (H, W)
        entropy -= np.where(p > 0, p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return float(np.mean(entropy))


# --------------------------------------------------------------------------- conditioning


def neighbourhood_majority(fields: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Majority facies of the (up to 8) neighbours of each well pixel: ``(n, n_wells)``, NaN on a tie."""
    n, h, w = fields.shape
    votes = []
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr or dc:
                r, c = rows + dr, cols + dc
                inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)  # off-grid neighbours do not vote
                votes.append(
                    np.where(inside, fields[:, r.clip(0, h - 1), c.clip(0, w - 1)], np.nan)
                )
    votes = np.stack(votes)  # (8, n, n_wells)
    codes = np.unique(votes[~np.isnan(votes)])
    counts = np.stack([(votes == k).sum(0) for k in codes])  # (K, n, n_wells)
    top = counts.max(0)
    tie = (counts == top).sum(0) > 1
    return np.where(tie, np.nan, codes[counts.argmax(0)])  # a tie is no majority


def neighbourhood_share(fields, rows, cols, values) -> float:
    """Share of (realization, well) pairs whose 8 neighbours are mostly of the well's facies.

    A well honored by a channel passing through it scores 1, one honored by an isolated pixel
    of its facies 0. Real fields score high but not 1 (wells near facies edges); compare with
    the truth's own share on the same wells (the sample truth: 0.96, the validation truths:
    0.92-0.95). Ties count as no majority.
    """
    arr = _stack(fields)
    r, c, v = _wells(rows, cols, arr.shape[1:], values)
    around = neighbourhood_majority(arr, r, c)  # (n, m), NaN on a tie
    return float((around == v[None]).mean())


def honoring(fields, rows, cols, values, categorical: bool) -> dict:
    """How well realizations reproduce the well data at the well pixels.

    geocgan's one honoring measure: ``geocgan.honoring``, ``geocgan evaluate``, the
    benchmark and the main job's ``honoring.json`` all report it.

    Parameters
    ----------
    fields : np.ndarray, shape (n, H, W) or (H, W)
        Realizations; facies codes when ``categorical`` (integers, or whole-number floats as
        :func:`geocgan.simulate` returns them).
    rows, cols : np.ndarray of int, shape (m,)
        Well pixel indices.
    values : np.ndarray, shape (m,)
        Well values (facies codes when ``categorical``).
    categorical : bool
        Score facies matches instead of squared errors.

    Returns
    -------
    dict
        See :func:`honoring_at_wells`.
    """
    arr = _stack(fields)
    r, c, v = _wells(rows, cols, arr.shape[1:], values)
    at_wells = arr[:, r, c]  # (n, m)
    if categorical:
        if not (_is_categorical(arr) or np.all(at_wells == np.round(at_wells))):
            raise InputError(
                f"fields has dtype {arr.dtype} with values that are no facies codes at the wells "
                "but categorical=True; pass integer facies codes."
            )
        nonint = np.flatnonzero(v != np.round(v))
        if nonint.size:
            i = int(nonint[0])
            raise ConstraintError(f"well {i}: value {v[i]} is not an integer facies code.")
    return honoring_at_wells(at_wells, v, categorical)


def honoring_at_wells(at_wells: np.ndarray, values: np.ndarray, categorical: bool) -> dict:
    """:func:`honoring` from the realizations' values at the well pixels, unchecked.

    For an ensemble seen in batches (the main job keeps only these values).

    Parameters
    ----------
    at_wells : np.ndarray, shape (n, m)
        ``fields[:, rows, cols]``.
    values, categorical
        As for :func:`honoring`.

    Returns
    -------
    dict
        ``"metric"``: ``"facies_match"`` (share of well pixels with the well's facies, 1 is
        perfect) or ``"mse"`` (mean squared error, field units squared, 0 is perfect);
        ``"per_realization"``: the n scores (list); ``"overall"``: their mean.
    """
    if categorical:
        per = np.mean(at_wells == values[None], axis=1)  # (n,)
    else:
        per = np.mean((at_wells - values[None]) ** 2, axis=1)  # (n,)
    return {
        "metric": "facies_match" if categorical else "mse",
        "overall": float(np.mean(per)),
        "per_realization": per.tolist(),
    }


# --------------------------------------------------------------------------- Gaussian check


def _eval_cov(cov_fn: Callable, dist: np.ndarray) -> np.ndarray:
    cov = np.asarray(cov_fn(dist), dtype=float)
    if cov.shape != dist.shape:
        raise InputError(
            f"cov_fn returned shape {cov.shape} for distances of shape {dist.shape}; it must "
            "be vectorised (same shape out as in)."
        )
    return cov


def _dist(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pixel distances ``(P, Q)`` between points ``x`` ``(P, 2)`` and ``y`` ``(Q, 2)``."""
    return np.sqrt(np.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1))


def _kriging_system(wells: np.ndarray, cov_fn: Callable) -> tuple[float, tuple]:
    """Prior variance ``C(0)`` and the Cholesky factor of the wells' covariance matrix ``K``."""
    if np.unique(wells, axis=0).shape[0] != wells.shape[0]:
        raise ConstraintError("two wells share one pixel; merge them before kriging.")
    prior_var = float(_eval_cov(cov_fn, np.zeros(1))[0])
    if not prior_var > 0:
        raise InputError(f"cov_fn(0) = {prior_var}; the variance must be positive.")
    try:
        return prior_var, scipy.linalg.cho_factor(_eval_cov(cov_fn, _dist(wells, wells)))
    except np.linalg.LinAlgError as err:
        raise InputError(
            "the covariance matrix of the wells is not positive definite; check cov_fn "
            "(a valid covariance model) and the well pixels."
        ) from err


def simple_kriging(
    grid_shape: tuple[int, int], rows, cols, values, cov_fn: Callable, pixels, mean: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Simple-kriging estimate and variance at pixels: the exact conditional mean and variance
    of a Gaussian field with known mean and covariance, given the wells.

    ``m + c^T K^-1 (v - m)`` and ``C(0) - c^T K^-1 c``, with ``K`` the covariance among wells,
    ``c`` the covariances between the wells and the pixel, ``v`` the well values and ``m`` the
    field's mean. Isotropic: ``cov_fn`` of the Euclidean pixel distance.

    Parameters
    ----------
    grid_shape : tuple of int
        ``(H, W)`` of the grid.
    rows, cols : np.ndarray of int, shape (m,)
        Well pixels (distinct).
    values : np.ndarray of float, shape (m,)
        Well values (field units).
    cov_fn : callable
        ``cov_fn(h) -> C(h)``, vectorised over distances in pixels; field units squared.
    pixels : np.ndarray of int, shape (P, 2)
        ``(row, col)`` of the pixels to estimate.
    mean : float, default 0.0
        The field's mean, known (simple kriging).

    Returns
    -------
    estimate : np.ndarray, shape (P,)
        Conditional mean (field units); a well's value at a well.
    variance : np.ndarray, shape (P,)
        Conditional variance (field units squared), 0 up to rounding at a well.
    """
    grid_shape = tuple(int(s) for s in grid_shape)
    r, c, v = _wells(rows, cols, grid_shape, values)
    prior_var, c_p, w = _kriging_weights(r, c, cov_fn, _pixels(pixels, grid_shape))
    estimate = mean + w.T @ (np.asarray(v, dtype=float) - mean)
    return estimate, prior_var - np.sum(c_p * w, axis=0)


def _kriging_weights(
    r: np.ndarray, c: np.ndarray, cov_fn: Callable, px: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Prior variance, the covariances ``c`` ``(m, P)`` between the wells and pixels ``px``
    ``(P, 2)``, and the simple-kriging weights ``K^-1 c`` ``(m, P)``."""
    wells = np.stack([r, c], axis=1).astype(float)  # (m, 2)
    prior_var, chol = _kriging_system(wells, cov_fn)
    c_p = _eval_cov(cov_fn, _dist(wells, px.astype(float)))
    return prior_var, c_p, scipy.linalg.cho_solve(chol, c_p)


def simple_kriging_conditional_covariance(
    grid_shape: tuple[int, int], rows, cols, cov_fn: Callable, pairs
) -> tuple[np.ndarray, np.ndarray]:
    """Exact covariance and correlation of pixel pairs of a Gaussian field given the wells.

    ``C(a, b | wells) = C(a, b) - c_a^T K^-1 c_b`` with ``K`` the covariance among wells and
    ``c_a`` the covariances between the wells and pixel ``a`` (simple kriging; the well values
    and the mean do not enter). The covariance is isotropic: ``cov_fn`` of the Euclidean
    pixel distance.

    Parameters
    ----------
    grid_shape : tuple of int
        ``(H, W)`` of the grid.
    rows, cols : np.ndarray of int, shape (m,)
        Well pixels (distinct).
    cov_fn : callable
        ``cov_fn(h) -> C(h)``, vectorised over an array of distances in pixels; field units
        squared.
    pairs : np.ndarray of int, shape (P, 4)
        Pixel pairs ``(row_a, col_a, row_b, col_b)``.

    Returns
    -------
    cov : np.ndarray, shape (P,)
        Conditional covariance (field units squared).
    corr : np.ndarray, shape (P,)
        Conditional correlation (-1..1); NaN where a pixel has no conditional variance (it is
        a well, up to 1e-10 of the prior variance).
    """
    grid_shape = tuple(int(s) for s in grid_shape)
    r, c = _wells(rows, cols, grid_shape)
    p = _pairs(pairs, grid_shape)
    wells = np.stack([r, c], axis=1).astype(float)  # (m, 2)
    a, b = p[:, :2].astype(float), p[:, 2:].astype(float)  # (P, 2) each
    prior_var, chol = _kriging_system(wells, cov_fn)
    c_a, c_b = _eval_cov(cov_fn, _dist(wells, a)), _eval_cov(cov_fn, _dist(wells, b))  # (m, P)
    w_a, w_b = scipy.linalg.cho_solve(chol, c_a), scipy.linalg.cho_solve(chol, c_b)  # K^-1 c
    cov = _eval_cov(cov_fn, np.linalg.norm(a - b, axis=1)) - np.sum(c_a * w_b, axis=0)  # (P,)
    var_a = prior_var - np.sum(c_a * w_a, axis=0)  # (P,)
    var_b = prior_var - np.sum(c_b * w_b, axis=0)
    tiny = 1e-10 * prior_var
    ok = (var_a > tiny) & (var_b > tiny)
    corr = np.full(cov.shape, np.nan)
    corr[ok] = cov[ok] / np.sqrt(var_a[ok] * var_b[ok])
    return cov, corr


def ensemble_correlation(fields, pairs) -> np.ndarray:
    """Pearson correlation across realizations between the two pixels of each pair.

    Parameters
    ----------
    fields : np.ndarray of float, shape (n, H, W), n >= 3
        Realizations.
    pairs : np.ndarray of int, shape (P, 4)
        Pixel pairs ``(row_a, col_a, row_b, col_b)``.

    Returns
    -------
    np.ndarray, shape (P,)
        Correlation (-1..1); NaN where a pixel does not vary across the ensemble.
    """
    arr = _stack(fields, min_n=3, allow_2d=False)
    p = _pairs(pairs, arr.shape[1:])
    za = arr[:, p[:, 0], p[:, 1]].astype(float, copy=False)  # (n, P)
    zb = arr[:, p[:, 2], p[:, 3]].astype(float, copy=False)
    za -= za.mean(axis=0)
    zb -= zb.mean(axis=0)
    denom = np.sqrt(np.sum(za**2, axis=0) * np.sum(zb**2, axis=0))  # (P,)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, np.sum(za * zb, axis=0) / denom, np.nan)


def _pairs_at_lag(grid_shape, lag: int, is_well: np.ndarray) -> np.ndarray:
    """All (row_a, col_a, row_b, col_b) pairs at distance ``lag`` along x or y, off the wells."""
    h, w = grid_shape
    rr, cc = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")  # (H, W)
    blocks = []
    if lag < w:  # along x
        blocks.append(np.stack([rr[:, :-lag], cc[:, :-lag], rr[:, lag:], cc[:, lag:]], -1))
    if lag < h:  # along y
        blocks.append(np.stack([rr[:-lag], cc[:-lag], rr[lag:], cc[lag:]], -1))
    pairs = np.concatenate([b.reshape(-1, 4) for b in blocks])  # (P, 4)
    keep = ~is_well[pairs[:, 0], pairs[:, 1]] & ~is_well[pairs[:, 2], pairs[:, 3]]
    return pairs[keep]


def conditional_correlation_check(
    fields,
    rows,
    cols,
    cov_fn: Callable,
    lags: Sequence[int] = (1, 3, 6, 12),
    n_pairs: int = 200,
    seed: int = 0,
) -> dict:
    """Exact vs ensemble conditional correlation at random pixel pairs, per lag.

    For each lag, draws ``n_pairs`` random pixel pairs that distance apart along x or y,
    neither pixel a well, and compares the exact simple-kriging conditional correlation of
    a Gaussian field with covariance ``cov_fn`` (:func:`simple_kriging_conditional_covariance`)
    to the correlation across the ensemble (:func:`ensemble_correlation`). An ensemble of exact
    conditional samples has errors near zero, ~(1 - rho^2) / sqrt(n) per pair.

    Parameters
    ----------
    fields : np.ndarray of float, shape (n, H, W), n >= 3
        Realizations conditioned to the wells.
    rows, cols : np.ndarray of int, shape (m,)
        Well pixels.
    cov_fn : callable
        Covariance of distance in pixels, vectorised.
    lags : sequence of int, default (1, 3, 6, 12)
        Lags in pixels; each must be smaller than H or W.
    n_pairs : int, default 200
        Pairs per lag (fewer if the grid has fewer).
    seed : int, default 0
        Seed of the pair draw.

    Returns
    -------
    dict
        ``"lags"`` (L,) pixels; ``"exact"`` and ``"ensemble"`` (L,) correlations averaged over
        the pairs; ``"abs_error"`` (L,) ``|exact - ensemble|`` of those averages;
        ``"pair_abs_error"`` (L,) mean over pairs of the per-pair absolute error.
    """
    arr = _stack(fields, min_n=3, allow_2d=False)
    grid = arr.shape[1:]
    r, c = _wells(rows, cols, grid)
    if n_pairs < 1:
        raise InputError(f"n_pairs={n_pairs}: give at least 1.")
    is_well = np.zeros(grid, dtype=bool)  # (H, W)
    is_well[r, c] = True
    rng = np.random.default_rng(seed)
    lags = np.asarray(lags, dtype=int)
    out = {k: np.empty(lags.size) for k in ("exact", "ensemble", "abs_error", "pair_abs_error")}
    for i, lag in enumerate(lags):
        if not 1 <= lag < max(grid):
            raise InputError(f"lag {lag}: must be between 1 and {max(grid) - 1} pixels.")
        candidates = _pairs_at_lag(grid, int(lag), is_well)  # (P_all, 4)
        if len(candidates) == 0:
            raise InputError(f"lag {lag}: every pixel pair at this lag touches a well.")
        pick = rng.choice(len(candidates), size=min(n_pairs, len(candidates)), replace=False)
        pairs = candidates[pick]
        exact = simple_kriging_conditional_covariance(grid, r, c, cov_fn, pairs)[1]  # (P,)
        ens = ensemble_correlation(arr, pairs)  # (P,)
        out["exact"][i], out["ensemble"][i] = exact.mean(), ens.mean()
        out["abs_error"][i] = abs(exact.mean() - ens.mean())
        out["pair_abs_error"][i] = np.mean(np.abs(exact - ens))
    return {"lags": lags, **out}


def _pixels_by_distance(
    grid: tuple[int, int], r: np.ndarray, c: np.ndarray, edges, n_pixels: int, seed: int
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Up to ``n_pixels`` random non-well pixels and their distance bins to the nearest well.

    Returns the edges with ``inf`` appended, the pixels ``(P, 2)`` and one mask ``(P,)`` per
    bin ``(edges[i], edges[i + 1]]``.
    """
    edges = np.asarray([*edges, np.inf], dtype=float)
    if edges.ndim != 1 or edges.size < 3 or np.any(np.diff(edges) <= 0) or edges[0] < 0:
        raise InputError(f"edges={edges[:-1].tolist()}: give at least 2 increasing distances >= 0.")
    if n_pixels < 1:
        raise InputError(f"n_pixels={n_pixels}: give at least 1.")
    is_well = np.zeros(grid, dtype=bool)  # (H, W)
    is_well[r, c] = True
    free = np.argwhere(~is_well)  # (P_all, 2)
    if len(free) == 0:
        raise InputError("every pixel is a well: nothing to compare.")
    pick = np.random.default_rng(seed).choice(len(free), min(n_pixels, len(free)), replace=False)
    px = free[np.sort(pick)]  # (P, 2)
    near = scipy.spatial.cKDTree(np.stack([r, c], axis=1)).query(px)[0]  # (P,) to nearest well
    bins = [(near > lo) & (near <= hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    return edges, px, bins


def conditional_spread_check(
    fields,
    rows,
    cols,
    cov_fn: Callable,
    edges: Sequence[float] = (0, 1.5, 3, 6, 12, 24),
    n_pixels: int = 4000,
    seed: int = 0,
) -> dict:
    """Ensemble standard deviation against the exact simple-kriging one, by distance to the
    nearest well.

    A correct conditional simulator of a Gaussian field with covariance ``cov_fn`` has, at
    every pixel, the standard deviation of simple kriging there, ``sqrt(C(0) - c^T K^-1 c)``
    (:func:`simple_kriging_conditional_covariance`): small next to a well, the prior's far
    from all. An ensemble can have the right mean spread (:func:`ensemble_spread`) and still
    hold the field too tightly beside the wells and too loosely between them; this check
    shows it, and with it why held-out wells fall outside the ensemble's interval.

    Parameters
    ----------
    fields : np.ndarray of float, shape (n, H, W), n >= 3
        Realizations conditioned to the wells.
    rows, cols : np.ndarray of int, shape (m,)
        Well pixels.
    cov_fn : callable
        Covariance of distance in pixels, vectorised, in field units squared.
    edges : sequence of float, default (0, 1.5, 3, 6, 12, 24)
        Distance bins (pixels): ``(edges[i], edges[i + 1]]``, the last one open-ended. Well
        pixels (distance 0) are left out.
    n_pixels : int, default 4000
        Non-well pixels drawn at random to compare (all of them on a smaller grid).
    seed : int, default 0
        Seed of the pixel draw.

    Returns
    -------
    dict
        ``"edges"`` (B + 1,) with ``inf`` last; per bin (B,): ``"pixels"`` compared,
        ``"exact_std"`` and ``"ensemble_std"`` (root mean variance over its pixels, field
        units) and ``"ratio"`` (ensemble / exact; NaN for an empty bin); ``"mean_abs_error"``,
        the mean of ``|ratio - 1|`` over the bins that hold pixels.
    """
    arr = _stack(fields, min_n=3, allow_2d=False)
    grid = arr.shape[1:]
    r, c = _wells(rows, cols, grid)
    edges, px, bins = _pixels_by_distance(grid, r, c, edges, n_pixels, seed)
    prior_var, c_p, w = _kriging_weights(r, c, cov_fn, px)
    exact_var = prior_var - np.sum(c_p * w, axis=0)  # (P,) simple-kriging variance
    ens_var = arr[:, px[:, 0], px[:, 1]].var(axis=0, ddof=1)  # (P,)
    n_bins = edges.size - 1
    out = {k: np.full(n_bins, np.nan) for k in ("exact_std", "ensemble_std", "ratio")}
    out["pixels"] = np.array([int(sel.sum()) for sel in bins])
    for i, sel in enumerate(bins):
        if sel.any():
            out["exact_std"][i] = np.sqrt(max(exact_var[sel].mean(), 0.0))
            out["ensemble_std"][i] = np.sqrt(ens_var[sel].mean())
            if out["exact_std"][i] > 0:
                out["ratio"][i] = out["ensemble_std"][i] / out["exact_std"][i]
    held = np.isfinite(out["ratio"])
    mean_abs = float(np.mean(np.abs(out["ratio"][held] - 1))) if held.any() else float("nan")
    return {"edges": edges, **out, "mean_abs_error": mean_abs}


def conditional_mean_check(
    fields,
    rows,
    cols,
    values,
    cov_fn: Callable,
    mean: float = 0.0,
    edges: Sequence[float] = (0, 1.5, 3, 6, 12, 24),
    n_pixels: int = 4000,
    seed: int = 0,
) -> dict:
    """Ensemble mean against the exact simple-kriging mean, in kriging standard deviations, by
    distance to the nearest well.

    A correct conditional simulator of a Gaussian field with known mean and covariance is
    centred, at every pixel, on the simple-kriging estimate (:func:`simple_kriging`). The mean
    of ``n`` realizations misses it by a bias ``b`` and by sampling error:
    ``E[(ensemble mean - estimate)^2] = b^2 + s^2 / n`` with ``s^2`` the ensemble's own
    variance at the pixel. Subtracting the sample estimate of ``s^2 / n`` leaves an unbiased
    estimate of ``b^2`` whatever the ensemble's spread; in kriging variances, and averaged over
    the pixels of a bin, its square root is the RMS bias in kriging stds. A biased conditional
    mean puts held-out values outside the ensemble's interval more often than its level says,
    even where the ensemble has the kriging std (:func:`conditional_spread_check`).

    Parameters
    ----------
    fields : np.ndarray of float, shape (n, H, W), n >= 3
        Realizations conditioned to the wells.
    rows, cols : np.ndarray of int, shape (m,)
        Well pixels.
    values : np.ndarray of float, shape (m,)
        Well values.
    cov_fn : callable
        Covariance of distance in pixels, vectorised, in field units squared.
    mean : float, default 0.0
        The field's known mean.
    edges : sequence of float, default (0, 1.5, 3, 6, 12, 24)
        Distance bins (pixels): ``(edges[i], edges[i + 1]]``, the last one open-ended. Well
        pixels are left out.
    n_pixels : int, default 4000
        Non-well pixels drawn at random to compare (all of them on a smaller grid); the same
        pixels as :func:`conditional_spread_check`'s for the same seed. Pixels whose kriging
        variance is under 1e-6 of the prior's (rounding noise beside the wells of a very
        smooth covariance) are left out and counted.
    seed : int, default 0
        Seed of the pixel draw.

    Returns
    -------
    dict
        ``"edges"`` (B + 1,) with ``inf`` last; per bin (B,): ``"pixels"`` compared, ``"z2"``
        (mean over its pixels of ``(ensemble mean - estimate)^2 / kriging variance``),
        ``"sampling_z2"`` (the part of it an unbiased ensemble of this spread has,
        ``s^2 / (n kriging variance)``) and ``"bias"`` (``sqrt(max(z2 - sampling_z2, 0))``:
        the RMS bias in kriging stds; NaN for an empty bin); over the binned pixels:
        ``"rms_bias"`` likewise; ``"slope"`` and ``"shift"``, the least-squares line
        ``ensemble mean - mean = shift + slope (estimate - mean)`` (1 and 0 for an exact
        simulator: below 1 the ensemble follows the wells too weakly, ``shift`` in field units
        is an offset; what the line leaves is pattern error; NaN under 2 distinct estimates);
        ``"left_out"``, the pixels dropped for a vanishing kriging variance.
    """
    arr = _stack(fields, min_n=3, allow_2d=False)
    grid = arr.shape[1:]
    r, c, v = _wells(rows, cols, grid, values)
    if not np.isfinite(mean):
        raise InputError(f"mean={mean}: give the field's finite mean.")
    edges, px, bins = _pixels_by_distance(grid, r, c, edges, n_pixels, seed)
    estimate, variance = simple_kriging(grid, r, c, v, cov_fn, px, mean=mean)
    ok = variance > 1e-6 * float(_eval_cov(cov_fn, np.zeros(1))[0])  # (P,)
    ens = arr[:, px[:, 0], px[:, 1]]  # (n, P)
    safe = np.where(ok, variance, 1.0)
    z2 = (ens.mean(axis=0) - estimate) ** 2 / safe  # (P,)
    sampling = ens.var(axis=0, ddof=1) / (arr.shape[0] * safe)  # (P,)

    def bias(sel: np.ndarray) -> tuple[float, float, float]:
        if not sel.any():
            return np.nan, np.nan, np.nan
        a, b = float(z2[sel].mean()), float(sampling[sel].mean())
        return a, b, float(np.sqrt(max(a - b, 0.0)))

    per_bin = np.array([bias(sel & ok) for sel in bins])  # (B, 3)
    binned = np.any(bins, axis=0) & ok
    x, y = estimate[binned] - mean, ens.mean(axis=0)[binned] - mean  # (P',)
    slope = shift = np.nan
    if x.size >= 2 and np.ptp(x) > 0:
        slope, shift = np.polyfit(x, y, 1)
    return {
        "edges": edges,
        "pixels": np.array([int((sel & ok).sum()) for sel in bins]),
        "z2": per_bin[:, 0],
        "sampling_z2": per_bin[:, 1],
        "bias": per_bin[:, 2],
        "rms_bias": bias(binned)[2],
        "slope": float(slope),
        "shift": float(shift),
        "left_out": int((~ok).sum()),
    }


# --------------------------------------------------------------------------- leave-wells-out


def split_wells(n_wells: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Randomly split well indices into kept (conditioning) and held-out (validation) wells.

    Parameters
    ----------
    n_wells : int
        Number of wells.
    k : int
        Number of wells held out, ``1 <= k < n_wells``.
    seed : int, default 0
        Random seed.

    Returns
    -------
    keep_idx : np.ndarray of int, shape (n_wells - k,)
        Sorted indices of the conditioning wells.
    holdout_idx : np.ndarray of int, shape (k,)
        Sorted indices of the held-out wells.
    """
    if not 1 <= k < n_wells:
        raise InputError(
            f"cannot hold out k={k} of {n_wells} wells; k must be between 1 and n_wells - 1."
        )
    perm = np.random.default_rng(seed).permutation(n_wells)
    return np.sort(perm[k:]), np.sort(perm[:k])


def coverage(fields, rows, cols, values, interval: tuple[float, float] = (0.05, 0.95)) -> float:
    """Share of held-out well values inside the ensemble's per-pixel quantile interval.

    The interval runs from the ``interval[0]`` to the ``interval[1]`` quantile of the
    realizations at each held-out pixel (``np.quantile``, linear), bounds included. A calibrated
    ensemble gives ``interval[1] - interval[0]`` (0.90 by default); less means overconfident
    (too narrow), more means underconfident. With n realizations the expected value of a
    perfect ensemble is about ``(interval[1] - interval[0]) (n - 1) / (n + 1)``.

    Parameters
    ----------
    fields : np.ndarray of float, shape (n, H, W), n >= 2
        Realizations conditioned to the kept wells only.
    rows, cols : np.ndarray of int, shape (m,)
        Held-out well pixels.
    values : np.ndarray of float, shape (m,)
        Held-out well values.
    interval : tuple of float, default (0.05, 0.95)
        Lower and upper quantile levels, ``0 <= lo < hi <= 1``.

    Returns
    -------
    float
        Fraction of held-out values covered (0..1).
    """
    arr = _stack(fields, min_n=2, allow_2d=False)
    r, c, v = _wells(rows, cols, arr.shape[1:], values)
    lo, hi = interval
    if not 0 <= lo < hi <= 1:
        raise InputError(f"interval={interval!r}: need 0 <= lower < upper <= 1.")
    q = np.quantile(arr[:, r, c], [lo, hi], axis=0)  # (2, m)
    return float(np.mean((v >= q[0]) & (v <= q[1])))


def brier_score(fields, rows, cols, values, codes) -> float:
    """Multi-class Brier score of the ensemble's facies probabilities at held-out wells.

    ``mean over wells of sum_k (p_k - 1[value = k])^2`` with ``p_k`` the share of realizations
    showing facies ``k`` at the well pixel. Unitless, 0 (certain and right) to 2 (certain and
    wrong); an ensemble that always splits two facies 50/50 scores 0.5.

    Parameters
    ----------
    fields : np.ndarray of int, shape (n, H, W), n >= 2
        Facies realizations conditioned to the kept wells only.
    rows, cols : np.ndarray of int, shape (m,)
        Held-out well pixels.
    values : np.ndarray of int, shape (m,)
        Held-out facies codes.
    codes : sequence of int, length K
        All facies codes.

    Returns
    -------
    float
        Brier score.
    """
    arr = _stack(fields, min_n=2, allow_2d=False)
    if not _is_categorical(arr):
        raise InputError(f"fields has dtype {arr.dtype}; the Brier score needs facies codes.")
    codes = _codes(codes)
    _check_codes_cover(arr, codes, "fields")
    r, c, v = _wells(rows, cols, arr.shape[1:], values)
    unknown = np.flatnonzero(~np.isin(v, codes))
    if unknown.size:
        i = int(unknown[0])
        raise ConstraintError(f"well {i}: value {v[i]} is not one of codes={codes.tolist()}.")
    at_wells = arr[:, r, c]  # (n, m)
    probs = np.stack([np.mean(at_wells == k, axis=0) for k in codes])  # (K, m)
    truth = (v[None, :] == codes[:, None]).astype(float)  # (K, m)
    return float(np.mean(np.sum((probs - truth) ** 2, axis=0)))
