"""CycleGAN (Zhu, Park, Isola and Efros 2017): translation between unpaired domains.

Two ResNet generators, ``G: A → B`` and ``F: B → A``, two PatchGAN discriminators, and

    L = λ_GAN (L_LSGAN(G, D_B) + L_LSGAN(F, D_A))
        + λ (‖F(G(a)) − a‖₁ + ‖G(F(b)) − b‖₁) + 0.5 λ (‖G(b) − b‖₁ + ‖F(a) − a‖₁)

with least-squares adversarial losses, the cycle weight λ = 10 and the identity term at
0.5 λ (only where both domains have the same channels). Each discriminator sees a history
of 50 generated images (``ImagePool``), saved in the checkpoint so a resume is exact. The
learning rate is held for ``hold_steps`` steps, then decays linearly to zero over
``decay_steps`` (the paper: 100 + 100 epochs); counted in steps by a saved counter, so a
resumed run follows the same schedule.

Domains: ``Batch.x`` is domain A (``spec``), ``Batch.other`` domain B (``spec.source``).
Like the other translation models, a model generates ``spec``'s side from ``spec.source``'s,
here B → A; ``oriented("AtoB")`` gives the model that translates A → B. No noise: a CycleGAN
is deterministic, so every realization of one input is the same.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from geocgan.constraints import FieldSpec
from geocgan.errors import InputError
from geocgan.models.base import Batch, Latent, frozen
from geocgan.models.image_nets import (
    ImageTranslator,
    PatchGAN,
    ResnetGenerator,
    adam_pair,
    check_receptive_field,
    gan_loss,
)

DIRECTIONS = ("AtoB", "BtoA")


@dataclass
class CycleGANConfig:
    """Settings of CycleGAN.

    Parameters
    ----------
    ngf, ndf : int
        Width of the generators / discriminators (64 in the paper).
    n_blocks : int
        Residual blocks of each generator (6 at 128², 9 at 256² in the paper).
    receptive_field : int
        Discriminator patch side (px): 1, 16, 70 (the paper) or 286.
    norm : {"instance", "batch"}
        Normalisation layers (instance in the paper).
    lam_gan : float
        Weight of the adversarial terms (0: "cycle alone" of the paper's ablation).
    lam_cycle : float
        λ, weight of the cycle terms (10 in the paper; 0: "GAN alone").
    cycle : {"both", "forward", "backward"}
        Which cycle terms: both, A → B → A only, or B → A → B only (the paper's ablation).
    lam_identity : float
        Identity term's weight as a share of ``lam_cycle`` (0.5 in the paper; 0: off).
    pool_size : int
        Generated images each discriminator keeps in its history (50; 0: none).
    lr, beta1 : float
        Adam settings (2e-4, 0.5).
    hold_steps, decay_steps : int
        Steps at ``lr``, then steps of linear decay to zero (0 and 0: a constant rate).
    """

    ngf: int = 64
    ndf: int = 64
    n_blocks: int = 9
    receptive_field: int = 70
    norm: Literal["instance", "batch"] = "instance"
    lam_gan: float = 1.0
    lam_cycle: float = 10.0
    cycle: Literal["both", "forward", "backward"] = "both"
    lam_identity: float = 0.5
    pool_size: int = 50
    lr: float = 2e-4
    beta1: float = 0.5
    hold_steps: int = 0
    decay_steps: int = 0

    def __post_init__(self) -> None:
        check_receptive_field(self.receptive_field)
        if self.cycle not in ("both", "forward", "backward"):
            raise InputError(f"cycle {self.cycle!r}: use both, forward or backward")
        if min(self.lam_gan, self.lam_cycle, self.lam_identity) < 0:
            raise InputError("lam_gan, lam_cycle and lam_identity must be >= 0")
        if not (self.lam_gan or self.lam_cycle):
            raise InputError("lam_gan and lam_cycle are both 0: nothing to train")
        if min(self.pool_size, self.hold_steps, self.decay_steps) < 0:
            raise InputError("pool_size, hold_steps and decay_steps must be >= 0")


class ImagePool(nn.Module):
    """The history of generated images a discriminator is shown (Shrivastava et al. 2017).

    Until full, each image is stored and returned; then with probability 1/2 a stored image
    is returned and replaced by the new one, else the new one is returned. The images are a
    buffer (saved in checkpoints); its shape follows the stored one on loading.
    """

    def __init__(self, size: int):
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros(0))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        stored = state_dict.get(prefix + "images")
        if stored is not None:
            self.images = torch.empty_like(stored, device=self.images.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def query(self, images: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """What D sees for generated ``images`` ``(B, C, H, W)``."""
        if self.size == 0:
            return images
        out = []
        for im in images:
            n = len(self.images)
            if n < self.size:
                self.images = im[None].clone() if n == 0 else torch.cat([self.images, im[None]])
                out.append(im)
            elif float(torch.rand((), generator=g, device=g.device)) < 0.5:
                k = int(torch.randint(n, (), generator=g, device=g.device))
                out.append(self.images[k].clone())
                self.images[k] = im
            else:
                out.append(im)
        return torch.stack(out)


class StepCounter(nn.Module):
    """Optimisation steps taken so far, as a saved buffer (the learning-rate schedule's
    clock)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("step", torch.zeros((), dtype=torch.int64))


class CycleGAN(ImageTranslator):
    """CycleGAN: unpaired translation, two ResNet generators, LSGAN, cycle + identity."""

    name = "cyclegan"
    config_class = CycleGANConfig
    needs = frozenset({"other"})
    grid_hint = ", or a smaller discriminator patch (--set receptive_field=16)"
    multiple = ResnetGenerator.multiple

    def __init__(self, config: CycleGANConfig, spec: FieldSpec):
        super().__init__(config, spec)
        ca, cb = spec.channels, spec.source.channels
        c = config
        self.G_AB = ResnetGenerator(ca, cb, c.ngf, c.n_blocks, c.norm)
        self.G_BA = ResnetGenerator(cb, ca, c.ngf, c.n_blocks, c.norm)
        self.D_A = PatchGAN(ca, c.ndf, c.receptive_field, c.norm)
        self.D_B = PatchGAN(cb, c.ndf, c.receptive_field, c.norm)
        self.pool_A, self.pool_B = ImagePool(c.pool_size), ImagePool(c.pool_size)
        self.clock = StepCounter()
        self.min_train_side = max(self.multiple, self.D_A.min_side)
        self.identity = c.lam_identity > 0 and ca == cb
        self.direction = "BtoA"
        gen = [*self.G_AB.parameters(), *self.G_BA.parameters()]
        dis = [*self.D_A.parameters(), *self.D_B.parameters()]
        self.optimizers = adam_pair(gen, dis, c.lr, c.beta1)
        self._field = spec  # what describe() stores, whatever the orientation

    def describe(self) -> dict:
        return {**super().describe(), "field": self._field.to_dict()}

    def oriented(self, direction: str) -> CycleGAN:
        """This model (sharing its weights) translating ``AtoB`` (A, ``x``'s domain, to B)
        or ``BtoA``; its ``spec`` then describes the output and ``spec.source`` the input."""
        if direction not in DIRECTIONS:
            raise InputError(
                f"direction {direction!r} does not exist for a CycleGAN: use AtoB (domain A, "
                "the training images, to B, --other) or BtoA"
            )
        out = copy.copy(self)
        out.direction = direction
        a, b = self._field, self._field.source
        if direction == "AtoB":
            spec_b = copy.copy(b)
            spec_b.source = a
            out.spec = spec_b
        else:
            out.spec = a
        return out

    def lr_factor(self, step: int) -> float:
        """Learning-rate multiplier at ``step``: 1 for ``hold_steps``, then linearly to 0."""
        c = self.config
        if not c.decay_steps:
            return 1.0
        return max(0.0, 1.0 - max(0, step - c.hold_steps) / c.decay_steps)

    def latent(self, height: int, width: int) -> list[Latent]:
        return []

    def generate(self, z: list[torch.Tensor], cond: torch.Tensor | None) -> torch.Tensor:
        """Encoded outputs from the encoded input ``cond`` ``(B, C, h, w)`` of the input
        domain (B, or A once ``oriented("AtoB")``)."""
        x, h, w = self.padded(cond)
        net = self.G_AB if self.direction == "AtoB" else self.G_BA
        return self.activate(net(x))[..., :h, :w]

    def train_step(self, batch: Batch, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """One G step (both generators), then one D step (both discriminators), on encoded
        unpaired ``x`` (A) and ``other`` (B)."""
        c = self.config
        a, b = batch.x, batch.other
        spec_a, spec_b = self.spec, self.spec.source
        step = int(self.clock.step)
        for opt in self.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = c.lr * self.lr_factor(step)
        fake_b = self.activate(self.G_AB(a), spec_b)
        fake_a = self.activate(self.G_BA(b), spec_a)
        forward = c.cycle in ("both", "forward")
        backward = c.cycle in ("both", "backward")
        out = {}
        loss_g = torch.zeros((), device=a.device)
        if c.lam_gan:
            with frozen(self.D_A, self.D_B):
                adv = gan_loss(self.D_B(fake_b), True, "lsgan") + gan_loss(
                    self.D_A(fake_a), True, "lsgan"
                )
            loss_g = loss_g + c.lam_gan * adv
            out["loss_g_gan"] = adv.detach()
        if c.lam_cycle and (forward or backward):
            cyc = torch.zeros((), device=a.device)
            if forward:
                cyc = cyc + (self.activate(self.G_BA(fake_b), spec_a) - a).abs().mean()
            if backward:
                cyc = cyc + (self.activate(self.G_AB(fake_a), spec_b) - b).abs().mean()
            loss_g = loss_g + c.lam_cycle * cyc
            out["loss_cycle"] = cyc.detach()
        if self.identity and c.lam_cycle:
            idt = (self.activate(self.G_AB(b), spec_b) - b).abs().mean() + (
                self.activate(self.G_BA(a), spec_a) - a
            ).abs().mean()
            loss_g = loss_g + c.lam_identity * c.lam_cycle * idt
            out["loss_identity"] = idt.detach()
        self.step("G", loss_g)
        if c.lam_gan:
            seen_b = self.pool_B.query(fake_b.detach(), generator)
            seen_a = self.pool_A.query(fake_a.detach(), generator)
            loss_d = 0.5 * (
                gan_loss(self.D_B(b), True, "lsgan") + gan_loss(self.D_B(seen_b), False, "lsgan")
            ) + 0.5 * (
                gan_loss(self.D_A(a), True, "lsgan") + gan_loss(self.D_A(seen_a), False, "lsgan")
            )
            self.step("D", loss_d)
            out["loss_d"] = loss_d.detach()
        self.clock.step += 1
        return out

    def validate(self, val: Batch, generator: torch.Generator) -> dict[str, float]:
        """Cycle errors on held-out images (network space): ``val_cycle_a`` ‖F(G(a)) − a‖₁
        and ``val_cycle_b`` ‖G(F(b)) − b‖₁."""
        to_b, to_a = self.oriented("AtoB"), self.oriented("BtoA")
        fb = to_b.generate_eval([], val.x)
        fa = to_a.generate_eval([], val.other)
        return {
            "val_cycle_a": self.translation_error(to_a.generate_eval([], fb), val.x),
            "val_cycle_b": self.translation_error(to_b.generate_eval([], fa), val.other),
        }
