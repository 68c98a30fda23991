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


def _check_shape(func: str, shape: object) -> tuple[int, int]:
    if not (
        isinstance(shape, (tuple, list))
        and len(shape) == 2
        and all(_is_int(s) and s > 0 for s in shape)
    ):
        raise InputError(
            f"{func}: shape must be two positive integers (rows, columns), got {shape!r}. "
            f"Pass e.g. shape=(128, 256)."
        )
    return int(shape[0]), int(shape[1])


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
