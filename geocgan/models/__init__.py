"""Models: one contract (``GANModel``), a plain-dict registry, and the networks."""

from __future__ import annotations

from dataclasses import fields

from geocgan.constraints import FieldSpec
from geocgan.errors import CheckpointError, InputError
from geocgan.models.base import GANModel
from geocgan.models.pixel_cgan import PixelCGAN, PixelCGANConfig, constraint_loss

MODELS: dict[str, type[GANModel]] = {PixelCGAN.name: PixelCGAN}


def build_model(name: str, config: dict | object, spec: FieldSpec | dict) -> GANModel:
    """Build a registered model from its name, config (dataclass or dict) and field spec."""
    if name not in MODELS:
        raise InputError(f"model {name!r} is unknown; valid models: {sorted(MODELS)}")
    cls = MODELS[name]
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
    return cls(config, spec)


__all__ = ["MODELS", "GANModel", "PixelCGAN", "PixelCGANConfig", "build_model", "constraint_loss"]
