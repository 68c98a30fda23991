"""Synthetic training images: Gaussian random fields and channelized facies.

``FIELD_GENERATORS`` maps a generator name to its function; each takes ``shape`` plus keyword
parameters (``seed``, ``n``, ...) and returns ``(H, W)`` or ``(n, H, W)`` arrays.
"""

from geocgan.fields.channels import channel_field
from geocgan.fields.gaussian import COVARIANCE_MODELS, covariance, gaussian_field

FIELD_GENERATORS = {"gaussian": gaussian_field, "channels": channel_field}

__all__ = ["COVARIANCE_MODELS", "FIELD_GENERATORS", "channel_field", "covariance", "gaussian_field"]
