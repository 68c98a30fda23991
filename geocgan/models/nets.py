"""Generator and discriminator networks.

Two families, both conditioned on the constraint tensor ``C`` (``K + 1`` channels: encoded
values and mask) as extra input channels:

``dcgan28``
    The paper's DCGAN-like nets for 28x28 images: two (transposed) convolutions each.
``fcn``
    Fully convolutional nets for geoscience grids: a spatial-noise generator with the
    constraints injected at every scale, and a PatchGAN discriminator. Any grid whose sides
    are multiples of 16 (32 ... 256 and beyond) works, so one model trained on patches
    generates larger grids. ``ndim=3`` gives the same nets for volumes ``(D, H, W)``: the
    only difference is the dimension of the convolutions and pools (``CONV``, ``AVG_POOL``).

Generators return *pre-activation* outputs; the model applies the output activation
(tanh, identity, or softmax over facies) so that losses can use logits where useful.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2)


CONV = {2: nn.Conv2d, 3: nn.Conv3d}  # by number of spatial dimensions
AVG_POOL = {4: F.avg_pool2d, 5: F.avg_pool3d}  # by tensor rank: (B, C, H, W) or (B, C, D, H, W)


# -- the paper's 28x28 nets ---------------------------------------------------------------


class DCGAN28Generator(nn.Module):
    """G(z, C) for 28x28: z -> 7x7 features, C encoded to 7x7, two transposed convs to 28x28.

    ``cond_skip=True`` (default) also feeds the raw constraint maps to the output layer, which
    lets G paint a well's value without drawing the image around it; ``False`` gives the
    constraints at the input only (encoded to 7x7), the paper's design.
    """

    def __init__(
        self, out_ch: int, cond_ch: int, nz: int = 64, ngf: int = 64, cond_skip: bool = True
    ):
        super().__init__()
        self.cond_ch = cond_ch
        self.cond_skip = bool(cond_ch) and cond_skip
        self.fc = nn.Sequential(nn.Linear(nz, 4 * ngf * 7 * 7), nn.ReLU())
        self.ngf = ngf
        enc = 2 * ngf if cond_ch else 0
        if cond_ch:
            self.cond = nn.Sequential(  # (B, Kc, 28, 28) -> (B, 2ngf, 7, 7)
                nn.Conv2d(cond_ch, ngf, 4, 2, 1), _act(), nn.Conv2d(ngf, 2 * ngf, 4, 2, 1), _act()
            )
        self.up = nn.Sequential(
            nn.ConvTranspose2d(4 * ngf + enc, 2 * ngf, 4, 2, 1),
            nn.ReLU(),  # 14x14
            nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1),
            nn.ReLU(),  # 28x28
        )
        self.out = nn.Conv2d(ngf + (cond_ch if self.cond_skip else 0), out_ch, 3, 1, 1)

    def forward(self, z: list[torch.Tensor], cond: torch.Tensor | None) -> torch.Tensor:
        (zv,) = z  # (B, nz)
        h = self.fc(zv).view(zv.shape[0], 4 * self.ngf, 7, 7)
        if self.cond_ch:
            h = torch.cat([h, self.cond(cond)], 1)
        h = self.up(h)  # (B, ngf, 28, 28)
        if self.cond_skip:
            h = torch.cat([h, cond], 1)
        return self.out(h)

    @staticmethod
    def noise_shapes(nz: int, height: int, width: int) -> list[tuple[int, ...]]:
        return [(nz,)]


class DCGAN28Discriminator(nn.Module):
    """D(x, C) for 28x28: two strided convs and a linear layer -> one logit per image."""

    def __init__(self, in_ch: int, cond_ch: int, ndf: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            spectral_norm(nn.Conv2d(in_ch + cond_ch, ndf, 4, 2, 1)),
            _act(),  # 14x14
            spectral_norm(nn.Conv2d(ndf, 2 * ndf, 4, 2, 1)),
            _act(),  # 7x7
            nn.Flatten(),
            spectral_norm(nn.Linear(2 * ndf * 7 * 7, 1)),
        )

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        if cond is not None:
            x = torch.cat([x, cond], 1)
        return self.net(x)  # (B, 1)


# -- fully convolutional nets for geoscience grids ------------------------------------------


class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector to unit RMS (ProGAN): batch-independent."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + 1e-8)


def pool_constraints(cond: torch.Tensor, factor: int, extra: int = 0) -> torch.Tensor:
    """Constraint tensor ``(B, K + 1, H, W)`` (or ``(B, K + 1, D, H, W)``) at 1/factor resolution.

    Values become the mean of the wells inside each coarse cell (0 where none); the mask
    becomes 1 where a cell holds at least one well. Works for one-hot facies and values.
    The last ``extra`` channels (soft maps, proportions: ``geocgan.conditioning``) follow the
    mask and are plain averages.
    """
    if factor == 1:
        return cond
    pool = AVG_POOL[cond.dim()]
    if extra:
        base, rest = cond[:, :-extra], cond[:, -extra:]
        return torch.cat([pool_constraints(base, factor), pool(rest, factor)], 1)
    values, mask = cond[:, :-1], cond[:, -1:]
    den = pool(mask, factor)  # (B, 1, H/f, W/f): share of well pixels
    has = (den > 0).to(cond.dtype)
    return torch.cat([pool(values, factor) / den.clamp_min(1e-12) * has, has], 1)


class _Stage(nn.Module):
    """One resolution of the generator.

    ``a = conv(h) + conv_c(C) + s ⊙ z``, PixelNorm and LeakyReLU, then a second conv, PixelNorm
    and LeakyReLU. The constraint convolution is separate from the feature convolution (the
    same as one conv over ``cat([h, C])``), so constraints shared by a whole batch, as in an
    ensemble, are convolved once and broadcast. ``z`` is one channel of fresh noise, scaled
    per feature (``s``, learned).
    """

    def __init__(
        self,
        cin: int,
        cond_ch: int,
        cout: int,
        noise: bool = True,
        padding: str = "zeros",
        ndim: int = 2,
    ):
        super().__init__()
        pad = {"padding_mode": padding}
        conv = CONV[ndim]
        self.conv = conv(cin, cout, 3, 1, 1, **pad)
        self.conv_c = conv(cond_ch, cout, 3, 1, 1, bias=False, **pad) if cond_ch else None
        self.noise_scale = nn.Parameter(torch.ones(1, cout, *[1] * ndim)) if noise else None
        self.post = nn.Sequential(
            PixelNorm(), _act(), conv(cout, cout, 3, 1, 1, **pad), PixelNorm(), _act()
        )

    def forward(
        self, h: torch.Tensor, cond: torch.Tensor | None, z: torch.Tensor | None
    ) -> torch.Tensor:
        a = self.conv(h)
        if self.conv_c is not None and cond is not None:
            a = a + self.conv_c(cond)
        if self.noise_scale is not None and z is not None:
            a = a + self.noise_scale * z
        return self.post(a)


class SpatialGenerator(nn.Module):
    """G(z, C): spatial noise upsampled through 4 stages, constraints injected at every scale.

    The structure comes from spatial noise (as in SGAN), so realizations differ; the
    constraint maps, pooled to each resolution (``pool_constraints``), steer every stage,
    and the full-resolution maps reach the output layer. Widths are ``8, 4, 2, 1, 1/2`` × ngf
    at H/16 ... H, two convs each: most of the work happens at coarse scales, which keeps a
    realization cheap: 0.14 GFLOP at 128² for ngf = 12 (torch's flop counter), against 0.38
    for the earlier design with 16 channels at full resolution. Noise: ``z[0]`` is
    ``(B, nz, H/16, W/16)``, then one channel of fresh noise at H/8, H/4, H/2 and H. Both
    scale with the grid, so the same weights generate grids of any multiple of 16.

    ``padding="reflect"`` pads every convolution with the mirrored field instead of zeros, so
    that pixels near a grid's edge see the same kind of surroundings as those inside it; with
    zeros a model trained on small patches learns a border its large grids mostly lack.

    Constraints given as one map expanded over the batch (``cond.expand(B, ...)``, as the
    ensemble sampler does) are pooled and convolved once for the whole batch.

    ``ndim=3`` makes volumes: every size above reads ``(D, H, W)``, each halved per stage.
    ``extra``: how many of the ``cond_ch`` channels, after the mask, are soft maps or
    proportions (pooled as plain averages).
    """

    factor = 16

    def __init__(
        self,
        out_ch: int,
        cond_ch: int,
        nz: int = 16,
        ngf: int = 16,
        padding: str = "zeros",
        ndim: int = 2,
        extra: int = 0,
    ):
        super().__init__()
        self.extra = extra
        widths = [8 * ngf, 4 * ngf, 2 * ngf, ngf, max(ngf // 2, 2)]  # H/16, H/8, H/4, H/2, H
        stage = {"padding": padding, "ndim": ndim}
        self.start = _Stage(nz, cond_ch, widths[0], noise=False, **stage)
        self.stages = nn.ModuleList(
            _Stage(widths[i], cond_ch, widths[i + 1], **stage) for i in range(4)
        )
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        pad = {"padding_mode": padding}
        conv = CONV[ndim]
        self.out = conv(widths[-1], out_ch, 3, 1, 1, **pad)
        self.out_c = conv(cond_ch, out_ch, 3, 1, 1, bias=False, **pad) if cond_ch else None

    def forward(self, z: list[torch.Tensor], cond: torch.Tensor | None) -> torch.Tensor:
        if cond is not None and cond.shape[0] > 1 and cond.stride(0) == 0:
            cond = cond[:1]  # one constraint map for the whole batch: work on it once

        def pooled(factor: int) -> torch.Tensor | None:
            return None if cond is None else pool_constraints(cond, factor, self.extra)

        h = self.start(z[0], pooled(16), None)  # (B, 8ngf, H/16, W/16)
        for i, stage in enumerate(self.stages):
            h = stage(self.up(h), pooled(8 >> i), z[i + 1])  # 8, 4, 2, 1
        out = self.out(h)  # (B, K, H, W)
        if self.out_c is not None and cond is not None:
            out = out + self.out_c(cond)
        return out

    @staticmethod
    def noise_shapes(nz: int, *size: int) -> list[tuple[int, ...]]:
        """Noise parts for a grid of ``size`` = ``(H, W)`` or ``(D, H, W)``."""
        return [(nz, *(n // 16 for n in size))] + [
            (1, *(n >> s for n in size)) for s in (3, 2, 1, 0)
        ]


class PatchDiscriminator(nn.Module):
    """D(x, C): PatchGAN; ``n_layers`` strided convs, one logit per overlapping patch.

    Receptive field: 3 layers -> 54 px, 4 -> 110, 5 -> 222 (``7 * 2**n_layers - 2``). A large
    field lets D judge the continuity of channels, not only their local texture. ``ndim=3``:
    the same on volumes, one logit per overlapping block.
    """

    def __init__(self, in_ch: int, cond_ch: int, ndf: int = 32, n_layers: int = 4, ndim: int = 2):
        super().__init__()
        conv = CONV[ndim]
        layers: list[nn.Module] = []
        cin = in_ch + cond_ch
        for i in range(n_layers):
            cout = ndf * min(2**i, 8)
            layers += [spectral_norm(conv(cin, cout, 4, 2, 1)), _act()]
            cin = cout
        layers += [
            spectral_norm(conv(cin, cin, 3, 1, 1)),
            _act(),
            spectral_norm(conv(cin, 1, 3, 1, 1)),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        if cond is not None:
            x = torch.cat([x, cond], 1)
        return self.net(x)  # (B, 1, H / 2**n_layers, W / 2**n_layers)
