"""Data-parallel training on several processes (GPUs, or CPU cores), for any model.

Each process holds a whole copy of the model and takes a slice of every global batch.
Nothing here knows the model: it only uses ``model.parameters()``, ``model.buffers()`` and
``model.optimizers`` (the ``GANModel`` contract), so a model with several optimizers (a GAN's
D and G steps inside one ``train_step``) works as it is:

- at the start, rank 0's parameters and buffers are copied to every process, so the copies
  start equal (a resumed run loads the same checkpoint everywhere, optimizer state included);
- every optimizer gets a step pre-hook that averages the gradients of its parameters over
  the processes (one all-reduce of a flat buffer per step), so every copy takes the same
  step and stays equal;
- every process draws the same global batch (``TrainConfig.batch_size``, from the same
  generator) and keeps its slice (:meth:`DataParallel.shard`): the data of a step are those
  of a one-process run.

What equals a one-process run with the same global batch, up to float rounding of the sums:
the update of every step whose loss is a mean of per-example terms over the batch (the
average of the slices' gradients is then the gradient of the mean), when ``train_step``
draws nothing at random. Random draws inside ``train_step`` (the well masks and noise of a
GAN) come on each process from its own generator (and torch's global one), seeded by
``(seed, epoch, RANK_STREAM, rank)``, so that the slices do not share noise: a run on ``W > 1`` processes is then another,
equally valid, random sequence than the one-process run (with ``W = 1`` it is the
one-process run itself). Statistics over the batch (a moment loss) see the slice. BatchNorm
layers become ``SyncBatchNorm`` on GPUs (statistics of the global batch); on CPUs (gloo) they
normalise by the slice's statistics. The model's buffers (running statistics, spectral norm's
power-iteration vectors) are rank 0's after every step, as DDP's ``broadcast_buffers``.

Checkpoints: written by rank 0 only; they hold one model, not one per process, so a run
resumes on any number of processes (every process must read the checkpoint: a shared
filesystem across nodes).

Launch with ``torchrun`` (it sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``
and ``MASTER_PORT``): NCCL between GPUs (process ``k`` of a node on ``cuda:k``), gloo on CPUs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from geocgan.errors import InputError
from geocgan.models.base import Batch
from geocgan.seeds import derive_seed, torch_generator

RANK_STREAM = 2**31 - 4  # seed stream of the per-process draws inside train_step


def _broadcast(flat: torch.Tensor) -> None:
    dist.broadcast(flat, src=0)


def _flat_collective(tensors: list[torch.Tensor], fn) -> None:
    """Apply the collective ``fn`` to ``tensors`` through one flat buffer per dtype."""
    for dtype in {t.dtype for t in tensors}:
        same = [t for t in tensors if t.dtype == dtype]
        flat = torch.cat([t.detach().reshape(-1) for t in same])
        fn(flat)
        for t, part in zip(same, flat.split([t.numel() for t in same]), strict=True):
            t.data.copy_(part.view_as(t))


@dataclass(frozen=True)
class Group:
    """This process's place: ``rank`` of ``world_size``, computing on ``device``."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def main(self) -> bool:
        """Whether this process writes checkpoints, logs and progress (rank 0)."""
        return self.rank == 0


def join(device: str = "auto") -> Group:
    """Join the process group ``torchrun`` describes in the environment.

    ``device`` ``auto``: ``cuda:LOCAL_RANK`` with NCCL where CUDA is present, else the CPU
    with gloo; ``cpu`` forces the CPU (gloo).
    """
    missing = [
        k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ
    ]
    if missing:
        raise InputError(
            f"distributed training needs the environment torchrun sets ({', '.join(missing)} "
            "missing); launch with `torchrun --nproc-per-node N -m geocgan.cli train ...`"
        )
    local = int(os.environ.get("LOCAL_RANK", 0))
    cuda = device != "cpu" and torch.cuda.is_available()
    if device not in ("auto", "cpu", "cuda"):
        raise InputError(f"device {device!r} with --distributed: use auto, cuda or cpu")
    dev = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return Group(dist.get_rank(), dist.get_world_size(), dev)


class DataParallel:
    """Keep the copies of ``model`` on the processes of ``group`` equal (see the module).

    Parameters
    ----------
    model : torch.nn.Module
        Already on ``group.device``, with its optimizers in ``model.optimizers`` (a dict).
    group : Group
        From :func:`join` (or made by hand after ``dist.init_process_group``).
    """

    def __init__(self, model: torch.nn.Module, group: Group):
        self.group = group
        if group.device.type == "cuda":  # batch statistics over the global batch (NCCL only)
            torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)  # same parameters, in place
        self.buffers = list(model.buffers())
        with torch.no_grad():
            _flat_collective([*model.parameters(), *self.buffers], _broadcast)
        self._hooks = [
            opt.register_step_pre_hook(self._average_gradients) for opt in model.optimizers.values()
        ]

    def _average_gradients(self, optimizer: torch.optim.Optimizer, args, kwargs) -> None:
        """Replace the gradients of ``optimizer``'s parameters by their mean over processes,
        and the model's buffers (running statistics) by rank 0's, as DDP does."""
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        _flat_collective(grads, self._mean)
        _flat_collective(self.buffers, _broadcast)

    def _mean(self, flat: torch.Tensor) -> None:
        dist.all_reduce(flat)
        flat /= self.group.world_size

    def shard(self, batch: Batch) -> Batch:
        """This process's slice of a global ``Batch`` of ``B`` items (every part, labels
        too): ``B / world_size`` items."""
        b, w = len(batch), self.group.world_size
        if b % w:
            raise InputError(
                f"a global batch of {b} does not split over {w} processes; give a batch size "
                f"that is a multiple of {w}"
            )
        k = b // w
        part = slice(self.group.rank * k, (self.group.rank + 1) * k)
        return Batch(**{n: None if t is None else t[part] for n, t in batch.parts().items()})

    def epoch_generator(self, g: torch.Generator, seed: int, epoch: int) -> torch.Generator:
        """The generator of ``train_step``'s own draws in ``epoch``: ``g`` itself on one
        process; else one seeded by ``(seed, epoch, RANK_STREAM, rank)``, with torch's global
        generator (dropout and the like) reseeded from the same, so that the slices share no
        noise."""
        if self.group.world_size == 1:
            return g
        key = (seed, epoch, RANK_STREAM, self.group.rank)
        torch.manual_seed(derive_seed(*key))
        return torch_generator(*key, device=g.device)

    def average(self, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Scalars (e.g. an epoch's loss sums) averaged over the processes: one all-reduce."""
        keys = sorted(values)
        if not keys:
            return {}
        flat = torch.stack([torch.as_tensor(values[k], dtype=torch.float64) for k in keys])
        flat = flat.to(self.group.device)
        dist.all_reduce(flat)
        return dict(zip(keys, flat / self.group.world_size, strict=True))

    def close(self) -> None:
        """Remove the gradient hooks (the model trains alone again)."""
        for h in self._hooks:
            h.remove()
        self._hooks = []
