"""One trainer for every model of the ``GANModel`` contract.

Seeded and resumable: every random draw of epoch ``e`` comes from a generator seeded with
``(seed, e)``, and a checkpoint (safetensors + JSON, weights and optimizer state) is written
atomically at the end of each epoch, so a run resumed from epoch ``e`` continues exactly
as if it had never stopped. One JSON line per epoch records the losses and the
constrained-pixel error on held-out constraints.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from geocgan.constraints import constraint_tensor, random_masks
from geocgan.errors import CheckpointError, InputError
from geocgan.io.checkpoint import load_model, save_checkpoint
from geocgan.io.jsonio import dumps
from geocgan.models import GANModel
from geocgan.models.pixel_cgan import constraint_loss
from geocgan.seeds import torch_generator


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when present, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(
            f"device {device!r} asked for, but CUDA is not available here; use --device cpu or auto"
        )
    return dev


# -- training data ----------------------------------------------------------------------


class FieldArray:
    """A stack of raw fields ``(N, H, W)`` kept on the device; an epoch is one pass."""

    def __init__(self, fields: np.ndarray | torch.Tensor, device: torch.device | str = "cpu"):
        self.fields = torch.as_tensor(np.asarray(fields, dtype=np.float32), device=device)
        if self.fields.ndim != 3:
            raise InputError(
                f"training fields must be (N, H, W), got shape {tuple(self.fields.shape)}"
            )

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.fields.shape[1:])

    def to(self, device) -> FieldArray:
        self.fields = self.fields.to(device)
        return self

    def steps(self, batch_size: int, steps_per_epoch: int | None) -> int:
        return steps_per_epoch or max(1, len(self.fields) // batch_size)

    def batches(self, batch_size: int, steps: int, g: torch.Generator):
        order = torch.randperm(len(self.fields), generator=g, device=g.device)
        n = len(order)
        for s in range(steps):
            idx = order[(s * batch_size + torch.arange(batch_size, device=order.device)) % n]
            yield self.fields[idx]

    def sample(self, n: int, g: torch.Generator) -> torch.Tensor:
        return self.fields[torch.randint(len(self.fields), (n,), generator=g, device=g.device)]


class PatchSampler:
    """Random ``patch`` x ``patch`` windows from one or more training images (on the device).

    ``flip`` mirrors each window at random, left-right (``"x"``), up-down (``"y"``) or both
    (``"xy"``), each with probability 1/2: two (``"xy"``: four) times the distinct windows of
    a small training image, without turning its structures (channels along x stay along x).
    Leave it off where the mirrored geology is another geology: an up-down flip of a vertical
    section puts fining-upward sequences upside down.
    """

    def __init__(
        self,
        images: list[np.ndarray],
        patch: int | tuple[int, int],
        device="cpu",
        flip: str = "",
    ):
        if flip not in ("", "x", "y", "xy"):
            raise InputError(f"flip={flip!r}: use '', 'x', 'y' or 'xy'")
        self.flip = flip
        self.patch = (patch, patch) if isinstance(patch, int) else tuple(patch)
        self.images = [
            torch.as_tensor(np.asarray(im, dtype=np.float32), device=device) for im in images
        ]
        for i, im in enumerate(self.images):
            if im.ndim != 2 or im.shape[0] < self.patch[0] or im.shape[1] < self.patch[1]:
                raise InputError(
                    f"training image {i} has shape {tuple(im.shape)}; it must be 2-D and at least "
                    f"{self.patch[0]}x{self.patch[1]} (the patch size)"
                )

    @property
    def shape(self) -> tuple[int, int]:
        return self.patch

    def to(self, device) -> PatchSampler:
        self.images = [im.to(device) for im in self.images]
        return self

    def steps(self, batch_size: int, steps_per_epoch: int | None) -> int:
        return steps_per_epoch or 100

    def batches(self, batch_size: int, steps: int, g: torch.Generator):
        for _ in range(steps):
            yield self.sample(batch_size, g)

    def sample(self, n: int, g: torch.Generator) -> torch.Tensor:
        ph, pw = self.patch
        dev = g.device
        which = torch.randint(len(self.images), (n,), generator=g, device=dev)
        u = torch.rand(n, 2, generator=g, device=dev)
        ar_r, ar_c = torch.arange(ph, device=dev), torch.arange(pw, device=dev)
        if self.flip:  # per window, without a host sync: offsets run backwards when flipped
            f = torch.rand(n, 2, generator=g, device=dev) < 0.5
            f_r = f[:, 0:1] & ("y" in self.flip)
            f_c = f[:, 1:2] & ("x" in self.flip)
            off_r = torch.where(f_r, ph - 1 - ar_r, ar_r)[:, :, None]  # (n, ph, 1)
            off_c = torch.where(f_c, pw - 1 - ar_c, ar_c)[:, None, :]  # (n, 1, pw)
        else:
            off_r, off_c = ar_r.expand(n, ph)[:, :, None], ar_c.expand(n, pw)[:, None, :]
        out = torch.empty(n, ph, pw, device=self.images[0].device)
        for i, im in enumerate(self.images):
            # one image: no selection, so no host sync in the hot loop
            sel = (
                torch.arange(n, device=dev)
                if len(self.images) == 1
                else (which == i).nonzero()[:, 0]
            )
            r = (u[sel, 0] * (im.shape[0] - ph + 1)).long()[:, None, None]  # (n_i, 1, 1)
            c = (u[sel, 1] * (im.shape[1] - pw + 1)).long()[:, None, None]
            rows = r + off_r[sel]
            cols = c + off_c[sel]
            out[sel] = im[rows, cols]
        return out


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
        Seed of every random draw (data order, constraint maps, noise).
    device : str
        ``auto`` (CUDA when present), ``cpu``, ``cuda``, ``cuda:1``...
    val_size : int
        Held-out constraint maps on which the constrained-pixel error is logged.
    """

    epochs: int = 10
    batch_size: int = 32
    steps_per_epoch: int | None = None
    seed: int = 0
    device: str = "auto"
    val_size: int = 64


VAL_STREAM = 2**31 - 1  # the seed stream of held-out constraints, apart from every epoch


def evaluate_constraints(
    model: GANModel, fields: torch.Tensor, mask: torch.Tensor, g: torch.Generator
) -> dict:
    """Constrained-pixel error of ``model`` on raw ``fields`` with given masks.

    Returns ``val_loss_c`` (the training term, network space) and ``val_honoring``: the
    share of well pixels with the right facies (categorical) or the MSE at well pixels in
    data units (continuous).
    """
    spec = model.spec
    real = spec.encode(fields)  # (B, K, H, W)
    cond = constraint_tensor(real, mask)
    h, w = fields.shape[-2:]
    z = [
        torch.randn((len(fields), *s), generator=g, device=fields.device)
        for s in model.noise_shapes(h, w)
    ]
    with torch.no_grad():
        fake = model.generate(z, cond)
    m = mask[:, 0]
    out = {"val_loss_c": float(constraint_loss(fake, real, mask))}
    decoded = spec.decode(fake)
    if spec.kind == "categorical":
        out["val_honoring"] = float((decoded[m] == fields[m]).float().mean())
    else:
        out["val_honoring"] = float(((decoded[m] - fields[m]) ** 2).mean())
    return out


def config_changes(doc: dict, config) -> list[str]:
    """Settings of ``config`` that differ from those of the checkpoint described by ``doc``.

    A setting newer than the checkpoint had its default when the checkpoint was made.
    """
    stored = {**asdict(type(config)()), **doc["config"]}
    return [k for k, v in asdict(config).items() if stored.get(k) != v]


class Trainer:
    """Train ``model`` on ``data`` (a ``FieldArray`` or ``PatchSampler``).

    Parameters
    ----------
    checkpoint : Path
        Written at the end of every epoch (atomically); ``fit(resume=True)`` continues from it.
    log : Path, optional
        JSON lines, one per epoch.
    val_data : data source, optional
        Fields for the held-out constraints (default: drawn from ``data`` with a separate seed).
    cond_data : data source, optional
        Fields from which training constraint maps are drawn (the paper's protocol); default
        the training batch itself.
    meta : dict
        Extra description stored in the checkpoint (e.g. training image paths).
    snapshot_every : int
        Also keep the weights (no optimizer state) of every ``snapshot_every``-th epoch as
        ``<checkpoint stem>_epoch<NNNN>.safetensors``, to choose among later; 0 keeps none.
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
        cond_data=None,
        meta: dict | None = None,
        progress: bool = True,
        snapshot_every: int = 0,
    ):
        self.model, self.data, self.config = model, data, config
        self.checkpoint, self.log = Path(checkpoint), Path(log) if log else None
        self.val_data, self.cond_data = val_data or data, cond_data
        self.meta = meta or {}
        self.progress = progress
        if snapshot_every < 0:
            raise InputError(
                f"snapshot_every={snapshot_every}: give 0 (none) or a positive epoch count"
            )
        self.snapshot_every = snapshot_every
        self.device = resolve_device(config.device)
        model.check_grid(*data.shape)
        if model.spec.kind == "categorical":  # once here, so the training loop never syncs for it
            for source in (data, val_data, cond_data):
                for fields in getattr(source, "images", None) or [getattr(source, "fields", None)]:
                    if fields is not None:
                        model.spec.code_index(torch.as_tensor(fields))

    def fit(self, resume: bool = False) -> list[dict]:
        cfg, dev = self.config, self.device
        model = self.model.to(dev)
        for source in {
            id(s): s for s in (self.data, self.val_data, self.cond_data) if s is not None
        }.values():
            source.to(dev)
        start = 0
        if resume and self.checkpoint.exists():
            loaded, doc = load_model(self.checkpoint, device=dev, training_state=True)
            self._check_same_run(doc)
            model.load_state_dict(loaded.state_dict())
            for name, opt in model.optimizers.items():
                opt.load_state_dict(loaded.optimizers[name].state_dict())
            start = int(doc["epoch"])
        rows = self._read_log(start)

        gv = torch_generator(cfg.seed, VAL_STREAM, device=dev)
        val_fields = self.val_data.sample(cfg.val_size, gv)
        val_mask = random_masks(
            cfg.val_size,
            val_fields.shape[-2:],
            density=model.config.density,
            mode=model.config.mode,
            partial=model.config.partial,
            generator=gv,
            device=dev,
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
            t0 = time.perf_counter()
            sums: dict[str, torch.Tensor] = {}
            for batch in self.data.batches(cfg.batch_size, steps, g):
                src = self.cond_data.sample(len(batch), g) if self.cond_data is not None else None
                kwargs = (
                    {"cond_source": model.spec.encode(src, check=False)} if src is not None else {}
                )
                losses = model.train_step(model.spec.encode(batch, check=False), g, **kwargs)
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0) + v  # stays on the device: no sync per step
                bar.update(1)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            seconds = time.perf_counter() - t0
            row = {
                "epoch": epoch,
                "step": epoch * steps,
                **{k: float(v) / steps for k, v in sums.items()},
                **evaluate_constraints(
                    model,
                    val_fields,
                    val_mask,
                    torch_generator(cfg.seed, VAL_STREAM, 1, device=dev),
                ),
                "images_per_s": steps * cfg.batch_size / seconds,
                "seconds": seconds,
                "device": str(dev),
            }
            rows.append(row)
            bar.set_postfix(loss_c=f"{row['loss_c']:.3g}", val=f"{row['val_honoring']:.3g}")
            self._write_log(rows)  # before the checkpoint: a resume never skips a log line
            doc = {
                **self.meta,
                "epoch": epoch,
                "step": epoch * steps,
                "train": asdict(cfg),
                "complete": epoch == cfg.epochs,
                "last": row,
            }
            if self.snapshot_every and epoch % self.snapshot_every == 0:
                save_checkpoint(self.snapshot_path(epoch), model, doc, training_state=False)
            save_checkpoint(self.checkpoint, model, doc)
        bar.close()
        return rows

    def snapshot_path(self, epoch: int) -> Path:
        """Where the weights of ``epoch`` are kept (see ``snapshot_every``)."""
        return self.checkpoint.with_name(f"{self.checkpoint.stem}_epoch{epoch:04d}.safetensors")

    def _check_same_run(self, doc: dict) -> None:
        """Refuse to resume a checkpoint made with other model, field or training settings."""
        model = self.model
        diff = []
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
            tmp = self.log.with_name(self.log.name + ".partial")
            tmp.write_text("".join(dumps(r) + "\n" for r in rows))
            tmp.replace(self.log)
