"""Ensembles: N realizations for one condition, generated in batches, for any model.

``generate_batches`` serves every model of the contract: the condition is what the model's
``condition`` says (constraint maps, class labels, an input image, or none), broadcast to
every realization or given per realization. ``simulate`` is the pixel-constrained case
(constraints on a canvas); ``sample`` the class-conditional and unconditional one.

Realization ``i`` is generated from latent parts (``model.latent``) drawn on the CPU with a
generator seeded by ``(seed, i)``, so they depend only on ``(seed, i)``, never on the batch
size, on which batch or worker made it, or on whether the run was resumed. Generation is always float32. The
values agree bitwise for the same device and batch partition; across batch sizes or devices
they agree up to floating-point rounding of the convolutions (~1e-5 of the field's scale), which
can flip the facies of a pixel whose two probabilities are nearly tied.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import numpy as np
import torch
from tqdm.auto import tqdm

from geocgan.constraints import Constraints
from geocgan.errors import InputError
from geocgan.models import COMMAND_FOR, GANModel, Latent
from geocgan.seeds import torch_generator


def draw_latent(part: Latent, g: torch.Generator) -> torch.Tensor:
    """One realization's draw of ``part`` from ``g`` (``part.shape``, float32)."""
    if part.dist == "normal":
        return torch.randn(part.shape, generator=g)
    if part.dist == "uniform":
        return torch.rand(part.shape, generator=g) * 2 - 1
    k = torch.randint(part.classes, (), generator=g)
    return torch.nn.functional.one_hot(k, part.classes).float()


def realization_noise(model: GANModel, indices, seed: int, *shape: int) -> list[torch.Tensor]:
    """Latent parts for realizations ``indices``, each ``(len(indices), *part.shape)`` on the
    CPU; realization ``i``'s from a generator seeded by ``(seed, i)``, parts in order."""
    parts = model.latent(*shape)
    per_real = []
    for i in indices:
        g = torch_generator(seed, int(i))
        per_real.append([draw_latent(p, g) for p in parts])
    if not per_real:
        return [torch.empty(0, *p.shape) for p in parts]
    return [torch.stack([z[k] for z in per_real]) for k in range(len(parts))]


def noise_threads(device: torch.device | str, height: int, width: int) -> int:
    """CPU threads that draw the noise of a GPU's next batch while it computes this one.

    The noise is drawn per realization on the CPU (see the module's docstring); drawn inline
    on one thread it held an H200 to a tenth of its generator's rate (``workflows/
    throughput.py``, 2026-11-26: 3.8k of 39k realizations/s at 128², 766 of 9.8k at 256²).
    Eight threads drawing ahead gave 5.0k and 1.9k, but at 64², where a realization's noise is
    small and Python's overhead (which holds the GIL) dominates, 5.4k against 10.2k inline: so
    threads from 128x128 pixels up. On a CPU the model needs the cores: 0, drawn inline.
    """
    if torch.device(device).type != "cuda" or height * width < 128 * 128:
        return 0
    return min(8, os.cpu_count() or 1)


def parallel_noise(model, idx, seed, *shape: int, pool: ThreadPoolExecutor, threads: int):
    """``realization_noise(model, idx, seed, *shape)`` drawn by ``threads`` threads of
    ``pool``: the same values, since each realization has its own generator."""
    parts = [p for p in np.array_split(np.asarray(idx), threads) if len(p)]
    chunks = list(pool.map(lambda part: realization_noise(model, part, seed, *shape), parts))
    return [torch.cat([c[k] for c in chunks]) for k in range(len(chunks[0]))]


def auto_batch_size(device: torch.device | str, *shape: int) -> int:
    """Realizations per forward pass when none is given: about 2**18 pixels on a CPU, where
    the activations then stay in cache (at 128² on the 2-core development machine, 16 per
    pass ran 1.2-1.7x faster than 64; ``workflows/throughput.py --batch``), and about 2**24
    on a GPU, which wants large batches. Without a spatial shape (a vector-latent model's
    small images), 256 on a CPU, 4096 on a GPU."""
    cuda = torch.device(device).type == "cuda"
    if not shape:
        return 4096 if cuda else 256
    budget = 2**24 if cuda else 2**18
    return max(1, budget // int(np.prod(shape)))


def condition_tensor(model: GANModel, cond, device) -> tuple[torch.Tensor | None, tuple]:
    """The condition as a tensor on ``device`` and the spatial shape latent parts are drawn
    for: ``Constraints`` become constraint maps ``(1, K + 1, H, W)``; an image ``(N, C, h, w)``
    or ``(1, C, h, w)`` gives its grid; labels ``(N,)`` and ``None`` no grid."""
    if isinstance(cond, Constraints):
        return cond.tensor(model.spec, device=device), tuple(cond.shape)
    if cond is None:
        return None, ()
    cond = torch.as_tensor(cond, device=device)
    return cond, tuple(cond.shape[2:]) if cond.ndim >= 3 else ()


def generate_batches(
    model: GANModel,
    cond,
    indices,
    *,
    seed: int = 0,
    batch_size: int | None = None,
    progress: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(indices, outputs)`` batches of decoded outputs (raw codes or values): fields
    ``(b, H, W)`` for one-channel models, ``(b, C, H, W)`` otherwise.

    ``cond`` is what the model is conditioned on (its ``condition``): ``Constraints`` on a
    grid the model takes (for a user's grid, on the model's canvas for it:
    ``model.canvas(H, W).place(constraints)``, then ``.crop`` the fields, as ``simulate``
    does); a tensor with a leading dimension of 1 (the same for every realization) or of
    ``len(indices)`` (one per realization: class labels, input images); or ``None``.
    ``batch_size=None`` picks one for the device and grid (``auto_batch_size``).
    """
    dev = model.device
    cond, shape = condition_tensor(model, cond, dev)
    if shape:
        model.check_grid(*shape)
    indices = np.asarray(list(indices), dtype=np.int64)
    per_real = cond is not None and len(cond) == len(indices) and len(cond) != 1
    if cond is not None and not per_real and len(cond) != 1:
        raise InputError(
            f"{len(cond)} conditions given for {len(indices)} realizations: give one for all, "
            "or one per realization"
        )
    batch_size = batch_size or auto_batch_size(dev, *shape)
    compiled = model.compiled
    if compiled:  # compiled for one batch shape: no larger than needed, the last one padded
        batch_size = max(1, min(batch_size, len(indices)))
    starts = range(0, len(indices), batch_size)
    batches = [indices[s : s + batch_size] for s in starts]
    threads = noise_threads(dev, *shape) if len(shape) == 2 else 0
    # on a GPU the next batch's noise is drawn while this one runs: one thread waits for it,
    # ``threads`` draw it (so the pool never waits on itself)
    pool = ThreadPoolExecutor(threads + 1) if threads else None
    with (
        tqdm(
            total=len(indices), desc="generate", unit="real", disable=not progress, file=sys.stderr
        ) as bar,
        pool or nullcontext(),
    ):

        def draw(idx):
            return parallel_noise(model, idx, seed, *shape, pool=pool, threads=threads)

        ahead = pool.submit(draw, batches[0]) if pool and batches else None
        for k, (start, idx) in enumerate(zip(starts, batches, strict=True)):
            if ahead is None:
                noise = realization_noise(model, idx, seed, *shape)
            else:
                noise = ahead.result()
                nxt = k + 1 < len(batches)
                ahead = pool.submit(draw, batches[k + 1]) if nxt else None
            z = [t.to(dev, non_blocking=True) for t in noise]
            b = len(idx)
            c = None
            if cond is not None:
                c = cond[start : start + b] if per_real else cond.expand(b, *cond.shape[1:])
            if compiled and b < batch_size:
                z = [torch.cat([t, t[-1:].expand(batch_size - b, *t.shape[1:])]) for t in z]
                if c is not None:
                    c = torch.cat([c, c[-1:].expand(batch_size - b, *c.shape[1:])])
            was_training = model.training
            model.eval()
            with (
                torch.inference_mode()
            ):  # not held across the yield: the caller's autograd is untouched
                fake = model.generate(z, c)  # (b', C, H, W)
                fields = model.spec.decode(fake[:b]).cpu().numpy()
            model.train(was_training)
            yield idx, fields
            bar.update(len(idx))


def require_condition(model: GANModel, condition: str, command: str) -> None:
    """Raise ``InputError`` if ``model`` is not conditioned on ``condition`` (the message
    names the command that fits the model)."""
    allowed = {"sample": ("labels", "none"), "simulate": ("constraints",)}.get(
        command, (condition,)
    )
    if model.condition not in allowed:
        raise InputError(
            f"a {model.name!r} model is conditioned on {model.condition}, not on "
            f"{' or '.join(allowed)}: generate with `{COMMAND_FOR[model.condition]}` instead "
            f"of `geocgan {command}`"
        )


def simulate(
    model: GANModel,
    constraints: Constraints,
    n: int,
    *,
    seed: int = 0,
    batch_size: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """``n`` realizations ``(n, H, W)`` conditioned on ``constraints`` (raw codes or values).

    Generated on the model's canvas for the grid (``model.canvas``: padded to a size the nets
    take, or centred in a larger canvas) and cut out.
    """
    require_condition(model, "constraints", "simulate")
    canvas = model.canvas(*constraints.shape)
    out = np.empty((n, *constraints.shape), np.float32)
    for idx, fields in generate_batches(
        model,
        canvas.place(constraints),
        range(n),
        seed=seed,
        batch_size=batch_size,
        progress=progress,
    ):
        out[idx] = canvas.crop(fields)
    return out


def sample(
    model: GANModel,
    n: int,
    *,
    labels=None,
    seed: int = 0,
    batch_size: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """``n`` outputs of a class-conditional or unconditional model, decoded: ``(n, H, W)``
    for one channel, else ``(n, C, H, W)``.

    ``labels``: one class index for all, or ``n`` of them (one per realization); required
    by a class-conditional model, refused by an unconditional one. Realization ``i`` depends
    only on ``(seed, i)`` and its label.
    """
    require_condition(model, "labels", "sample")
    cond = None
    if model.condition == "labels":
        if labels is None:
            raise InputError(
                f"a {model.name!r} model needs class labels to sample (e.g. --label 3)"
            )
        lab = np.atleast_1d(np.asarray(labels))
        k = getattr(model.config, "n_classes", None)
        if not np.issubdtype(lab.dtype, np.integer) or (k and ((lab < 0) | (lab >= k)).any()):
            raise InputError(
                f"labels {lab.tolist()[:5]} are not all classes 0..{k - 1} of this model"
            )
        if len(lab) not in (1, n):
            raise InputError(f"{len(lab)} labels for {n} samples: give one, or one per sample")
        cond = torch.as_tensor(lab, dtype=torch.int64)
    elif labels is not None:
        raise InputError(f"a {model.name!r} model is unconditional: sample without labels")
    out = None
    for idx, images in generate_batches(
        model, cond, range(n), seed=seed, batch_size=batch_size, progress=progress
    ):
        if out is None:
            out = np.empty((n, *images.shape[1:]), np.float32)
        out[idx] = images
    return out if out is not None else np.empty((0,), np.float32)


def honoring(fields: np.ndarray, constraints: Constraints, categorical: bool) -> dict:
    """How well realizations ``(n, H, W)`` reproduce the constrained pixels.

    Categorical: share of well pixels whose facies matches (over all realizations) and per
    realization. Continuous: MSE at well pixels (data units squared), overall and per realization.
    """
    rows, cols = constraints.rows_cols
    sim = fields[:, rows, cols]  # (n, n_wells)
    obs = constraints.values[rows, cols][None]  # (1, n_wells)
    if categorical:
        per = (sim == obs).mean(1)
        return {
            "metric": "facies_match",
            "overall": float(per.mean()),
            "per_realization": per.tolist(),
        }
    per = ((sim - obs) ** 2).mean(1)
    return {"metric": "mse", "overall": float(per.mean()), "per_realization": per.tolist()}
