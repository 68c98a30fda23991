"""Classical conditional simulators (GSTools, geone) behind one signature, for benchmarks.

Every peer takes a grid ``(H, W)``, well pixels ``rows, cols, values`` (pixel units, row 0 at
the top, one well per pixel) and returns a :class:`PeerRun` with ``n`` realizations and timings.

Gaussian peers simulate a stationary field with mean ``mean`` and the exponential covariance
in the GSTools convention, ``C(h) = variance * exp(-h / len_scale)`` (h in pixels). geone writes
the same model as ``w * exp(-3 h / r)`` with ``r`` the *practical* range, so ``r = 3 * len_scale``
(:func:`geone_covariance_model`). Channels are simulated by multiple-point statistics (DeeSse) on
a categorical training image.

Timing protocol (:func:`timed_runs`): the peer is set up and makes one warm-up realization
(``setup_s``, which holds the one-off kriging of GSTools), then makes ``max(repeats,
ceil(n / n_per_call))`` timed calls of ``n_per_call`` realizations each (1 for GSTools, whose
``CondSRF`` draws one field a call; ``ceil(n / repeats)`` for geone, which draws many a call).
Timed call ``i`` is seeded with ``seed + i * n_per_call``; geone gives realization ``j`` of a call
the seed ``seed + j``, so no two realizations share a seed.

The peers are an optional extra (``pip install geocgan[peers]``): their modules are imported
inside the functions, and a missing one raises :class:`PeerMissingError`.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from geocgan.errors import ConstraintError, GeocganError, GridError, InputError

PEERS_INSTALL_HINT = "pip install geocgan[peers]"


class PeerMissingError(GeocganError, ImportError):
    """A classical peer's Python package (gstools, geone) is not installed."""


@dataclass
class PeerRun:
    """Realizations and timings of one peer on one case.

    Attributes
    ----------
    name : str
        Peer name, a key of :data:`PEERS`.
    realizations : np.ndarray
        (n, H, W) float32 values (Gaussian peers) or integer facies codes (DeeSse).
    setup_s : float
        Seconds for the one-off set-up plus one warm-up realization (holds the kriging of
        the whole grid for GSTools; geone caches nothing between calls).
    times_s : list[float]
        Wall time in seconds of each timed call, after the warm-up.
    per_realization_s : float
        Median over timed calls of (call time / realizations per call), seconds.
    n_per_call : int
        Realizations made by each timed call.
    """

    name: str
    realizations: np.ndarray
    setup_s: float
    times_s: list[float]
    per_realization_s: float
    n_per_call: int


def _import_peer_module(module: str, peer: str) -> Any:
    """Import ``module`` for ``peer`` or raise :class:`PeerMissingError` with the install hint."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise PeerMissingError(
            f"the classical peer {peer} needs the Python package '{module}', which cannot be "
            f"imported ({err}); install the optional peers with: {PEERS_INSTALL_HINT}"
        ) from err


def gstools_covariance_model(len_scale: float = 16.0, variance: float = 1.0) -> Any:
    """GSTools exponential model ``C(h) = variance * exp(-h / len_scale)``, h in pixels.

    Parameters
    ----------
    len_scale : float, default 16.0
        Correlation length in pixels (the practical range is 3 * len_scale).
    variance : float, default 1.0
        Sill.

    Returns
    -------
    gstools.Exponential
        Two-dimensional isotropic model.
    """
    gs = _import_peer_module("gstools", "gstools_condsrf")
    return gs.Exponential(dim=2, var=variance, len_scale=len_scale)


def geone_covariance_model(len_scale: float = 16.0, variance: float = 1.0) -> Any:
    """geone model equal to :func:`gstools_covariance_model` (same parameters, same function).

    geone's exponential is ``w * exp(-3 h / r)`` with the practical range ``r``, so
    ``r = 3 * len_scale`` in both directions gives ``variance * exp(-h / len_scale)``.

    Parameters
    ----------
    len_scale : float, default 16.0
        Correlation length in pixels, GSTools convention.
    variance : float, default 1.0
        Sill.

    Returns
    -------
    geone.covModel.CovModel2D
        Two-dimensional isotropic model.
    """
    gcm = _import_peer_module("geone.covModel", "geone_sgs, geone_fft")
    practical_range = 3.0 * len_scale
    return gcm.CovModel2D(
        elem=[("exponential", {"w": variance, "r": [practical_range, practical_range]})]
    )


def _check_grid_and_wells(
    grid_shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray, values: np.ndarray
) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray]:
    """Validate the grid and the wells; return ``H, W`` and int rows, int cols, float values."""
    if len(grid_shape) != 2 or any(int(s) != s or s < 2 for s in grid_shape):
        raise GridError(
            f"grid_shape {tuple(grid_shape)} is not a 2-D grid (H, W) of whole numbers >= 2; "
            "pass e.g. grid_shape=(64, 64)"
        )
    height, width = int(grid_shape[0]), int(grid_shape[1])
    rows_f = np.asarray(rows, dtype=float).reshape(-1)  # (k,)
    cols_f = np.asarray(cols, dtype=float).reshape(-1)  # (k,)
    values = np.asarray(values, dtype=float).reshape(-1)  # (k,)
    if not len(rows_f) == len(cols_f) == len(values):
        raise ConstraintError(
            f"wells: rows, cols and values have lengths {len(rows_f)}, {len(cols_f)}, "
            f"{len(values)}; give one row, col and value per well"
        )
    if len(values) == 0:
        raise ConstraintError("no wells were given; give at least one (row, col, value)")
    for i, (r, c, v) in enumerate(zip(rows_f, cols_f, values, strict=True)):
        if not (r == np.round(r) and c == np.round(c)):
            raise ConstraintError(
                f"well {i} is at (row {r}, col {c}), not at a pixel; give whole pixel indices"
            )
        if not (0 <= r < height and 0 <= c < width):
            raise ConstraintError(
                f"well {i} at (row {r:.0f}, col {c:.0f}) lies outside the {height}x{width} grid; "
                "drop it or enlarge the grid"
            )
        if not np.isfinite(v):
            raise ConstraintError(
                f"well {i} at (row {r:.0f}, col {c:.0f}) has value {v}; "
                "give a finite value or drop the well"
            )
    rows_i, cols_i = rows_f.astype(np.int64), cols_f.astype(np.int64)  # (k,), (k,)
    flat = rows_i * width + cols_i  # (k,)
    _, first, counts = np.unique(flat, return_index=True, return_counts=True)
    if np.any(counts > 1):
        i = int(first[np.argmax(counts > 1)])
        twin = int(np.flatnonzero(flat == flat[i])[1])
        raise ConstraintError(
            f"wells {i} and {twin} fall in the same pixel (row {rows_i[i]}, col {cols_i[i]}); "
            "keep one value per pixel"
        )
    return height, width, rows_i, cols_i, values


def _check_counts(n: int, repeats: int) -> None:
    """Raise :class:`InputError` unless ``n`` and ``repeats`` are positive integers."""
    for name, count in (("n", n), ("repeats", repeats)):
        if int(count) != count or count < 1:
            raise InputError(f"{name}={count} must be a whole number >= 1")


def timed_runs(
    name: str,
    build: Callable[[], Callable[[int, int], np.ndarray]],
    *,
    n: int,
    n_per_call: int,
    repeats: int,
    seed: int,
    warmup: int = 1,
) -> PeerRun:
    """Set up a peer, warm it up, time its calls and gather ``n`` realizations.

    Parameters
    ----------
    name : str
        Peer name.
    build : callable
        Does the one-off set-up and returns ``simulate(seed, k) -> (k, H, W) array``.
    n, n_per_call, repeats, seed : int
        Realizations wanted, realizations per timed call, minimum timed calls, base seed.
    warmup : int
        Realizations of the warm-up call (``n_per_call`` where the first call of a size does
        one-off work, as compiling does).
    """
    start = time.perf_counter()
    simulate = build()
    simulate(seed, warmup)  # warm-up, discarded
    setup_s = time.perf_counter() - start
    outputs, times_s = [], []
    for call in range(max(repeats, math.ceil(n / n_per_call))):
        start = time.perf_counter()
        outputs.append(simulate(seed + call * n_per_call, n_per_call))  # (n_per_call, H, W)
        times_s.append(time.perf_counter() - start)
    return PeerRun(
        name=name,
        realizations=np.concatenate(outputs)[:n],  # (n, H, W)
        setup_s=setup_s,
        times_s=times_s,
        per_realization_s=statistics.median(t / n_per_call for t in times_s),
        n_per_call=n_per_call,
    )


@contextlib.contextmanager
def _gstools_threads(gs: Any, nthreads: int) -> Iterator[None]:
    """Run GSTools with ``nthreads`` OpenMP threads, then restore its global setting."""
    previous = gs.config.NUM_THREADS
    gs.config.NUM_THREADS = nthreads
    try:
        yield
    finally:
        gs.config.NUM_THREADS = previous


@contextlib.contextmanager
def _legacy_numpy_seed(seed: int) -> Iterator[None]:
    """Seed numpy's global RNG (used by geone.grf) for a block, then restore its state."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def gstools_condsrf(
    grid_shape: tuple[int, int],
    rows: np.ndarray,
    cols: np.ndarray,
    values: np.ndarray,
    *,
    len_scale: float = 16.0,
    variance: float = 1.0,
    mean: float = 0.0,
    n: int,
    seed: int,
    repeats: int = 3,
    nthreads: int = 2,
) -> PeerRun:
    """GSTools ``CondSRF``: simple kriging (known mean) plus a scaled unconditional field.

    GSTools draws an unconditional field by the randomization method and returns
    ``kriged mean + sqrt(kriging variance / variance) * field``: pixel variances are right and
    the wells are honored (up to ~1e-7), but the pixel-to-pixel correlation is not that of a
    conditional Gaussian field. The kriging of the grid is done once (in ``setup_s``) and reused.

    Parameters
    ----------
    grid_shape : tuple of int
        (H, W) pixels.
    rows, cols : np.ndarray
        (k,) well pixel indices.
    values : np.ndarray
        (k,) well values.
    len_scale : float, default 16.0
        Correlation length in pixels, ``C(h) = variance * exp(-h / len_scale)``.
    variance : float, default 1.0
        Sill.
    mean : float, default 0.0
        Known stationary mean (simple kriging).
    n : int
        Realizations to return.
    seed : int
        Base seed; realization ``i`` is seeded with ``seed + i``.
    repeats : int, default 3
        Minimum number of timed calls (one realization each; ``max(n, repeats)`` are made).
    nthreads : int, default 2
        OpenMP threads of GSTools (``gstools.config.NUM_THREADS``).

    Returns
    -------
    PeerRun
        ``realizations`` (n, H, W) float32.
    """
    gs = _import_peer_module("gstools", "gstools_condsrf")
    height, width, rows, cols, values = _check_grid_and_wells(grid_shape, rows, cols, values)
    _check_counts(n, repeats)

    def build() -> Callable[[int, int], np.ndarray]:
        krige = gs.krige.Simple(
            gstools_covariance_model(len_scale, variance),
            cond_pos=[rows.astype(float), cols.astype(float)],
            cond_val=values,
            mean=mean,
        )
        cond_srf = gs.CondSRF(krige)
        cond_srf.set_pos(
            [np.arange(height, dtype=float), np.arange(width, dtype=float)], "structured"
        )

        def simulate(call_seed: int, k: int) -> np.ndarray:
            fields = [cond_srf(seed=call_seed + j) for j in range(k)]  # k x (H, W)
            return np.stack(fields).astype(np.float32)  # (k, H, W)

        return simulate

    with _gstools_threads(gs, nthreads):
        return timed_runs("gstools_condsrf", build, n=n, n_per_call=1, repeats=repeats, seed=seed)


def _geone_data_coords(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(k, 2) geone (x, y) coordinates of pixel centres: x = col + 0.5, y = row + 0.5.

    geone images are indexed ``val[..., iy, ix]``, so with this mapping geone's ``(iy, ix)`` is
    our ``(row, col)`` and its arrays need no flip.
    """
    return np.column_stack([cols + 0.5, rows + 0.5])  # (k, 2)


def geone_sgs(
    grid_shape: tuple[int, int],
    rows: np.ndarray,
    cols: np.ndarray,
    values: np.ndarray,
    *,
    len_scale: float = 16.0,
    variance: float = 1.0,
    mean: float = 0.0,
    n: int,
    seed: int,
    repeats: int = 3,
    nneighbor_max: int = 24,
    search_radius_relative: float = 1.2,
    nthreads: int = 2,
) -> PeerRun:
    """geone sequential Gaussian simulation, simple kriging with the known mean; exact at wells.

    Calls ``geone.geosclassicinterface.simulate`` (geone 1.3.4; ``simulate2D`` is deprecated).
    Search neighbourhood: each pixel is kriged from at most ``nneighbor_max`` previously
    simulated pixels or wells, the closest ones, inside a disc of radius
    ``search_radius_relative * 3 * len_scale`` pixels (1.2 x 48 = 57.6 px by default).

    Parameters
    ----------
    grid_shape, rows, cols, values, len_scale, variance, mean, n, seed, repeats
        As in :func:`gstools_condsrf`; each timed call makes ``ceil(n / repeats)``
        realizations, realization ``j`` of a call seeded with ``seed + j``.
    nneighbor_max : int, default 24
        Maximum number of conditioning points in each kriging system.
    search_radius_relative : float, default 1.2
        Search radius as a multiple of the practical range ``3 * len_scale``.
    nthreads : int, default 2
        Threads of the Geos-Classic C library (one process).

    Returns
    -------
    PeerRun
        ``realizations`` (n, H, W) float32.
    """
    gci = _import_peer_module("geone.geosclassicinterface", "geone_sgs")
    height, width, rows, cols, values = _check_grid_and_wells(grid_shape, rows, cols, values)
    _check_counts(n, repeats)

    def build() -> Callable[[int, int], np.ndarray]:
        cov_model = geone_covariance_model(len_scale, variance)
        coords = _geone_data_coords(rows, cols)  # (k, 2)

        def simulate(call_seed: int, k: int) -> np.ndarray:
            output = gci.simulate(
                cov_model,
                (width, height),
                spacing=(1.0, 1.0),
                origin=(0.0, 0.0),
                method="simple_kriging",
                x=coords,
                v=values,
                mean=mean,
                searchRadiusRelative=search_radius_relative,
                nneighborMax=nneighbor_max,
                seed=call_seed,
                nreal=k,
                nproc=1,
                nthreads_per_proc=nthreads,
                verbose=0,
            )
            return output["image"].val[:, 0].astype(np.float32)  # (k, H, W)

        return simulate

    return timed_runs(
        "geone_sgs", build, n=n, n_per_call=math.ceil(n / repeats), repeats=repeats, seed=seed
    )


def geone_fft(
    grid_shape: tuple[int, int],
    rows: np.ndarray,
    cols: np.ndarray,
    values: np.ndarray,
    *,
    len_scale: float = 16.0,
    variance: float = 1.0,
    mean: float = 0.0,
    n: int,
    seed: int,
    repeats: int = 3,
) -> PeerRun:
    """geone FFT (circulant embedding) field plus the simple-kriged residual; exact at wells.

    Calls ``geone.grf.grf2D``: an unconditional field ``Z`` is drawn on a grid extended by the
    range (no wrap-around correlation), then ``Z + C_BA C_AA^-1 (data - Z_A)`` is returned, so
    the wells are honored exactly and the conditional covariance is exact. grf2D draws from
    numpy's global RNG: it is seeded per call and its state is restored afterwards. It has no
    thread option (numpy FFT).

    Parameters
    ----------
    grid_shape, rows, cols, values, len_scale, variance, mean, n, seed, repeats
        As in :func:`geone_sgs`.

    Returns
    -------
    PeerRun
        ``realizations`` (n, H, W) float32.
    """
    grf = _import_peer_module("geone.grf", "geone_fft")
    height, width, rows, cols, values = _check_grid_and_wells(grid_shape, rows, cols, values)
    _check_counts(n, repeats)

    def build() -> Callable[[int, int], np.ndarray]:
        cov_model = geone_covariance_model(len_scale, variance)
        coords = _geone_data_coords(rows, cols)  # (k, 2)

        def simulate(call_seed: int, k: int) -> np.ndarray:
            with _legacy_numpy_seed(call_seed):
                fields = grf.grf2D(
                    cov_model,
                    (width, height),
                    spacing=(1.0, 1.0),
                    origin=(0.0, 0.0),
                    x=coords,
                    v=values,
                    mean=mean,
                    nreal=k,
                    verbose=0,
                )  # (k, H, W)
            return fields.astype(np.float32)

        return simulate

    return timed_runs(
        "geone_fft", build, n=n, n_per_call=math.ceil(n / repeats), repeats=repeats, seed=seed
    )


def geone_deesse(
    ti: np.ndarray,
    grid_shape: tuple[int, int],
    rows: np.ndarray,
    cols: np.ndarray,
    values: np.ndarray,
    *,
    n: int,
    seed: int,
    repeats: int = 3,
    nneighboringNode: int = 24,  # geone's parameter names
    distanceThreshold: float = 0.05,
    maxScanFraction: float = 0.25,
    nthreads: int = 2,
) -> PeerRun:
    """geone DeeSse multiple-point simulation of facies codes; well facies are hard data.

    Parameters
    ----------
    ti : np.ndarray
        (H_ti, W_ti) integer facies codes of the training image, same orientation as the grid.
    grid_shape : tuple of int
        (H, W) pixels of the simulation grid.
    rows, cols : np.ndarray
        (k,) well pixel indices.
    values : np.ndarray
        (k,) well facies codes; each must occur in ``ti``.
    n, seed, repeats
        As in :func:`geone_sgs` (DeeSse seeds realization ``j`` of a call with ``seed + j``).
    nneighboringNode : int, default 24
        Maximum number of informed nodes in each pattern.
    distanceThreshold : float, default 0.05
        Acceptance threshold on the (categorical) pattern distance, fraction of mismatches.
    maxScanFraction : float, default 0.25
        Maximum fraction of the training image scanned for each pixel.
    nthreads : int, default 2
        Threads of the DeeSse C library.

    Returns
    -------
    PeerRun
        ``realizations`` (n, H, W) with the dtype of ``ti``.
    """
    gimg = _import_peer_module("geone.img", "geone_deesse")
    gdi = _import_peer_module("geone.deesseinterface", "geone_deesse")
    ti = np.asarray(ti)
    if ti.ndim != 2 or not np.issubdtype(ti.dtype, np.integer):
        raise InputError(
            f"training image has shape {ti.shape} and dtype {ti.dtype}; give a 2-D array "
            "(H_ti, W_ti) of integer facies codes"
        )
    height, width, rows, cols, values = _check_grid_and_wells(grid_shape, rows, cols, values)
    codes = np.unique(ti)
    for i, v in enumerate(values):
        if v not in codes:
            raise ConstraintError(
                f"well {i} at (row {rows[i]}, col {cols[i]}) has facies code {v:g}, which does "
                f"not occur in the training image (codes {codes.tolist()}); fix the well or "
                "the training image"
            )
    _check_counts(n, repeats)

    def build() -> Callable[[int, int], np.ndarray]:
        ti_height, ti_width = ti.shape
        ti_img = gimg.Img(
            ti_width,
            ti_height,
            1,
            1.0,
            1.0,
            1.0,
            0.0,
            0.0,
            0.0,
            nv=1,
            val=ti[None, None].astype(float),
            varname=["facies"],
        )  # val (1, 1, H_ti, W_ti)
        coords = _geone_data_coords(rows, cols)  # (k, 2)
        hard_data = gimg.PointSet(
            npt=len(values),
            nv=4,
            val=np.vstack([coords.T, np.full(len(values), 0.5), values]),  # (4, k): x, y, z, v
            varname=["X", "Y", "Z", "facies"],
        )

        def simulate(call_seed: int, k: int) -> np.ndarray:
            deesse_input = gdi.DeesseInput(
                nx=width,
                ny=height,
                nz=1,
                nv=1,
                varname=["facies"],
                TI=ti_img,
                dataPointSet=[hard_data],
                distanceType=["categorical"],
                nneighboringNode=[nneighboringNode],
                distanceThreshold=[distanceThreshold],
                maxScanFraction=[maxScanFraction],
                seed=call_seed,
                nrealization=k,
            )
            output = gdi.deesseRun(deesse_input, nthreads=nthreads, verbose=0)
            sims = np.stack([img.val[0, 0] for img in output["sim"]])  # (k, H, W)
            return np.rint(sims).astype(ti.dtype)

        return simulate

    return timed_runs(
        "geone_deesse", build, n=n, n_per_call=math.ceil(n / repeats), repeats=repeats, seed=seed
    )


PEERS: dict[str, Callable[..., PeerRun]] = {
    "gstools_condsrf": gstools_condsrf,
    "geone_sgs": geone_sgs,
    "geone_fft": geone_fft,
    "geone_deesse": geone_deesse,
}
"""Peer name -> wrapper. Gaussian peers take ``(grid_shape, rows, cols, values)``; DeeSse
takes the training image first."""

_PEER_MODULES = {
    "gstools_condsrf": "gstools",
    "geone_sgs": "geone",
    "geone_fft": "geone",
    "geone_deesse": "geone",
}

_CASE_PEERS = {
    "gaussian": ["gstools_condsrf", "geone_sgs", "geone_fft"],
    "channels": ["geone_deesse"],
}


def available_peers() -> dict[str, bool]:
    """Whether each peer of :data:`PEERS` can run (its package imports).

    Returns
    -------
    dict of str to bool
        Peer name -> importable.
    """
    available = {}
    for name, module in _PEER_MODULES.items():
        try:
            _import_peer_module(module, name)
            available[name] = True
        except PeerMissingError:
            available[name] = False
    return available


def peer_names_for(case: str) -> list[str]:
    """Peers that simulate a benchmark case.

    Parameters
    ----------
    case : {"gaussian", "channels"}
        Benchmark case.

    Returns
    -------
    list of str
        Keys of :data:`PEERS`.
    """
    if case not in _CASE_PEERS:
        raise InputError(f"unknown benchmark case '{case}'; use one of {sorted(_CASE_PEERS)}")
    return list(_CASE_PEERS[case])
