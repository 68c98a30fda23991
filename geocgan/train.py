"""One trainer for every model of the ``GANModel`` contract.

Seeded and resumable: every random draw of epoch ``e`` comes from a generator seeded with
``(seed, e)`` (and torch's global generator, for dropout and the like, is seeded from the
same pair), so a run resumed from epoch ``e`` continues exactly as if it had never stopped.
A checkpoint (safetensors + JSON, weights and optimizer state) is written atomically at the
end of each epoch. One JSON line per epoch records the losses the model returns, its own
validation numbers, and whatever the ``on_epoch`` hooks add.

Data sources yield ``Batch`` objects of raw values (``x`` and the parts a model ``needs``):
``FieldArray`` (a stack of fields, optionally labelled), ``PatchSampler`` (windows of
training images), ``WithConditionSource`` (constraints drawn from other fields).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from geocgan.checkpoint import load_model, save_checkpoint
from geocgan.devices import resolve_device
from geocgan.distributed import DataParallel, join
from geocgan.errors import CheckpointError, InputError
from geocgan.files import atomic_path
from geocgan.io.jsonio import dumps
from geocgan.models import GANModel
from geocgan.models.base import Batch
from geocgan.seeds import derive_seed, torch_generator

# -- training data ----------------------------------------------------------------------


class FieldArray:
    """A stack of raw fields ``(N, H, W)`` (or images ``(N, C, H, W)``) kept on the device,
    optionally with class ``labels`` ``(N,)`` in ``0 .. n_classes - 1``; an epoch is one pass.
    """

    def __init__(
        self,
        fields: np.ndarray | torch.Tensor,
        device: torch.device | str = "cpu",
        labels: np.ndarray | torch.Tensor | None = None,
        n_classes: int | None = None,
    ):
        self.fields = torch.as_tensor(np.asarray(fields, dtype=np.float32), device=device)
        if self.fields.ndim not in (3, 4):
            raise InputError(
                f"training fields must be (N, H, W) or (N, C, H, W), got shape "
                f"{tuple(self.fields.shape)}"
            )
        self.labels = None
        if labels is not None:
            lab = np.asarray(labels)
            if lab.shape != (len(self.fields),) or not np.issubdtype(lab.dtype, np.integer):
                raise InputError(
                    f"labels must be {len(self.fields)} integers, one per image; got "
                    f"{lab.dtype} of shape {lab.shape}"
                )
            k = int(lab.max()) + 1 if n_classes is None else n_classes
            bad = np.flatnonzero((lab < 0) | (lab >= k))
            if len(bad):
                raise InputError(
                    f"label {int(lab[bad[0]])} of image {int(bad[0])} is outside 0..{k - 1} "
                    f"({len(bad)} such); give labels 0..{k - 1}"
                )
            self.labels = torch.as_tensor(lab, dtype=torch.int64, device=device)

    @property
    def provides(self) -> frozenset[str]:
        return frozenset() if self.labels is None else frozenset({"labels"})

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.fields.shape[-2:])

    def arrays(self) -> list[torch.Tensor]:
        return [self.fields]

    def to(self, device) -> FieldArray:
        self.fields = self.fields.to(device)
        if self.labels is not None:
            self.labels = self.labels.to(device)
        return self

    def _at(self, idx: torch.Tensor) -> Batch:
        return Batch(self.fields[idx], None if self.labels is None else self.labels[idx])

    def steps(self, batch_size: int, steps_per_epoch: int | None) -> int:
        return steps_per_epoch or max(1, len(self.fields) // batch_size)

    def batches(self, batch_size: int, steps: int, g: torch.Generator):
        order = torch.randperm(len(self.fields), generator=g, device=g.device)
        n = len(order)
        for s in range(steps):
            idx = order[(s * batch_size + torch.arange(batch_size, device=order.device)) % n]
            yield self._at(idx)

    def sample(self, n: int, g: torch.Generator) -> Batch:
        return self._at(torch.randint(len(self.fields), (n,), generator=g, device=g.device))


class RandomWindows:
    """The epoch of a source of random windows: ``steps_per_epoch`` batches (default 100),
    each ``sample(batch_size, g)``."""

    def steps(self, batch_size: int, steps_per_epoch: int | None) -> int:
        return steps_per_epoch or 100

    def batches(self, batch_size: int, steps: int, g: torch.Generator):
        for _ in range(steps):
            yield self.sample(batch_size, g)


class PatchSampler(RandomWindows):
    """Random windows from one or more training images (2-D maps or sections) or training
    volumes (3-D, ``(z, y, x)``), on the device.

    ``patch``: the window's side (an int) or its shape, one side per dimension.
    ``flip`` mirrors each window at random, left-right (``"x"``), along y (``"y"``) or both
    (``"xy"``), each with probability 1/2: two (``"xy"``: four) times the distinct windows of
    a small training image, without turning its structures (channels along x stay along x).
    Volumes are never flipped along z (that would put stratigraphy upside down). Leave it off
    where the mirrored geology is another geology: an up-down flip of a vertical section puts
    fining-upward sequences upside down.
    """

    provides = frozenset()

    def __init__(
        self,
        images: list[np.ndarray],
        patch: int | tuple[int, ...],
        device="cpu",
        flip: str = "",
    ):
        if flip not in ("", "x", "y", "xy"):
            raise InputError(f"flip={flip!r}: use '', 'x', 'y' or 'xy'")
        self.flip = flip
        self.images = [
            torch.as_tensor(np.asarray(im, dtype=np.float32), device=device) for im in images
        ]
        ndim = self.images[0].ndim if self.images else 2
        self.patch = (patch,) * ndim if isinstance(patch, int) else tuple(patch)
        side = "x".join(map(str, self.patch))
        for i, im in enumerate(self.images):
            if im.ndim not in (2, 3) or im.ndim != len(self.patch):
                raise InputError(
                    f"training image {i} has shape {tuple(im.shape)}; give 2-D images or 3-D "
                    f"volumes, all of one kind, each at least {side} (the patch size)"
                )
            if any(n < p for n, p in zip(im.shape, self.patch, strict=True)):
                raise InputError(
                    f"training image {i} has shape {tuple(im.shape)}; it must be at least "
                    f"{side} (the patch size)"
                )

    @property
    def shape(self) -> tuple[int, ...]:
        return self.patch

    def arrays(self) -> list[torch.Tensor]:
        return self.images

    def to(self, device) -> PatchSampler:
        self.images = [im.to(device) for im in self.images]
        return self

    def sample(self, n: int, g: torch.Generator) -> Batch:
        """``n`` random windows ``(n, *patch)``, as a ``Batch``."""
        return Batch(self.windows(n, g))

    def windows(self, n: int, g: torch.Generator) -> torch.Tensor:
        dims = len(self.patch)
        axes = "zyx"[-dims:]  # the letter of each dimension
        dev = g.device
        which = torch.randint(len(self.images), (n,), generator=g, device=dev)
        u = torch.rand(n, dims, generator=g, device=dev)
        flips = torch.rand(n, dims, generator=g, device=dev) < 0.5 if self.flip else None
        offsets = []  # per dimension: (n, 1.., p_d, ..1) offsets within the window
        for d, (p, axis) in enumerate(zip(self.patch, axes, strict=True)):
            ar = torch.arange(p, device=dev)
            off = ar.expand(n, p)
            if flips is not None and axis in self.flip:  # per window, no host sync
                off = torch.where(flips[:, d : d + 1], p - 1 - ar, ar)
            view = [n] + [1] * dims
            view[d + 1] = p
            offsets.append(off.reshape(view))
        out = torch.empty(n, *self.patch, device=self.images[0].device)
        for i, im in enumerate(self.images):
            # one image: no selection, so no host sync in the hot loop
            sel = (
                torch.arange(n, device=dev)
                if len(self.images) == 1
                else (which == i).nonzero()[:, 0]
            )
            index = []
            for d, p in enumerate(self.patch):
                start = (u[sel, d] * (im.shape[d] - p + 1)).long()  # (n_i,)
                index.append(start.reshape([-1] + [1] * dims) + offsets[d][sel])
            out[sel] = im[tuple(index)]
        return out


class WithConditionSource:
    """``data`` whose batches carry ``cond_source``: fields drawn from ``cond_data`` (one per
    item, after the batch, from the same generator) that pixel constraints come from instead
    of the batch's own (the paper's protocol for the generator)."""

    def __init__(self, data, cond_data):
        self.data, self.cond_data = data, cond_data

    @property
    def provides(self) -> frozenset[str]:
        return self.data.provides | {"cond_source"}

    @property
    def shape(self):
        return self.data.shape

    def arrays(self) -> list[torch.Tensor]:
        return self.data.arrays() + self.cond_data.arrays()

    def to(self, device) -> WithConditionSource:
        self.data.to(device), self.cond_data.to(device)
        return self

    def steps(self, batch_size: int, steps_per_epoch: int | None) -> int:
        return self.data.steps(batch_size, steps_per_epoch)

    def batches(self, batch_size: int, steps: int, g: torch.Generator):
        for batch in self.data.batches(batch_size, steps, g):
            yield replace(batch, cond_source=self.cond_data.sample(len(batch), g).x)

    def sample(self, n: int, g: torch.Generator) -> Batch:
        return self.data.sample(n, g)


# -- trainer ----------------------------------------------------------------------------


@dataclass
class TrainConfig:
    """Settings of a training run.

    Parameters
    ----------
    epochs : int
        Number of epochs.
    batch_size : int
        Images per step.
    steps_per_epoch : int, optional
        Steps in an epoch; default one pass over a field stack, or 100 patch batches.
    seed : int
        Seed of every random draw (data order, constraint maps, noise, dropout).
    device : str
        ``auto`` (CUDA when present), ``cpu``, ``cuda``, ``cuda:1``...
    val_size : int
        Size of the held-out set the model validates on each epoch (``GANModel.validate``).
    """

    epochs: int = 10
    batch_size: int = 32
    steps_per_epoch: int | None = None
    seed: int = 0
    device: str = "auto"
    val_size: int = 64


VAL_STREAM = 2**31 - 1  # the seed stream of held-out data, apart from every epoch
GLOBAL_STREAM = 2**31 - 3  # torch's global generator in epoch e: (seed, e, GLOBAL_STREAM)

EpochHook = Callable[["Trainer", int, dict], "dict | None"]

MISSING_HINT = {  # what to give when data lack a part a model needs
    "labels": "give labelled images (e.g. a dataset name such as mnist, or .npz with 'images' "
    "and 'labels')",
    "source": "give paired inputs (--source)",
    "other": "give a second domain (--other)",
}


def config_changes(doc: dict, config) -> list[str]:
    """Settings of ``config`` that differ from those of the checkpoint described by ``doc``.

    A setting newer than the checkpoint had its default when the checkpoint was made.
    """
    stored = {**asdict(type(config)()), **doc["config"]}
    return [k for k, v in asdict(config).items() if stored.get(k) != v]


class BestEpoch:
    """An ``on_epoch`` hook that keeps the weights of the best epoch so far by one logged
    number (``metric``, lowest with ``mode="min"``) as ``<checkpoint stem>_best.safetensors``
    and logs ``best_epoch`` and ``best_<metric>``. On resume the best so far is read back from
    the log, so the choice is the same as an uninterrupted run's."""

    def __init__(self, metric: str, mode: str = "min"):
        if mode not in ("min", "max"):
            raise InputError(f"BestEpoch mode {mode!r}: use 'min' or 'max'")
        self.metric, self.mode = metric, mode

    def path(self, trainer: Trainer) -> Path:
        ck = trainer.checkpoint
        return ck.with_name(f"{ck.stem}_best.safetensors")

    def __call__(self, trainer: Trainer, epoch: int, row: dict) -> dict:
        if self.metric not in row:
            raise InputError(f"BestEpoch: the log has no {self.metric!r}; logged are {sorted(row)}")
        sign = 1 if self.mode == "min" else -1
        earlier = [r for r in trainer.rows if r["epoch"] < epoch and self.metric in r]
        best = min(earlier, key=lambda r: sign * r[self.metric], default=None)
        if best is None or sign * row[self.metric] < sign * best[self.metric]:
            save_checkpoint(
                self.path(trainer), trainer.model, trainer.doc(epoch, row), training_state=False
            )
            best = row
        return {"best_epoch": best["epoch"], f"best_{self.metric}": best[self.metric]}


class Trainer:
    """Train ``model`` on ``data`` (a data source: ``FieldArray``, ``PatchSampler``, ...).

    Parameters
    ----------
    checkpoint : Path
        Written at the end of every epoch (atomically); ``fit(resume=True)`` continues from it.
    log : Path, optional
        JSON lines, one per epoch.
    val_data : data source, optional
        Where the held-out set comes from (default: ``data``, drawn with a separate seed).
    meta : dict
        Extra description stored in the checkpoint (e.g. training image paths).
    snapshot_every : int
        Also keep the weights (no optimizer state) of every ``snapshot_every``-th epoch as
        ``<checkpoint stem>_epoch<NNNN>.safetensors``, to choose among later; 0 keeps none.
    on_epoch : list of callables
        ``hook(trainer, epoch, row)`` after each epoch's validation, before the checkpoint;
        a dict it returns is added to the epoch's log row (e.g. ``BestEpoch``, an FID).
    distributed : bool, optional
        Train on the processes ``torchrun`` started, each on a slice of every global batch
        (``geocgan.distributed``); rank 0 writes the log and checkpoints. Default: when
        torchrun's ``WORLD_SIZE`` is set.
    """

    def __init__(
        self,
        model: GANModel,
        data,
        config: TrainConfig,
        *,
        checkpoint,
        log=None,
        val_data=None,
        meta: dict | None = None,
        progress: bool = True,
        snapshot_every: int = 0,
        on_epoch: list[EpochHook] | None = None,
        distributed: bool | None = None,
    ):
        self.model, self.data, self.config = model, data, config
        self.checkpoint, self.log = Path(checkpoint), Path(log) if log else None
        self.val_data = val_data or data
        self.meta = meta or {}
        self.on_epoch = list(on_epoch or [])
        self.rows: list[dict] = []
        self.start = 0  # the epoch fit() started from (a resumed checkpoint's)
        if snapshot_every < 0:
            raise InputError(
                f"snapshot_every={snapshot_every}: give 0 (none) or a positive epoch count"
            )
        self.snapshot_every = snapshot_every
        if distributed is None:
            distributed = "WORLD_SIZE" in os.environ
        self.group = join(config.device) if distributed else None
        self.device = self.group.device if self.group else resolve_device(config.device)
        self.progress = progress and (self.group is None or self.group.main)
        missing = model.needs - data.provides
        if missing:
            given = "".join(", " + p for p in sorted(data.provides))
            raise InputError(
                f"model {model.name!r} trains on data with {', '.join(sorted(missing))}, which "
                f"these data do not give (they give x{given}); "
                + "; ".join(MISSING_HINT[p] for p in sorted(missing) if p in MISSING_HINT)
            )
        model.check_grid(*data.shape)
        for source in self._sources():
            model.check_data(source)  # once here, so the training loop never syncs for it

    def _sources(self) -> list:
        """The data sources, each once (``val_data`` is often ``data``)."""
        return list({id(s): s for s in (self.data, self.val_data)}.values())

    def doc(self, epoch: int, row: dict) -> dict:
        """The checkpoint description at the end of ``epoch``."""
        steps = self.data.steps(self.config.batch_size, self.config.steps_per_epoch)
        return {
            **self.meta,
            "epoch": epoch,
            "step": epoch * steps,
            "train": asdict(self.config),
            "complete": epoch == self.config.epochs,
            "last": row,
        }

    def fit(self, resume: bool = False) -> list[dict]:
        dev = self.device
        devices = [dev] if dev.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):  # the caller's global RNG is untouched
            return self._fit(resume)

    def _fit(self, resume: bool) -> list[dict]:
        cfg, dev = self.config, self.device
        model = self.model.to(dev)
        for source in self._sources():
            source.to(dev)
        start = 0
        if resume and self.checkpoint.exists():
            loaded, doc = load_model(self.checkpoint, device=dev, training_state=True)
            self._check_same_run(doc)
            model.load_state_dict(loaded.state_dict())
            for name, opt in model.optimizers.items():
                opt.load_state_dict(loaded.optimizers[name].state_dict())
            start = int(doc["epoch"])
        self.start = start
        self.rows = rows = self._read_log(start)
        ddp = DataParallel(model, self.group) if self.group else None  # copies made equal
        main = ddp is None or self.group.main

        val = model.validation(
            self.val_data, cfg.val_size, torch_generator(cfg.seed, VAL_STREAM, device=dev)
        )
        steps = self.data.steps(cfg.batch_size, cfg.steps_per_epoch)
        bar = tqdm(
            total=(cfg.epochs - start) * steps,
            desc="train",
            unit="step",
            disable=not self.progress,
            file=sys.stderr,
        )
        for epoch in range(start + 1, cfg.epochs + 1):
            g = torch_generator(cfg.seed, epoch, device=dev)
            torch.manual_seed(derive_seed(cfg.seed, epoch, GLOBAL_STREAM))
            g_step = ddp.epoch_generator(g, cfg.seed, epoch) if ddp else g
            t0 = time.perf_counter()
            sums: dict[str, torch.Tensor] = {}
            for batch in self.data.batches(cfg.batch_size, steps, g):
                if ddp:  # every process drew the global batch: it keeps its slice
                    batch = ddp.shard(batch)
                losses = model.train_step(model.encode(batch), g_step)
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0) + v  # stays on the device: no sync per step
                bar.update(1)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            seconds = time.perf_counter() - t0
            if ddp:
                sums = ddp.average(sums)
            validation = model.validate(val, torch_generator(cfg.seed, VAL_STREAM, 1, device=dev))
            row = {
                "epoch": epoch,
                "step": epoch * steps,
                **{k: float(v) / steps for k, v in sums.items()},
                **validation,
                "images_per_s": steps * cfg.batch_size / seconds,
                "seconds": seconds,
                "device": str(dev),
                **({"processes": self.group.world_size} if ddp else {}),
            }
            for hook in self.on_epoch if main else []:  # hooks, log and checkpoints: rank 0's
                row.update(hook(self, epoch, row) or {})
            rows.append(row)
            if not main:
                continue
            shown = [*list(sums)[:2], *list(validation)[-1:]]
            bar.set_postfix({k: f"{row[k]:.3g}" for k in shown})
            self._write_log(rows)  # before the checkpoint: a resume never skips a log line
            doc = self.doc(epoch, row)
            if self.snapshot_every and epoch % self.snapshot_every == 0:
                save_checkpoint(self.snapshot_path(epoch), model, doc, training_state=False)
            save_checkpoint(self.checkpoint, model, doc)
        bar.close()
        if ddp:
            ddp.close()
        return rows

    def snapshot_path(self, epoch: int) -> Path:
        """Where the weights of ``epoch`` are kept (see ``snapshot_every``)."""
        return self.checkpoint.with_name(f"{self.checkpoint.stem}_epoch{epoch:04d}.safetensors")

    def _check_same_run(self, doc: dict) -> None:
        """Refuse to resume a checkpoint made with other model, field or training settings."""
        model = self.model
        diff = []
        if doc["model"] != model.name:
            diff.append(f"model {doc['model']} instead of {model.name}")
        else:
            changed = config_changes(doc, model.config)
            if changed:
                diff.append(f"model config: {', '.join(changed)}")
        if doc["field"] != model.spec.to_dict():
            diff.append("field normalisation / facies codes")
        diff += [
            f"train.{k}"
            for k, v in asdict(self.config).items()
            if k not in ("epochs", "device") and doc.get("train", {}).get(k) != v
        ]
        for key, default in (("patch", None), ("flip", "")):  # how the windows were drawn
            if doc.get(key, default) != self.meta.get(key, default):
                diff.append(key)
        if diff:
            raise CheckpointError(
                f"{self.checkpoint} was trained with other settings ({', '.join(diff)}); resume with the "
                "same options and data, or pass --overwrite to start again"
            )

    def _read_log(self, upto_epoch: int) -> list[dict]:
        if not (self.log and self.log.exists() and upto_epoch):
            return []
        rows = [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]
        return [r for r in rows if r["epoch"] <= upto_epoch]

    def _write_log(self, rows: list[dict]) -> None:
        if self.log:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.log) as tmp:
                tmp.write_text("".join(dumps(r) + "\n" for r in rows))
