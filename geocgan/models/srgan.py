"""GAN super-resolution in the manner of SRGAN (Ledig et al. 2017): coarse field → fine field.

The coarse input is the fine field's block mean over ``factor × factor`` blocks
(``block_mean``; ×2, ×4 or ×8). A residual generator with sub-pixel upsampling
(``SRGenerator``) makes the fine field; the loss is a content loss plus a small adversarial
weight,

    L_G = λ_pix ‖G(c) − y‖² + λ_feat Σ_l ‖φ_l(G(c)) − φ_l(y)‖² + λ_GAN · L_GAN(G, D)

where SRGAN takes φ from a VGG network trained on ImageNet. Pretrained weights cannot be
downloaded here, so φ_l are the activations of this model's own discriminator (trained
here, on these fields: the "feature matching" of Salimans et al. 2016). Departures from
SRGAN: a PatchGAN discriminator (any grid), and ``nz`` noise channels at the coarse grid
stacked onto the input so that an ensemble of fine fields varies (0: SRGAN's deterministic
generator). ``lam_coarse`` optionally adds ‖blockmean(G(c)) − c‖², the coarse data honoured
as the pixel-constrained cGAN honours wells.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from geocgan.constraints import FieldSpec
from geocgan.errors import InputError
from geocgan.models.base import Batch, Latent
from geocgan.models.image_nets import (
    RECEPTIVE_FIELDS,
    ImageTranslator,
    PatchGAN,
    SRGenerator,
    gan_loss,
)


def block_mean(fields: torch.Tensor, factor: int) -> torch.Tensor:
    """The mean over ``factor × factor`` blocks of ``(..., H, W)`` (sides cropped to
    multiples of ``factor``)."""
    h, w = fields.shape[-2:]
    x = fields[..., : h - h % factor, : w - w % factor]
    lead = x.shape[:-2]
    x = x.reshape(-1, 1, x.shape[-2], x.shape[-1])
    return F.avg_pool2d(x, factor).reshape(*lead, x.shape[-2] // factor, x.shape[-1] // factor)


@dataclass
class SRGANConfig:
    """Settings of GAN super-resolution.

    Parameters
    ----------
    factor : int
        Fine pixels per coarse pixel along each axis: 2, 4 or 8.
    nf : int
        Generator width (64 in SRGAN).
    n_blocks : int
        Residual blocks of the generator (16 in SRGAN).
    nz : int
        Noise channels at the coarse grid (0: SRGAN's deterministic generator).
    ndf : int
        Discriminator width.
    receptive_field : int
        Discriminator patch side (px): 1, 16, 70 or 286.
    lam_pixel : float
        Weight of the pixel content loss (mean squared error, network space).
    lam_feature : float
        Weight of the feature content loss on the discriminator's activations.
    lam_gan : float
        Weight of the adversarial loss (1e-3 in SRGAN).
    lam_coarse : float
        Weight of the coarse-consistency term ‖blockmean(G(c)) − c‖² (continuous fields; 0: off).
    lr, beta1 : float
        Adam settings (1e-4, 0.9 in SRGAN).
    """

    factor: int = 4
    nf: int = 64
    n_blocks: int = 16
    nz: int = 4
    ndf: int = 64
    receptive_field: int = 70
    lam_pixel: float = 1.0
    lam_feature: float = 1.0
    lam_gan: float = 1e-3
    lam_coarse: float = 0.0
    lr: float = 1e-4
    beta1: float = 0.9

    def __post_init__(self) -> None:
        if self.factor not in (2, 4, 8):
            raise InputError(f"factor {self.factor}: use 2, 4 or 8")
        if self.receptive_field not in RECEPTIVE_FIELDS:
            raise InputError(
                f"receptive_field {self.receptive_field}: use one of "
                f"{', '.join(map(str, RECEPTIVE_FIELDS))}"
            )
        weights = (self.lam_pixel, self.lam_feature, self.lam_gan, self.lam_coarse)
        if min(weights) < 0 or not any(weights):
            raise InputError(f"loss weights {weights} must be >= 0 and not all 0")
        if min(self.nz, self.n_blocks) < 0 or self.nf < 1:
            raise InputError("nz and n_blocks must be >= 0, nf >= 1")


class SRGAN(ImageTranslator):
    """Super-resolution GAN: block-mean coarse field → fine field (content + adversarial)."""

    name = "srgan"
    config_class = SRGANConfig
    needs = frozenset({"source"})
    grid_hint = ", or a smaller discriminator patch (--set receptive_field=16)"

    def __init__(self, config: SRGANConfig, spec: FieldSpec):
        super().__init__(config, spec)
        c = config
        if c.lam_coarse and spec.kind == "categorical":
            raise InputError("lam_coarse compares block means: for continuous fields only")
        self.scale = c.factor
        self.G = SRGenerator(spec.source.channels + c.nz, spec.channels, c.nf, c.n_blocks, c.factor)
        self.D = PatchGAN(spec.channels, c.ndf, c.receptive_field)
        self.min_train_side = self.D.min_side
        betas = (c.beta1, 0.999)
        self.optimizers = {
            "G": torch.optim.Adam(self.G.parameters(), lr=c.lr, betas=betas),
            "D": torch.optim.Adam(self.D.parameters(), lr=c.lr, betas=betas),
        }

    def latent(self, height: int, width: int) -> list[Latent]:
        """Gaussian noise ``(nz, h, w)`` at the coarse input's grid."""
        return [Latent((self.config.nz, height, width))] if self.config.nz else []

    def generate(self, z: list[torch.Tensor], cond: torch.Tensor | None) -> torch.Tensor:
        """Encoded fine fields ``(B, K, f h, f w)`` from the encoded coarse input ``cond``
        ``(B, Cs, h, w)`` and noise ``z``."""
        return self.activate(self.G(torch.cat([cond, *z], 1)))

    def coarse_error(self, fine: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        """‖blockmean(fine) − coarse‖² in data units, through each side's normalisation."""
        back = self.spec.decode(fine)
        want = self.input_spec.decode(coarse)
        return ((block_mean(back, self.config.factor) - want) ** 2).mean()

    def train_step(self, batch: Batch, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """One D step, then one G step, on encoded coarse ``source`` ``(B, Cs, h, w)`` and
        fine ``x`` ``(B, K, f h, f w)``."""
        c = self.config
        coarse, real = batch.source, batch.x
        z = self.draw_latent(len(real), tuple(coarse.shape[-2:]), generator)
        fake = self.generate(z, coarse)
        out = {}
        if c.lam_gan:
            loss_d = gan_loss(self.D(real), True) + gan_loss(self.D(fake.detach()), False)
            self.optimizers["D"].zero_grad(set_to_none=True)
            loss_d.backward()
            self.optimizers["D"].step()
            out["loss_d"] = loss_d.detach()
        self.D.requires_grad_(False)
        logits, feats = self.D(fake, features=True)
        with torch.no_grad():
            _, feats_real = self.D(real, features=True)
        pixel = F.mse_loss(fake, real)
        feature = sum(F.mse_loss(a, b) for a, b in zip(feats, feats_real, strict=True))
        loss_g = c.lam_pixel * pixel + c.lam_feature * feature
        if c.lam_gan:
            adv = gan_loss(logits, True)
            loss_g = loss_g + c.lam_gan * adv
            out["loss_g_gan"] = adv.detach()
        if c.lam_coarse:
            coarse_err = self.coarse_error(fake, coarse)
            loss_g = loss_g + c.lam_coarse * coarse_err
            out["loss_coarse"] = coarse_err.detach()
        self.D.requires_grad_(True)
        self.optimizers["G"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers["G"].step()
        out |= {"loss_pixel": pixel.detach(), "loss_feature": feature.detach()}
        return out

    def validate(self, val: Batch, generator: torch.Generator) -> dict[str, float]:
        """``val_l1`` (network space) of one realization per held-out pair, and for
        continuous fields ``val_coarse_mse``, the block means' squared error (data units)."""
        z = self.draw_latent(len(val), tuple(val.source.shape[-2:]), generator)
        fake = self.generate_eval(z, val.source)
        out = {"val_l1": self.translation_error(fake, val.x)}
        if self.spec.kind == "continuous":
            out["val_coarse_mse"] = float(self.coarse_error(fake, val.source))
        return out
