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

Wells at the fine scale (``lam_wells`` > 0): the generator also takes the fine-grid
constraint maps ``C`` (values + explicit mask, ``geocgan.constraints``) before its tail, and
pays the main method's pixel-wise term ``λ_wells ‖C − M(C) ⊙ G(c, C)‖²`` (per well pixel,
``constraint_loss``) on wells drawn at random from the fine field each step, so a coarse
map and wells give a fine ensemble (``ensemble_with_wells``). Without wells (``generate``,
``geocgan translate``) the maps are empty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from geocgan.constraints import Constraints, FieldSpec, constraint_tensor, random_masks
from geocgan.errors import InputError
from geocgan.models.base import Batch, Latent, frozen
from geocgan.models.image_nets import (
    ImageTranslator,
    PatchGAN,
    SRGenerator,
    adam_pair,
    check_receptive_field,
    gan_loss,
)
from geocgan.models.nets import pool_constraints
from geocgan.models.pixel_cgan import constraint_loss


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
    lam_wells : float
        Weight of the pixel-wise well term at the fine scale (0: a model without wells).
    well_density : float
        Share of fine pixels drawn as wells in training (with ``lam_wells``).
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
    lam_wells: float = 0.0
    well_density: float = 0.005
    lam_coarse: float = 0.0
    lr: float = 1e-4
    beta1: float = 0.9

    def __post_init__(self) -> None:
        if self.factor not in (2, 4, 8):
            raise InputError(f"factor {self.factor}: use 2, 4 or 8")
        check_receptive_field(self.receptive_field)
        weights = (self.lam_pixel, self.lam_feature, self.lam_gan, self.lam_coarse)
        if min(weights) < 0 or not any(weights):
            raise InputError(f"loss weights {weights} must be >= 0 and not all 0")
        if self.lam_wells < 0 or not 0 < self.well_density <= 1:
            raise InputError("lam_wells must be >= 0 and well_density in (0, 1]")
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
        wells = spec.channels + 1 if c.lam_wells else 0  # constraint maps: values + mask
        self.G = SRGenerator(  # wells enter twice: pooled to the coarse grid, and at the tail
            spec.source.channels + c.nz + wells, spec.channels, c.nf, c.n_blocks, c.factor, wells
        )
        self.D = PatchGAN(spec.channels, c.ndf, c.receptive_field)
        self.min_train_side = self.D.min_side
        self.optimizers = adam_pair(self.G.parameters(), self.D.parameters(), c.lr, c.beta1)

    def latent(self, height: int, width: int) -> list[Latent]:
        """Gaussian noise ``(nz, h, w)`` at the coarse input's grid."""
        return [Latent((self.config.nz, height, width))] if self.config.nz else []

    def generate(self, z: list[torch.Tensor], cond: torch.Tensor | None) -> torch.Tensor:
        """Encoded fine fields ``(B, K, f h, f w)`` from the encoded coarse input ``cond``
        ``(B, Cs, h, w)`` and noise ``z``."""
        if self.config.lam_wells:  # no wells: empty maps
            k = self.spec.channels + 1
            h, w = cond.shape[-2:]
            f = self.config.factor
            return self.generate_with_wells(z, cond, cond.new_zeros((len(cond), k, f * h, f * w)))
        return self.activate(self.G(torch.cat([cond, *z], 1)))

    def generate_with_wells(
        self, z: list[torch.Tensor], cond: torch.Tensor, wells: torch.Tensor
    ) -> torch.Tensor:
        """``generate`` with fine-grid constraint maps ``wells`` ``(B, K + 1, f h, f w)``
        (``well_maps``)."""
        if not self.config.lam_wells:
            raise InputError("this model was trained without wells (lam_wells = 0)")
        pooled = pool_constraints(wells, self.config.factor)  # (B, K + 1, h, w)
        return self.activate(self.G(torch.cat([cond, *z, pooled], 1), wells))

    def ensemble_with_wells(
        self, coarse, constraints: Constraints, n: int, *, seed: int = 0, batch_size: int = 16
    ):
        """``n`` decoded fine fields ``(n, f h, f w)`` from one raw coarse field ``(h, w)``
        (or ``(Cs, h, w)``) and wells on the fine grid; realization ``i`` from ``(seed, i)``."""
        from geocgan import noise

        fine = tuple(self.config.factor * v for v in np.shape(coarse)[-2:])
        if tuple(constraints.shape) != fine:
            raise InputError(
                f"wells on a {constraints.shape} grid; the fine grid of this coarse field is {fine}"
            )
        raw = torch.as_tensor(np.asarray(coarse, np.float32), device=self.device)
        cond = self.input_spec.encode(
            raw[None] if raw.ndim == 2 or self.input_spec.bands > 1 else raw
        )
        wells = constraints.tensor(self.spec, device=self.device)  # (1, K + 1, H, W)
        out = []
        was = self.training
        self.eval()
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                idx = np.arange(start, min(n, start + batch_size))
                z = noise.draw(self.latent(*cond.shape[-2:]), seed, idx, device=self.device)
                b = len(idx)
                fake = self.generate_with_wells(
                    z, cond.expand(b, -1, -1, -1), wells.expand(b, -1, -1, -1)
                )
                out.append(self.spec.decode(fake).cpu().numpy())
        self.train(was)
        return np.concatenate(out)

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
        if c.lam_wells:  # wells drawn from the fine field
            h, w = real.shape[-2:]
            mask = random_masks(
                len(real), (h, w), density=c.well_density, generator=generator, device=real.device
            )  # (B, 1, H, W)
            fake = self.generate_with_wells(z, coarse, constraint_tensor(real, mask))
        else:
            fake = self.generate(z, coarse)
        out = {}
        if c.lam_gan:
            loss_d = gan_loss(self.D(real), True) + gan_loss(self.D(fake.detach()), False)
            self.step("D", loss_d)
            out["loss_d"] = loss_d.detach()
        with frozen(self.D):
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
        if c.lam_wells:
            wells_err = constraint_loss(fake, real, mask)
            loss_g = loss_g + c.lam_wells * wells_err
            out["loss_wells"] = wells_err.detach()
        if c.lam_coarse:
            coarse_err = self.coarse_error(fake, coarse)
            loss_g = loss_g + c.lam_coarse * coarse_err
            out["loss_coarse"] = coarse_err.detach()
        self.step("G", loss_g)
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
