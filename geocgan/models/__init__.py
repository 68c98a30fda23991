"""Models: one contract (``GANModel``), a plain-dict registry, and the networks."""

from __future__ import annotations

from dataclasses import fields

import torch

from geocgan.constraints import FieldSpec
from geocgan.errors import CheckpointError, InputError
from geocgan.models.acgan import ACGAN
from geocgan.models.base import COMMAND_FOR, Batch, GANModel, Latent
from geocgan.models.cdcgan import CDCGAN
from geocgan.models.cgan import CGAN
from geocgan.models.dcgan import DCGAN
from geocgan.models.infogan import InfoGAN
from geocgan.models.pixel_cgan import PixelCGAN, PixelCGANConfig, constraint_loss
from geocgan.models.twon_gan import TwoNGAN
from geocgan.seeds import derive_seed

MODELS: dict[str, type[GANModel]] = {
    m.name: m for m in (PixelCGAN, DCGAN, CGAN, CDCGAN, ACGAN, TwoNGAN, InfoGAN)
}

# image-to-image translation (conditioned on an input raster: `geocgan translate`)
from geocgan.models.cyclegan import CycleGAN  # noqa: E402
from geocgan.models.pix2pix import Pix2Pix  # noqa: E402
from geocgan.models.srgan import SRGAN  # noqa: E402

MODELS.update({m.name: m for m in (Pix2Pix, CycleGAN, SRGAN)})

INIT_STREAM = 2**31 - 2  # the seed stream of initial weights, apart from every epoch's draws


def model_class(name: str) -> type[GANModel]:
    """The registered model ``name``; an unknown one lists the valid names."""
    if name not in MODELS:
        raise InputError(f"model {name!r} is unknown; valid models: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def build_model(
    name: str, config: dict | object, spec: FieldSpec | dict, *, seed: int | None = None
) -> GANModel:
    """Build a registered model from its name, config (dataclass or dict) and field spec.

    With ``seed``, the initial weights are a function of it alone (drawn from a generator
    seeded by ``(seed, INIT_STREAM)``, torch's global generator left as it was); without,
    they come from torch's global generator.
    """
    cls = model_class(name)
    if isinstance(config, dict):
        known = {f.name for f in fields(cls.config_class)}
        extra = set(config) - known
        if extra:
            raise CheckpointError(
                f"config keys {sorted(extra)} are not settings of {name!r}; the file was made "
                "by another version or model"
            )
        config = cls.config_class(**config)
    if isinstance(spec, dict):
        spec = FieldSpec(**spec)
    if seed is None:
        return cls(config, spec)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, INIT_STREAM))
        return cls(config, spec)


__all__ = [
    "COMMAND_FOR",
    "MODELS",
    "Batch",
    "GANModel",
    "Latent",
    "PixelCGAN",
    "PixelCGANConfig",
    "build_model",
    "constraint_loss",
    "model_class",
]
