"""InfoGAN (Chen, Duan, Houthooft, Schulman, Sutskever and Abbeel 2016).

Unconditional: G's latent is a normal ``z``, categorical codes (one-hot, one part per code)
and uniform continuous codes on ``[-1, 1]`` (one part), all concatenated. A head Q on D's
body predicts the codes from an image; the information term ``-E[log Q(c | G(z, c))]``
(``geocgan.models.losses.info_loss``: cross-entropy for categorical codes, Gaussian
negative log-likelihood for continuous ones), weighted by ``lam_cat`` and ``lam_cont``, is
added to D's loss (training D's body and Q) and to G's, which maximises the variational
lower bound of the mutual information between the codes and the image. Labels are not used:
the codes find the factors of variation on their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from geocgan.errors import InputError
from geocgan.models.base import Batch, Latent, draw, frozen
from geocgan.models.class_nets import QHead
from geocgan.models.image_gan import IMAGE_PARAMS, ImageGAN, ImageGANConfig
from geocgan.models.losses import d_loss, g_loss, info_loss


@dataclass
class InfoGANConfig(ImageGANConfig):
    __doc__ = (
        "Settings of InfoGAN.\n\n    Parameters\n    ----------"
        + IMAGE_PARAMS
        + """
    cat_codes : list of int
        Classes of each categorical code ([10]: one code of 10 values); empty for none.
    n_cont : int
        Number of continuous codes, uniform on [-1, 1].
    lam_cat, lam_cont : float
        Weights of the information term of the categorical and of the continuous codes.
"""
    )
    nz: int = 62
    cat_codes: list[int] = field(default_factory=lambda: [10])
    n_cont: int = 2
    lam_cat: float = 1.0
    lam_cont: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        if any(k < 2 for k in self.cat_codes) or self.n_cont < 0:
            raise InputError(
                f"categorical codes need >= 2 classes each and n_cont >= 0, got cat_codes="
                f"{self.cat_codes}, n_cont={self.n_cont}"
            )
        if not (self.cat_codes or self.n_cont):
            raise InputError("InfoGAN needs at least one code: set cat_codes or n_cont")
        if min(self.lam_cat, self.lam_cont) < 0:
            raise InputError("lam_cat and lam_cont must be >= 0")


class InfoGAN(ImageGAN):
    """InfoGAN (Chen et al. 2016): latent codes with maximal mutual information."""

    name = "infogan"
    config_class = InfoGANConfig

    def __init__(self, config: InfoGANConfig, spec):
        super().__init__(config, spec)
        self.build("conv", nz=sum(p.shape[0] for p in self.latent()))
        self.Q = QHead(self.D.feature_dim, config.cat_codes, config.n_cont)
        self.optimizers["D"].add_param_group({"params": list(self.Q.parameters())})  # Q with D

    def latent(self, *shape: int) -> list[Latent]:
        """``z`` ``(nz,)`` normal, one one-hot part per categorical code, then the continuous
        codes ``(n_cont,)`` uniform on [-1, 1]."""
        c = self.config
        parts = [Latent((c.nz,))]
        parts += [Latent((k,), "categorical", classes=k) for k in c.cat_codes]
        return parts + ([Latent((c.n_cont,), "uniform")] if c.n_cont else [])

    def codes(self, z: list[torch.Tensor]) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """The categorical codes and the continuous codes of latent parts ``z``."""
        n_cat = len(self.config.cat_codes)
        return z[1 : 1 + n_cat], (z[1 + n_cat] if self.config.n_cont else None)

    def information(self, h: torch.Tensor, z: list[torch.Tensor]):
        """The weighted information term of D features ``h`` ``(B, F)`` of fakes made from ``z``,
        and its two parts."""
        cat_logits, mean, logstd = self.Q(h)
        cat_codes, cont_codes = self.codes(z)
        cat, cont = info_loss(cat_logits, cat_codes, mean, logstd, cont_codes)
        return self.config.lam_cat * cat + self.config.lam_cont * cont, cat, cont

    def train_step(self, batch: Batch, generator) -> dict[str, torch.Tensor]:
        x, kind = batch.x, self.config.loss  # (B, 1, S, S)
        z = draw(self.latent(), len(x), generator)
        fake = self.G(torch.cat(z, 1))
        h_fake = self.D.features(fake.detach())  # (B, F)
        info_d, _, _ = self.information(h_fake, z)
        ld = d_loss(self.D(x)[:, 0], self.D.head(h_fake)[:, 0], kind) + info_d
        self.step("D", ld)
        with frozen(self.D, self.Q):
            h = self.D.features(fake)
            info, cat, cont = self.information(h, z)
            lg = g_loss(self.D.head(h)[:, 0], kind) + info
            self.step("G", lg)
        return {
            "loss_d": ld.detach(),
            "loss_g": lg.detach(),
            "info_cat": cat.detach(),
            "info_cont": cont.detach(),
        }

    def validate(self, val: Batch, generator: torch.Generator) -> dict[str, float]:
        """The held-out statistics of ``ImageGAN.validate``, and ``val_code_acc``: the share
        of fakes whose categorical codes Q reads back right (1/k by chance)."""
        out = super().validate(val, generator)
        if self.config.cat_codes:
            z = draw(self.latent(), len(val.x), generator)
            with self.evaluating():
                logits = self.Q(self.D.features(self.generate(z, None)))[0]
            hits = [
                (lg.argmax(1) == c.argmax(1)).float().mean()
                for lg, c in zip(logits, self.codes(z)[0], strict=True)
            ]
            out["val_code_acc"] = float(torch.stack(hits).mean())
        return out
