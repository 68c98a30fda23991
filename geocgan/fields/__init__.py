"""Synthetic training images: Gaussian random fields and channelized facies.

``FIELD_GENERATORS`` maps a generator name to its function; each takes ``shape`` plus keyword
parameters (``seed``, ``n``, ...) and returns ``(H, W)`` or ``(n, H, W)`` arrays;
``FIELD_GENERATORS_3D`` likewise for volumes, ``(D, H, W)`` or ``(n, D, H, W)``.
"""

from geocgan.fields.channels import channel_field, channel_field_3d
from geocgan.fields.gaussian import (
    COVARIANCE_MODELS,
    covariance,
    gaussian_field,
    gaussian_field_3d,
)

FIELD_GENERATORS = {"gaussian": gaussian_field, "channels": channel_field}
FIELD_GENERATORS_3D = {"gaussian": gaussian_field_3d, "channels": channel_field_3d}

__all__ = [
    "COVARIANCE_MODELS",
    "FIELD_GENERATORS",
    "FIELD_GENERATORS_3D",
    "channel_field",
    "channel_field_3d",
    "covariance",
    "gaussian_field",
    "gaussian_field_3d",
]
