"""The noise of realizations, a pure function of ``(seed, i)``: two schemes.

A model declares its latent parts (``geocgan.models.base.Latent``: a shape per realization
and a distribution, ``"normal"``, ``"uniform"`` on [-1, 1) or ``"categorical"`` one-hot);
:func:`draw` gives each part for a list of realization indices. Realization ``i`` gets the
same values whatever batch, worker or device draws it, and whether a run was resumed.

``"torch"``
    The scheme of older ensembles (those that record no ``noise_scheme``): one
    ``torch.Generator`` per realization, seeded by ``geocgan.seeds.torch_generator(seed, i)``,
    draws the parts in order (``randn``; ``rand * 2 - 1``; ``one_hot(randint)``). A Python
    loop per realization on the CPU: at 128² it held an H200 to a twelfth of its generator's
    rate.
``"philox"``
    Counter-based: Philox4x64-10 (Salmon et al. 2011, "Parallel random numbers: as easy as
    1, 2, 3"), the bit generator of numpy's ``np.random.Philox``. The 128-bit key is
    ``(derive_seed(seed, NOISE_STREAM), 0)``; block ``j`` of realization ``i`` is the cipher
    of the counter ``(j, i, 0, 0)`` and gives four 64-bit words, i.e. eight 32-bit words
    (low half first, as numpy's ``next_uint32``). The parts of a realization lie end to end,
    each starting on a fresh block, so adding a part never changes the ones before it.
    Normals come from pairs of 32-bit words by Box-Muller (``u1 = (a + 1) / 2**32``,
    ``u2 = b / 2**32``: ``r cos 2πu2, r sin 2πu2`` with ``r = sqrt(-2 ln u1)``, so
    ``|z| <= 6.66``), uniforms from the top 24 bits of a word, categories from
    ``floor(word * classes / 2**32)``.

    On a GPU a whole batch is one vectorised torch computation on the device (64-bit words
    emulated in int64 tensors, whose multiplication wraps like unsigned arithmetic; through
    ``torch.compile`` where it compiles, which fuses the ~500 elementwise steps of a block
    into one kernel). On a CPU the words come from numpy's compiled Philox, one call per
    realization, with the same bits (tested): eager torch would take tens of passes per
    word. The 32-bit words are equal everywhere; the float transform agrees between CPU and
    GPU to float32 rounding.

The realization index sits in the counter rather than in the key (curand's "subsequence"):
distinct counters under one key is what the cipher's independence is made for, and no
per-realization hashing is needed.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from geocgan.errors import InputError
from geocgan.models import base
from geocgan.seeds import derive_seed, torch_generator

SCHEMES = ("philox", "torch")
NOISE_STREAM = 2**31 - 5  # the Philox key's stream, apart from the trainer's (2**31 - 1 .. - 4)

_MASK = 0xFFFFFFFF
# Philox4x64 multipliers and Weyl key increments (Random123, numpy's philox.h)
_M = (0xD2E7470EE14C6C93, 0xCA5A826395121157)
_W = (0x9E3779B97F4A7C15, 0xBB67AE8584CAA73B)


def _signed(x: int) -> int:
    """A 64-bit pattern as the int64 that holds it."""
    x &= 2**64 - 1
    return x - 2**64 if x >= 2**63 else x


def _shr(x: torch.Tensor, s: int) -> torch.Tensor:
    """Logical right shift of 64-bit patterns held in int64 (``>>`` is arithmetic)."""
    return (x >> s) & ((1 << (64 - s)) - 1)


def _mulhilo(a: torch.Tensor, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """High and low 64-bit halves of the 128-bit product of words ``a`` and constant ``m``."""
    m_lo, m_hi = m & _MASK, m >> 32
    a_lo, a_hi = a & _MASK, _shr(a, 32)
    ll, lh, hl = a_lo * m_lo, a_lo * m_hi, a_hi * m_lo  # each < 2**64: wraps into int64
    mid = _shr(ll, 32) + (lh & _MASK) + (hl & _MASK)  # < 3 * 2**32
    hi = a_hi * m_hi + _shr(lh, 32) + _shr(hl, 32) + (mid >> 32)
    return hi, a * _signed(m)


def philox4x64(c0: torch.Tensor, c1: torch.Tensor, key: torch.Tensor, rounds: int = 10):
    """Philox4x64 of counters ``(c0, c1, 0, 0)`` (int64 tensors broadcast together) under
    ``key`` (int64 ``(2,)``): the four output words (int64 tensors holding 64-bit patterns)."""
    x0, x1 = c0, c1.expand(torch.broadcast_shapes(c0.shape, c1.shape))
    x2 = x3 = torch.zeros_like(x1)
    for r in range(rounds):  # the key of round r: key + r * W, wrapping
        kr0, kr1 = key[0] + _signed(r * _W[0]), key[1] + _signed(r * _W[1])
        hi0, lo0 = _mulhilo(x0, _M[0])
        hi1, lo1 = _mulhilo(x2, _M[1])
        x0, x1, x2, x3 = hi1 ^ x1 ^ kr0, lo1, hi0 ^ x3 ^ kr1, lo0
    return x0, x1, x2, x3


def _torch_blocks(key: torch.Tensor, indices: torch.Tensor, blocks: int) -> torch.Tensor:
    """Blocks ``0 .. blocks - 1`` of each realization's stream: int64 ``(B, 4 * blocks)``,
    the 64-bit words in order. Block ``j`` of realization ``i`` ciphers ``(j, i, 0, 0)``."""
    j = torch.arange(blocks, device=indices.device)[None, :]  # (1, T)
    raw = torch.stack(philox4x64(j, indices[:, None], key), -1)  # (B, T, 4)
    return raw.reshape(len(indices), 4 * blocks)


_compiled: dict[str, object] = {}  # device type -> compiled _torch_blocks (None: failed)


def _numpy_words(key: tuple[int, int], indices: np.ndarray, n_words: int) -> np.ndarray:
    """The same words from numpy's compiled Philox, one call per realization: int32
    ``(B, n_words)``."""
    bitgen = np.random.Philox(key=key[0] | key[1] << 64)
    state = bitgen.state
    ctr = state["state"]["counter"]  # (4,) uint64
    out = np.empty((len(indices), -(-n_words // 8) * 8), np.int32)
    for row, i in enumerate(indices):
        # numpy adds one to the counter before each block: start one below (0, i, 0, 0)
        ctr[:] = (2**64 - 1, i - 1, 0, 0) if i else 2**64 - 1
        state["buffer_pos"], state["has_uint32"] = 4, 0
        bitgen.state = state
        out[row] = bitgen.random_raw(out.shape[1] // 2).view(np.int32)
    return out[:, :n_words]


def philox_words(
    seed: int, indices, n_words: int, device="cpu", impl: str | None = None
) -> torch.Tensor:
    """The first ``n_words`` 32-bit words of each realization's Philox stream, as int32 bit
    patterns ``(len(indices), n_words)`` on ``device``.

    ``impl`` ``"numpy"`` (the CPU's default) or ``"torch"`` (the default elsewhere: one
    computation on the device, compiled on CUDA) give the same words; it is there for tests
    and measurements.
    """
    key = (derive_seed(seed, NOISE_STREAM), 0)
    device = torch.device(device)
    if (impl or ("numpy" if device.type == "cpu" else "torch")) == "numpy":
        return torch.from_numpy(_numpy_words(key, _on_host(indices), n_words)).to(device)
    key_t = torch.full((2,), _signed(key[0]), device=device)  # filled there: no copy, no sync
    key_t[1] = _signed(key[1])
    if isinstance(indices, torch.Tensor):
        idx = indices.to(device)
    else:
        idx = torch.as_tensor(_on_host(indices), device=device)
    blocks = -(-n_words // 8)
    raw = _device_blocks(key_t, idx, blocks) if device.type == "cuda" else None
    if raw is None:
        raw = _torch_blocks(key_t, idx, blocks)
    return raw.view(torch.int32)[:, :n_words]  # little-endian: the low half first


def _device_blocks(key_t, idx, blocks: int) -> torch.Tensor | None:
    """``_torch_blocks`` through ``torch.compile`` (one fused kernel instead of ~500
    elementwise passes); None where it does not compile (the caller draws eagerly)."""
    if "cuda" not in _compiled:
        _compiled["cuda"] = torch.compile(_torch_blocks, dynamic=True)
    fn = _compiled["cuda"]
    if fn is None:
        return None
    try:
        return fn(key_t, idx, blocks)
    except Exception as err:  # no working compiler (Triton) here: same words, eagerly
        warnings.warn(
            f"Philox noise drawn eagerly: torch.compile failed ({err!r:.300})", stacklevel=3
        )
        _compiled["cuda"] = None
        return None


def _on_host(indices) -> np.ndarray:
    """Realization indices as a flat int64 numpy array."""
    if isinstance(indices, torch.Tensor):
        indices = indices.cpu().numpy()
    return np.asarray(indices, np.int64).reshape(-1)


def _part_words(part) -> int:
    """32-bit words a part takes of a realization's stream."""
    n = math.prod(part.shape)
    if part.dist == "normal":
        return n + n % 2
    if part.dist == "uniform":
        return n
    return n // part.classes


def _from_words(part, w: torch.Tensor) -> torch.Tensor:
    """Words ``(B, m)`` (int32 bit patterns) -> the part's values ``(B, *shape)`` float32.

    The words are read as signed integers ``s`` (exactly rounded to float32: the same on every
    device). Normals by Box-Muller, from the first half ``s1`` and second half ``s2`` of the
    words: ``u1 = (|s1| + 1/2) / 2**31`` in (0, 1], ``θ = π s2 / 2**31``, values
    ``[r cos θ, r sin θ]`` with ``r = sqrt(-2 ln u1)`` (so ``|z| <= 6.7``); uniforms
    ``s / 2**31``; categories ``floor((s / 2**32 + 1/2) * classes)``.
    """
    b, n = len(w), math.prod(part.shape)
    s = w.float()  # (B, m): the one temporary; the rest is computed in place
    if part.dist == "normal":
        m = s.shape[1] // 2
        r = s[:, :m].abs_().add_(0.5).mul_(2.0**-31).log_().mul_(-2.0).sqrt_()  # (B, m / 2)
        theta = s[:, m:].mul_(math.pi * 2.0**-31)
        z = torch.empty(b, 2 * m, device=w.device)  # (B, m): [r cos θ, r sin θ]
        torch.cos(theta, out=z[:, :m]).mul_(r)
        torch.sin(theta, out=z[:, m:]).mul_(r)
        return z[:, :n].reshape(b, *part.shape)
    if part.dist == "uniform":
        return s.mul_(2.0**-31).reshape(b, *part.shape)
    k = s.mul_(2.0**-32).add_(0.5).mul_(part.classes).long().clamp_(max=part.classes - 1)
    return F.one_hot(k, part.classes).float().reshape(b, *part.shape)


def _check(part):
    """A ``Latent`` (or a shape tuple: a normal part) with its settings checked."""
    if isinstance(part, tuple):
        part = SimpleNamespace(shape=part, dist="normal", classes=0)
    if part.dist not in ("normal", "uniform", "categorical"):
        raise InputError(
            f"latent dist {part.dist!r} is unknown; use 'normal', 'uniform' or 'categorical'"
        )
    if part.dist == "categorical" and (
        part.classes < 2 or not part.shape or part.shape[-1] != part.classes
    ):
        raise InputError(
            f"a categorical latent needs classes >= 2 and a shape ending in its classes "
            f"(one-hot), got shape {part.shape} and classes {part.classes}"
        )
    return part


def draw(
    parts: Sequence, seed: int, indices, *, device="cpu", scheme: str = "philox"
) -> list[torch.Tensor]:
    """Noise of realizations ``indices``: one float32 ``(len(indices), *part.shape)`` tensor
    per latent part, on ``device``.

    Parameters
    ----------
    parts : sequence of Latent (or shape tuples, meaning normal parts)
        The model's latent parts, in order.
    seed : int
        The run's seed (>= 0).
    indices : sequence of int, or an int64 tensor
        Realization indices (>= 0); realization ``i`` depends only on ``(seed, i)``. A tensor
        already on ``device`` spares a copy (and on CUDA a host synchronisation) per call.
    device : str or torch.device
        Where the tensors are made (``"philox"``: drawn there; ``"torch"``: drawn on the
        CPU and copied).
    scheme : {"philox", "torch"}
        See the module's docstring.
    """
    parts = [_check(p) for p in parts]
    if scheme == "torch":
        return [t.to(device) for t in _torch_scheme(parts, seed, _on_host(indices))]
    if scheme != "philox":
        raise InputError(f"noise scheme {scheme!r} is unknown; use one of {SCHEMES}")
    # each part starts on a fresh block of 8 words: its offset in the stream
    sizes = [-(-_part_words(p) // 8) * 8 for p in parts]
    words = philox_words(seed, indices, sum(sizes), device)  # (B, total words)
    out, start = [], 0
    for part, size in zip(parts, sizes, strict=True):
        out.append(_from_words(part, words[:, start : start + _part_words(part)]))
        start += size
    return out


def _torch_scheme(parts, seed: int, idx: np.ndarray) -> list[torch.Tensor]:
    """Per realization, one generator seeded by ``(seed, i)`` draws every part in order
    (``geocgan.models.base.draw`` of one)."""
    per_real = [base.draw(parts, 1, torch_generator(seed, int(i))) for i in idx]
    if not per_real:
        return [torch.empty((0, *p.shape)) for p in parts]
    return [torch.cat(z) for z in zip(*per_real, strict=True)]
