"""Training data of the translation models: paired (``source`` → ``x``) and unpaired
(``x`` and ``other``) data sources for ``geocgan.train.Trainer``.

``PairedArray``: stacks of aligned pairs (a source may be ``scale`` times coarser);
``PairedPatches``: aligned random windows of paired rasters; ``Unpaired``: two data sources
of two domains drawn independently (CycleGAN). Each yields raw ``Batch`` objects and
declares what it ``provides``.
"""

from __future__ import annotations

import numpy as np
import torch

from geocgan.errors import InputError
from geocgan.models.base import Batch
from geocgan.train import FieldArray, RandomWindows


def _stack(values, what: str, device) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(values, dtype=np.float32), device=device)
    if t.ndim not in (3, 4):
        raise InputError(f"{what} must be (N, H, W) or (N, C, H, W), got {tuple(t.shape)}")
    return t


class PairedArray(FieldArray):
    """Pairs of raw ``source`` ``(N, [Cs,] h, w)`` and target ``x`` ``(N, [C,] H, W)``
    stacks; ``H = scale · h`` (super-resolution: ``scale`` = factor). An epoch is one pass
    (``FieldArray``'s order and batches, each with its sources)."""

    provides = frozenset({"source"})

    def __init__(self, x, source, device="cpu", scale: int = 1):
        super().__init__(x, device)
        self.source = _stack(source, "sources", device)
        if len(self.fields) != len(self.source):
            raise InputError(
                f"{len(self.fields)} targets but {len(self.source)} sources: give pairs"
            )
        hs, ws = self.source.shape[-2:]
        if self.shape != (scale * hs, scale * ws):
            raise InputError(
                f"targets {self.shape} and sources {(hs, ws)} are not aligned "
                f"(the targets must be {scale} times the sources' size)"
            )

    def input_arrays(self) -> list[torch.Tensor]:
        return [self.source]

    def to(self, device) -> PairedArray:
        super().to(device)
        self.source = self.source.to(device)
        return self

    def _at(self, idx: torch.Tensor) -> Batch:
        return Batch(self.fields[idx], source=self.source[idx])


class PairedPatches(RandomWindows):
    """Aligned random windows of paired rasters: target windows ``patch`` x ``patch`` of each
    ``targets[i]`` ``(H, W)`` and the matching ``patch / scale`` windows of ``sources[i]``
    ``(H / scale, W / scale)``; window corners on multiples of ``scale``."""

    provides = frozenset({"source"})

    def __init__(self, targets, sources, patch: int, device="cpu", scale: int = 1):
        if len(targets) != len(sources) or not targets:
            raise InputError(f"{len(targets)} targets and {len(sources)} sources: give pairs")
        if patch % scale:
            raise InputError(f"patch {patch} is not a multiple of the scale factor {scale}")
        self.patch, self.scale = patch, scale
        self.targets = [torch.as_tensor(np.asarray(t, np.float32), device=device) for t in targets]
        self.sources = [torch.as_tensor(np.asarray(s, np.float32), device=device) for s in sources]
        for i, (t, s) in enumerate(zip(self.targets, self.sources, strict=True)):
            if t.ndim != 2 or s.ndim != 2:
                raise InputError(
                    f"pair {i}: give 2-D rasters, got {tuple(t.shape)}, {tuple(s.shape)}"
                )
            if tuple(t.shape) != (scale * s.shape[0], scale * s.shape[1]):
                raise InputError(
                    f"pair {i}: target {tuple(t.shape)} and source {tuple(s.shape)} are not aligned "
                    f"(the target must be {scale} times the source's size, on the same extent)"
                )
            if min(t.shape) < patch:
                raise InputError(f"pair {i}: {tuple(t.shape)} is smaller than the patch {patch}")

    @property
    def shape(self) -> tuple[int, int]:
        return (self.patch, self.patch)

    def arrays(self) -> list[torch.Tensor]:
        return self.targets

    def input_arrays(self) -> list[torch.Tensor]:
        return self.sources

    def to(self, device) -> PairedPatches:
        self.targets = [t.to(device) for t in self.targets]
        self.sources = [s.to(device) for s in self.sources]
        return self

    def sample(self, n: int, g: torch.Generator) -> Batch:
        """``n`` aligned windows (drawn on the host: one small sync per batch)."""
        which = torch.randint(len(self.targets), (n,), generator=g, device=g.device).tolist()
        u = torch.rand(n, 2, generator=g, device=g.device).tolist()
        p, f = self.patch, self.scale
        q = p // f
        xs, ss = [], []
        for k, (ur, uc) in zip(which, u, strict=True):
            s = self.sources[k]
            r, c = int(ur * (s.shape[0] - q + 1)), int(uc * (s.shape[1] - q + 1))
            ss.append(s[r : r + q, c : c + q])
            xs.append(self.targets[k][f * r : f * r + p, f * c : f * c + p])
        return Batch(torch.stack(xs), source=torch.stack(ss))


class Unpaired:
    """Two domains, drawn independently: ``x`` from ``data_a``, ``other`` from ``data_b``
    (any two data sources, e.g. ``FieldArray`` or ``PatchSampler``, of the same patch
    shape). ``pairing``, if given, holds the hidden B partner index of each A item, for
    scoring only; training never reads it."""

    provides = frozenset({"other"})

    def __init__(self, data_a, data_b, pairing=None):
        if tuple(data_a.shape) != tuple(data_b.shape):
            raise InputError(
                f"the two domains have patches {tuple(data_a.shape)} and {tuple(data_b.shape)}: "
                "give the same size"
            )
        self.data_a, self.data_b, self.pairing = data_a, data_b, pairing

    @property
    def shape(self):
        return self.data_a.shape

    def arrays(self) -> list[torch.Tensor]:
        return self.data_a.arrays()

    def input_arrays(self) -> list[torch.Tensor]:
        return self.data_b.arrays()

    def to(self, device) -> Unpaired:
        self.data_a.to(device), self.data_b.to(device)
        return self

    def steps(self, batch_size: int, steps_per_epoch: int | None) -> int:
        return self.data_a.steps(batch_size, steps_per_epoch)

    def batches(self, batch_size: int, steps: int, g: torch.Generator):
        for a in self.data_a.batches(batch_size, steps, g):
            yield Batch(a.x, other=self.data_b.sample(len(a), g).x)

    def sample(self, n: int, g: torch.Generator) -> Batch:
        return Batch(self.data_a.sample(n, g).x, other=self.data_b.sample(n, g).x)


def _npz_parts(paths, part: str) -> tuple[np.ndarray, np.ndarray]:
    """Arrays ``x`` and ``part`` of .npz files, concatenated."""
    xs, ins = [], []
    for p in paths:
        with np.load(p, allow_pickle=False) as z:
            if "x" not in z or part not in z:
                raise InputError(
                    f"{p} holds {sorted(z.files)}; translation data need arrays 'x' (targets or "
                    f"domain A) and {part!r}"
                )
            xs.append(z["x"].astype(np.float32))
            ins.append(z[part].astype(np.float32))
    return np.concatenate(xs), np.concatenate(ins)


def translation_data(
    cls, paths, inputs, config: dict, *, kind, source_kind, variable, patch, device
):
    """The data source, field spec and checkpoint description of a translation model from
    the command line: .npz stacks (arrays ``x`` and ``source`` or ``other``), or rasters:
    ``paths`` the targets (CycleGAN: domain A), ``inputs`` their paired inputs (``--source``;
    super-resolution without them: the targets' block means) or domain B (``--other``)."""
    from geocgan.io.images import read_training_image
    from geocgan.train import PatchSampler

    paired = "source" in cls.needs
    part = "source" if paired else "other"
    scale = int(getattr(cls.config_class(**config), "factor", 1))  # its default when not set
    if paths and all(p.suffix == ".npz" for p in paths) and not inputs:
        x, src = _npz_parts(paths, part)
        spec = cls.translation_spec(x, src, kind, source_kind)
        if paired:
            data = PairedArray(x, src, device, scale)
        else:
            data = Unpaired(FieldArray(x, device), FieldArray(src, device))
        return data, spec, {"training_data": [str(p) for p in paths]}
    targets = [read_training_image(p, variable=variable) for p in paths]
    meta = {"training_images": [str(p) for p in paths], "patch": patch}
    if inputs:
        sources = [read_training_image(p, variable=variable) for p in inputs]
        meta[part] = [str(p) for p in inputs]
        if paired and inputs[0].suffix.lower() in (".tif", ".tiff"):  # what translate reads
            import rasterio

            with rasterio.open(inputs[0]) as src:
                meta["input_dtype"] = str(src.dtypes[0])
    elif paired and scale > 1:
        from geocgan.fields.pairs import block_mean

        targets = [
            t[: t.shape[0] - t.shape[0] % scale, : t.shape[1] - t.shape[1] % scale] for t in targets
        ]
        sources = [block_mean(t[None], scale)[0] for t in targets]
    else:
        raise InputError(
            f"a {cls.name} model trains on "
            + (
                "pairs: give each training image's input with --source"
                if paired
                else "two domains: give domain B's rasters with --other"
            )
        )
    if paired and len(sources) != len(targets):
        raise InputError(
            f"{len(targets)} training images but {len(sources)} --source rasters: give one each"
        )
    spec = cls.translation_spec(
        np.concatenate([t.ravel() for t in targets]),
        np.concatenate([s.ravel() for s in sources]),
        kind,
        source_kind,
    )
    if paired:
        data = PairedPatches(targets, sources, patch, device, scale)
    else:
        data = Unpaired(PatchSampler(targets, patch, device), PatchSampler(sources, patch, device))
    return data, spec, meta
