"""Generator and discriminator of the class-conditional GANs, for small square images.

Two architectures, on ``(C, S, S)`` images in ``[-1, 1]`` with ``S`` a multiple of 4
(28 for MNIST and Fashion-MNIST, 32):

``conv`` (DCGAN, Radford et al. 2016)
    G: a linear layer to ``(2w, S/4, S/4)``, two stride-2 transposed convolutions, batch
    normalisation and ReLU between, tanh out. D: two stride-2 convolutions with leaky ReLU
    (no batch normalisation, so D's outputs do not depend on the rest of the batch), then
    linear heads on the flattened features.
``mlp`` (the conditional GAN of Mirza & Osindero 2014)
    G: two hidden layers, tanh out; D: two hidden layers with leaky ReLU and dropout.

A class label reaches G as its one-hot vector concatenated to ``z`` (or a learned
embedding, ``label_dim > 0``), and D (when D is given labels) either concatenated to its
input — one-hot maps as extra channels (conv) or a one-hot vector (mlp) — or by projection
(Miyato & Koyama 2018): ``<embed(y), features(x)>`` added to the first output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from geocgan.errors import InputError

ARCHS = ("conv", "mlp")
LABEL_MODES = ("concat", "projection")


def check_size(size: int) -> None:
    """Raise ``InputError`` unless the nets take images of side ``size``."""
    if size % 4 or size < 8:
        raise InputError(f"image size {size}: give a multiple of 4, at least 8 (28: MNIST)")


def _check(arch: str, size: int) -> None:
    if arch not in ARCHS:
        raise InputError(f"architecture {arch!r} is unknown; use one of {', '.join(ARCHS)}")
    check_size(size)


class ImageGenerator(nn.Module):
    """``G(z, y)``: latent vectors ``(B, nz)`` (and labels ``(B,)``) to images ``(B, C, S, S)``.

    Parameters
    ----------
    nz : int
        Size of the latent vector (all latent parts concatenated).
    channels, size : int
        Image channels and side.
    width : int
        Channels of the last hidden layer (conv) or units of the first (mlp).
    arch : {"conv", "mlp"}
    n_classes : int
        0 for an unconditional generator.
    label_dim : int
        0: the label's one-hot vector is concatenated to z; above 0, a learned embedding of
        this size.
    """

    def __init__(
        self,
        nz: int,
        channels: int,
        size: int,
        width: int,
        arch: str = "conv",
        n_classes: int = 0,
        label_dim: int = 0,
    ):
        super().__init__()
        _check(arch, size)
        self.n_classes = n_classes
        self.embed = nn.Embedding(n_classes, label_dim) if n_classes and label_dim else None
        d = nz + ((label_dim or n_classes) if n_classes else 0)
        if arch == "conv":
            s = size // 4
            self.net = nn.Sequential(
                nn.Linear(d, 2 * width * s * s),
                nn.Unflatten(1, (2 * width, s, s)),
                nn.BatchNorm2d(2 * width),
                nn.ReLU(),
                nn.ConvTranspose2d(2 * width, width, 4, 2, 1),  # (B, w, S/2, S/2)
                nn.BatchNorm2d(width),
                nn.ReLU(),
                nn.ConvTranspose2d(width, channels, 4, 2, 1),  # (B, C, S, S)
                nn.Tanh(),
            )
        else:
            self.net = nn.Sequential(
                nn.Linear(d, width),
                nn.ReLU(),
                nn.Linear(width, 2 * width),
                nn.BatchNorm1d(2 * width),
                nn.ReLU(),
                nn.Linear(2 * width, channels * size * size),
                nn.Tanh(),
                nn.Unflatten(1, (channels, size, size)),
            )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.n_classes:
            y = (
                self.embed(labels)
                if self.embed is not None
                else F.one_hot(labels, self.n_classes).to(z.dtype)
            )  # (B, label_dim or K)
            z = torch.cat([z, y], 1)
        return self.net(z)


class ImageDiscriminator(nn.Module):
    """``D(x, y)``: images ``(B, C, S, S)`` (and labels) to ``outputs`` logits ``(B, outputs)``.

    ``features(x, y)`` is the flattened body ``(B, F)`` the heads read (InfoGAN puts its Q
    head there too).

    Parameters
    ----------
    channels, size, width : int
        Image channels and side; channels of the first convolution (conv) or units of the
        last hidden layer (mlp).
    arch : {"conv", "mlp"}
    n_classes : int
        Classes of the label D is given; 0 for a D that sees images only.
    label_mode : {"concat", "projection"}
        How D takes the label (see the module docstring).
    outputs : int
        Logits of the head: 1 (real/fake), 1 + K (ACGAN), 2K (2N-GAN).
    dropout : float
        Dropout after each hidden layer of the mlp body.
    """

    def __init__(
        self,
        channels: int,
        size: int,
        width: int,
        arch: str = "conv",
        n_classes: int = 0,
        label_mode: str = "concat",
        outputs: int = 1,
        dropout: float = 0.0,
    ):
        super().__init__()
        _check(arch, size)
        if label_mode not in LABEL_MODES:
            raise InputError(f"label mode {label_mode!r}: use one of {', '.join(LABEL_MODES)}")
        self.n_classes, self.arch = n_classes, arch
        self.concat = bool(n_classes) and label_mode == "concat"
        extra = n_classes if self.concat else 0
        if arch == "conv":
            s = size // 4
            self.body = nn.Sequential(
                nn.Conv2d(channels + extra, width, 4, 2, 1),  # (B, w, S/2, S/2)
                nn.LeakyReLU(0.2),
                nn.Conv2d(width, 2 * width, 4, 2, 1),  # (B, 2w, S/4, S/4)
                nn.LeakyReLU(0.2),
                nn.Flatten(),
            )
            self.feature_dim = 2 * width * s * s
        else:
            self.body = nn.Sequential(
                nn.Linear(channels * size * size + extra, 2 * width),
                nn.LeakyReLU(0.2),
                nn.Dropout(dropout),
                nn.Linear(2 * width, width),
                nn.LeakyReLU(0.2),
                nn.Dropout(dropout),
            )
            self.feature_dim = width
        self.head = nn.Linear(self.feature_dim, outputs)
        project = bool(n_classes) and label_mode == "projection"
        self.project = nn.Embedding(n_classes, self.feature_dim) if project else None

    def features(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.arch == "mlp":
            x = x.flatten(1)  # (B, C*S*S)
        if self.concat:
            y = F.one_hot(labels, self.n_classes).to(x.dtype)  # (B, K)
            if self.arch == "conv":
                y = y[:, :, None, None].expand(-1, -1, *x.shape[2:])  # (B, K, S, S)
            x = torch.cat([x, y], 1)
        return self.body(x)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x, labels)  # (B, F)
        out = self.head(h)  # (B, outputs)
        if self.project is not None:
            out = out + F.pad(
                (self.project(labels) * h).sum(1, keepdim=True), (0, out.shape[1] - 1)
            )
        return out


class QHead(nn.Module):
    """InfoGAN's Q: D's features ``(B, F)`` to the codes' posterior parameters — logits of
    each categorical code, then the mean and log standard deviation of each continuous one."""

    def __init__(self, feature_dim: int, cat_codes: list[int], n_cont: int, hidden: int = 128):
        super().__init__()
        self.cat_codes, self.n_cont = list(cat_codes), n_cont
        self.net = nn.Sequential(
            nn.Linear(feature_dim, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, sum(cat_codes) + 2 * n_cont),
        )

    def forward(self, h: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        out = self.net(h)  # (B, Σk + 2m)
        cat = list(torch.split(out[:, : sum(self.cat_codes)], self.cat_codes, 1))
        mean, logstd = out[:, sum(self.cat_codes) :].split([self.n_cont] * 2, 1)  # (B, m) each
        return cat, mean, logstd
