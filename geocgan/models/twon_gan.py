"""The 2N-GAN: a discriminator that classifies into 2N classes, "real class k" and "fake
class k".

G takes the label (one-hot or embedded, concatenated to ``z``); D sees the image only and
gives 2N logits. D's targets: ``k`` for a real image of class ``k``, ``N + k`` for a fake
made for class ``k``; G's target for its fake of class ``k``: ``k`` ("real class k"). With
the non-saturating loss (``loss="ns"``) both are the 2N-way softmax cross-entropy; the 2N-way
softmax factors into a real/fake logit and a class softmax within each half
(``geocgan.models.losses.twon_split``), and ``hinge``/``ls`` replace the real/fake part.
The same targets, with a separate real/fake head, make the auxiliary discriminative
classifier of ADC-GAN (Hou et al. 2022).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from geocgan.models.base import Batch
from geocgan.models.image_gan import (
    IMAGE_PARAMS,
    LABEL_PARAMS,
    ImageGAN,
    LabelledConfig,
)
from geocgan.models.losses import twon_d_loss, twon_g_loss


@dataclass
class TwoNGANConfig(LabelledConfig):
    __doc__ = "Settings of the 2N-GAN.\n\n    Parameters\n    ----------" + (
        IMAGE_PARAMS + LABEL_PARAMS
    )


class TwoNGAN(ImageGAN):
    """2N-GAN: D classifies real class k against fake class k."""

    name = "twon-gan"
    config_class = TwoNGANConfig
    labelled = True

    def __init__(self, config: TwoNGANConfig, spec):
        super().__init__(config, spec)
        self.build("conv", d_outputs=2 * config.n_classes)

    def train_step(self, batch: Batch, generator) -> dict[str, torch.Tensor]:
        c = self.config
        return self.gan_step(
            batch,
            generator,
            lambda r, f, y: twon_d_loss(r, y, f, y, c.loss),
            lambda f, y: twon_g_loss(f, y, c.loss),
        )
