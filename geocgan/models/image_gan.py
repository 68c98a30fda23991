"""What the class-conditional GANs share: image settings, the [-1, 1] field spec, the
latent vector, label checks, one adversarial step, and validation statistics.

The models (``dcgan``, ``cgan``, ``cdcgan``, ``acgan``, ``twon-gan``, ``infogan``) subclass
``ImageGAN`` and build their nets from ``geocgan.models.class_nets`` and their losses from
``geocgan.models.losses``. Images are one channel, ``size x size``; raw values (e.g. 0-255)
map to ``[-1, 1]`` (``field_spec``), which G reaches through a tanh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import torch

from geocgan.constraints import FieldSpec
from geocgan.errors import GridError, InputError
from geocgan.models.base import Batch, GANModel, Latent, check_latent, draw, frozen
from geocgan.models.class_nets import ImageDiscriminator, ImageGenerator, check_size
from geocgan.models.losses import check_loss, d_loss, g_loss

IMAGE_PARAMS = """
    size : int
        Side of the square images, a multiple of 4 (28: MNIST and Fashion-MNIST).
    nz : int
        Size of the normal latent vector z.
    ngf, ndf : int
        Width of the generator and of the discriminator.
    loss : {"ns", "hinge", "ls"}
        The adversarial loss: non-saturating, hinge or least squares (``geocgan.models.losses``).
    lr_g, lr_d, beta1, beta2 : float
        Adam settings.
"""

LABEL_PARAMS = """
    n_classes : int
        Number of classes K; labels are 0..K-1.
    label_dim : int
        How G takes the label: 0 concatenates its one-hot vector to z; above 0, a learned
        embedding of this size.
"""


@dataclass
class ImageGANConfig:
    size: int = 28
    nz: int = 64
    ngf: int = 32
    ndf: int = 32
    loss: Literal["ns", "hinge", "ls"] = "ns"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999

    def __post_init__(self) -> None:
        check_loss(self.loss)
        check_size(self.size)
        if min(self.nz, self.ngf, self.ndf) < 1:
            raise InputError("nz, ngf and ndf must be >= 1")


@dataclass
class LabelledConfig(ImageGANConfig):
    n_classes: int = 10
    label_dim: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_classes < 2 or self.label_dim < 0:
            raise InputError(
                f"n_classes must be >= 2 and label_dim >= 0, got {self.n_classes}, {self.label_dim}"
            )


class ImageGAN(GANModel):
    """Base of the class-conditional GANs (see the module docstring)."""

    labelled: ClassVar[bool] = False  # trains on labels, generates for given labels

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.needs = frozenset({"labels"}) if cls.labelled else frozenset()
        cls.condition = "labels" if cls.labelled else "none"

    def __init__(self, config, spec: FieldSpec):
        super().__init__(config, spec)
        if spec.kind != "continuous":
            raise InputError(
                f"a {self.name!r} model generates grey-level images: train it on continuous "
                "values (e.g. pixel intensities), not facies codes"
            )

    def build(
        self,
        arch: str = "conv",
        d_outputs: int = 1,
        d_label: str | None = None,
        dropout: float = 0.0,
        nz: int | None = None,
    ) -> None:
        """Make ``G`` (given the label when the model is ``labelled``), ``D`` (given it too
        with ``d_label``: "concat" or "projection") and their Adam optimizers."""
        c = self.config
        k = c.n_classes if self.labelled else 0
        label_dim = getattr(c, "label_dim", 0)
        self.G = ImageGenerator(nz or c.nz, 1, c.size, c.ngf, arch, k, label_dim)
        self.D = ImageDiscriminator(
            1, c.size, c.ndf, arch, k if d_label else 0, d_label or "concat", d_outputs, dropout
        )
        betas = (c.beta1, c.beta2)
        self.optimizers = {
            "G": torch.optim.Adam(self.G.parameters(), lr=c.lr_g, betas=betas),
            "D": torch.optim.Adam(self.D.parameters(), lr=c.lr_d, betas=betas),
        }

    # -- data -------------------------------------------------------------------------

    @classmethod
    def field_spec(cls, values, kind: str = "continuous") -> FieldSpec:
        """Raw values in ``[lo, hi]`` (the data's range, e.g. 0-255) map to ``[-1, 1]``."""
        v = np.asarray(values, dtype=np.float64)
        if v.size == 0 or not np.isfinite(v).all():
            raise InputError(
                f"the training images hold {'no values' if v.size == 0 else 'NaN or infinite values'}"
                f"; give images of finite grey levels (fill or drop the bad ones)"
            )
        lo, hi = float(v.min()), float(v.max())
        return FieldSpec(kind="continuous", center=(lo + hi) / 2, scale=(hi - lo) / 2 or 1.0)

    def check_grid(self, height: int, width: int) -> None:
        s = self.config.size
        if (height, width) != (s, s):
            fits = height == width and height % 4 == 0 and height >= 8
            raise GridError(
                f"this {self.name!r} model makes {s}x{s} images, the data are {height}x{width}; "
                + (
                    f"train with --set size={height}"
                    if fits
                    else "crop or pad them to squares whose side is a multiple of 4 (at least 8)"
                )
            )

    def check_data(self, data) -> None:
        """Images must be one-channel stacks ``(N, S, S)``; labels of ``data`` classes of the
        model (``n_classes``)."""
        for images in data.arrays():
            if images.ndim != 3:
                raise InputError(
                    f"a {self.name!r} model trains on one-channel images (N, H, W), got "
                    f"{tuple(images.shape)}"
                )
        labels = getattr(data, "labels", None)
        if self.labelled and labels is not None and len(labels):
            k, top = self.config.n_classes, int(labels.max())
            if top >= k:
                raise InputError(
                    f"the data have label {top}, outside 0..{k - 1} (this model's n_classes="
                    f"{k}); train with --set n_classes={top + 1}"
                )

    # -- the contract -----------------------------------------------------------------

    def latent(self, *shape: int) -> list[Latent]:
        """One normal vector ``(nz,)`` per image (whatever ``shape``: images are fixed-size)."""
        return [Latent((self.config.nz,))]

    def check_labels(self, labels: torch.Tensor | None, n: int) -> None:
        """Raise ``InputError`` unless ``labels`` are ``n`` classes of the model (labelled
        models) or ``None`` (the others)."""
        if not self.labelled:
            if labels is not None:
                raise InputError(f"a {self.name!r} model is unconditional: generate without labels")
            return
        k = self.config.n_classes
        if labels is None or labels.shape != (n,) or labels.is_floating_point():
            raise InputError(
                f"a {self.name!r} model generates images of given classes: give {n} integer "
                f"labels in 0..{k - 1}, got {None if labels is None else tuple(labels.shape)}"
            )
        bad = (labels < 0) | (labels >= k)
        if bool(bad.any()):
            raise InputError(
                f"label {int(labels[bad][0])} is outside 0..{k - 1}, the classes of this "
                f"{self.name!r} model (n_classes={k})"
            )

    def generate(self, z: list[torch.Tensor], cond: torch.Tensor | None) -> torch.Tensor:
        """Images ``(B, 1, S, S)`` in ``[-1, 1]`` from latent parts and labels ``(B,)``."""
        check_latent(self.latent(), z)
        self.check_labels(cond, len(z[0]))
        return self.G(torch.cat(z, 1), cond)

    # -- training ---------------------------------------------------------------------

    def gan_step(
        self, batch: Batch, g: torch.Generator, d_fn, g_fn, d_labels: bool = False
    ) -> dict[str, torch.Tensor]:
        """One D step and one G step, fakes made for the real batch's labels.

        ``d_fn(real_out, fake_out, labels)`` and ``g_fn(fake_out, labels)`` are the losses
        on D's outputs ``(B, outputs)``; ``d_labels``: D is given the labels too.
        """
        x, y = batch.x, batch.labels  # (B, 1, S, S), (B,) or None
        yd = y if d_labels else None
        fake = self.G(torch.cat(draw(self.latent(), len(x), g), 1), y)  # (B, 1, S, S)
        ld = d_fn(self.D(x, yd), self.D(fake.detach(), yd), y)
        self.step("D", ld)
        with frozen(self.D):
            lg = g_fn(self.D(fake, yd), y)
            self.step("G", lg)
        return {"loss_d": ld.detach(), "loss_g": lg.detach()}

    def adversarial_step(self, batch: Batch, g: torch.Generator) -> dict[str, torch.Tensor]:
        """``gan_step`` of a GAN whose D gives one real/fake logit from ``(x, labels)``."""
        kind = self.config.loss
        return self.gan_step(
            batch,
            g,
            lambda r, f, y: d_loss(r[:, 0], f[:, 0], kind),
            lambda f, y: g_loss(f[:, 0], kind),
            d_labels=True,
        )

    # -- validation -------------------------------------------------------------------

    def validate(self, val: Batch, generator: torch.Generator) -> dict[str, float]:
        """Held-out statistics in network space: ``val_mean_gap``, the mean absolute
        difference between the fakes' and the real images' mean image; ``val_std_ratio``,
        the fakes' per-pixel spread over the real images' (near 0: collapsed)."""
        real = self.spec.encode(val.x, check=False)  # (n, 1, S, S)
        z = draw(self.latent(), len(real), generator)
        fake = self.generate_eval(z, val.labels if self.labelled else None)
        return {
            "val_mean_gap": float((fake.mean(0) - real.mean(0)).abs().mean()),
            "val_std_ratio": float(fake.std(0).mean() / real.std(0).mean().clamp_min(1e-8)),
        }
