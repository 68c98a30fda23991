"""Ensembles: N realizations for one condition, generated in batches, for any model.

``generate_batches`` serves every model of the contract: the condition is what the model's
``condition`` says (constraint maps, class labels, an input image, or none), broadcast to
every realization or given per realization. ``simulate`` is the pixel-constrained case
(constraints on a canvas); ``sample`` the class-conditional and unconditional one.

Realization ``i`` is generated from latent parts (``model.latent``) that are a function of
``(seed, i)`` only (``geocgan.noise``: counter-based Philox drawn on the generating device,
or the per-realization CPU generators of older ensembles), never of the batch size, of which
batch, worker or device made it, or of whether the run was resumed. Generation is float32
unless bfloat16 is asked for. The values agree bitwise for the same device and batch partition; across batch sizes or devices
they agree up to floating-point rounding of the convolutions (~1e-5 of the field's scale), which
can flip the facies of a pixel whose two probabilities are nearly tied.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from geocgan import noise
from geocgan.constraints import Constraints
from geocgan.errors import InputError
from geocgan.models import COMMAND_FOR, GANModel

PRECISIONS = ("float32", "bfloat16")  # of generation: float32, or bfloat16 autocast (opt-in)


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
    noise_scheme: str = "philox",
    precision: str = "float32",
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(indices, outputs)`` batches of decoded outputs (raw codes or values): fields
    ``(b, H, W)`` for one-channel models, ``(b, C, H, W)`` otherwise.

    ``cond`` is what the model is conditioned on (its ``condition``): ``Constraints`` on a
    grid the model takes (for a user's grid, on the model's canvas for it:
    ``model.canvas(H, W).place(constraints)``, then ``.crop`` the fields, as ``simulate``
    does); a tensor with a leading dimension of 1 (the same for every realization) or of
    ``len(indices)`` (one per realization: class labels, input images); or ``None``.
    ``batch_size=None`` picks one for the device and grid (``auto_batch_size``).
    ``noise_scheme``: how realization ``i``'s latent parts are drawn from ``(seed, i)``
    (``geocgan.noise``): ``"philox"`` on the model's device, or ``"torch"``, the
    per-realization CPU generators of ensembles made before it. ``precision``
    ``"bfloat16"`` (an opt-in) generates under bfloat16 autocast: faster on a GPU, values off
    by bfloat16 rounding (facies near a tie can flip).

    On a GPU the loop never waits for the batch it has just queued: batch ``k`` is queued
    (noise, generator, decoding, a copy into pinned host memory) before batch ``k - 1``'s
    outputs are handed over, so the device has work while the caller uses them. The arrays
    handed over are the caller's to keep.
    """
    if precision not in PRECISIONS:
        raise InputError(f"precision {precision!r}: use one of {PRECISIONS}")
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
    parts = model.latent(*shape)
    on_dev = torch.as_tensor(indices, device=dev)  # once: a batch's indices are a view
    cuda = dev.type == "cuda"
    bf16 = precision == "bfloat16"

    def launch(start: int, b: int):
        """Queue batch ``indices[start : start + b]``; its outputs (on the host) and an event
        that marks them ready (None on a CPU: ready already)."""
        ids = on_dev[start : start + b] if noise_scheme == "philox" else indices[start : start + b]
        z = noise.draw(parts, seed, ids, device=dev, scheme=noise_scheme)
        c = None
        if cond is not None:
            c = cond[start : start + b] if per_real else cond.expand(b, *cond.shape[1:])
        if compiled and b < batch_size:
            z = [torch.cat([t, t[-1:].expand(batch_size - b, *t.shape[1:])]) for t in z]
            if c is not None:
                c = torch.cat([c, c[-1:].expand(batch_size - b, *c.shape[1:])])
        was_training = model.training
        model.eval()
        with torch.inference_mode(), torch.autocast(dev.type, torch.bfloat16, enabled=bf16):
            out = model.spec.decode(model.generate(z, c)[:b].float())  # (b, [C,] H, W)
            if cuda:
                host = torch.empty(out.shape, dtype=out.dtype, pin_memory=True)
                host.copy_(out, non_blocking=True)
        model.train(was_training)  # not held across the yield, nor is inference mode
        if not cuda:
            return out, None
        ready = torch.cuda.Event()
        ready.record()
        return host, ready

    pending = None  # (indices, outputs, event) of the batch queued last
    with tqdm(
        total=len(indices), desc="generate", unit="real", disable=not progress, file=sys.stderr
    ) as bar:
        for start in range(0, len(indices), batch_size):
            idx = indices[start : start + batch_size]
            queued = (idx, *launch(start, len(idx)))
            if pending is not None:
                yield _handed_over(*pending)
                bar.update(len(pending[0]))
            pending = queued
        if pending is not None:
            yield _handed_over(*pending)
            bar.update(len(pending[0]))


def _handed_over(idx: np.ndarray, out: torch.Tensor, ready) -> tuple[np.ndarray, np.ndarray]:
    """A queued batch, once its copy to the host is done (pinned memory, held by the array)."""
    if ready is not None:
        ready.synchronize()
    return idx, out.numpy()


def require_command(model: GANModel, command: str) -> None:
    """Raise ``InputError`` if ``model`` is not generated by ``geocgan <command>`` (its
    ``condition`` decides, through ``COMMAND_FOR``); the message names the command that fits."""
    allowed = [c for c, cmd in COMMAND_FOR.items() if cmd == f"geocgan {command}"]
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
    noise_scheme: str = "philox",
    precision: str = "float32",
) -> np.ndarray:
    """``n`` realizations ``(n, H, W)`` conditioned on ``constraints`` (raw codes or values).

    Generated on the model's canvas for the grid (``model.canvas``: padded to a size the nets
    take, or centred in a larger canvas) and cut out. ``noise_scheme`` and ``precision``: see
    ``generate_batches``.
    """
    require_command(model, "simulate")
    canvas = model.canvas(*constraints.shape)
    out = np.empty((n, *constraints.shape), np.float32)
    for idx, fields in generate_batches(
        model,
        canvas.place(constraints),
        range(n),
        seed=seed,
        batch_size=batch_size,
        progress=progress,
        noise_scheme=noise_scheme,
        precision=precision,
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
    noise_scheme: str = "philox",
) -> np.ndarray:
    """``n`` outputs of a class-conditional or unconditional model, decoded: ``(n, H, W)``
    for one channel, else ``(n, C, H, W)`` (``noise_scheme``: see ``generate_batches``).

    ``labels``: one class index for all, or ``n`` of them (one per realization); required
    by a class-conditional model, refused by an unconditional one. Realization ``i`` depends
    only on ``(seed, i)`` and its label.
    """
    require_command(model, "sample")
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
        model,
        cond,
        range(n),
        seed=seed,
        batch_size=batch_size,
        progress=progress,
        noise_scheme=noise_scheme,
    ):
        if out is None:
            out = np.empty((n, *images.shape[1:]), np.float32)
        out[idx] = images
    return out if out is not None else np.empty((0,), np.float32)
