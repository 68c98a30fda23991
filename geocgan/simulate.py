"""Ensembles: N realizations for one constraint set, generated in batches.

Realization ``i`` is generated from noise drawn on the CPU with a generator seeded by
``(seed, i)``, so its noise depends only on ``(seed, i)``, never on the batch size, on which
batch or worker made it, or on whether the run was resumed. Generation is always float32. The
values agree bitwise for the same device and batch partition; across batch sizes or devices
they agree up to floating-point rounding of the convolutions (~1e-5 of the field's scale), which
can flip the facies of a pixel whose two probabilities are nearly tied.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

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

    ``constraints`` must be on a grid the model takes (see ``model.check_grid``).
    ``batch_size=None`` picks one for the device and grid (``auto_batch_size``).
    """
    h, w = constraints.shape
    model.check_grid(h, w)
    dev = model.device
    batch_size = batch_size or auto_batch_size(dev, h, w)
    cond = constraints.tensor(model.spec, device=dev)  # (1, K + 1, H, W)
    indices = np.asarray(list(indices), dtype=np.int64)
    with tqdm(
        total=len(indices), desc="simulate", unit="real", disable=not progress, file=sys.stderr
    ) as bar:
        for s in range(0, len(indices), batch_size):
            idx = indices[s : s + batch_size]
            z = [t.to(dev, non_blocking=True) for t in realization_noise(model, idx, seed, h, w)]
            was_training = model.training
            model.eval()
            with (
                torch.inference_mode()
            ):  # not held across the yield: the caller's autograd is untouched
                fake = model.generate(z, cond.expand(len(idx), -1, -1, -1))  # (b, K, H, W)
                fields = model.spec.decode(fake).cpu().numpy()
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
    """``n`` realizations ``(n, H, W)`` conditioned on ``constraints`` (raw codes or values)."""
    out = np.empty((n, *constraints.shape), np.float32)
    for idx, fields in generate_batches(
        model, constraints, range(n), seed=seed, batch_size=batch_size, progress=progress
    ):
        out[idx] = fields
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
