"""The conditional GAN of Mirza and Osindero (2014): MLP nets, the label given to both.

``G(z, y)`` sees ``z`` with the label's one-hot vector (or embedding) concatenated; ``D(x,
y)`` the flattened image with the one-hot label concatenated (or, ``d_label="projection"``,
a projection of the label on its features, Miyato & Koyama 2018). The adversarial loss is
the config's ``loss``; fakes are made for the real batch's labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from geocgan.models.base import Batch
from geocgan.models.image_gan import IMAGE_PARAMS, LABEL_PARAMS, ImageGAN, LabelledConfig

D_LABEL_PARAMS = """
    d_label : {"concat", "projection"}
        How D takes the label: concatenated to its input, or projected on its features.
"""


@dataclass
class CGANConfig(LabelledConfig):
    __doc__ = (
        "Settings of the conditional GAN (Mirza & Osindero).\n\n    Parameters\n    ----------"
        + IMAGE_PARAMS
        + LABEL_PARAMS
        + D_LABEL_PARAMS
        + """
    dropout : float
        Dropout after each hidden layer of D (Mirza & Osindero used 0.5).
"""
    )
    ngf: int = 256
    ndf: int = 256
    d_label: Literal["concat", "projection"] = "concat"
    dropout: float = 0.3


class CGAN(ImageGAN):
    """Conditional GAN with MLP nets (Mirza & Osindero 2014)."""

    name = "cgan"
    config_class = CGANConfig
    labelled = True
    arch: ClassVar[str] = "mlp"

    def __init__(self, config, spec):
        super().__init__(config, spec)
        self.build(self.arch, d_label=config.d_label, dropout=getattr(config, "dropout", 0.0))

    def train_step(self, batch: Batch, generator):
        return self.adversarial_step(batch, generator)
