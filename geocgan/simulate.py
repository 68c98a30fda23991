"""Ensembles: N realizations for one constraint set, generated in batches.

Realization ``i`` is generated from noise drawn on the CPU with a generator seeded by
``(seed, i)``, so its noise depends only on ``(seed, i)``, never on the batch size, on which
batch or worker made it, or on whether the run was resumed. Generation is always float32. The
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
from geocgan.models import GANModel
from geocgan.seeds import torch_generator


def realization_noise(
    model: GANModel, indices, seed: int, height: int, width: int
) -> list[torch.Tensor]:
    """Noise tensors for realizations ``indices``, each ``(len(indices), *shape)`` on the CPU."""
    shapes = model.noise_shapes(height, width)
    per_real = []
    for i in indices:
        g = torch_generator(seed, int(i))
        per_real.append([torch.randn(s, generator=g) for s in shapes])
    return [torch.stack([z[k] for z in per_real]) for k in range(len(shapes))]


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


def parallel_noise(model, idx, seed, h, w, pool: ThreadPoolExecutor, threads: int):
    """``realization_noise(model, idx, ...)`` drawn by ``threads`` threads of ``pool``: the
    same values, since each realization has its own generator."""
    parts = [p for p in np.array_split(np.asarray(idx), threads) if len(p)]
    chunks = list(pool.map(lambda part: realization_noise(model, part, seed, h, w), parts))
    return [torch.cat([c[k] for c in chunks]) for k in range(len(chunks[0]))]


def auto_batch_size(device: torch.device | str, height: int, width: int) -> int:
    """Realizations per forward pass when none is given: about 2**18 pixels on a CPU, where
    the activations then stay in cache (at 128² on the 2-core development machine, 16 per
    pass ran 1.2-1.7x faster than 64; ``workflows/throughput.py --batch``), and about 2**24
    on a GPU, which wants large batches."""
    budget = 2**24 if torch.device(device).type == "cuda" else 2**18
    return max(1, budget // (height * width))


def generate_batches(
    model: GANModel,
    constraints: Constraints,
    indices,
    *,
    seed: int = 0,
    batch_size: int | None = None,
    progress: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(indices, fields)`` batches: raw fields ``(b, H, W)`` (codes or values).

    ``constraints`` must be on a grid the model takes: for a user's grid, on the model's
    canvas for it (``model.canvas(H, W).place(constraints)``, then ``.crop`` the fields), as
    ``simulate`` does.
    ``batch_size=None`` picks one for the device and grid (``auto_batch_size``).
    """
    h, w = constraints.shape
    model.check_grid(h, w)
    dev = model.device
    batch_size = batch_size or auto_batch_size(dev, h, w)
    cond = constraints.tensor(model.spec, device=dev)  # (1, K + 1, H, W)
    indices = np.asarray(list(indices), dtype=np.int64)
    compiled = model.compiled
    if compiled:  # compiled for one batch shape: no larger than needed, the last one padded
        batch_size = max(1, min(batch_size, len(indices)))
    batches = [indices[s : s + batch_size] for s in range(0, len(indices), batch_size)]
    threads = noise_threads(dev, h, w)
    # on a GPU the next batch's noise is drawn while this one runs: one thread waits for it,
    # ``threads`` draw it (so the pool never waits on itself)
    pool = ThreadPoolExecutor(threads + 1) if threads else None
    with (
        tqdm(
            total=len(indices), desc="simulate", unit="real", disable=not progress, file=sys.stderr
        ) as bar,
        pool or nullcontext(),
    ):

        def draw(idx):
            return parallel_noise(model, idx, seed, h, w, pool, threads)

        ahead = pool.submit(draw, batches[0]) if pool and batches else None
        for k, idx in enumerate(batches):
            if ahead is None:
                noise = realization_noise(model, idx, seed, h, w)
            else:
                noise = ahead.result()
                nxt = k + 1 < len(batches)
                ahead = pool.submit(draw, batches[k + 1]) if nxt else None
            z = [t.to(dev, non_blocking=True) for t in noise]
            b = len(idx)
            if compiled and b < batch_size:
                z = [torch.cat([t, t[-1:].expand(batch_size - b, *t.shape[1:])]) for t in z]
            was_training = model.training
            model.eval()
            with (
                torch.inference_mode()
            ):  # not held across the yield: the caller's autograd is untouched
                fake = model.generate(z, cond.expand(len(z[0]), -1, -1, -1))  # (b', K, H, W)
                fields = model.spec.decode(fake[:b]).cpu().numpy()
            model.train(was_training)
            yield idx, fields
            bar.update(len(idx))


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
