"""The target volume: a 2-D :class:`~geocgan.io.grid.Grid` in plan plus regular z levels.

Layer ``k`` spans elevations ``top - (k + 1) * dz`` to ``top - k * dz``: layer 0 is the top,
as row 0 is the top of a north-up raster, and a volume array is ``(nz, height, width)``.
``z`` is elevation, positive up, in the vertical units of the CRS (metres unless said
otherwise); depths below a datum are turned into elevations before snapping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geocgan.errors import GridError
from geocgan.io.grid import Grid


@dataclass(frozen=True)
class Grid3D:
    """A regular 3-D grid: plan grid ``plan``, ``nz`` layers of thickness ``dz`` below ``top``.

    Attributes
    ----------
    plan : Grid
        Rows, columns, transform and CRS in plan view.
    top : float
        Elevation of the top of layer 0 (grid vertical units, positive up).
    dz : float
        Layer thickness (> 0).
    nz : int
        Number of layers (>= 1).
    """

    plan: Grid
    top: float
    dz: float
    nz: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.top) and math.isfinite(self.dz) and self.dz > 0):
            raise GridError(
                f"A 3-D grid needs a finite top and a layer thickness dz > 0, got "
                f"top={self.top!r}, dz={self.dz!r}. Pass --z-bounds ZMIN ZMAX and --dz DZ."
            )
        if not (isinstance(self.nz, int | np.integer) and self.nz >= 1):
            raise GridError(f"A 3-D grid needs at least one layer, got nz={self.nz!r}.")

    @classmethod
    def from_plan(cls, plan: Grid, z_bounds: tuple[float, float], dz: float) -> Grid3D:
        """Layers of thickness ``dz`` from ``zmax`` down to ``zmin`` under a plan grid.

        The number of layers is ``(zmax - zmin) / dz`` rounded to the nearest integer, so
        ``zmin`` moves by less than half a layer when the interval is not a whole number of
        layers (as :meth:`Grid.from_bounds` does in plan).

        Parameters
        ----------
        plan : Grid
            The plan grid, e.g. ``Grid.from_geotiff(template)``.
        z_bounds : (float, float)
            ``(zmin, zmax)`` elevations, positive up (``--z-bounds``).
        dz : float
            Layer thickness, > 0 (``--dz``).

        Raises
        ------
        GridError
            Empty z interval, non-positive ``dz``, or ``dz`` larger than the interval.
        """
        zmin, zmax = (float(v) for v in z_bounds)
        if not (math.isfinite(zmin) and math.isfinite(zmax) and zmax > zmin):
            raise GridError(
                f"--z-bounds must be two finite elevations ZMIN < ZMAX (positive up), got "
                f"{z_bounds!r}. For depths, give ZMIN = -(deepest depth), ZMAX = -(shallowest)."
            )
        if not (math.isfinite(dz) and dz > 0):
            raise GridError(f"--dz must be a layer thickness > 0, got {dz!r}.")
        nz = math.floor((zmax - zmin) / dz + 0.5)
        if nz < 1:
            raise GridError(
                f"--dz {dz} is thicker than the z interval {zmax - zmin}; use a smaller --dz."
            )
        return cls(plan=plan, top=zmax, dz=float(dz), nz=nz)

    @classmethod
    def from_geotiff(cls, path: str | Path, z_bounds: tuple[float, float], dz: float) -> Grid3D:
        """A plan template GeoTIFF (see :meth:`Grid.from_geotiff`) plus z levels."""
        return cls.from_plan(Grid.from_geotiff(path), z_bounds, dz)

    @classmethod
    def from_bounds(
        cls,
        bounds: tuple[float, float, float, float, float, float],
        res: float | tuple[float, float],
        dz: float,
        crs: object,
    ) -> Grid3D:
        """A north-up grid over ``(xmin, ymin, zmin, xmax, ymax, zmax)`` (``--bounds`` in 3D)."""
        xmin, ymin, zmin, xmax, ymax, zmax = bounds
        return cls.from_plan(Grid.from_bounds(xmin, ymin, xmax, ymax, res, crs), (zmin, zmax), dz)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(nz, height, width) in voxels."""
        return (self.nz, self.plan.height, self.plan.width)

    @property
    def crs(self):
        """The plan grid's CRS (rasterio CRS)."""
        return self.plan.crs

    @property
    def bottom(self) -> float:
        """Elevation of the base of the deepest layer."""
        return self.top - self.nz * self.dz

    @property
    def z(self) -> np.ndarray:
        """Layer-centre elevations, shape (nz,), descending (layer 0 on top)."""
        return self.top - self.dz * (np.arange(self.nz) + 0.5)  # (nz,)

    def layer(self, z: np.ndarray) -> np.ndarray:
        """Layer index of elevations ``z`` (n,), int64; outside ``[0, nz)`` above/below the grid.

        A point on a layer boundary goes to the layer below it (the top itself is layer 0).
        """
        z = np.asarray(z, dtype=np.float64)  # (n,)
        return np.floor((self.top - z) / self.dz).astype(np.int64)

    def to_dict(self) -> dict:
        """JSON-ready description: the plan grid plus top, dz, nz and the z range."""
        return {
            **self.plan.to_dict(),
            "nz": self.nz,
            "top": self.top,
            "bottom": self.bottom,
            "dz": self.dz,
            "z_positive": "up",
        }
