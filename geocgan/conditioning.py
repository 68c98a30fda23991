"""Conditioning beyond wells: soft probability maps and a target facies proportion.

A facies model may be conditioned, besides the well constraints ``(values, mask)``, on

* **soft probability maps** ``(K, *S)``: one band per facies, summing to 1 in every cell
  (e.g. from a seismic inversion), given to the nets as K extra channels;
* **a target proportion** ``(K,)`` of each facies over the grid (a global feature), given as
  K constant channels.

The condition tensor is ``[values (K), mask (1), soft (K), proportion (K)]`` along the
channel axis (the parts a model was not configured for are absent). A part that is not given
is all zeros, which no valid map or proportion is, so one model serves with or without each.

Training (GANSim's recipe, Song et al. 2021): soft maps are the training field's facies
indicators smoothed by a Gaussian of a random width (``soft_scales``, pixels), the
proportion is the field's own; each part, and the wells, are left out of a map at random
(``drop``) so the model learns every combination. Two extra generator terms with their own
weights pull the output towards them: ``lam_soft`` times the squared difference between
the output, smoothed the same way, and the soft map; ``lam_prop`` times the squared
difference between the output's facies proportions and the target.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from geocgan.constraints import Constraints, FieldSpec, constraint_tensor
from geocgan.errors import InputError

_SUM_TOLERANCE = 1e-3  # probability bands must sum to 1 within this


def smooth(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian smoothing of ``(B, C, *S)`` along every spatial axis (reflected edges).

    The kernel is truncated at 3 sigma (and at the axis length - 1); sums of channels are
    kept (a smoothed one-hot stays a probability vector).
    """
    spatial = x.dim() - 2
    for axis in range(spatial):
        n = x.shape[2 + axis]
        radius = min(math.ceil(3 * sigma), n - 1)
        if radius < 1:
            continue
        t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
        kernel = torch.exp(-0.5 * (t / sigma) ** 2)
        kernel = kernel / kernel.sum()  # (2r+1,)
        moved = x.movedim(2 + axis, -1)  # (B, C, ..., n)
        flat = moved.reshape(-1, 1, n)
        padded = F.pad(flat, (radius, radius), mode="reflect")
        out = F.conv1d(padded, kernel.view(1, 1, -1)).reshape(moved.shape)
        x = out.movedim(-1, 2 + axis)
    return x


def extra_channels(spec: FieldSpec, soft: bool, proportion: bool) -> int:
    """Channels the soft maps and the proportion add to the constraint tensor."""
    return spec.channels * (int(soft) + int(proportion))


def training_condition(
    real: torch.Tensor,
    mask: torch.Tensor,
    *,
    soft: bool,
    proportion: bool,
    scales: Sequence[float],
    drop: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, dict]:
    """The condition of a training batch and what the extra loss terms need.

    Parameters
    ----------
    real : torch.Tensor, (B, K, *S)
        One-hot fields the conditions are drawn from.
    mask : torch.Tensor, (B, 1, *S) bool
        Well masks.
    soft, proportion : bool
        Which extra parts the model takes.
    scales : (float, float)
        Range of the smoothing width (pixels) of the soft maps; one width per batch.
    drop : float
        Probability of leaving out each part of a map (wells only when an extra part is on).

    Returns
    -------
    cond : torch.Tensor, (B, K + 1 + extra, *S)
    parts : dict
        ``soft`` (B, K, *S), ``sigma``, ``proportion`` (B, K) and the ``keep_*`` (B,) float
        flags of each part.
    """
    b, k = real.shape[:2]
    dev = real.device
    spatial = (1,) * (real.dim() - 2)

    def keep() -> torch.Tensor:  # (B,) 1 where the part is given
        return (torch.rand(b, generator=generator, device=dev) >= drop).float()

    parts: dict = {}
    if soft or proportion:
        mask = mask & keep().bool().view(b, 1, *spatial)  # some maps have no well
    chans = [constraint_tensor(real, mask)]
    if soft:
        lo, hi = scales
        sigma = lo + (hi - lo) * float(torch.rand((), generator=generator, device=dev))
        parts.update(sigma=sigma, soft=smooth(real, sigma), keep_soft=keep())
        chans.append(parts["soft"] * parts["keep_soft"].view(b, 1, *spatial))
    if proportion:
        prop = real.flatten(2).mean(2)  # (B, K)
        parts.update(proportion=prop, keep_prop=keep())
        given = (prop * parts["keep_prop"][:, None]).view(b, k, *spatial)
        chans.append(given.expand(b, k, *real.shape[2:]))
    return torch.cat(chans, 1), parts


def soft_loss(fake: torch.Tensor, parts: dict) -> torch.Tensor:
    """Mean over maps given a soft map of the MSE between smoothed output and the map."""
    keep = parts["keep_soft"]  # (B,)
    err = (smooth(fake.float(), parts["sigma"]) - parts["soft"]) ** 2  # (B, K, *S)
    per_map = err.flatten(1).mean(1) * fake.shape[1]  # (B,) summed over facies
    return (per_map * keep).sum() / keep.sum().clamp_min(1)


def proportion_loss(fake: torch.Tensor, parts: dict) -> torch.Tensor:
    """Mean over maps given a proportion of ``Σ_k (mean(fake_k) − p_k)²``."""
    keep = parts["keep_prop"]  # (B,)
    err = ((fake.float().flatten(2).mean(2) - parts["proportion"]) ** 2).sum(1)  # (B,)
    return (err * keep).sum() / keep.sum().clamp_min(1)


def check_soft(soft: np.ndarray, spec: FieldSpec, shape: tuple[int, ...], where: str) -> None:
    """Refuse a probability map that does not fit: bands, shape, range, sums to 1."""
    soft = np.asarray(soft)
    if soft.shape != (spec.channels, *shape):
        raise InputError(
            f"{where}: a probability map of shape {soft.shape} does not fit this model: it "
            f"needs one band per facies {spec.codes} on the grid, shape "
            f"{(spec.channels, *shape)}. Give the bands in the order of the facies codes."
        )
    if not np.isfinite(soft).all() or soft.min() < 0 or soft.max() > 1:
        raise InputError(
            f"{where}: probabilities must be finite and in [0, 1]; found values from "
            f"{np.nanmin(soft):g} to {np.nanmax(soft):g}. Rescale the map."
        )
    sums = soft.sum(0)
    worst = float(np.abs(sums - 1).max())
    if worst > _SUM_TOLERANCE:
        cell = np.unravel_index(np.abs(sums - 1).argmax(), sums.shape)
        at = tuple(int(i) for i in cell)
        raise InputError(
            f"{where}: the facies bands must sum to 1 in every cell; at cell {at} they sum to "
            f"{sums[cell]:.4g}. Normalise the map (divide each band by the sum)."
        )


def proportion_vector(proportion: float | Sequence[float], spec: FieldSpec) -> np.ndarray:
    """The target proportion as ``(K,)``; a single number is the proportion of the last facies
    code of a two-facies model (e.g. channel sand). Refuses values outside (0, 1)."""
    k = spec.channels
    values = np.atleast_1d(np.asarray(proportion, dtype=np.float64))
    if values.size == 1 and k == 2:
        values = np.array([1.0 - values[0], values[0]])
    if values.size != k:
        raise InputError(
            f"a proportion for this model needs {k} values (facies {spec.codes}), got "
            f"{values.size}; a single number works for two-facies models only."
        )
    if not (np.all(values > 0) and np.all(values < 1) and abs(values.sum() - 1) < 1e-6):
        raise InputError(
            f"proportions must lie in (0, 1) and sum to 1, got {values.tolist()}; e.g. "
            "--proportion 0.3 for 30% of the last facies."
        )
    return values


def proportion_range_of(images: np.ndarray, spec: FieldSpec) -> list[list[float]]:
    """Per facies ``[min, max]`` of the proportion over training maps ``(N, *S)`` (codes)."""
    shares = np.stack([(images == c).reshape(len(images), -1).mean(1) for c in spec.codes])
    return [[float(lo), float(hi)] for lo, hi in zip(shares.min(1), shares.max(1), strict=True)]


def condition_maps(
    spec: FieldSpec,
    shape: tuple[int, ...],
    *,
    soft: bool,
    proportion: bool,
    constraints: Constraints | None = None,
    soft_map: np.ndarray | None = None,
    target: float | Sequence[float] | None = None,
    trained_range: Sequence[Sequence[float]] = (),
) -> torch.Tensor:
    """The condition ``(1, K + 1 + extra, *shape)`` of one grid for generation.

    Parameters
    ----------
    spec : FieldSpec
        The model's facies.
    shape : tuple of int
        The grid, ``(H, W)`` or ``(D, H, W)``.
    soft, proportion : bool
        Which parts the model takes (its config).
    constraints : Constraints, optional
        Wells; none when absent.
    soft_map : numpy.ndarray, (K, *shape), optional
        Facies probabilities.
    target : float or sequence of float, optional
        Target proportion (see :func:`proportion_vector`).
    trained_range : sequence of [min, max], optional
        Per facies, the proportions the model was trained on (``config.proportion_range``);
        a target outside is refused.

    Raises
    ------
    InputError
        A part the model does not take, or a bad map or proportion.
    """
    if spec.kind != "categorical":
        raise InputError("soft maps and proportions condition facies models only.")
    for given, takes, what in ((soft_map, soft, "soft map"), (target, proportion, "proportion")):
        if given is not None and not takes:
            raise InputError(
                f"this model was not trained with a {what}; train one with "
                f"{'soft' if what == 'soft map' else 'proportion'}=True, or leave it out."
            )
    if constraints is None:
        constraints = Constraints(np.full(shape, np.nan), np.zeros(shape, dtype=bool))
    chans = [constraints.tensor(spec)]  # (1, K + 1, *S)
    k = spec.channels
    if soft:
        if soft_map is None:
            chans.append(torch.zeros(1, k, *shape))
        else:
            check_soft(soft_map, spec, tuple(shape), "soft map")
            chans.append(torch.as_tensor(np.asarray(soft_map), dtype=torch.float32)[None])
    if proportion:
        p = torch.zeros(k) if target is None else torch.as_tensor(proportion_vector(target, spec))
        for code, value, (lo, hi) in zip(spec.codes, p.tolist(), trained_range, strict=False):
            if not lo <= value <= hi:
                raise InputError(
                    f"a proportion {value:g} of facies {code} is outside what the model was "
                    f"trained on ({lo:g} to {hi:g}); ask for one in that range, or train on "
                    "images that span the proportion you need."
                )
        chans.append(p.float().view(1, k, *(1,) * len(shape)).expand(1, k, *shape))
    return torch.cat(chans, 1)


def calibration(
    realizations: np.ndarray, soft_map: np.ndarray, codes: Sequence[int], bins: int = 10
) -> dict:
    """Ensemble facies frequency against the input probability, all facies pooled.

    Parameters
    ----------
    realizations : numpy.ndarray, (n, *S)
        Facies codes.
    soft_map : numpy.ndarray, (K, *S)
        The probabilities the ensemble was conditioned on.
    codes : sequence of int
        Facies codes, in the order of the bands.
    bins : int
        Probability bins of the curve.

    Returns
    -------
    dict
        ``slope`` and ``intercept`` of the least-squares line of frequency on probability
        over every cell and facies (1 and 0: calibrated; slope 0: the map is ignored), and
        ``curve``: per bin, the mean probability, the mean frequency and the cell count.
    """
    freq = np.stack([(realizations == c).mean(0) for c in codes])  # (K, *S)
    p, f = soft_map.ravel(), freq.ravel()
    slope, intercept = np.polyfit(p, f, 1)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    curve = [
        {"p": float(p[which == i].mean()), "freq": float(f[which == i].mean()), "n": int(n)}
        for i in range(bins)
        if (n := np.count_nonzero(which == i))
    ]
    return {"slope": float(slope), "intercept": float(intercept), "curve": curve}


def proportion_line(requested: Sequence[float], achieved: Sequence[float]) -> dict:
    """Slope and offset of achieved against requested proportion (1 and 0 when honoured)."""
    slope, offset = np.polyfit(np.asarray(requested), np.asarray(achieved), 1)
    return {"slope": float(slope), "offset": float(offset)}
