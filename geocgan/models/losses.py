"""Losses of the class-conditional GANs, shared by every model in ``geocgan.models``.

The adversarial loss is one choice (a config field ``loss`` of each model) on a real/fake
logit ``d`` per image:

``"ns"`` (non-saturating; Goodfellow et al. 2014)
    D: ``softplus(-d_real) + softplus(d_fake)``; G: ``softplus(-d_fake)``.
``"hinge"`` (Lim & Ye 2017; Miyato et al. 2018)
    D: ``relu(1 - d_real) + relu(1 + d_fake)``; G: ``-d_fake``.
``"ls"`` (least squares, Mao et al. 2017, targets a=0, b=c=1)
    D: ``(d_real - 1)² / 2 + d_fake² / 2``; G: ``(d_fake - 1)² / 2``.

Each term is a mean over the batch. The class terms (ACGAN's auxiliary classifier, the
2N-GAN's 2N-way softmax, InfoGAN's information term) are written out below.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from geocgan.errors import InputError

LOSSES = ("ns", "hinge", "ls")


def check_loss(kind: str) -> None:
    if kind not in LOSSES:
        raise InputError(f"adversarial loss {kind!r} is unknown; use one of {', '.join(LOSSES)}")


_D = {
    "ns": lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(),
    "hinge": lambda r, f: F.relu(1 - r).mean() + F.relu(1 + f).mean(),
    "ls": lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean(),
}
_G = {
    "ns": lambda f: F.softplus(-f).mean(),
    "hinge": lambda f: -f.mean(),
    "ls": lambda f: 0.5 * ((f - 1) ** 2).mean(),
}


def d_loss(real: torch.Tensor, fake: torch.Tensor, kind: str) -> torch.Tensor:
    """The discriminator's adversarial loss on real/fake logits ``(B,)`` each."""
    check_loss(kind)
    return _D[kind](real, fake)


def g_loss(fake: torch.Tensor, kind: str) -> torch.Tensor:
    """The generator's adversarial loss on the fakes' logits ``(B,)``."""
    check_loss(kind)
    return _G[kind](fake)


# -- ACGAN ---------------------------------------------------------------------------------


def acgan_d_loss(
    real_out: torch.Tensor,
    real_labels: torch.Tensor,
    fake_out: torch.Tensor,
    fake_labels: torch.Tensor,
    kind: str,
    lam: float = 1.0,
) -> torch.Tensor:
    """D's ACGAN loss (Odena et al. 2017): outputs ``(B, 1 + K)`` (a real/fake logit, then
    K class logits), the adversarial loss plus ``lam`` times the class cross-entropy on the
    real images (their labels) and on the fakes (the labels they were made for)."""
    adv = d_loss(real_out[:, 0], fake_out[:, 0], kind)
    cls = F.cross_entropy(real_out[:, 1:], real_labels) + F.cross_entropy(
        fake_out[:, 1:], fake_labels
    )
    return adv + lam * cls


def acgan_g_loss(
    fake_out: torch.Tensor, labels: torch.Tensor, kind: str, lam: float = 1.0
) -> torch.Tensor:
    """G's ACGAN loss: adversarial plus ``lam`` times the class cross-entropy of its fakes."""
    return g_loss(fake_out[:, 0], kind) + lam * F.cross_entropy(fake_out[:, 1:], labels)


# -- the 2N-GAN ---------------------------------------------------------------------------


def twon_split(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The 2N logits ``(B, 2N)`` ("real class 0..N-1", then "fake class 0..N-1") as a
    real/fake logit ``a = logsumexp(real half) - logsumexp(fake half)`` ``(B,)`` and the two
    halves ``(B, N)``.

    The 2N-way softmax factors exactly: ``p(real, k | x) = σ(a) · softmax(real half)_k`` and
    ``p(fake, k | x) = σ(-a) · softmax(fake half)_k``, so its cross-entropy is a binary
    non-saturating term on ``a`` plus a class cross-entropy within the half of the target.
    """
    n = logits.shape[1] // 2
    real, fake = logits[:, :n], logits[:, n:]
    return torch.logsumexp(real, 1) - torch.logsumexp(fake, 1), real, fake


def twon_d_loss(
    real_logits: torch.Tensor,
    real_labels: torch.Tensor,
    fake_logits: torch.Tensor,
    fake_labels: torch.Tensor,
    kind: str,
) -> torch.Tensor:
    """D's 2N-GAN loss: real images of class ``k`` have target ``k`` ("real class k"), fakes
    of class ``k`` target ``N + k`` ("fake class k"); logits ``(B, 2N)``, labels ``(B,)``.

    With ``kind="ns"`` this is the 2N-way softmax cross-entropy
    ``CE(real_logits, k) + CE(fake_logits, N + k)``; ``hinge``/``ls`` replace its real/fake
    part (the term on ``a``, see ``twon_split``) and keep the class part.
    """
    a_r, r_real, _ = twon_split(real_logits)
    a_f, _, f_fake = twon_split(fake_logits)
    cls = F.cross_entropy(r_real, real_labels) + F.cross_entropy(f_fake, fake_labels)
    return d_loss(a_r, a_f, kind) + cls


def twon_g_loss(fake_logits: torch.Tensor, labels: torch.Tensor, kind: str) -> torch.Tensor:
    """G's 2N-GAN loss: its fakes of class ``k`` should be taken for "real class k" (target
    ``k``); with ``kind="ns"`` the 2N-way cross-entropy ``CE(fake_logits, k)``."""
    a, real, _ = twon_split(fake_logits)
    return g_loss(a, kind) + F.cross_entropy(real, labels)


# -- InfoGAN ------------------------------------------------------------------------------


def info_loss(
    cat_logits: list[torch.Tensor],
    cat_codes: list[torch.Tensor],
    cont_mean: torch.Tensor | None,
    cont_logstd: torch.Tensor | None,
    cont_codes: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """InfoGAN's information term: the negative log-likelihood of the codes under Q.

    ``-E[log Q(c | G(z, c))]``, whose negative plus the codes' entropy is the variational
    lower bound of the mutual information ``I(c; G(z, c)) >= H(c) + E[log Q(c | x)]``
    (Chen et al. 2016, eq. 4). Categorical codes: the cross-entropy of Q's logits ``(B, k)``
    against the drawn one-hot codes ``(B, k)``; continuous codes ``(B, m)``: the Gaussian
    negative log-likelihood with Q's mean and log standard deviation ``(B, m)``
    (``0.5 ((c - μ)/σ)² + log σ + 0.5 log 2π`` per code, summed over codes).

    Returns
    -------
    cat, cont : Tensor
        The two terms, each summed over codes and averaged over the batch (0 without codes).
    """
    zero = torch.zeros((), device=(cat_codes or [cont_codes])[0].device)
    cat = sum(
        (F.cross_entropy(lg, c.argmax(1)) for lg, c in zip(cat_logits, cat_codes, strict=True)),
        zero,
    )
    cont = zero
    if cont_codes is not None and cont_codes.shape[1]:
        z = (cont_codes - cont_mean) * torch.exp(-cont_logstd)
        nll = 0.5 * z**2 + cont_logstd + 0.5 * math.log(2 * math.pi)  # (B, m)
        cont = nll.sum(1).mean()
    return cat, cont
