"""Generator and discriminator networks.

Two families, both conditioned on the constraint tensor ``C`` (``K + 1`` channels: encoded
values and mask) as extra input channels:

``dcgan28``
    The paper's DCGAN-like nets for 28x28 images: two (transposed) convolutions each.
``fcn``
    Fully convolutional nets for geoscience grids: a U-Net generator with spatial noise at
    1/16 resolution and at full resolution, and a PatchGAN discriminator. Any grid whose sides
    are multiples of 16 (32 ... 256 and beyond) works, so one model trained on patches
    generates larger grids.

Generators return *pre-activation* outputs; the model applies the output activation
(tanh, identity, or softmax over facies) so that losses can use logits where useful.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2)


# -- the paper's 28x28 nets ---------------------------------------------------------------


class DCGAN28Generator(nn.Module):
    """G(z, C) for 28x28: z -> 7x7 features, C encoded to 7x7, two transposed convs to 28x28."""

    def __init__(self, out_ch: int, cond_ch: int, nz: int = 64, ngf: int = 64):
        super().__init__()
        self.cond_ch = cond_ch
        self.fc = nn.Sequential(nn.Linear(nz, 4 * ngf * 7 * 7), nn.ReLU())
        self.ngf = ngf
        enc = 2 * ngf if cond_ch else 0
        if cond_ch:
            self.cond = nn.Sequential(  # (B, Kc, 28, 28) -> (B, 2ngf, 7, 7)
                nn.Conv2d(cond_ch, ngf, 4, 2, 1), _act(), nn.Conv2d(ngf, 2 * ngf, 4, 2, 1), _act()
            )
        self.up = nn.Sequential(
            nn.ConvTranspose2d(4 * ngf + enc, 2 * ngf, 4, 2, 1), nn.ReLU(),  # 14x14
            nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1), nn.ReLU(),  # 28x28
        )
        self.out = nn.Conv2d(ngf + cond_ch, out_ch, 3, 1, 1)

    def forward(self, z: list[torch.Tensor], cond: torch.Tensor | None) -> torch.Tensor:
        (zv,) = z  # (B, nz)
        h = self.fc(zv).view(zv.shape[0], 4 * self.ngf, 7, 7)
        if self.cond_ch:
            h = torch.cat([h, self.cond(cond)], 1)
        h = self.up(h)  # (B, ngf, 28, 28)
        if self.cond_ch:
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
            spectral_norm(nn.Conv2d(in_ch + cond_ch, ndf, 4, 2, 1)), _act(),  # 14x14
            spectral_norm(nn.Conv2d(ndf, 2 * ndf, 4, 2, 1)), _act(),  # 7x7
            nn.Flatten(),
            spectral_norm(nn.Linear(2 * ndf * 7 * 7, 1)),
        )

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        if cond is not None:
            x = torch.cat([x, cond], 1)
        return self.net(x)  # (B, 1)


# -- fully convolutional nets for geoscience grids ------------------------------------------


def _down(cin: int, cout: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1), _act(), nn.Conv2d(cout, cout, 3, 1, 1), _act())


class _Up(nn.Module):
    def __init__(self, cin: int, skip: int, cout: int):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.conv = nn.Sequential(
            nn.Conv2d(cin + skip, cout, 3, 1, 1), _act(), nn.Conv2d(cout, cout, 3, 1, 1), _act()
        )

    def forward(self, h: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([self.up(h), skip], 1))


class UNetGenerator(nn.Module):
    """G(z, C): a 4-level U-Net over C with spatial noise at 1/16 and full resolution.

    Noise: ``z[0]`` is ``(B, nz, H/16, W/16)`` (large-scale structure), ``z[1]`` is
    ``(B, 1, H, W)`` (fine-scale variety). Both scale with the grid, so the same weights
    generate grids of any size that is a multiple of 16.
    """

    factor = 16

    def __init__(self, out_ch: int, cond_ch: int, nz: int = 16, ngf: int = 32):
        super().__init__()
        c1, c2, c3, c4 = ngf, 2 * ngf, 4 * ngf, 4 * ngf
        self.inc = nn.Sequential(nn.Conv2d(cond_ch + 1, c1, 3, 1, 1), _act())
        self.d1, self.d2, self.d3, self.d4 = _down(c1, c2), _down(c2, c3), _down(c3, c4), _down(c4, c4)
        self.mid = nn.Sequential(nn.Conv2d(c4 + nz, c4, 3, 1, 1), _act(), nn.Conv2d(c4, c4, 3, 1, 1), _act())
        self.u4, self.u3 = _Up(c4, c4, c4), _Up(c4, c3, c3)
        self.u2, self.u1 = _Up(c3, c2, c2), _Up(c2, c1, c1)
        self.out = nn.Conv2d(c1 + cond_ch, out_ch, 3, 1, 1)

    def forward(self, z: list[torch.Tensor], cond: torch.Tensor | None) -> torch.Tensor:
        z_coarse, z_fine = z  # (B, nz, H/16, W/16), (B, 1, H, W)
        x = z_fine if cond is None else torch.cat([cond, z_fine], 1)
        e1 = self.inc(x)  # (B, c1, H, W)
        e2 = self.d1(e1)  # (B, c2, H/2, W/2)
        e3 = self.d2(e2)  # (B, c3, H/4, W/4)
        e4 = self.d3(e3)  # (B, c4, H/8, W/8)
        h = self.mid(torch.cat([self.d4(e4), z_coarse], 1))  # (B, c4, H/16, W/16)
        h = self.u1(self.u2(self.u3(self.u4(h, e4), e3), e2), e1)  # (B, c1, H, W)
        if cond is not None:
            h = torch.cat([h, cond], 1)
        return self.out(h)

    @staticmethod
    def noise_shapes(nz: int, height: int, width: int) -> list[tuple[int, ...]]:
        return [(nz, height // 16, width // 16), (1, height, width)]


class PatchDiscriminator(nn.Module):
    """D(x, C): PatchGAN; ``n_layers`` strided convs, one logit per overlapping patch.

    Receptive field: 4 layers -> 94 px, 3 -> 46 px. A large field lets D judge
    the continuity of channels, not only their local texture.
    """

    def __init__(self, in_ch: int, cond_ch: int, ndf: int = 32, n_layers: int = 4):
        super().__init__()
        layers: list[nn.Module] = []
        cin = in_ch + cond_ch
        for i in range(n_layers):
            cout = ndf * min(2**i, 8)
            layers += [spectral_norm(nn.Conv2d(cin, cout, 4, 2, 1)), _act()]
            cin = cout
        layers += [spectral_norm(nn.Conv2d(cin, cin, 3, 1, 1)), _act(), spectral_norm(nn.Conv2d(cin, 1, 3, 1, 1))]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        if cond is not None:
            x = torch.cat([x, cond], 1)
        return self.net(x)  # (B, 1, H / 2**n_layers, W / 2**n_layers)
