"""The DCGAN of Radford, Metz and Chintala (2016): an unconditional convolutional GAN.

``G(z)`` makes an image from a normal vector; ``D(x)`` gives one real/fake logit; the
adversarial loss is the config's ``loss``. Nets: ``geocgan.models.class_nets`` (conv).
"""

from __future__ import annotations

from dataclasses import dataclass

from geocgan.models.base import Batch
from geocgan.models.image_gan import IMAGE_PARAMS, ImageGAN, ImageGANConfig


@dataclass
class DCGANConfig(ImageGANConfig):
    __doc__ = "Settings of the DCGAN.\n\n    Parameters\n    ----------" + IMAGE_PARAMS


class DCGAN(ImageGAN):
    """Unconditional DCGAN (Radford et al. 2016)."""

    name = "dcgan"
    config_class = DCGANConfig

    def __init__(self, config: DCGANConfig, spec):
        super().__init__(config, spec)
        self.build("conv")

    def train_step(self, batch: Batch, generator):
        return self.adversarial_step(batch, generator)
