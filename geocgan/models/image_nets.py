"""Networks and the shared base of the image-to-image translation models.

pix2pix (Isola et al. 2017), CycleGAN (Zhu et al. 2017) and SRGAN-style super-resolution
(Ledig et al. 2017) are built from these blocks: a U-Net (``UNet``), a ResNet generator
(``ResnetGenerator``), a residual generator with sub-pixel upsampling (``SRGenerator``) and a
PatchGAN discriminator whose receptive field is a parameter (``PatchGAN``). ``ImageTranslator``
is what the three models share on top of the model contract: the input image as the
condition, its spec (``spec.source``), padding to the grid multiple the nets take, and the
held-out translation error.

Generation never depends on the batch: normalisation layers run on their running
statistics (batch norm in ``eval()``), or per image (instance norm), and dropout noise comes
in as latent parts (``UNet`` takes keep-masks), so realization ``i`` is a function of its
input and ``(seed, i)`` alone.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from geocgan.constraints import FieldSpec
from geocgan.errors import GridError, InputError
from geocgan.models.base import Batch, GANModel, draw

RECEPTIVE_FIELDS = {1: 0, 16: 1, 70: 3, 286: 5}  # PatchGAN receptive field (px) -> layers


def check_receptive_field(receptive_field: int) -> None:
    """Raise ``InputError`` unless ``receptive_field`` is one a ``PatchGAN`` has."""
    if receptive_field not in RECEPTIVE_FIELDS:
        raise InputError(
            f"receptive_field {receptive_field}: use one of "
            f"{', '.join(map(str, RECEPTIVE_FIELDS))} (px)"
        )


def norm2d(kind: str, ch: int) -> nn.Module:
    """``batch`` (BatchNorm2d) or ``instance`` (InstanceNorm2d without affine, as CycleGAN)."""
    if kind == "batch":
        return nn.BatchNorm2d(ch)
    if kind == "instance":
        return nn.InstanceNorm2d(ch)
    raise InputError(f"norm {kind!r} is unknown; use 'batch' or 'instance'")


def init_weights(net: nn.Module) -> nn.Module:
    """pix2pix/CycleGAN initialisation: conv weights N(0, 0.02), norm weights N(1, 0.02)."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return net


# -- generators -------------------------------------------------------------------------


class UNet(nn.Module):
    """The pix2pix generator: ``levels`` 4x4 stride-2 convolutions down, as many transposed
    ones up, with skips (``skips=False``: the encoder-decoder of the paper's ablation).

    Encoder channels ``ngf * min(2**i, 8)``; dropout on the ``n_dropout`` innermost decoder
    layers, given as keep-masks (``dropout_shapes``), so that the noise is a latent part.
    Sides must be multiples of ``2**levels``.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        ngf: int = 64,
        levels: int = 8,
        skips: bool = True,
        norm: str = "batch",
        n_dropout: int = 3,
    ):
        super().__init__()
        if levels < 2:
            raise InputError(f"a U-Net needs levels >= 2, got {levels}")
        self.levels, self.skips = levels, skips
        self.n_dropout = min(n_dropout, levels - 1)
        ch = [ngf * min(2**i, 8) for i in range(levels)]
        self.ch = ch
        down = [nn.Conv2d(in_ch, ch[0], 4, 2, 1)]
        for i in range(1, levels):
            inner = i == levels - 1
            layers = [nn.LeakyReLU(0.2), nn.Conv2d(ch[i - 1], ch[i], 4, 2, 1)]
            down.append(nn.Sequential(*layers, *([] if inner else [norm2d(norm, ch[i])])))
        self.down = nn.ModuleList(down)
        up = []
        for j in range(levels - 1, 0, -1):  # up_j: res 2^-(j+1) -> 2^-j, ch[j] -> ch[j-1]
            cin = ch[j] if (j == levels - 1 or not skips) else 2 * ch[j]
            up.append(
                nn.Sequential(
                    nn.ReLU(), nn.ConvTranspose2d(cin, ch[j - 1], 4, 2, 1), norm2d(norm, ch[j - 1])
                )
            )
        self.up = nn.ModuleList(up)
        self.out = nn.Sequential(
            nn.ReLU(), nn.ConvTranspose2d(ch[0] * (2 if skips else 1), out_ch, 4, 2, 1)
        )
        init_weights(self)

    @property
    def multiple(self) -> int:
        return 2**self.levels

    def dropout_shapes(self, height: int, width: int) -> list[tuple[int, int, int]]:
        """Keep-mask shapes ``(C, H / 2^j, W / 2^j)`` of the innermost decoder layers."""
        out = []
        for k in range(self.n_dropout):
            j = self.levels - 1 - k
            out.append((self.ch[j - 1], height // 2**j, width // 2**j))
        return out

    def forward(self, x: torch.Tensor, keep: list[torch.Tensor] | None = None) -> torch.Tensor:
        """``x`` ``(B, Cin, H, W)`` -> ``(B, Cout, H, W)``; ``keep``: dropout multipliers (0 or
        1/(1-p)) of ``dropout_shapes``, or None (no dropout)."""
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)  # e_i: (B, ch[i], H / 2^(i+1), W / 2^(i+1))
        h = skips.pop()
        for k, layer in enumerate(self.up):
            h = layer(h)
            if keep is not None and k < self.n_dropout:
                h = h * keep[k]
            e = skips.pop()
            if self.skips:
                h = torch.cat([h, e], 1)
        return self.out(h)


class ResBlock(nn.Module):
    """Two 3x3 convolutions (reflection padding, norm) with an identity skip."""

    def __init__(self, ch: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(ch, ch, 3),
            norm2d(norm, ch),
            nn.ReLU(),
            nn.ReflectionPad2d(1),
            nn.Conv2d(ch, ch, 3),
            norm2d(norm, ch),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """The CycleGAN generator: c7s1-ngf, two stride-2 downsamplings, ``n_blocks`` residual
    blocks (6 at 128², 9 at 256² in the paper), two upsamplings, c7s1-out. Sides: multiples
    of 4."""

    multiple = 4

    def __init__(self, in_ch: int, out_ch: int, ngf: int = 64, n_blocks: int = 9, norm="instance"):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_ch, ngf, 7), norm2d(norm, ngf), nn.ReLU()]
        for m in (1, 2):
            layers += [
                nn.Conv2d(ngf * m, ngf * 2 * m, 3, 2, 1),
                norm2d(norm, ngf * 2 * m),
                nn.ReLU(),
            ]
        layers += [ResBlock(ngf * 4, norm) for _ in range(n_blocks)]
        for m in (4, 2):
            layers += [
                nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, 2, 1, output_padding=1),
                norm2d(norm, ngf * m // 2),
                nn.ReLU(),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_ch, 7)]
        self.net = init_weights(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SRGenerator(nn.Module):
    """SRGAN's generator: a 9x9 head, ``n_blocks`` residual blocks (conv-BN-PReLU-conv-BN),
    a global skip, ``log2(factor)`` sub-pixel upsamplings (conv to 4x channels,
    ``PixelShuffle(2)``, PReLU) and a 9x9 tail. ``nz`` noise channels at the coarse grid are
    stacked onto the input (not in SRGAN: they let an ensemble vary). ``cond_ch`` channels
    at the fine grid (well constraint maps) join the features before the tail."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        nf: int = 64,
        n_blocks: int = 16,
        factor: int = 4,
        cond_ch: int = 0,
    ):
        super().__init__()
        if factor not in (2, 4, 8):
            raise InputError(f"super-resolution factor {factor}: use 2, 4 or 8")
        self.head = nn.Sequential(nn.Conv2d(in_ch, nf, 9, padding=4), nn.PReLU())
        blocks = []
        for _ in range(n_blocks):
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(nf, nf, 3, padding=1),
                    nn.BatchNorm2d(nf),
                    nn.PReLU(),
                    nn.Conv2d(nf, nf, 3, padding=1),
                    nn.BatchNorm2d(nf),
                )
            )
        self.blocks = nn.ModuleList(blocks)
        self.mid = nn.Sequential(nn.Conv2d(nf, nf, 3, padding=1), nn.BatchNorm2d(nf))
        ups = []
        for _ in range(int(math.log2(factor))):
            ups += [nn.Conv2d(nf, 4 * nf, 3, padding=1), nn.PixelShuffle(2), nn.PReLU()]
        self.up = nn.Sequential(*ups)
        self.cond_ch = cond_ch
        self.tail = nn.Conv2d(nf + cond_ch, out_ch, 9, padding=4)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, Cin, h, w)`` -> ``(B, Cout, factor h, factor w)``; ``cond`` ``(B, cond_ch,
        factor h, factor w)`` (none: zeros, no wells)."""
        h0 = self.head(x)
        h = h0
        for block in self.blocks:
            h = h + block(h)
        up = self.up(h0 + self.mid(h))  # (B, nf, factor h, factor w)
        if self.cond_ch:
            if cond is None:
                cond = up.new_zeros((up.shape[0], self.cond_ch, *up.shape[2:]))
            up = torch.cat([up, cond], 1)
        return self.tail(up)


# -- discriminator ----------------------------------------------------------------------


class PatchGAN(nn.Module):
    """pix2pix's PatchGAN: one logit per patch of ``receptive_field`` px (1: PixelGAN of 1x1
    convolutions; 16, 70, 286: 1, 3, 5 stride-2 layers before two 4x4 stride-1 ones)."""

    def __init__(self, in_ch: int, ndf: int = 64, receptive_field: int = 70, norm="batch"):
        super().__init__()
        check_receptive_field(receptive_field)
        self.n_layers = n = RECEPTIVE_FIELDS[receptive_field]
        if n == 0:
            blocks = [
                nn.Sequential(nn.Conv2d(in_ch, ndf, 1), nn.LeakyReLU(0.2)),
                nn.Sequential(nn.Conv2d(ndf, 2 * ndf, 1), norm2d(norm, 2 * ndf), nn.LeakyReLU(0.2)),
            ]
            last = nn.Conv2d(2 * ndf, 1, 1)
        else:
            blocks = [nn.Sequential(nn.Conv2d(in_ch, ndf, 4, 2, 1), nn.LeakyReLU(0.2))]
            prev = ndf
            for i in range(1, n + 1):
                ch = ndf * min(2**i, 8)
                stride = 2 if i < n else 1
                blocks.append(
                    nn.Sequential(
                        nn.Conv2d(prev, ch, 4, stride, 1), norm2d(norm, ch), nn.LeakyReLU(0.2)
                    )
                )
                prev = ch
            last = nn.Conv2d(prev, 1, 4, 1, 1)
        self.blocks = nn.ModuleList(blocks)
        self.last = last
        init_weights(self)

    @property
    def min_side(self) -> int:
        """The smallest input side that leaves at least one logit."""
        n = self.n_layers
        return 1 if n == 0 else 3 * 2**n

    def forward(
        self, x: torch.Tensor, features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Logits ``(B, 1, h, w)``; with ``features`` also each block's activations."""
        feats = []
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        out = self.last(x)
        return (out, feats) if features else out


# -- losses and optimisers ------------------------------------------------------------------


def adam_pair(g_params, d_params, lr: float, beta1: float) -> dict[str, torch.optim.Optimizer]:
    """``{"G": ..., "D": ...}`` Adam optimisers with betas ``(beta1, 0.999)``."""
    betas = (beta1, 0.999)
    return {
        "G": torch.optim.Adam(g_params, lr=lr, betas=betas),
        "D": torch.optim.Adam(d_params, lr=lr, betas=betas),
    }


def gan_loss(logits: torch.Tensor, real: bool, kind: str = "bce") -> torch.Tensor:
    """The adversarial loss of ``logits`` against the target ``real``: ``bce`` (the pix2pix
    and SRGAN cross-entropy, as ``BCEWithLogits``) or ``lsgan`` (CycleGAN's least squares,
    ``(D - 1)²`` for real and ``D²`` for fake)."""
    logits = logits.float()
    if kind == "lsgan":
        return ((logits - float(real)) ** 2).mean()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(real)))


# -- shared base of the translation models ------------------------------------------------


def pad_to(image: torch.Tensor, multiple: int, minimum: int = 1) -> tuple[torch.Tensor, int, int]:
    """``image`` ``(B, C, h, w)`` padded at the bottom/right (edge values repeated) to sides
    that are multiples of ``multiple`` and at least ``minimum``; returns it and ``(h, w)``."""
    h, w = image.shape[-2:]
    ph = max(-(-h // multiple) * multiple, -(-minimum // multiple) * multiple) - h
    pw = max(-(-w // multiple) * multiple, -(-minimum // multiple) * multiple) - w
    if ph or pw:
        image = F.pad(image, (0, pw, 0, ph), mode="replicate")
    return image, h, w


class ImageTranslator(GANModel):
    """What pix2pix, CycleGAN and super-resolution share: conditioned on an input image
    (``condition = "image"``), encoded with ``spec.source``; outputs described by ``spec``,
    ``scale`` times the input's size. ``generate`` takes any grid: it pads the encoded input
    to ``multiple`` and crops the output back."""

    condition = "image"
    scale = 1  # output pixels per input pixel, along each axis
    multiple = 1  # the generator takes sides that are multiples of this
    min_train_side = 1  # the discriminator's smallest input side
    grid_hint = ""  # how to make the nets take smaller training windows

    def __init__(self, config, spec: FieldSpec):
        super().__init__(config, spec)
        if spec.source is None:
            raise InputError(
                f"a {self.name} model needs the input's spec as spec.source "
                f"({type(self).__name__}.translation_spec(x, source, kind, source_kind))"
            )

    @classmethod
    def translation_spec(cls, x, source, kind: str, source_kind: str) -> FieldSpec:
        """The spec of outputs like ``x`` translated from inputs like ``source`` (raw arrays
        ``(N, H, W)``, or ``(N, C, H, W)`` for multi-band continuous rasters)."""
        x, source = np.asarray(x), np.asarray(source)
        out = FieldSpec.from_data(x, kind, bands=x.shape[1] if x.ndim == 4 else 1)
        out.source = FieldSpec.from_data(
            source, source_kind, bands=source.shape[1] if source.ndim == 4 else 1
        )
        return out

    @classmethod
    def field_spec(cls, values, kind: str) -> FieldSpec:
        """Refused: a translation has two sides (``translation_spec``)."""
        raise InputError(
            f"a {cls.name} model needs the spec of both sides: use translation_spec(x, source, "
            "kind, source_kind)"
        )

    @property
    def input_spec(self) -> FieldSpec:
        return self.spec.source

    def encode(self, batch: Batch) -> Batch:
        """``x`` through ``spec``; ``source`` and ``other`` through ``spec.source``."""
        parts = {"x": self.spec.encode(batch.x, check=False)}
        for k in ("source", "other"):
            v = getattr(batch, k)
            if v is not None:
                parts[k] = self.input_spec.encode(v, check=False)
        return Batch(**parts)

    def check_data(self, data) -> None:
        """Training windows must be sides the nets take; facies codes must be known."""
        h, w = data.shape
        need = max(self.multiple * self.scale, self.min_train_side)
        if h % (self.multiple * self.scale) or w % (self.multiple * self.scale) or min(h, w) < need:
            raise GridError(
                f"a {self.name} model trains on sides that are multiples of "
                f"{self.multiple * self.scale} and at least {need} px, got {h}x{w}: choose "
                f"another --patch{self.grid_hint}"
            )
        for spec, arrays in ((self.spec, data.arrays()), (self.input_spec, data.input_arrays())):
            if spec.kind == "categorical":
                for arr in arrays:
                    spec.code_index(torch.as_tensor(arr))

    def check_grid(self, *shape: int) -> None:
        """Any grid: ``generate`` pads it to what the nets take."""

    def activate(self, out: torch.Tensor, spec: FieldSpec | None = None) -> torch.Tensor:
        """Softmax for facies, identity for continuous values (of ``spec``; default: the
        outputs')."""
        kind = (self.spec if spec is None else spec).kind
        return out.float().softmax(1) if kind == "categorical" else out.float()

    def padded(self, image: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        return pad_to(image, self.multiple)

    def validation(self, data, n: int, generator: torch.Generator):
        return self.encode(data.sample(n, generator))

    def translation_error(self, fake: torch.Tensor, target: torch.Tensor) -> float:
        """Mean absolute error in network space (categorical: of the probabilities)."""
        return float((fake - target).abs().mean())

    def draw_latent(self, n: int, shape: tuple[int, int], g: torch.Generator) -> list[torch.Tensor]:
        """``n`` draws of ``latent(*shape)`` from ``g`` (validation: one generator for all)."""
        return draw(self.latent(*shape), n, g)
