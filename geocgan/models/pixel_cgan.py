"""The pixel-wise conditioned GAN of Ruffino, Hérault, Laloy and Gasso (2019).

Both networks see the constraint tensor ``C`` (values + explicit mask). The objective is

    min_G max_D  L(D, G) + λ · E_{z, C} ‖C − M(C) ⊙ G(z, C)‖²

with ``L`` the (non-saturating) GAN loss. ``λ = 0`` gives the plain conditional GAN;
``conditional=False`` gives the unconditional GAN baseline (neither net sees ``C``).

Normalisation of the constraint term
------------------------------------
The squared error is summed over the value channels at the constrained pixels and divided by
the number of constrained pixels of each map, then averaged over the batch::

    L_C = mean_b [ Σ_{k,i,j} M_bij (G_bkij − X_bkij)² / Σ_ij M_bij ]

so ``L_C`` is the mean squared error *per well pixel* in the network's space (normalised
values, or one-hot vs softmax probabilities for facies). It does not grow with the grid size
or the number of wells, so a given λ means the same on a 28x28 digit and on a 256x256 map.
"""

from __future__ import annotations

import copy
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F

from geocgan import conditioning
from geocgan.constraints import Canvas, FieldSpec, constraint_tensor, random_masks
from geocgan.errors import GridError, InputError
from geocgan.models.base import Batch, GANModel, Latent, draw
from geocgan.models.nets import (
    AVG_POOL,
    DCGAN28Discriminator,
    DCGAN28Generator,
    PatchDiscriminator,
    SpatialGenerator,
)

ARCHS = ("fcn", "dcgan28")


@dataclass
class PixelCGANConfig:
    """Settings of the pixel-constrained cGAN.

    Parameters
    ----------
    arch : {"fcn", "dcgan28"}
        ``fcn``: spatial-noise generator + PatchGAN discriminator, grids with sides multiple of 16.
        ``dcgan28``: the paper's two-layer nets, 28x28 only.
    conditional : bool
        False gives the unconditional GAN baseline.
    lam : float
        λ, weight of the constraint term (per-well-pixel MSE, see module docstring).
    lam_local : float
        Weight of an optional extra term (not in the paper, default 0): the same per-well
        squared error on the 3x3 neighbourhood mean of the output. It discourages honoring a
        well by an isolated pixel of its facies instead of by the geology around it.
    lam_moments : float
        Weight of an optional batch moment-matching term (not in the paper, default 0): the
        squared difference between the generated and the real batch's mean per channel (the
        facies proportions), plus, for continuous fields, their standard deviation. It keeps
        the global proportions, which the constraint term can pull off, on the data's.
    moment_target : list of float
        What the moment term matches (network space): empty, the real batch's moments; else
        the facies proportions (categorical) or the mean then the standard deviation
        (continuous) of the whole training images (``moment_target_of``). Random windows
        see a training image's border less often than its inside, so the batches' moments
        are those of its inside, not the image's.
    lam_div : float
        Weight of an optional diversity-sensitive term (Yang et al. 2019, "Diversity-sensitive
        conditional GANs"; not in the paper, default 0). Each step makes two realizations per
        constraint map from independent noise and rewards ``mean|G(z1,C) − G(z2,C)| /
        mean|z1 − z2|``, capped at 1: it fights the collapse of a conditional GAN onto one
        answer per constraint map, which shows up as too narrow an ensemble.
    lam_crps : float
        Weight of an optional calibration term (not in the paper, default 0): the fair
        continuous ranked probability score, per pixel and channel, of two realizations per
        constraint map from independent noise against the field the wells were drawn from,
        ``0.5 (|x1 − y| + |x2 − y|) − 0.5 |x1 − x2|`` (``fair_crps``; Gneiting & Raftery
        2007, Ferro 2014). A proper scoring rule: its expectation is lowest when x1 and x2
        are independent draws of the field's distribution given the wells, so it pulls each
        pixel's ensemble mean onto the conditional mean and its spread onto the conditional
        spread, which the adversarial term learns only approximately. It shares the two
        realizations with ``lam_div``; either one makes every step generate (and D judge) two
        realizations per map, so a run with a tiny weight is not the same run as one with 0.
        Conditional models only.
    crps_patch : int
        Side of the blocks the ``lam_crps`` score is taken over (default 1: per pixel). Above
        1, the fair energy score of each ``p × p`` block, divided by ``p``: also proper, and it
        also scores how neighbouring pixels vary together, which the per-pixel CRPS leaves to
        the adversarial term.
    lam_distill : float
        Weight of an optional distillation term (default 0; needs ``distill_from``): the
        squared difference between G's output and a trained teacher generator's on the same
        noise and constraints, added to the generator's adversarial loss.
    output : {"auto", "linear", "tanh", "softmax"}
        Output activation; ``auto`` is softmax for facies, identity for continuous fields.
    nz : int
        Noise channels (fcn, at 1/16 resolution) or noise vector size (dcgan28).
    ngf, ndf : int
        Width of generator / discriminator.
    d_layers : int
        Strided layers of the PatchGAN discriminator (receptive field 54 px for 3, 110 for 4, 222 for 5).
    density, mode, partial
        How training constraint maps are drawn (see ``geocgan.constraints.random_masks``).
    lr_g, lr_d, beta1, beta2 : float
        Adam settings.
    amp : bool
        bfloat16 autocast on CUDA (ignored on CPU).
    padding : {"zeros", "reflect"}
        How the fcn generator's convolutions pad the field at the grid's edge (see
        ``SpatialGenerator``); ``zeros`` (default) is what the shipped models use.
    cond_skip : bool
        dcgan28 only: also feed the raw constraint maps to the generator's output layer
        (default True, as the shipped models); False gives them at the input only, the
        paper's design (see ``DCGAN28Generator``).
    canvas : int
        Smallest side (px) of the field the fcn generator makes (default 0: none). A grid
        side under it is generated in the middle of a canvas of this side (rounded up to a
        multiple of 16, at least 32) and cut out, so that its pixels see the neighbourhood
        they saw in training, not a zero-padded border close on every side; the training
        patch's side is the natural value. Sides at least this large are generated as they
        are (padded at the bottom/right to multiples of 16). Only generation uses it: set it
        on a trained model with ``export_model(..., canvas=)``.
    ndim : {2, 3}
        Spatial dimensions: 2 for maps and sections ``(H, W)``, 3 for volumes ``(D, H, W)``
        (fcn only; the same nets with 3-D convolutions, every side a multiple of 16).
    soft, proportion : bool
        Facies models only (fcn): also condition on soft probability maps (K channels) and
        on a target facies proportion (K channels), each usable with or without the other
        and the wells (``geocgan.conditioning``).
    lam_soft, lam_prop : float
        Weights of the generator terms pulling the smoothed output onto the soft map and
        the output's proportions onto the target (``conditioning.soft_loss``,
        ``proportion_loss``).
    soft_scales : list of float
        Range (pixels) of the Gaussian smoothing that makes training soft maps from the
        training fields' facies indicators.
    drop : float
        With ``soft`` or ``proportion``: probability that a training map goes without each
        of its parts (wells, soft map, proportion).
    proportion_range : list of [min, max]
        Per facies, the range of proportions the training maps had
        (``conditioning.proportion_range_of``); a target outside it is refused at generation.
        Empty: not recorded, any target in (0, 1) is taken.
    ema : float
        Decay of an exponential moving average of the generator's weights, updated after
        every generator step and used to generate (Karras et al. 2018; Yazıcı et al. 2019,
        "The unusual effectiveness of averaging in GAN training"); 0 (default) keeps none and
        generates with the trained weights, as the paper. With a constant learning rate the
        trained weights keep oscillating, and the statistics of their ensembles with them; the
        average (0.999: about the last 1000 steps) does not.
    """

    arch: Literal["fcn", "dcgan28"] = "fcn"
    conditional: bool = True
    lam: float = 10.0
    lam_local: float = 0.0
    lam_moments: float = 0.0
    moment_target: list[float] = field(default_factory=list)
    lam_div: float = 0.0
    lam_crps: float = 0.0
    crps_patch: int = 1
    lam_distill: float = 0.0
    output: Literal["auto", "linear", "tanh", "softmax"] = "auto"
    nz: int = 16
    ngf: int = 16
    ndf: int = 16
    d_layers: int = 4
    density: float = 0.005
    mode: Literal["point", "borehole"] = "point"
    partial: bool = False
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    amp: bool = True
    ema: float = 0.0
    padding: Literal["zeros", "reflect"] = "zeros"
    canvas: int = 0
    cond_skip: bool = True
    ndim: int = 2
    soft: bool = False
    proportion: bool = False
    lam_soft: float = 0.0
    lam_prop: float = 0.0
    soft_scales: list[float] = field(default_factory=lambda: [2.0, 8.0])
    drop: float = 0.5
    proportion_range: list[list[float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise InputError(f"arch {self.arch!r} is unknown; choose one of {list(ARCHS)}")
        weights = {
            k: getattr(self, k)
            for k in ("lam", "lam_local", "lam_moments", "lam_div", "lam_crps", "lam_distill")
        }
        if min(weights.values()) < 0:
            raise InputError(f"loss weights must be >= 0, got {weights}")
        if self.crps_patch < 1:
            raise InputError(f"crps_patch must be >= 1 (1: per-pixel CRPS), got {self.crps_patch}")
        if (self.lam_div or self.lam_crps) and not self.conditional:
            raise InputError(
                "lam_div and lam_crps compare two realizations of one constraint map: an "
                "unconditional model has none; set them to 0 or train a conditional model"
            )
        if self.output not in ("auto", "linear", "tanh", "softmax"):
            raise InputError(
                f"output {self.output!r} is unknown; use auto, linear, tanh or softmax"
            )
        if not 0 < self.density <= 1:
            raise InputError(f"constraint density must be in (0, 1], got {self.density}")
        if self.mode not in ("point", "borehole"):
            raise InputError(f"constraint mode {self.mode!r} is unknown; use 'point' or 'borehole'")
        if self.padding not in ("zeros", "reflect"):
            raise InputError(f"padding {self.padding!r} is unknown; use 'zeros' or 'reflect'")
        if self.padding != "zeros" and self.arch != "fcn":
            raise InputError("padding='reflect' is for the fcn generator")
        if min(self.nz, self.ngf, self.ndf, self.d_layers) < 1:
            raise InputError("nz, ngf, ndf and d_layers must be >= 1")
        if self.canvas < 0:
            raise InputError(f"canvas must be >= 0 (0: none), got {self.canvas}")
        if self.canvas and self.arch != "fcn":
            raise InputError("canvas is for the fcn generator: leave it 0 or use arch 'fcn'")
        if not 0 <= self.ema < 1:
            raise InputError(f"ema decay must be in [0, 1), got {self.ema}; 0 turns it off")
        if self.ndim not in (2, 3) or (self.ndim == 3 and self.arch != "fcn"):
            raise InputError(f"ndim must be 2, or 3 with arch 'fcn'; got {self.ndim} ({self.arch})")
        if self.ndim == 3 and (self.lam_crps or self.canvas):
            raise InputError("lam_crps and canvas are 2-D only; leave them 0 for volumes")
        if (self.soft or self.proportion) and (self.arch != "fcn" or not self.conditional):
            raise InputError("soft maps and proportions need a conditional 'fcn' model")
        lo, hi = (list(self.soft_scales) + [0, 0])[:2]
        if len(self.soft_scales) != 2 or not 0 < lo <= hi or min(self.lam_soft, self.lam_prop) < 0:
            raise InputError(
                f"soft_scales must be two widths 0 < lo <= hi (pixels), got {self.soft_scales}, "
                f"and lam_soft, lam_prop >= 0"
            )
        if not 0 <= self.drop < 1:
            raise InputError(f"drop must be in [0, 1), got {self.drop}")


def constraint_loss(fake: torch.Tensor, real: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-well-pixel squared error ``‖C − M ⊙ G‖² / |M|``, averaged over the batch.

    fake, real: ``(B, K, H, W)`` in network space; mask: ``(B, 1, H, W)`` bool (volumes:
    ``(B, K, D, H, W)``, ``(B, 1, D, H, W)``).
    """
    m = mask.to(torch.float32)
    dims = tuple(range(1, fake.dim()))
    se = ((fake.float() - real.float()) ** 2 * m).sum(dim=dims)  # (B,)
    return (se / m.sum(dim=dims).clamp_min(1)).mean()


def moment_loss(
    fake: torch.Tensor, real: torch.Tensor, std: bool, target: torch.Tensor | None = None
) -> torch.Tensor:
    """Squared difference of the batch mean per channel (and with ``std`` of the standard
    deviation), summed over channels: ``(B, K, H, W)`` each. ``target``: the means (then the
    standard deviations) to match instead of the real batch's, ``(K,)`` or ``(2K,)``."""
    f, r = fake.float(), real.float()
    k = f.shape[1]
    dims = (0, *range(2, f.dim()))  # all but the channels
    want_mean = r.mean(dim=dims) if target is None else target[:k]
    loss = ((f.mean(dim=dims) - want_mean) ** 2).sum()
    if std:
        want_std = r.std(dim=dims) if target is None else target[k:]
        loss = loss + ((f.std(dim=dims) - want_std) ** 2).sum()
    return loss


def moment_target_of(images, spec: FieldSpec) -> list[float]:
    """``moment_target`` of whole training images (arrays ``(H, W)``, raw codes or values):
    the facies proportions, or the mean and standard deviation, over all their pixels."""
    x = torch.cat([spec.encode(torch.as_tensor(im)[None]).flatten(2) for im in images], 2)
    x = x.double()  # the same numbers on every machine and thread count (resume compares them)
    mean = x.mean(dim=(0, 2))  # (K,)
    out = mean if spec.kind == "categorical" else torch.cat([mean, x.std(dim=(0, 2))])
    return [float(v) for v in out]


def diversity(fake: torch.Tensor, z: list[torch.Tensor]) -> torch.Tensor:
    """``mean|G(z1) − G(z2)| / mean|z1 − z2|`` for a batch made of two halves ``[z1; z2]``."""
    b = fake.shape[0] // 2
    dz = sum((t[:b] - t[b:]).abs().sum() for t in z) / sum(t[:b].numel() for t in z)
    return (fake[:b].float() - fake[b:].float()).abs().mean() / dz


def fair_crps(fake: torch.Tensor, field: torch.Tensor, patch: int = 1) -> torch.Tensor:
    """Mean fair score of the two halves ``[x1; x2]`` of ``fake`` ``(2B, K, H, W)`` against
    ``field`` ``(B, K, H, W)``: ``0.5 (‖x1 − y‖ + ‖x2 − y‖) − 0.5 ‖x1 − x2‖``, an unbiased
    estimate of the score of the distribution x1 and x2 are drawn from (Ferro 2014).

    The norm is taken over each channel's ``patch × patch`` blocks (the grid cropped to a
    multiple of ``patch``) and divided by ``patch``: with ``patch = 1`` the per-pixel CRPS;
    above, the energy score of each block (Gneiting & Raftery 2007), which also scores how the
    block's pixels vary together, so an ensemble with the right per-pixel spread but the
    wrong spatial structure scores worse.
    """
    b = field.shape[0]
    if fake.shape[0] != 2 * b or fake.shape[1:] != field.shape[1:]:
        raise InputError(
            f"fair_crps needs two realizations per field: fake {tuple(fake.shape)} against "
            f"field {tuple(field.shape)}"
        )
    k, h, w = field.shape[1:]
    if not 1 <= patch <= min(h, w):
        raise InputError(f"crps patch {patch}: give 1 to the grid's shorter side ({min(h, w)})")
    hp, wp = h // patch, w // patch

    def norm(d: torch.Tensor) -> torch.Tensor:  # (B, K, H, W) -> (B, K, H/p, W/p)
        d = d[..., : hp * patch, : wp * patch].reshape(b, k, hp, patch, wp, patch)
        return torch.linalg.vector_norm(d, dim=(3, 5)) / patch

    x1, x2, y = fake[:b].float(), fake[b:].float(), field.float()
    return (0.5 * (norm(x1 - y) + norm(x2 - y)) - 0.5 * norm(x1 - x2)).mean()


class PixelCGAN(GANModel):
    """Pixel-constrained conditional GAN (and its unconditional baseline)."""

    name = "pixel-cgan"
    config_class = PixelCGANConfig

    def __init__(self, config: PixelCGANConfig, spec: FieldSpec):
        super().__init__(config, spec)
        k = spec.channels
        if (config.soft or config.proportion) and spec.kind != "categorical":
            raise InputError("soft maps and proportions condition facies (categorical) models")
        self.extra = conditioning.extra_channels(spec, config.soft, config.proportion)
        kc = k + 1 + self.extra if config.conditional else 0
        if config.arch == "dcgan28":
            self.G = DCGAN28Generator(
                k, kc, nz=config.nz, ngf=config.ngf, cond_skip=config.cond_skip
            )
            self.D = DCGAN28Discriminator(k, kc, ndf=config.ndf)
        else:
            self.G = SpatialGenerator(
                k,
                kc,
                nz=config.nz,
                ngf=config.ngf,
                padding=config.padding,
                ndim=config.ndim,
                extra=self.extra,
            )
            self.D = PatchDiscriminator(
                k, kc, ndf=config.ndf, n_layers=config.d_layers, ndim=config.ndim
            )
        want = k if spec.kind == "categorical" else 2 * k
        if config.moment_target and len(config.moment_target) != want:
            raise InputError(
                f"moment_target has {len(config.moment_target)} values; this {spec.kind} field "
                f"needs {want} (moment_target_of(training_images, spec) computes them)"
            )
        if config.ema:  # the averaged generator: no gradients, saved with the others
            self.G_ema = copy.deepcopy(self.G).requires_grad_(False)
        output = config.output
        if output == "auto":
            output = "softmax" if spec.kind == "categorical" else "linear"
        if (output == "softmax") != (spec.kind == "categorical"):
            raise InputError(f"output {output!r} does not fit a {spec.kind} field")
        self.output = output
        betas = (config.beta1, config.beta2)
        self.optimizers = {
            "G": torch.optim.Adam(self.G.parameters(), lr=config.lr_g, betas=betas),
            "D": torch.optim.Adam(self.D.parameters(), lr=config.lr_d, betas=betas),
        }

    # -- contract ---------------------------------------------------------------------

    condition = "constraints"

    def latent(self, *shape: int) -> list[Latent]:
        """Gaussian noise: one ``(nz, H/16, W/16)`` map per stage (fcn; volumes
        ``(nz, D/16, H/16, W/16)``) or an ``(nz,)`` vector (dcgan28)."""
        return [Latent(tuple(s)) for s in self.G.noise_shapes(self.config.nz, *shape)]

    def noise_shapes(self, *shape: int) -> list[tuple[int, ...]]:
        return [p.shape for p in self.latent(*shape)]

    def with_extra(self, cond: torch.Tensor) -> torch.Tensor:
        """Constraint maps ``(B, K + 1, *S)`` with the soft/proportion channels left empty."""
        if not self.extra:
            return cond
        return torch.cat([cond, cond.new_zeros(cond.shape[0], self.extra, *cond.shape[2:])], 1)

    def validation(self, data, n: int, generator: torch.Generator):
        """``n`` held-out raw fields and their well masks, drawn as in training."""
        cfg = self.config
        fields = data.sample(n, generator).x  # (n, H, W) raw codes or values
        mask = random_masks(
            n,
            fields.shape[-self.config.ndim :],
            density=cfg.density,
            mode=cfg.mode,
            partial=cfg.partial,
            generator=generator,
            device=fields.device,
        )
        return fields, mask

    def validate(self, val, generator: torch.Generator) -> dict[str, float]:
        """Constrained-pixel error on the held-out fields and masks of ``validation``.

        ``val_loss_c``: the training term (network space); ``val_honoring``: the share of well
        pixels with the right facies (categorical) or the MSE at well pixels in data units
        (continuous).
        """
        fields, mask = val
        real = self.spec.encode(fields)  # (B, K, H, W)
        cond = self.with_extra(constraint_tensor(real, mask))
        z = draw(self.latent(*fields.shape[-self.config.ndim :]), len(fields), generator)
        with torch.no_grad():
            fake = self.generate(z, cond)
        m = mask[:, 0]
        out = {"val_loss_c": float(constraint_loss(fake, real, mask))}
        decoded = self.spec.decode(fake)
        if self.spec.kind == "categorical":
            out["val_honoring"] = float((decoded[m] == fields[m]).float().mean())
        else:
            out["val_honoring"] = float(((decoded[m] - fields[m]) ** 2).mean())
        return out

    def check_grid(self, *shape: int) -> None:
        if len(shape) != self.config.ndim:
            raise GridError(
                f"a {self.config.ndim}-D model cannot take a grid of shape {shape}; give "
                f"{'(D, H, W)' if self.config.ndim == 3 else '(H, W)'}"
            )
        size = "x".join(map(str, shape))
        if self.config.arch == "dcgan28":
            if shape != (28, 28):
                raise GridError(
                    f"the dcgan28 model only takes 28x28 grids, got {size}; "
                    "use an 'fcn' model for geoscience grids"
                )
        elif any(n % 16 for n in shape) or min(shape) < 32:
            raise GridError(
                f"an fcn model needs grid sides that are multiples of 16 and at least 32, got "
                f"{size}; generate on model.canvas(height, width) and crop (geocgan's "
                "simulate() and the simulate command do it for you)"
                + ("; volumes are not padded yet: give such sides" if len(shape) == 3 else "")
            )

    def canvas(self, *shape: int) -> Canvas:
        """The grid padded at the bottom/right to sides that are multiples of 16 (at least 32);
        a side under ``config.canvas`` is widened to that (rounded up the same way) instead,
        with the grid in the middle. 2-D only."""
        if len(shape) != 2:
            self.check_grid(*shape)
            raise GridError(
                "volumes are generated on their own grid: use geocgan.simulate.generate_batches "
                "(simulate() pads and crops 2-D grids only)"
            )
        height, width = shape
        if self.config.arch == "dcgan28":
            self.check_grid(height, width)
            return Canvas(height, width, 0, 0, (height, width))
        side = self.config.canvas

        def fit(n: int) -> tuple[int, int]:  # (canvas side, offset)
            if n < side:
                full = max(32, -(-side // 16) * 16)
                return full, (full - n) // 2
            return max(32, -(-n // 16) * 16), 0

        (ch, top), (cw, left) = fit(height), fit(width)
        return Canvas(ch, cw, top, left, (height, width))

    def activate(self, logits: torch.Tensor) -> torch.Tensor:
        if self.output == "softmax":
            return logits.float().softmax(1)
        if self.output == "tanh":
            return logits.float().tanh()
        return logits.float()

    def generate(self, z: list[torch.Tensor], cond: torch.Tensor | None) -> torch.Tensor:
        """Encoded realizations ``(B, K, H, W)`` from noise ``z`` and constraints ``cond``.

        Always float32 (no autocast), so that an ensemble does not depend on the precision
        mode; only training uses bf16 on CUDA. With ``ema`` the averaged weights generate.
        """
        net = self.__dict__.get("_compiled")  # (no `or`: a compiled module has no truth value)
        if net is None:
            net = self._generating_net
        return self.activate(net(z, cond if self.config.conditional else None))

    @property
    def _generating_net(self) -> torch.nn.Module:
        """The net that makes realizations: the average with ``ema``, else the trained one."""
        return self.G_ema if self.config.ema else self.G

    def compile_generator(self) -> None:
        """Generate through ``torch.compile`` of the generating net (fused kernels).

        On the 2-core development CPU a 128² realization took 4.3 ms instead of 9.8 ms, after a
        one-off compilation of 5-30 s for each grid and batch size (``simulate`` pads the last
        batch, so an ensemble compiles once per grid). Same weights; results agree with the
        eager net to float rounding. Not measured on a GPU. Raises torch's recompile limit to
        64, so that many grids and batch sizes stay compiled instead of falling back to eager.
        """
        import torch._dynamo

        net = self._generating_net
        config = torch._dynamo.config  # cache_size_limit: recompile_limit's older name
        config.cache_size_limit = max(config.cache_size_limit, 64)
        self.__dict__["_compiled"] = torch.compile(net, dynamic=False)  # not a submodule

    def scale_noise(self, gains: dict[int, float]) -> None:
        """Multiply the learned noise scale of generator stage ``i`` by ``gains[i]``, in the
        trained and the averaged generator alike: stage 0 takes fresh noise at 1/8 of the
        grid's resolution, 1 at 1/4, 2 at 1/2, 3 at full resolution (``SpatialGenerator``).

        A post-hoc recalibration of how much fresh variability each scale adds, chosen on
        development wells (``workflows/train_models.py --export ... --noise-gain 0=1.5``):
        the model then is just other weights. The Gaussian benchmark model's 1/8 stage × 1.5
        lowered its conditional-correlation error on those wells from 0.019 / 0.017 / 0.013 to
        0.014 / 0.008 / 0.012 at 64² / 128² / 256² (results/benchmark/discussion.md).
        """
        if self.config.arch != "fcn":
            raise InputError("noise gains are for the fcn generator's stages")
        for stage, gain in gains.items():  # all checked before any is applied
            if not 0 <= stage < len(self.G.stages) or not gain > 0:
                raise InputError(
                    f"noise gain {stage}={gain}: give a stage 0-{len(self.G.stages) - 1} "
                    "(1/8, 1/4, 1/2, full resolution) and a gain > 0"
                )
        nets = [self.G] + ([self.G_ema] if self.config.ema else [])
        with torch.no_grad():
            for stage, gain in gains.items():
                for net in nets:
                    net.stages[stage].noise_scale.mul_(gain)

    @property
    def compiled(self) -> bool:
        return "_compiled" in self.__dict__

    def distill_from(self, teacher: PixelCGAN) -> None:
        """Train from now on towards ``teacher``'s realizations too (``lam_distill``).

        Knowledge distillation of a generator (as in "GAN compression", Li et al. 2020): the
        same noise and constraint maps go through both generators, and G pays ``lam_distill``
        times the squared difference to the teacher's output on top of its usual loss, so a
        narrower generator (``ngf`` 8) can learn the mapping, and with it the conditional
        statistics, of a wider one. The adversarial term stays: on its own the squared
        difference makes the mean of what the narrow net cannot reproduce, a too smooth and
        too narrow ensemble (measured: ``workflows/results/gpu/README.md``). The teacher must
        take the same noise and constraints; it is not part of this model's weights.
        """
        if not self.config.lam_distill:
            raise InputError(
                "distill_from needs lam_distill > 0, the weight of the teacher's term "
                "(train_models.py: --set lam_distill=1)"
            )
        shapes = (32, 48)
        if (
            teacher.spec.to_dict() != self.spec.to_dict()
            or teacher.noise_shapes(*shapes) != self.noise_shapes(*shapes)
            or teacher.config.conditional != self.config.conditional
            or teacher.output != self.output
        ):
            raise InputError(
                "the teacher must model the same field with the same noise and constraints "
                "(field normalisation, nz, arch, conditional, output)"
            )
        teacher.to(self.device).eval().requires_grad_(False)
        self.__dict__["_teacher"] = teacher  # not a submodule: not saved with this model

    def _training_mask(self, real: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Well masks ``(B, 1, H, W)`` for a training batch, drawn as the config says."""
        cfg = self.config
        return random_masks(
            real.shape[0],
            real.shape[2:],
            density=cfg.density,
            mode=cfg.mode,
            partial=cfg.partial,
            generator=generator,
            device=real.device,
        )

    def train_step(self, batch: Batch, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """One D step and one G step on encoded fields ``batch.x`` ``(B, K, H, W)``.

        Constraint maps are drawn from ``batch.cond_source`` (same shape) when given, as in
        the paper's protocol where the generator's constraints come from images set aside for
        that; otherwise from ``x`` itself, so D also learns whether a field agrees with its
        wells.
        """
        real, cond_source = batch.x, batch.cond_source
        cfg = self.config
        teacher = self.__dict__.get("_teacher")
        if cfg.lam_distill and teacher is None:
            raise InputError(
                "lam_distill > 0 needs a teacher: model.distill_from(trained) (train_models.py: "
                "--distill TEACHER), or lam_distill = 0 to train without one"
            )
        b, size = real.shape[0], real.shape[2:]
        dev = real.device
        mask = self._training_mask(real, generator)  # (B, 1, H, W)
        target = real if cond_source is None else cond_source
        cond = constraint_tensor(target, mask) if cfg.conditional else None
        extra = None
        if cfg.conditional and self.extra:  # soft maps / proportions, some parts left out
            cond, extra = conditioning.training_condition(
                target,
                mask,
                soft=cfg.soft,
                proportion=cfg.proportion,
                scales=cfg.soft_scales,
                drop=cfg.drop,
                generator=generator,
            )
            mask = cond[:, self.spec.channels : self.spec.channels + 1].bool()  # wells given
        two = cfg.lam_div or cfg.lam_crps
        pairs = 2 if two and cfg.conditional else 1  # two realizations per map
        z = draw(self.latent(*size), pairs * b, generator)
        ones = (1,) * (real.dim() - 1)
        cond_g = cond.repeat(pairs, *ones) if cond is not None and pairs > 1 else cond

        opt_g, opt_d = self.optimizers["G"], self.optimizers["D"]
        with self._autocast():
            fake = self.activate(self.G(z, cond_g))  # (pairs * B, K, H, W)
            d_real = self.D(real, cond)
            d_fake = self.D(fake.detach(), cond_g)
            loss_d = F.softplus(-d_real).float().mean() + F.softplus(d_fake).float().mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

        self.D.requires_grad_(False)  # the G step needs gradients through D, not for D
        with self._autocast():
            loss_adv = F.softplus(-self.D(fake, cond_g)).float().mean()
        self.D.requires_grad_(True)
        field = target  # (B, K, H, W): the fields the wells were drawn from
        if pairs > 1:
            target, mask = target.repeat(pairs, *ones), mask.repeat(pairs, *ones)
        loss_c = constraint_loss(fake, target, mask)
        loss_g = loss_adv + cfg.lam * loss_c if cfg.conditional else loss_adv
        out = {"loss_d": loss_d.detach(), "loss_g": loss_adv.detach(), "loss_c": loss_c.detach()}
        if extra is not None and cfg.soft:
            loss_s = conditioning.soft_loss(fake[:b], extra)
            loss_g = loss_g + cfg.lam_soft * loss_s
            out["loss_soft"] = loss_s.detach()
        if extra is not None and cfg.proportion:
            loss_p = conditioning.proportion_loss(fake[:b], extra)
            loss_g = loss_g + cfg.lam_prop * loss_p
            out["loss_prop"] = loss_p.detach()
        if cfg.conditional and cfg.lam_local:
            pool = AVG_POOL[fake.dim()]
            local = pool(fake.float(), 3, 1, 1, count_include_pad=False)  # (B, K, H, W)
            loss_g = loss_g + cfg.lam_local * constraint_loss(local, target, mask)
        if cfg.lam_moments:
            target = torch.tensor(cfg.moment_target, device=dev) if cfg.moment_target else None
            loss_m = moment_loss(fake, real, std=self.spec.kind != "categorical", target=target)
            loss_g = loss_g + cfg.lam_moments * loss_m
            out["loss_moments"] = loss_m.detach()
        if teacher is not None:
            if teacher.device != dev:  # the trainer moved this model, not the teacher
                teacher.to(dev)
            with torch.no_grad():
                want = teacher.generate(z, cond_g)
            loss_t = F.mse_loss(fake.float(), want)
            loss_g = loss_g + cfg.lam_distill * loss_t
            out["loss_distill"] = loss_t.detach()
        if pairs > 1 and cfg.lam_crps:
            crps = fair_crps(fake, field, cfg.crps_patch)
            loss_g = loss_g + cfg.lam_crps * crps
            out["crps"] = crps.detach()
        if pairs > 1:
            div = diversity(fake, z)
            loss_g = loss_g - cfg.lam_div * div.clamp(max=1.0)
            out["diversity"] = div.detach()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        if cfg.ema:
            self.update_ema()
        return out

    @torch.no_grad()
    def update_ema(self) -> None:
        """``G_ema ← ema · G_ema + (1 − ema) · G``, parameters and buffers alike."""
        ema = [*self.G_ema.parameters(), *self.G_ema.buffers()]
        now = [*self.G.parameters(), *self.G.buffers()]
        for avg, cur in zip(ema, now, strict=True):
            if avg.is_floating_point():
                avg.lerp_(cur, 1.0 - self.config.ema)
            else:
                avg.copy_(cur)

    def _autocast(self):
        if self.config.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()
