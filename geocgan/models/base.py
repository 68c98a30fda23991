"""The model contract every GAN in geocgan implements.

The trainer, the sampler, checkpointing and the command line only use these methods, so
models are interchangeable (the habit of pix2pix/CycleGAN's ``BaseModel``, kept small):

- ``train_step(real, generator)``: one optimisation step on a batch of *encoded* fields
  ``(B, K, H, W)``; returns a dict of scalar loss tensors (no host sync).
- ``generate(z, cond)``: a batch of encoded realizations ``(B, K, H, W)``.
- ``noise_shapes(height, width)``: shapes of the per-realization noise tensors.
- ``check_grid(height, width)``: raise ``GridError`` if the nets cannot take that grid.
- ``canvas(height, width)``: the grid the nets generate for this one and where it sits in it
  (a ``geocgan.constraints.Canvas``).
- ``nets`` / ``optimizers``: dicts of name -> module / optimizer, for checkpoints.
- ``config`` (a dataclass) and ``spec`` (a ``FieldSpec``): all a checkpoint needs to rebuild it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, ClassVar

import torch
from torch import nn

from geocgan.constraints import Canvas, FieldSpec


class GANModel(nn.Module):
    """Base class: holds ``config``, ``spec``, ``nets`` and ``optimizers``."""

    name: ClassVar[str]
    config_class: ClassVar[type]

    def __init__(self, config: Any, spec: FieldSpec):
        super().__init__()
        self.config, self.spec = config, spec
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    @property
    def nets(self) -> dict[str, nn.Module]:
        return dict(self.named_children())

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def describe(self) -> dict:
        """What a checkpoint stores to rebuild this model without the original command line."""
        return {"model": self.name, "config": asdict(self.config), "field": self.spec.to_dict()}

    # -- the contract -----------------------------------------------------------------

    def train_step(self, real: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def generate(self, z: list[torch.Tensor], cond: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    compiled: bool = False  # True once compile_generator() ran

    def compile_generator(self) -> None:
        """From now on, generate through ``torch.compile`` (optional for a model)."""
        raise NotImplementedError(f"{self.name} cannot compile its generator")

    def noise_shapes(self, height: int, width: int) -> list[tuple[int, ...]]:
        raise NotImplementedError

    def check_grid(self, height: int, width: int) -> None:
        raise NotImplementedError

    def canvas(self, height: int, width: int) -> Canvas:
        """The grid the nets generate for a ``(height, width)`` grid, which it holds; GridError
        if none."""
        raise NotImplementedError
