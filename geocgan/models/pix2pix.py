"""pix2pix (Isola, Zhu, Zhou and Efros 2017): paired image-to-image translation.

A U-Net generator ``G(x)`` and a PatchGAN discriminator ``D(x, y)`` that sees the input
beside the output and judges patches of ``receptive_field`` px. The objective is

    G* = arg min_G max_D  λ_GAN · L_cGAN(G, D) + λ_L1 · E ‖y − G(x)‖₁

with ``L_cGAN`` the cross-entropy GAN loss (D's objective halved, as in the paper) and
``λ_L1 = 100``. The noise is dropout, kept on when generating, so ``-n`` realizations
differ. Here it is a latent part: uniform maps on ``[-1, 1]`` per dropout layer
(``UNet.dropout_shapes``), a unit kept where ``(u + 1) / 2 >= p``, so that realization ``i``
depends only on ``(seed, i)``. Departure: generation uses batch norm's running statistics
(the paper normalises with each test batch), so an output does not depend on the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from geocgan.constraints import FieldSpec
from geocgan.errors import InputError
from geocgan.models.base import Batch, Latent, frozen
from geocgan.models.image_nets import (
    ImageTranslator,
    PatchGAN,
    UNet,
    adam_pair,
    check_receptive_field,
    gan_loss,
)


@dataclass
class Pix2PixConfig:
    """Settings of pix2pix.

    Parameters
    ----------
    ngf, ndf : int
        Width of the generator / discriminator (64 in the paper).
    levels : int
        Downsamplings of the U-Net (8 for the paper's 256² images); sides must be multiples
        of ``2**levels``.
    skips : bool
        U-Net skips; False gives the encoder-decoder of the paper's ablation.
    receptive_field : int
        Side (px) of the patches the discriminator judges: 1 (PixelGAN), 16, 70 or 286.
    lam_l1 : float
        λ_L1, weight of the L1 term (100 in the paper; 0: cGAN alone).
    lam_gan : float
        Weight of the cGAN term (0: L1 alone, D is not trained).
    dropout : float
        Dropout rate of the three innermost decoder layers, the generator's noise (0: none).
    d_conditional : bool
        D sees the input beside the output (the paper's cGAN); False: an unconditional D.
    norm : {"batch", "instance"}
        Normalisation layers.
    lr, beta1 : float
        Adam settings of both nets (2e-4, 0.5 in the paper).
    """

    ngf: int = 64
    ndf: int = 64
    levels: int = 8
    skips: bool = True
    receptive_field: int = 70
    lam_l1: float = 100.0
    lam_gan: float = 1.0
    dropout: float = 0.5
    d_conditional: bool = True
    norm: Literal["batch", "instance"] = "batch"
    lr: float = 2e-4
    beta1: float = 0.5

    def __post_init__(self) -> None:
        check_receptive_field(self.receptive_field)
        if min(self.lam_l1, self.lam_gan) < 0 or not (self.lam_l1 or self.lam_gan):
            raise InputError(
                f"lam_l1={self.lam_l1}, lam_gan={self.lam_gan}: weights are >= 0, one of them > 0"
            )
        if not 0 <= self.dropout < 1:
            raise InputError(f"dropout {self.dropout}: give a rate in [0, 1)")
        if min(self.ngf, self.ndf, self.levels - 1) < 1:
            raise InputError("ngf and ndf must be >= 1, levels >= 2")


class Pix2Pix(ImageTranslator):
    """pix2pix: paired translation, U-Net + PatchGAN, cGAN + L1."""

    name = "pix2pix"
    config_class = Pix2PixConfig
    needs = frozenset({"source"})
    grid_hint = ", or fewer U-Net levels (--set levels=N takes multiples of 2**N)"

    def __init__(self, config: Pix2PixConfig, spec: FieldSpec):
        super().__init__(config, spec)
        cin, cout = spec.source.channels, spec.channels
        n_drop = 3 if config.dropout else 0
        self.G = UNet(cin, cout, config.ngf, config.levels, config.skips, config.norm, n_drop)
        d_in = cout + (cin if config.d_conditional else 0)
        self.D = PatchGAN(d_in, config.ndf, config.receptive_field, config.norm)
        self.multiple = self.G.multiple
        self.min_train_side = max(self.multiple, self.D.min_side)
        self.optimizers = adam_pair(
            self.G.parameters(), self.D.parameters(), config.lr, config.beta1
        )

    def latent(self, height: int, width: int) -> list[Latent]:
        """Uniform maps, one per dropout layer, for the input grid padded to ``multiple``."""
        m = self.multiple
        h, w = -(-height // m) * m, -(-width // m) * m
        if not self.config.dropout:
            return []
        return [Latent(s, "uniform") for s in self.G.dropout_shapes(h, w)]

    def keep_masks(self, z: list[torch.Tensor]) -> list[torch.Tensor] | None:
        """Dropout multipliers from uniform maps on [-1, 1]: 1/(1-p) where kept, else 0."""
        p = self.config.dropout
        return [((u + 1) / 2 >= p).float() / (1 - p) for u in z] if p else None

    def generate(self, z: list[torch.Tensor], cond: torch.Tensor | None) -> torch.Tensor:
        """Encoded outputs ``(B, K, h, w)`` from the encoded input ``cond`` ``(B, Cs, h, w)``
        and the dropout maps ``z`` of ``latent(h, w)``."""
        x, h, w = self.padded(cond)
        return self.activate(self.G(x, self.keep_masks(z)))[..., :h, :w]

    def _d(self, src: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        return self.D(torch.cat([src, out], 1) if self.config.d_conditional else out)

    def train_step(self, batch: Batch, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """One D step, then one G step, on encoded pairs ``source`` ``(B, Cs, H, W)`` ->
        ``x`` ``(B, K, H, W)``."""
        cfg = self.config
        src, real = batch.source, batch.x
        z = self.draw_latent(len(real), tuple(src.shape[-2:]), generator)
        fake = self.activate(self.G(src, self.keep_masks(z)))  # (B, K, H, W)
        out = {}
        if cfg.lam_gan:
            loss_d = 0.5 * (
                gan_loss(self._d(src, real), True) + gan_loss(self._d(src, fake.detach()), False)
            )
            self.step("D", loss_d)
            out["loss_d"] = loss_d.detach()
        loss_l1 = (fake - real).abs().mean()
        loss_g = cfg.lam_l1 * loss_l1
        if cfg.lam_gan:
            with frozen(self.D):
                loss_gan = gan_loss(self._d(src, fake), True)
            loss_g = loss_g + cfg.lam_gan * loss_gan
            out["loss_g_gan"] = loss_gan.detach()
        self.step("G", loss_g)
        out["loss_l1"] = loss_l1.detach()
        return out

    def validate(self, val: Batch, generator: torch.Generator) -> dict[str, float]:
        """``val_l1``: mean absolute error of one realization per held-out pair (network
        space)."""
        z = self.draw_latent(len(val), tuple(val.source.shape[-2:]), generator)
        return {"val_l1": self.translation_error(self.generate_eval(z, val.source), val.x)}
