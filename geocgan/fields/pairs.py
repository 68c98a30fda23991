"""Paired and unpaired translation data, made here and seeded.

Every function returns ``(inputs, targets)`` (or the two domains) as float32 arrays
``(n, H, W)`` (or ``(n, C, H, W)``), a function of its arguments alone:

- ``facies_permeability``: channel facies → log10 permeability, a log-normal field per
  facies built on one shared Gaussian field, so it stays correlated across facies
  boundaries (swap the pair for the reverse task, segmentation);
- ``coarse_fine``: a block-mean coarse field → the fine Gaussian field (downscaling);
- ``edges_images``: Canny edges (scikit-image) of Fashion-MNIST images → the images;
- ``missing_pixels``: a field with all but ``density`` of its pixels missing (two bands:
  values, 0 where missing, and the mask) → the full field;
- ``two_styles``: unpaired Gaussian fields of two anisotropy directions; item ``i`` of both
  comes from the same white noise, the hidden pairing kept for scoring only.
"""

from __future__ import annotations

import numpy as np

from geocgan.errors import InputError
from geocgan.fields.channels import channel_field
from geocgan.fields.gaussian import gaussian_field

# log10 permeability (mD) per facies: mean and standard deviation (floodplain, channel, levee)
PERM_LOG10 = {0: (0.0, 0.4), 1: (2.5, 0.3), 2: (1.2, 0.35)}


def block_mean(fields: np.ndarray, factor: int) -> np.ndarray:
    """Means over ``factor x factor`` blocks of fields ``(n, H, W)`` (sides multiples of it)."""
    n, h, w = fields.shape
    return fields.reshape(n, h // factor, factor, w // factor, factor).mean((2, 4))


def facies_permeability(
    n: int, shape: tuple[int, int] = (64, 64), *, n_facies: int = 2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Facies codes ``(n, H, W)`` and their log10 permeability (mD) ``(n, H, W)``.

    Facies from ``channel_field`` (sinuous channels of random orientation); the
    permeability of facies ``f`` is ``10 ** (m_f + s_f g)`` (``PERM_LOG10``), with ``g`` one
    standard Gaussian field (exponential covariance, 8 px) shared by all facies.
    """
    rng = np.random.default_rng(seed)
    facies = np.stack(
        [
            channel_field(
                shape,
                n_facies=n_facies,
                orientation=float(rng.uniform(0, 180)),
                seed=int(rng.integers(2**31)),
            )
            for _ in range(n)
        ]
    ).astype(np.float32)
    g = gaussian_field(shape, len_scale=8.0, n=n, seed=int(rng.integers(2**31)))
    logk = np.zeros(facies.shape, np.float32)
    for f in range(n_facies):
        m, s = PERM_LOG10[f]
        logk = np.where(facies == f, m + s * g, logk)
    return facies, logk.astype(np.float32)


def coarse_fine(
    n: int, shape: tuple[int, int] = (64, 64), *, factor: int = 4, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Coarse block means ``(n, H/f, W/f)`` and the fine Gaussian fields ``(n, H, W)``
    (exponential covariance, 10 px)."""
    if shape[0] % factor or shape[1] % factor:
        raise InputError(f"grid {shape} is not a multiple of the factor {factor}")
    fine = gaussian_field(shape, len_scale=10.0, n=n, seed=seed).astype(np.float32)
    return block_mean(fine, factor).astype(np.float32), fine


def edges_images(
    images: np.ndarray, *, sigma: float = 1.0, size: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Canny edges ``(n, size, size)`` (0/1) of grey images ``(n, h, w)`` and the images
    scaled to [0, 1], both padded with background to ``size``."""
    from skimage.feature import canny

    im = np.asarray(images, np.float32)
    im = im / max(float(im.max()), 1e-12)
    n, h, w = im.shape
    top, left = (size - h) // 2, (size - w) // 2
    if top < 0 or left < 0:
        raise InputError(f"images {h}x{w} do not fit size {size}")
    out = np.zeros((n, size, size), np.float32)
    out[:, top : top + h, left : left + w] = im
    edges = np.stack([canny(x, sigma=sigma) for x in out]).astype(np.float32)
    return edges, out


def missing_pixels(
    n: int, shape: tuple[int, int] = (64, 64), *, density: float = 0.005, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``(n, 2, H, W)`` — the field's values at ``density`` of its pixels (0
    elsewhere) and the mask of those pixels — and the full fields ``(n, H, W)``
    (exponential covariance, 12 px)."""
    if not 0 < density < 1:
        raise InputError(f"density {density}: give a share in (0, 1)")
    full = gaussian_field(shape, len_scale=12.0, n=n, seed=seed).astype(np.float32)
    rng = np.random.default_rng(seed + 1)
    k = max(1, round(density * shape[0] * shape[1]))
    mask = np.zeros((n, shape[0] * shape[1]), np.float32)
    for i in range(n):
        mask[i, rng.choice(mask.shape[1], k, replace=False)] = 1
    mask = mask.reshape(full.shape)
    return np.stack([full * mask, mask], 1), full


def two_styles(
    n: int, shape: tuple[int, int] = (64, 64), *, anisotropy: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Domain A: Gaussian fields elongated along x; domain B: the same white noise elongated
    along y ``(n, H, W)`` each (Gaussian covariance, 16 px major axis): A[i] and B[i] are
    the hidden pair."""
    kw = {"model": "gaussian", "len_scale": 16.0, "anisotropy": anisotropy, "n": n, "seed": seed}
    a = gaussian_field(shape, angle=0.0, **kw)
    b = gaussian_field(shape, angle=90.0, **kw)
    return a.astype(np.float32), b.astype(np.float32)
