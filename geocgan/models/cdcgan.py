"""The conditional DCGAN: the DCGAN's convolutional nets with the label given to G and D.

G takes ``z`` with the label's one-hot vector (or embedding); D takes the image with K
one-hot label maps as extra channels (or, ``d_label="projection"``, a projection of the
label on its features). Otherwise as ``geocgan.models.cgan``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from geocgan.models.cgan import CGAN, D_LABEL_PARAMS
from geocgan.models.image_gan import IMAGE_PARAMS, LABEL_PARAMS, LabelledConfig


@dataclass
class CDCGANConfig(LabelledConfig):
    __doc__ = (
        "Settings of the conditional DCGAN.\n\n    Parameters\n    ----------"
        + IMAGE_PARAMS
        + LABEL_PARAMS
        + D_LABEL_PARAMS
    )
    d_label: Literal["concat", "projection"] = "concat"


class CDCGAN(CGAN):
    """Conditional DCGAN: convolutional nets, the label given to G and D."""

    name = "cdcgan"
    config_class = CDCGANConfig
    arch = "conv"
