"""Constraint maps: the values observed at a few pixels, and an explicit mask.

A constraint set on an ``(H, W)`` grid is a pair of rasters, ``values`` and ``mask``.
The mask is always explicit: a normalised field can be exactly 0 at a well, so
"value != 0" (as in the paper's reference code) would silently drop that well.

What the networks see is the *constraint tensor* ``C`` of shape ``(B, K + 1, H, W)``:
the encoded field values at the constrained pixels (one channel for a continuous
field, one one-hot channel per facies for a categorical field), zero elsewhere,
followed by the mask channel.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import torch

from geocgan.errors import ConstraintError, GridError, InputError

Kind = Literal["continuous", "categorical"]
Mode = Literal["point", "borehole"]


@dataclass
class FieldSpec:
    """How raw field values map to the network's channels and back.

    Parameters
    ----------
    kind : {"continuous", "categorical"}
        Continuous fields (porosity, log-permeability, pixel intensity) use one channel,
        normalised as ``(value - center) / scale``. Categorical fields (facies) use one
        one-hot channel per facies code, in the order of ``codes``.
    codes : list of int, optional
        Facies codes, e.g. ``[0, 1, 2]`` (categorical only).
    center, scale : float, or list of float (one per band)
        Normalisation of continuous values (data units).
    bands : int
        Bands of a continuous multi-band raster (default 1): fields are then ``(B, C, H, W)``
        and ``center``/``scale`` hold one value per band.
    source : FieldSpec, optional
        Translation models: the spec of the input side (pix2pix and super-resolution's paired
        input, CycleGAN's second domain); this spec describes the output.
    """

    kind: Kind = "continuous"
    codes: list[int] = field(default_factory=list)
    center: float | list[float] = 0.0
    scale: float | list[float] = 1.0
    bands: int = 1
    source: FieldSpec | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("continuous", "categorical"):
            raise InputError(
                f"field kind {self.kind!r} is unknown; use 'continuous' or 'categorical'"
            )
        if self.kind == "categorical":
            self.codes = [int(c) for c in self.codes]
            if len(self.codes) < 2 or len(set(self.codes)) != len(self.codes):
                raise InputError(
                    f"a categorical field needs at least 2 distinct facies codes, got {self.codes}"
                )
        if isinstance(self.source, dict):
            self.source = FieldSpec(**self.source)
        if self.bands > 1:
            if self.kind == "categorical":
                raise InputError("facies are one band of codes: a categorical field has bands=1")
            self.center, self.scale = list(map(float, self.center)), list(map(float, self.scale))
            if len(self.center) != self.bands or len(self.scale) != self.bands:
                raise InputError(
                    f"a {self.bands}-band field needs {self.bands} centers and scales, got "
                    f"{self.center} and {self.scale}"
                )
        elif self.bands != 1:
            raise InputError(f"bands must be >= 1, got {self.bands}")
        if self.kind == "continuous" and not min(np.atleast_1d(self.scale)) > 0:
            raise InputError(f"scale must be > 0, got {self.scale}")

    @property
    def channels(self) -> int:
        """Number of value channels: K facies, or the bands."""
        return len(self.codes) if self.kind == "categorical" else self.bands

    @classmethod
    def from_data(cls, fields: np.ndarray, kind: Kind, bands: int = 1) -> FieldSpec:
        """Infer codes (categorical) or mean/std normalisation (continuous) from data;
        ``bands > 1``: fields ``(N, C, H, W)``, normalised per band."""
        fields = np.asarray(fields)
        if kind == "categorical":
            codes = np.unique(fields)
            if not np.allclose(codes, np.round(codes)):
                raise InputError("a categorical training image must hold integer facies codes")
            return cls(kind="categorical", codes=[int(c) for c in codes])
        if bands > 1:
            per = [cls.from_data(fields[:, b], kind) for b in range(bands)]
            return cls(center=[s.center for s in per], scale=[s.scale for s in per], bands=bands)
        finite = fields[np.isfinite(fields)]
        return cls(kind="continuous", center=float(finite.mean()), scale=float(finite.std() or 1))

    def to_dict(self) -> dict:
        """As a checkpoint stores it; ``bands`` and ``source`` only when set, so the specs
        of earlier versions compare equal."""
        out = asdict(self)
        if self.bands == 1:
            del out["bands"]
        if self.source is None:
            del out["source"]
        else:
            out["source"] = self.source.to_dict()
        return out

    # -- encoding -------------------------------------------------------------------

    def code_index(self, values: torch.Tensor, check: bool = True) -> torch.Tensor:
        """Facies codes -> channel indices 0..K-1 (long). Unknown codes raise.

        ``check=False`` skips the check (a device-to-host sync): for data checked once before.
        """
        codes = torch.as_tensor(self.codes, device=values.device, dtype=values.dtype)
        hit = values.unsqueeze(-1) == codes  # (..., K)
        if check and not bool(hit.any(-1).all()):
            bad = torch.unique(values[~hit.any(-1)]).tolist()
            raise ConstraintError(
                f"facies codes {bad} are not among the model's codes {self.codes}; "
                "recode the data or train a model that knows these facies"
            )
        return hit.float().argmax(-1)

    def encode(self, fields: torch.Tensor, check: bool = True) -> torch.Tensor:
        """Raw fields ``(B, H, W)`` -> network space ``(B, K, H, W)`` float32 (volumes:
        ``(B, D, H, W)`` -> ``(B, K, D, H, W)``)."""
        if self.kind == "categorical":
            idx = self.code_index(fields, check)  # (B, H, W)
            return torch.nn.functional.one_hot(idx, self.channels).movedim(-1, 1).float()
        if self.bands > 1:  # (B, C, H, W) -> (B, C, H, W), per band
            c, s = self._band_norm(fields.device)
            return (fields.float() - c) / s
        return ((fields.float() - self.center) / self.scale).unsqueeze(1)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """Network output ``(B, K, H, W)`` -> raw fields ``(B, H, W)`` (codes or values)."""
        if self.kind == "categorical":
            # copied without waiting for the device's queued work (a sampler's next batch)
            codes = torch.tensor(self.codes, dtype=torch.float32).to(x.device, non_blocking=True)
            return codes[_argmax_channels(x)]
        if self.bands > 1:  # (B, C, H, W) raw values per band
            c, s = self._band_norm(x.device)
            return x.float() * s + c
        return x[:, 0].float() * self.scale + self.center

    def _band_norm(self, device) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-band center and scale, ``(C, 1, 1)`` each."""
        return tuple(
            torch.tensor(v, dtype=torch.float32, device=device)[:, None, None]
            for v in (self.center, self.scale)
        )


def _argmax_channels(x: torch.Tensor) -> torch.Tensor:
    """``x.argmax(1)`` for ``(B, K, H, W)``, first index on ties, as K - 1 elementwise passes:
    on a CPU, torch's reduction across the channel axis is ~15x slower (2 ms per 128²
    realization, a third of the generator's time)."""
    best, idx = x[:, 0], torch.zeros((x.shape[0], *x.shape[2:]), dtype=torch.long, device=x.device)
    for k in range(1, x.shape[1]):
        idx = torch.where(x[:, k] > best, k, idx)
        best = torch.maximum(best, x[:, k])
    return idx


# -- constraint sets ------------------------------------------------------------------


@dataclass
class Constraints:
    """Observed values at some pixels of an ``(H, W)`` grid, with an explicit mask.

    ``values`` holds raw values (data units or facies codes) and is NaN off the mask.
    """

    values: np.ndarray  # (H, W) float64, NaN where mask is False
    mask: np.ndarray  # (H, W) bool

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.mask.shape)

    @property
    def rows_cols(self) -> tuple[np.ndarray, np.ndarray]:
        return np.nonzero(self.mask)

    @property
    def count(self) -> int:
        return int(self.mask.sum())

    def tensor(self, spec: FieldSpec, device: torch.device | str = "cpu") -> torch.Tensor:
        """The constraint tensor ``(1, K + 1, H, W)`` for the networks."""
        values = torch.as_tensor(np.nan_to_num(self.values), device=device)[None]  # (1, H, W)
        mask = torch.as_tensor(self.mask, device=device)[None, None]  # (1, 1, H, W)
        if spec.kind == "categorical":
            values = torch.where(mask[:, 0], values, torch.tensor(spec.codes[0], device=device))
        return constraint_tensor(spec.encode(values), mask)

    def padded(self, height: int, width: int, top: int = 0, left: int = 0) -> Constraints:
        """The same constraints on a larger grid, their first pixel at ``(top, left)``; the
        extra rows and columns hold no data."""
        values = np.full((height, width), np.nan)
        mask = np.zeros((height, width), bool)
        h, w = self.shape
        if top < 0 or left < 0 or top + h > height or left + w > width:
            raise GridError(f"a {h}x{w} grid at ({top}, {left}) does not fit {height}x{width}")
        values[top : top + h, left : left + w] = self.values
        mask[top : top + h, left : left + w] = self.mask
        return Constraints(values, mask)


@dataclass(frozen=True)
class Canvas:
    """The grid a model generates for a user's grid, and where that grid sits in it.

    ``(height, width)``: the canvas; ``(top, left)``: the grid's first row and column in it;
    ``grid``: the grid's ``(H, W)``. A model's ``canvas(H, W)`` returns one.
    """

    height: int
    width: int
    top: int
    left: int
    grid: tuple[int, int]

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    def place(self, constraints: Constraints) -> Constraints:
        """``constraints`` (on ``grid``) on the canvas."""
        if constraints.shape != tuple(self.grid):
            raise GridError(
                f"constraints on a {constraints.shape} grid, canvas made for {self.grid}: use "
                "model.canvas(*constraints.shape)"
            )
        return constraints.padded(self.height, self.width, self.top, self.left)

    def crop(self, fields):
        """The grid's part of fields ``(..., height, width)``."""
        h, w = self.grid
        return fields[..., self.top : self.top + h, self.left : self.left + w]


def from_points(
    shape: tuple[int, int],
    rows,
    cols,
    values,
    *,
    spec: FieldSpec | None = None,
    labels=None,
) -> Constraints:
    """Build a constraint set from pixel positions and values.

    Parameters
    ----------
    shape : (H, W)
        Grid size in pixels.
    rows, cols : array-like of int
        Pixel indices of the observations (row 0 is the top of the raster).
    values : array-like of float
        Observed values (data units) or facies codes.
    spec : FieldSpec, optional
        When categorical, codes are checked against ``spec.codes``.
    labels : list of str, optional
        Names of the observations (well ids) used in error messages.

    Raises
    ------
    ConstraintError
        A position outside the grid, a NaN value, a facies code the model does not know,
        or two observations with different values in one pixel.
    """
    h, w = shape
    rows, cols = np.asarray(rows), np.asarray(cols)
    values = np.asarray(values, dtype=float)
    if not (rows.shape == cols.shape == values.shape) or rows.ndim != 1:
        raise ConstraintError(
            f"rows, cols and values must be 1-D and of one length, got shapes "
            f"{rows.shape}, {cols.shape}, {values.shape}"
        )
    labels = list(labels) if labels is not None else [f"point {i}" for i in range(len(rows))]

    def where(i: int) -> str:
        return f"{labels[i]} (row {rows[i]}, col {cols[i]})"

    if not (np.issubdtype(rows.dtype, np.integer) and np.issubdtype(cols.dtype, np.integer)):
        if len(rows) and not (np.all(rows == np.round(rows)) and np.all(cols == np.round(cols))):
            raise ConstraintError("pixel rows and cols must be integers")
        rows, cols = rows.astype(int), cols.astype(int)
    outside = np.nonzero((rows < 0) | (rows >= h) | (cols < 0) | (cols >= w))[0]
    if len(outside):
        raise ConstraintError(
            f"{len(outside)} constraint(s) outside the {h}x{w} grid, first: {where(outside[0])}; "
            "drop them or use a larger grid"
        )
    nan = np.nonzero(~np.isfinite(values))[0]
    if len(nan):
        raise ConstraintError(
            f"{len(nan)} constraint value(s) are NaN or infinite, first: {where(nan[0])}; "
            "remove these points or give them a value"
        )
    if spec is not None and spec.kind == "categorical":
        unknown = np.nonzero(~np.isin(values, spec.codes))[0]
        if len(unknown):
            raise ConstraintError(
                f"facies code {values[unknown[0]]:g} at {where(unknown[0])} is not one of the "
                f"model's codes {spec.codes}; recode the data or use a model trained on it"
            )
    grid_values = np.full(shape, np.nan)
    mask = np.zeros(shape, bool)
    for i, (r, c, v) in enumerate(zip(rows, cols, values, strict=True)):
        if mask[r, c] and grid_values[r, c] != v:
            raise ConstraintError(
                f"two observations with different values ({grid_values[r, c]:g}, {v:g}) fall in "
                f"one pixel at {where(i)}; aggregate them first (the wells reader does)"
            )
        grid_values[r, c], mask[r, c] = v, True
    return Constraints(grid_values, mask)


def constraint_tensor(encoded: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(B, K, H, W)`` encoded fields and ``(B, 1, H, W)`` bool mask -> ``(B, K + 1, H, W)``
    (volumes: ``(B, K, D, H, W)`` and ``(B, 1, D, H, W)``)."""
    m = mask.to(encoded.dtype)
    return torch.cat([encoded * m, m], dim=1)


def random_masks(
    batch: int,
    shape: tuple[int, ...],
    *,
    density: float = 0.005,
    mode: Mode = "point",
    partial: bool = False,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Random constraint masks ``(B, 1, *shape)`` bool, as in the paper's training protocol.

    ``shape`` is ``(H, W)``, or ``(D, H, W)`` for volumes (layers first, then the plan).

    Parameters
    ----------
    density : float
        ``point`` mode: share of pixels constrained (exactly ``max(1, round(density*H*W))``
        per map, uniformly at random, default 0.5% as in the paper). ``borehole`` mode: share
        of *columns* drilled (at least one), for vertical sections where rows are depth, and
        for volumes, where a column is a vertical well through all ``D`` layers at one
        ``(row, col)``.
    mode : {"point", "borehole"}
        Scattered pixels (map view) or pixel columns (boreholes in a vertical section).
    partial : bool
        ``borehole`` mode only: each borehole covers a random contiguous depth interval
        (at least a quarter of the column) instead of the whole column.
    generator : torch.Generator, optional
        Source of randomness; it must live on ``device``.
    """
    shape = tuple(shape)
    size = math.prod(shape)
    if not 0 < density <= 1:
        raise InputError(f"constraint density must be in (0, 1], got {density}")
    if mode == "point":
        n = max(1, round(density * size))
        keys = torch.rand(batch, size, generator=generator, device=device)
        idx = keys.topk(n, dim=1).indices  # (B, n)
        mask = torch.zeros(batch, size, dtype=torch.bool, device=device)
        mask.scatter_(1, idx, True)
        return mask.view(batch, 1, *shape)
    if mode == "borehole":
        h, w = shape[0], size // shape[0]  # depth (rows or layers), columns (plan cells)
        n = max(1, round(density * w))
        keys = torch.rand(batch, w, generator=generator, device=device)
        cols = torch.zeros(batch, w, dtype=torch.bool, device=device)
        cols.scatter_(1, keys.topk(n, dim=1).indices, True)  # (B, W)
        mask = cols[:, None, :].expand(batch, h, w)
        if partial:
            depth = torch.arange(h, device=device)[None, :, None]  # (1, H, 1)
            length = (
                h * (0.25 + 0.75 * torch.rand(batch, 1, w, generator=generator, device=device))
            ).long()
            top = (
                (h - length) * torch.rand(batch, 1, w, generator=generator, device=device)
            ).long()
            mask = mask & (depth >= top) & (depth < top + length)
        return mask.reshape(batch, 1, *shape).contiguous()
    raise InputError(f"constraint mode {mode!r} is unknown; use 'point' or 'borehole'")


def sample_constraints(
    field_: np.ndarray,
    *,
    density: float = 0.005,
    mode: Mode = "point",
    partial: bool = False,
    seed: int = 0,
) -> Constraints:
    """Sample a random constraint set from a full field ``(H, W)`` (e.g. a truth realization)."""
    field_ = np.asarray(field_)
    if field_.ndim != 2:
        raise InputError(f"expected one (H, W) field, got shape {field_.shape}")
    g = torch.Generator().manual_seed(seed)
    mask = random_masks(1, field_.shape, density=density, mode=mode, partial=partial, generator=g)
    mask = mask[0, 0].numpy()
    return Constraints(np.where(mask, field_, np.nan).astype(float), mask)
