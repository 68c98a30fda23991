"""The model contract every GAN in geocgan implements.

The trainer (``geocgan.train``), the sampler (``geocgan.simulate``), checkpoints
(``geocgan.checkpoint``) and the command line use only what is on this page, so models are
interchangeable and none of them is known there by name.

What a model declares (class attributes)
----------------------------------------
- ``name``: its key in ``geocgan.models.MODELS``; ``config_class``: its typed ``@dataclass``.
- ``needs``: the parts of a ``Batch`` besides ``x`` that ``train_step`` reads —
  ``"labels"`` (class-conditional GANs), ``"source"`` (a paired input: pix2pix,
  super-resolution), ``"other"`` (an unpaired second domain: CycleGAN). The trainer checks
  once that the data provide them and names what is missing.
- ``condition``: what ``generate`` is conditioned on, which decides the command that
  generates with it: ``"constraints"`` (well/pixel constraint maps ``(B, K+1, H, W)``:
  ``geocgan simulate``), ``"labels"`` (class indices ``(B,)``: ``geocgan sample``),
  ``"image"`` (an input raster ``(B, C, h, w)``: ``geocgan translate``) or ``"none"``
  (``geocgan sample``).

What a model does (methods)
---------------------------
- ``encode(batch)``: raw batch -> network space (default: every field through ``spec``).
- ``train_step(batch, generator)``: one optimisation step on an encoded ``Batch``; returns
  a dict of scalar loss tensors (kept on the device: no host sync). Every random draw comes
  from ``generator`` (or torch's global generator, which the trainer seeds per epoch).
- ``latent(*shape)``: the per-realization latent parts (``Latent``: shape and distribution)
  for an output of spatial ``shape``; the sampler draws realization ``i``'s from
  ``(seed, i)`` only. An empty list: a model without noise.
- ``generate(z, cond)``: a batch of encoded outputs ``(B, C, H, W)`` from latent parts ``z``
  (a list of ``(B, *part.shape)`` tensors) and the condition (see ``condition``).
- ``validation(data, n, generator)`` and ``validate(val, generator)``: a held-out set built
  once, and the model's own validation numbers on it at the end of each epoch.
- ``check_grid(*shape)`` / ``canvas(*shape)``: for spatial models, whether the nets take a
  grid and the grid they generate it on (``geocgan.constraints.Canvas``).
- ``nets`` / ``optimizers``: dicts of name -> module / optimizer, for checkpoints; buffers
  registered on a net (e.g. an image history) are saved and restored with it.
- ``config`` and ``spec`` (``FieldSpec``): all a checkpoint needs to rebuild the model.

A new model: subclass ``GANModel``, set the class attributes, implement ``train_step``,
``latent`` and ``generate``, and add it to ``MODELS``; the contract test
(``tests/test_contract.py``) then runs on it.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from geocgan.constraints import Canvas, FieldSpec
from geocgan.errors import InputError

BATCH_PARTS = ("labels", "source", "other", "cond_source")
CONDITIONS = ("constraints", "labels", "image", "none")
COMMAND_FOR = {
    "constraints": "geocgan simulate",
    "labels": "geocgan sample",
    "none": "geocgan sample",
    "image": "geocgan translate",
}


@dataclass
class Batch:
    """What a model trains on: ``x`` and the optional parts a model ``needs``.

    Attributes
    ----------
    x : Tensor
        ``(B, C, H, W)`` fields or images (the generator's targets; CycleGAN: domain A).
    labels : Tensor, optional
        ``(B,)`` int64 class indices in ``0 .. K-1``.
    source : Tensor, optional
        ``(B, Cs, h, w)`` the paired input of each target (pix2pix, super-resolution).
    other : Tensor, optional
        ``(B, C', H, W)`` images of a second, unpaired domain (CycleGAN: domain B).
    cond_source : Tensor, optional
        ``(B, C, H, W)`` fields the pixel constraints are drawn from, when they must not be
        ``x``'s own (the pixel-constrained cGAN's generator in the paper's protocol).
    """

    x: torch.Tensor
    labels: torch.Tensor | None = None
    source: torch.Tensor | None = None
    other: torch.Tensor | None = None
    cond_source: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.x)

    def to(self, device) -> Batch:
        return Batch(**{k: None if v is None else v.to(device) for k, v in self.parts().items()})

    def parts(self) -> dict[str, torch.Tensor | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def present(self) -> frozenset[str]:
        """Names of the parts this batch holds besides ``x``."""
        return frozenset(k for k in BATCH_PARTS if getattr(self, k) is not None)

    def map(self, fn) -> Batch:
        """A batch with ``fn`` applied to every tensor part (labels untouched)."""
        return replace(
            self,
            **{k: fn(v) for k, v in self.parts().items() if v is not None and k != "labels"},
        )


@dataclass(frozen=True)
class Latent:
    """One latent part of a realization.

    Attributes
    ----------
    shape : tuple of int
        Per realization, e.g. ``(nz, H/16, W/16)`` (spatial noise) or ``(nz,)`` (a vector).
    dist : {"normal", "uniform", "categorical"}
        Standard normal; uniform on ``[-1, 1]``; one-hot of a uniformly drawn class.
    classes : int
        Number of classes of a categorical part (its ``shape`` is then ``(classes,)``).
    """

    shape: tuple[int, ...]
    dist: Literal["normal", "uniform", "categorical"] = "normal"
    classes: int = 0

    def __post_init__(self) -> None:
        if self.dist not in ("normal", "uniform", "categorical"):
            raise InputError(
                f"latent distribution {self.dist!r}: use normal, uniform or categorical"
            )
        if self.dist == "categorical" and (self.classes < 2 or self.shape != (self.classes,)):
            raise InputError(
                f"a categorical latent part needs classes >= 2 and shape (classes,), got "
                f"classes={self.classes}, shape={self.shape}"
            )


def draw(parts: list[Latent], n: int, g: torch.Generator) -> list[torch.Tensor]:
    """``n`` draws of each latent part from ``g`` on its device: ``(n, *part.shape)`` each
    (training and validation; generation draws from ``(seed, i)``: ``geocgan.noise``)."""
    out = []
    for p in parts:
        if p.dist == "normal":
            out.append(torch.randn((n, *p.shape), generator=g, device=g.device))
        elif p.dist == "uniform":
            out.append(torch.rand((n, *p.shape), generator=g, device=g.device) * 2 - 1)
        else:
            k = torch.randint(p.classes, (n, *p.shape[:-1]), generator=g, device=g.device)
            out.append(torch.nn.functional.one_hot(k, p.classes).float())
    return out


def check_latent(parts: list[Latent], z: list[torch.Tensor]) -> None:
    """Raise ``InputError`` if ``z`` does not hold one ``(B, *shape)`` tensor per part."""
    if len(z) != len(parts) or any(
        tuple(t.shape[1:]) != p.shape for t, p in zip(z, parts, strict=False)
    ):
        raise InputError(
            f"latent codes of shapes {[tuple(t.shape[1:]) for t in z]} given; this model takes "
            f"{[p.shape for p in parts]} per realization ({[p.dist for p in parts]})"
        )


@contextmanager
def frozen(*nets: nn.Module):
    """No parameter gradients for ``nets`` inside (G's step does not need D's)."""
    for n in nets:
        n.requires_grad_(False)
    try:
        yield
    finally:
        for n in nets:
            n.requires_grad_(True)


class GANModel(nn.Module):
    """Base class: holds ``config``, ``spec``, ``nets`` and ``optimizers``."""

    name: ClassVar[str]
    config_class: ClassVar[type]
    needs: ClassVar[frozenset[str]] = frozenset()
    condition: ClassVar[str] = "none"

    def __init__(self, config: Any, spec: FieldSpec):
        super().__init__()
        self.config, self.spec = config, spec
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    @property
    def nets(self) -> dict[str, nn.Module]:
        return dict(self.named_children())

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def step(self, name: str, loss: torch.Tensor) -> None:
        """One step of optimizer ``name`` on the gradients of ``loss``."""
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    @contextmanager
    def evaluating(self):
        """Eval mode and no gradients inside, from any mode; the mode is restored after."""
        was = self.training
        self.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            self.train(was)

    def generate_eval(self, z: list[torch.Tensor], cond: torch.Tensor | None) -> torch.Tensor:
        """``generate`` as generation runs it (eval mode, no gradients), from any mode."""
        with self.evaluating():
            return self.generate(z, cond)

    def describe(self) -> dict:
        """What a checkpoint stores to rebuild this model without the original command line."""
        return {"model": self.name, "config": asdict(self.config), "field": self.spec.to_dict()}

    # -- data -------------------------------------------------------------------------

    @classmethod
    def field_spec(cls, values, kind: str) -> FieldSpec:
        """The ``FieldSpec`` of training data ``values`` for this model (default: facies
        codes, or mean/std normalisation, read off the data)."""
        return FieldSpec.from_data(values, kind)

    def encode(self, batch: Batch) -> Batch:
        """A raw batch in network space: every field part through ``spec.encode``."""
        return batch.map(lambda t: self.spec.encode(t, check=False))

    def check_data(self, data) -> None:
        """Called once before training with each data source; raise ``InputError`` if the
        model cannot train on it. Default: facies codes the spec does not know."""
        if self.spec.kind == "categorical":
            for fields_ in getattr(data, "arrays", lambda: [])():
                self.spec.code_index(torch.as_tensor(fields_))

    def validation(self, data, n: int, generator: torch.Generator) -> Any:
        """A held-out set, built once per run (default: ``n`` raw batches from ``data``)."""
        return data.sample(n, generator)

    def validate(self, val: Any, generator: torch.Generator) -> dict[str, float]:
        """The model's validation numbers on ``val`` (default: none)."""
        return {}

    # -- the contract -----------------------------------------------------------------

    def train_step(self, batch: Batch, generator: torch.Generator) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def latent(self, *shape: int) -> list[Latent]:
        raise NotImplementedError

    def generate(self, z: list[torch.Tensor], cond: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    compiled: bool = False  # True once compile_generator() ran

    def compile_generator(self) -> None:
        """From now on, generate through ``torch.compile`` (optional for a model)."""
        raise NotImplementedError(f"{self.name} cannot compile its generator")

    def check_grid(self, *shape: int) -> None:
        """Raise ``GridError`` if the nets cannot take a grid of spatial ``shape``."""

    def canvas(self, *shape: int) -> Canvas:
        """The grid the nets generate for ``shape`` (default: the grid itself)."""
        self.check_grid(*shape)
        return Canvas(*shape, 0, 0, tuple(shape))
