"""Stationary Gaussian random fields by circulant embedding (the spectral/FFT method).

The covariance is evaluated on a periodic grid (a torus) larger than the requested one, its
FFT gives the eigenvalues of the circulant covariance matrix, and white noise filtered by
their square root has exactly that covariance on the torus. The requested grid is cut from a
corner; padding by at least the grid size (and ~3 practical ranges) makes every lag inside the
grid a true lag, so the field is not periodic at the grid scale.

Conventions
-----------
- Distances are in pixels. ``x`` is the column index and ``y`` points up the rows (north-up
  raster, as ``imshow`` draws it): ``y = -row``. Angles are degrees counter-clockwise from ``x``.
- ``len_scale`` conventions: exponential ``C(h) = variance * exp(-h / len_scale)`` (as GSTools;
  practical range ``3 * len_scale``), spherical with range ``len_scale`` (as GSTools), gaussian
  ``variance * exp(-(h / len_scale)**2)`` (GSTools has an extra pi/4 in the exponent), matern32
  ``variance * (1 + s) exp(-s)`` with ``s = sqrt(3) h / len_scale`` (Rasmussen & Williams;
  GSTools scales by sqrt(1.5) instead).
- Realization ``k`` is drawn from ``np.random.SeedSequence([seed, k])``, so it does not depend on
  how many realizations are asked for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from scipy import fft

from geocgan.errors import InputError


def _exponential(r: np.ndarray) -> np.ndarray:
    return np.exp(-r)


def _gaussian(r: np.ndarray) -> np.ndarray:
    return np.exp(-(r * r))


def _spherical(r: np.ndarray) -> np.ndarray:
    return np.where(r < 1.0, 1.0 - 1.5 * r + 0.5 * r**3, 0.0)


def _matern32(r: np.ndarray) -> np.ndarray:
    s = math.sqrt(3.0) * r
    return (1.0 + s) * np.exp(-s)


@dataclass(frozen=True)
class CovarianceModel:
    """A unit-variance correlation function of ``r = h / len_scale``.

    Attributes
    ----------
    correlation : callable
        ``rho(r)`` for ``r >= 0`` (array in, array out), ``rho(0) = 1``.
    practical_range : float
        Lag, in units of ``len_scale``, where ``rho`` falls to about 0.05 (spherical: 0 at 1).
    """

    correlation: Callable[[np.ndarray], np.ndarray]
    practical_range: float


COVARIANCE_MODELS: dict[str, CovarianceModel] = {
    "exponential": CovarianceModel(_exponential, 3.0),
    "gaussian": CovarianceModel(_gaussian, math.sqrt(3.0)),
    "spherical": CovarianceModel(_spherical, 1.0),
    "matern32": CovarianceModel(_matern32, 4.7439 / math.sqrt(3.0)),  # (1 + s) e^-s = 0.05
}


def covariance(
    model: str, h: np.ndarray | float, len_scale: float, variance: float = 1.0
) -> np.ndarray:
    """Covariance ``C(h)`` of a stationary isotropic model (vectorised).

    Parameters
    ----------
    model : str
        One of ``COVARIANCE_MODELS``: "exponential", "gaussian", "spherical", "matern32".
    h : array_like of float
        Lag distance(s), same unit as ``len_scale`` (pixels for the generators); the sign is
        ignored (covariances are even).
    len_scale : float
        Length scale (> 0); see the module docstring for each model's convention.
    variance : float, default 1.0
        Sill, ``C(0)``.

    Returns
    -------
    numpy.ndarray of float64
        ``C(h)``, same shape as ``h``.
    """
    _check_model(model)
    _check_positive("covariance", "len_scale", len_scale, "the correlation length, e.g. 16.0")
    r = np.abs(np.asarray(h, dtype=np.float64)) / len_scale
    return variance * COVARIANCE_MODELS[model].correlation(r)


def gaussian_field(
    shape: tuple[int, int],
    *,
    model: str = "exponential",
    len_scale: float = 16.0,
    variance: float = 1.0,
    mean: float = 0.0,
    anisotropy: float = 1.0,
    angle: float = 0.0,
    n: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Stationary Gaussian random field(s) on an ``(H, W)`` pixel grid (circulant embedding).

    Parameters
    ----------
    shape : (int, int)
        Grid size ``(H, W)`` in pixels (rows, columns); any positive sizes.
    model : str, default "exponential"
        Covariance model, one of ``COVARIANCE_MODELS``.
    len_scale : float, default 16.0
        Length scale along the major axis, pixels (> 0).
    variance : float, default 1.0
        Field variance (> 0).
    mean : float, default 0.0
        Field mean.
    anisotropy : float, default 1.0
        Ratio minor / major length scale, in (0, 1].
    angle : float, default 0.0
        Direction of the major axis, degrees counter-clockwise from ``x`` (columns, north-up).
    n : int or None, default None
        Number of realizations; None gives a single ``(H, W)`` field.
    seed : int, default 0
        Non-negative seed; realization ``k`` uses ``SeedSequence([seed, k])``.

    Returns
    -------
    numpy.ndarray of float32
        ``(H, W)`` if ``n`` is None, else ``(n, H, W)``.

    Raises
    ------
    InputError
        Unknown model or an out-of-range parameter.
    """
    height, width = _check_shape("gaussian_field", shape)
    _check_model(model)
    _check_positive("gaussian_field", "len_scale", len_scale, "the correlation length, e.g. 16.0")
    _check_positive("gaussian_field", "variance", variance, "the field variance, e.g. 1.0")
    _check_finite("gaussian_field", "mean", mean)
    _check_finite("gaussian_field", "angle", angle)
    if not (_is_number(anisotropy) and 0.0 < anisotropy <= 1.0):
        raise InputError(
            f"gaussian_field: anisotropy must be in (0, 1] (minor / major length), got "
            f"{anisotropy!r}. For a longer minor axis swap the axes with angle += 90."
        )
    count = _check_n("gaussian_field", n)
    _check_seed("gaussian_field", seed)

    root_eig = _root_spectrum(height, width, model, len_scale, anisotropy, angle)  # (Mh, Mw//2+1)
    embed = (root_eig.shape[0], 2 * (root_eig.shape[1] - 1))  # (Mh, Mw)
    scale = math.sqrt(variance)
    out = np.empty((count, height, width), dtype=np.float32)  # (n, H, W)
    for k, rng in enumerate(realization_rngs(seed, count)):
        noise = rng.standard_normal(embed)  # (Mh, Mw) white noise
        z = fft.irfft2(root_eig * fft.rfft2(noise), s=embed)  # (Mh, Mw), unit variance
        out[k] = mean + scale * z[:height, :width]
    return out[0] if n is None else out


def gaussian_field_3d(
    shape: tuple[int, int, int],
    *,
    model: str = "exponential",
    len_scale: float = 16.0,
    variance: float = 1.0,
    mean: float = 0.0,
    anisotropy: tuple[float, float] = (1.0, 1.0),
    angles: tuple[float, float, float] = (0.0, 0.0, 0.0),
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    n: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Stationary Gaussian random field(s) on a ``(D, H, W)`` voxel grid (circulant embedding).

    Voxel ``(k, i, j)`` sits at ``x = j * dx``, ``y = -i * dy`` (north-up rows) and
    ``z = -k * dz`` (layer 0 on top, ``z`` up), with ``(dz, dy, dx) = spacing``.

    Parameters
    ----------
    shape : (int, int, int)
        Grid size ``(D, H, W)`` in voxels (layers top down, rows, columns).
    model : str, default "exponential"
        Covariance model, one of ``COVARIANCE_MODELS``.
    len_scale : float, default 16.0
        Length scale along the major axis, in the units of ``spacing`` (> 0).
    variance, mean : float
        Field variance (> 0) and mean.
    anisotropy : (float, float), default (1.0, 1.0)
        Ratios ``(minor / major, vertical / major)`` of the length scales, each in (0, 1].
    angles : (float, float, float), default (0, 0, 0)
        ``(azimuth, dip, rake)`` in degrees: the major axis points ``azimuth`` degrees
        counter-clockwise from ``x`` and dips ``dip`` degrees below the horizontal; ``rake``
        turns the minor and vertical axes about the major one (counter-clockwise looking down
        the major axis).
    spacing : (float, float, float), default (1, 1, 1)
        Voxel size ``(dz, dy, dx)`` (> 0); anisotropic voxels (``dz != dx``) are allowed.
    n : int or None, default None
        Number of realizations; None gives a single ``(D, H, W)`` field.
    seed : int, default 0
        Non-negative seed; realization ``k`` uses ``SeedSequence([seed, k])``.

    Returns
    -------
    numpy.ndarray of float32
        ``(D, H, W)`` if ``n`` is None, else ``(n, D, H, W)``.

    Raises
    ------
    InputError
        Unknown model or an out-of-range parameter.
    """
    func = "gaussian_field_3d"
    depth, height, width = _check_shape(func, shape, ndim=3)
    _check_model(model)
    _check_positive(func, "len_scale", len_scale, "the correlation length, e.g. 16.0")
    _check_positive(func, "variance", variance, "the field variance, e.g. 1.0")
    _check_finite(func, "mean", mean)
    ratios = _check_triple(func, "anisotropy", anisotropy, 2, "e.g. (0.5, 0.1)")
    if not all(0.0 < a <= 1.0 for a in ratios):
        raise InputError(
            f"{func}: anisotropy ratios must be in (0, 1] (minor / major, vertical / major), "
            f"got {anisotropy!r}. Orient the longest axis with angles instead."
        )
    azimuth, dip, rake = _check_triple(func, "angles", angles, 3, "(azimuth, dip, rake)")
    steps = _check_triple(func, "spacing", spacing, 3, "the voxel size (dz, dy, dx)")
    if not all(s > 0 for s in steps):
        raise InputError(
            f"{func}: spacing must be three numbers > 0 (dz, dy, dx), got {spacing!r}."
        )
    count = _check_n(func, n)
    _check_seed(func, seed)

    axes = _principal_axes(azimuth, dip, rake)  # (3, 3): major, minor, vertical (x, y, z)
    range_len = COVARIANCE_MODELS[model].practical_range * len_scale
    sizes = [_embedding_size(m, range_len / s) for m, s in zip(shape, steps, strict=True)]
    lags = np.meshgrid(
        *(np.fft.fftfreq(m, 1.0 / m) * s for m, s in zip(sizes, steps, strict=True)),
        indexing="ij",
        sparse=True,
    )  # signed torus lags along (layer, row, col), each broadcastable to (Md, Mh, Mw)
    h = (lags[2], -lags[1], -lags[0])  # (x, y, z): rows point down y, layers down z
    along = [sum(a[c] * h[c] for c in range(3)) for a in axes]  # 3 x (Md, Mh, Mw)
    lag = np.sqrt(along[0] ** 2 + (along[1] / ratios[0]) ** 2 + (along[2] / ratios[1]) ** 2)
    root_eig = np.sqrt(np.clip(fft.rfftn(covariance(model, lag, len_scale)).real, 0.0, None))
    scale = math.sqrt(variance)
    out = np.empty((count, depth, height, width), dtype=np.float32)  # (n, D, H, W)
    for k, rng in enumerate(realization_rngs(seed, count)):
        noise = rng.standard_normal(sizes)  # (Md, Mh, Mw) white noise
        z = fft.irfftn(root_eig * fft.rfftn(noise), s=sizes)  # (Md, Mh, Mw), unit variance
        out[k] = mean + scale * z[:depth, :height, :width]
    return out[0] if n is None else out


def _principal_axes(azimuth: float, dip: float, rake: float) -> np.ndarray:
    """Unit major, minor and vertical axes as rows ``(3, 3)`` of (x, y, z) components."""
    a, d, r = (math.radians(v) for v in (azimuth, dip, rake))
    major = np.array([math.cos(a) * math.cos(d), math.sin(a) * math.cos(d), -math.sin(d)])
    minor0 = np.array([-math.sin(a), math.cos(a), 0.0])
    vertical0 = np.cross(major, minor0)
    minor = math.cos(r) * minor0 + math.sin(r) * vertical0
    vertical = -math.sin(r) * minor0 + math.cos(r) * vertical0
    return np.stack([major, minor, vertical])


def _root_spectrum(
    height: int, width: int, model: str, len_scale: float, anisotropy: float, angle: float
) -> np.ndarray:
    """Square root of the circulant eigenvalues (unit variance), shape ``(Mh, Mw // 2 + 1)``."""
    range_px = COVARIANCE_MODELS[model].practical_range * len_scale
    m_rows, m_cols = _embedding_size(height, range_px), _embedding_size(width, range_px)
    drow = np.fft.fftfreq(m_rows, 1.0 / m_rows)[:, None]  # (Mh, 1) signed lags on the torus
    dx = np.fft.fftfreq(m_cols, 1.0 / m_cols)[None, :]  # (1, Mw)
    dy = -drow  # north-up: y points up the rows
    theta = math.radians(angle)
    along = dx * math.cos(theta) + dy * math.sin(theta)  # (Mh, Mw) lag along the major axis
    across = -dx * math.sin(theta) + dy * math.cos(theta)  # (Mh, Mw) lag along the minor axis
    lag = np.hypot(along, across / anisotropy)  # (Mh, Mw) isotropic-equivalent lag
    eig = fft.rfft2(covariance(model, lag, len_scale)).real  # (Mh, Mw//2+1), real: C is even
    return np.sqrt(np.clip(eig, 0.0, None))  # clip the small negative eigenvalues


def _embedding_size(n_pix: int, range_px: float) -> int:
    """Torus size: grid + padding of 3 practical ranges, at least the grid, at most 3 grids."""
    pad = min(max(n_pix, math.ceil(3.0 * range_px)), 3 * n_pix)
    return fft.next_fast_len(n_pix + pad, real=True)


# -- shared helpers (also used by channels.py) ------------------------------------------------


def realization_rngs(seed: int, count: int) -> Iterator[np.random.Generator]:
    """One generator per realization ``k``, from ``SeedSequence([seed, k])`` (independent of n)."""
    for k in range(count):
        yield np.random.default_rng(np.random.SeedSequence([seed, k]))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_shape(func: str, shape: object, ndim: int = 2) -> tuple[int, ...]:
    if not (
        isinstance(shape, (tuple, list))
        and len(shape) == ndim
        and all(_is_int(s) and s > 0 for s in shape)
    ):
        if ndim == 3:
            raise InputError(
                f"{func}: shape must be three positive integers (layers, rows, columns), got "
                f"{shape!r}. Pass e.g. shape=(32, 64, 64)."
            )
        raise InputError(
            f"{func}: shape must be two positive integers (rows, columns), got {shape!r}. "
            f"Pass e.g. shape=(128, 256)."
        )
    return tuple(int(s) for s in shape)


def _check_triple(func: str, name: str, value: object, size: int, hint: str) -> tuple[float, ...]:
    """``size`` finite numbers as floats, or an InputError naming the parameter."""
    if not (
        isinstance(value, (tuple, list))
        and len(value) == size
        and all(_is_number(v) and math.isfinite(v) for v in value)
    ):
        raise InputError(
            f"{func}: {name} must be {size} finite numbers, got {value!r}. Pass {hint}."
        )
    return tuple(float(v) for v in value)


def _check_model(model: object) -> None:
    if model not in COVARIANCE_MODELS:
        raise InputError(
            f"unknown covariance model {model!r}; valid models are: "
            f"{', '.join(sorted(COVARIANCE_MODELS))}."
        )


def _check_finite(func: str, name: str, value: object) -> None:
    if not (_is_number(value) and math.isfinite(value)):
        raise InputError(f"{func}: {name} must be a finite number, got {value!r}.")


def _check_positive(func: str, name: str, value: object, hint: str) -> None:
    if not (_is_number(value) and math.isfinite(value) and value > 0):
        raise InputError(f"{func}: {name} must be a finite number > 0, got {value!r}. Pass {hint}.")


def _check_n(func: str, n: object) -> int:
    if n is None:
        return 1
    if not (_is_int(n) and n > 0):
        raise InputError(
            f"{func}: n must be a positive integer (number of realizations) or None, got {n!r}."
        )
    return int(n)


def _check_seed(func: str, seed: object) -> None:
    if not (_is_int(seed) and seed >= 0):
        raise InputError(f"{func}: seed must be a non-negative integer, got {seed!r}.")
