"""The training recipes of the two models geocgan ships: their data and settings.

* The channel model (``sample_data/channels.safetensors``): binary sinuous channels (code 1)
  in floodplain (0), trained on 128² windows of one 256² training image, mirrored at random
  (:func:`training_image`, :func:`channel_model_config`).
* The Gaussian benchmark model: a stationary Gaussian field with exponential covariance
  (length scale 16 px, variance 1, mean 0), trained on 96² windows of a few large
  unconditional fields (:func:`gaussian_training_images`, :data:`GAUSSIAN_MODEL`).

The workflows that make the sample data, train these models and benchmark them read their
recipe here, so that each is written once.
"""

from __future__ import annotations

import numpy as np

from geocgan.constraints import FieldSpec
from geocgan.fields import channel_field, gaussian_field
from geocgan.models.pixel_cgan import moment_target_of

DENSITY = 0.005  # share of a field's pixels taken as wells (sample data, benchmark, training)

# ----------------------------------------------------------------------- channels

CHANNELS = {"proportion": 0.28, "width": 6.0, "sinuosity": 0.3}  # channel_field settings
CHANNEL_SPEC = FieldSpec("categorical", codes=[0, 1])
CHANNEL_MODEL = {
    "arch": "fcn",
    "lam": 10.0,
    "lam_local": 3.0,
    "lam_moments": 100.0,  # toward the whole training image's proportions (channel_model_config)
    "ngf": 12,
    "ndf": 16,
    "d_layers": 5,
    "nz": 16,
    "lr_g": 5e-4,
    "lr_d": 5e-4,
    "density": DENSITY,
    "ema": 0.999,
    "canvas": 96,  # grids under 96 px a side: the middle of a 96² field (development wells)
}
CHANNEL_PATCH, CHANNEL_FLIP = 128, "xy"  # training windows: side, random mirrors


def training_image() -> np.ndarray:
    """The 256x256 channel training image (seed 1), as in ``sample_data/training_image.tif``.

    Returns
    -------
    numpy.ndarray
        ``(256, 256)`` facies codes, 1 = channel, 0 = floodplain.
    """
    return channel_field((256, 256), seed=1, **CHANNELS)


def channel_model_config(ti: np.ndarray, **changes) -> dict:
    """:data:`CHANNEL_MODEL` (with ``changes``) for training image ``ti``.

    The moment term's target is the whole image's facies proportions: random windows see the
    image's border less often than its inside, which holds more channel (0.33 in 128² windows
    against 0.28 overall).

    Parameters
    ----------
    ti : numpy.ndarray
        ``(H, W)`` facies codes of the training image.
    **changes
        Settings that replace the recipe's.

    Returns
    -------
    dict
        Settings of ``build_model("pixel-cgan", ...)``.
    """
    return {**CHANNEL_MODEL, **changes, "moment_target": moment_target_of([ti], CHANNEL_SPEC)}


# ----------------------------------------------------------------------- Gaussian

GAUSSIAN_FIELD = {"model": "exponential", "len_scale": 16.0, "variance": 1.0}  # mean 0
GAUSSIAN_TRAIN_SEED = 100  # the training fields' seed: not a benchmark truth's
GAUSSIAN_PATCH = 96  # side of the Gaussian model's training patches
GAUSSIAN_MODEL = {
    "arch": "fcn",
    "lam": 30.0,
    "lam_local": 10.0,  # 3x3-neighbourhood term: honor wells by the field around them
    "lam_moments": 10.0,  # batch mean and std on the data's
    "lam_div": 0.3,  # diversity-sensitive term against a too narrow ensemble
    "ngf": 12,
    "ndf": 16,
    "d_layers": 4,
    "nz": 16,
    "lr_g": 5e-4,
    "lr_d": 5e-4,
    "density": DENSITY,
    "ema": 0.999,  # generate with the average of the generator's recent weights
    "canvas": GAUSSIAN_PATCH,  # smaller grids: generated in the middle of a training-patch field
}


def gaussian_training_images(n: int = 4, size: int = 512) -> np.ndarray:
    """The Gaussian model's unconditional training fields (seed 100, not a benchmark truth).

    Parameters
    ----------
    n : int, default 4
        Number of fields.
    size : int, default 512
        Side of each field in pixels.

    Returns
    -------
    numpy.ndarray
        ``(n, size, size)`` fields of :data:`GAUSSIAN_FIELD`.
    """
    return gaussian_field((size, size), **GAUSSIAN_FIELD, n=n, seed=GAUSSIAN_TRAIN_SEED)
