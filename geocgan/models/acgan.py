"""The auxiliary classifier GAN of Odena, Olah and Shlens (2017).

G takes the label (one-hot or embedded, concatenated to ``z``); D sees the image only and
has two heads on one body: a real/fake logit and K class logits. D minimises the adversarial
loss plus ``lam_cls`` times the class cross-entropy on real images (their labels) and on
fakes (the labels they were made for); G its adversarial loss plus ``lam_cls`` times the
class cross-entropy of its fakes (``geocgan.models.losses.acgan_d_loss``/``acgan_g_loss``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from geocgan.errors import InputError
from geocgan.models.base import Batch
from geocgan.models.image_gan import (
    IMAGE_PARAMS,
    LABEL_PARAMS,
    ImageGAN,
    LabelledConfig,
)
from geocgan.models.losses import acgan_d_loss, acgan_g_loss


@dataclass
class ACGANConfig(LabelledConfig):
    __doc__ = (
        "Settings of ACGAN.\n\n    Parameters\n    ----------"
        + IMAGE_PARAMS
        + LABEL_PARAMS
        + """
    lam_cls : float
        Weight of the auxiliary class cross-entropy, in D's loss and in G's.
"""
    )
    lam_cls: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.lam_cls < 0:
            raise InputError(f"lam_cls must be >= 0, got {self.lam_cls}")


class ACGAN(ImageGAN):
    """Auxiliary classifier GAN (Odena et al. 2017): D also classifies."""

    name = "acgan"
    config_class = ACGANConfig
    labelled = True

    def __init__(self, config: ACGANConfig, spec):
        super().__init__(config, spec)
        self.build("conv", d_outputs=1 + config.n_classes)

    def train_step(self, batch: Batch, generator) -> dict[str, torch.Tensor]:
        c = self.config
        return self.gan_step(
            batch,
            generator,
            lambda r, f, y: acgan_d_loss(r, y, f, y, c.loss, c.lam_cls),
            lambda f, y: acgan_g_loss(f, y, c.loss, c.lam_cls),
        )
