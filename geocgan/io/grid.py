"""The target grid: shape, affine transform and CRS of the fields geocgan generates.

A :class:`Grid` is built from a GeoTIFF template (:meth:`Grid.from_geotiff`) or from
bounds, a resolution and a CRS (:meth:`Grid.from_bounds`). It maps map coordinates to
pixel indices with the inverse affine transform, so north-up, south-up, flipped and
rotated grids all work for snapping wells; 1-D ``x``/``y`` coordinates exist only for
axis-aligned grids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import CRSError, RasterioIOError

from geocgan.errors import GridError


def parse_crs(crs: object, *, what: str) -> CRS:
    """Turn anything rasterio accepts ("EPSG:32631", 32631, WKT, PROJ string) into a CRS.

    Parameters
    ----------
    crs : object
        The CRS as a user gave it.
    what : str
        What the CRS belongs to, for the error message (e.g. "the grid").

    Raises
    ------
    GridError
        If the CRS is missing or not understood.
    """
    if crs is None:
        raise GridError(f"No CRS given for {what}: pass one such as 'EPSG:32631'.")
    if isinstance(crs, CRS):
        return crs
    try:
        with rasterio.Env():  # GDAL's errors go to rasterio's log, not as "ERROR 1: PROJ: ..."
            return CRS.from_user_input(crs)
    except CRSError as exc:
        raise GridError(
            f"CRS {crs!r} for {what} is not understood ({exc}). "
            "Give an EPSG code such as 'EPSG:32631', a WKT string or a PROJ string."
        ) from exc


@dataclass(frozen=True)
class Grid:
    """A 2-D raster grid in a coordinate reference system.

    Attributes
    ----------
    height : int
        Number of rows (pixels along y).
    width : int
        Number of columns (pixels along x).
    transform : affine.Affine
        Maps (col, row) pixel-corner coordinates to map coordinates (GDAL convention:
        pixel (0, 0)'s upper-left corner is ``transform @ (0, 0)``).
    crs : rasterio.crs.CRS
        Coordinate reference system of the map coordinates (any spelling rasterio accepts
        is converted).
    """

    height: int
    width: int
    transform: Affine
    crs: CRS

    def __post_init__(self) -> None:
        # Accept any CRS spelling ("EPSG:32631", 32631, WKT); store a rasterio CRS.
        object.__setattr__(self, "crs", parse_crs(self.crs, what="the grid"))
        if self.height < 1 or self.width < 1:
            raise GridError(
                f"A grid needs at least one row and column, got {self.height} x {self.width}."
            )
        if self.transform.determinant == 0:
            raise GridError(f"The grid transform {tuple(self.transform)[:6]} is degenerate.")

    @classmethod
    def from_geotiff(cls, path: str | Path) -> Grid:
        """Read the grid (shape, transform, CRS) of the first band of a raster file.

        Parameters
        ----------
        path : str or Path
            A GeoTIFF (or any raster GDAL reads) used as template; pixel values are ignored.

        Raises
        ------
        GridError
            If the file is missing, unreadable, or has no CRS.
        """
        path = Path(path)
        if not path.is_file():
            raise GridError(
                f"Grid template {path} does not exist. Give an existing GeoTIFF, "
                "or define the grid from bounds, resolution and CRS instead."
            )
        try:
            with rasterio.open(path) as src:
                height, width, transform, crs = src.height, src.width, src.transform, src.crs
        except RasterioIOError as exc:
            raise GridError(
                f"Grid template {path} cannot be read as a raster ({exc}). Give a GeoTIFF."
            ) from exc
        if crs is None:
            raise GridError(
                f"Grid template {path} has no CRS. Assign one, e.g. "
                f"`gdal_edit.py -a_srs EPSG:32631 {path}`, or define the grid from bounds, "
                "resolution and CRS instead."
            )
        return cls(height=height, width=width, transform=transform, crs=crs)

    @classmethod
    def from_bounds(
        cls,
        xmin: float,
        ymin: float,
        xmax: float,
        ymax: float,
        res: float | tuple[float, float],
        crs: object,
    ) -> Grid:
        """A north-up grid covering ``[xmin, xmax] x [ymin, ymax]`` with square or (xres, yres) pixels.

        The upper-left corner is kept at ``(xmin, ymax)``; the number of pixels along each
        axis is the extent divided by the resolution, rounded to the nearest integer (as
        ``gdalwarp -te -tr`` does), so ``xmax``/``ymin`` move by less than half a pixel when
        the extent is not a whole number of pixels.

        Parameters
        ----------
        xmin, ymin, xmax, ymax : float
            Bounds in CRS units.
        res : float or (float, float)
            Pixel size in CRS units, positive; one value for square pixels.
        crs : object
            Anything ``rasterio.crs.CRS.from_user_input`` accepts, e.g. "EPSG:32631".

        Raises
        ------
        GridError
            If the bounds are empty, the resolution is not positive, or the CRS is invalid.
        """
        xres, yres = (res, res) if np.isscalar(res) else res
        if not (xres > 0 and yres > 0):
            raise GridError(f"Grid resolution must be positive, got {res!r}.")
        if not (xmax > xmin and ymax > ymin):
            raise GridError(
                f"Grid bounds must satisfy xmin < xmax and ymin < ymax, got "
                f"xmin={xmin}, ymin={ymin}, xmax={xmax}, ymax={ymax}."
            )
        width = math.floor((xmax - xmin) / xres + 0.5)
        height = math.floor((ymax - ymin) / yres + 0.5)
        if width < 1 or height < 1:
            raise GridError(
                f"Grid resolution {res!r} is larger than the extent "
                f"{xmax - xmin} x {ymax - ymin}; use a smaller resolution."
            )
        transform = Affine(xres, 0.0, xmin, 0.0, -yres, ymax)
        return cls(height, width, transform, crs)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return (self.height, self.width)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the grid's outer corners, in CRS units (any transform)."""
        corners = [(0, 0), (self.width, 0), (0, self.height), (self.width, self.height)]
        xs, ys = zip(*(self.transform @ c for c in corners), strict=True)
        return (min(xs), min(ys), max(xs), max(ys))

    @property
    def axis_aligned(self) -> bool:
        """True when rows run along y and columns along x (no rotation or shear)."""
        return self.transform.b == 0 and self.transform.d == 0

    def _require_axis_aligned(self, what: str) -> None:
        if not self.axis_aligned:
            raise GridError(
                f"The grid transform is rotated {tuple(self.transform)[:6]}, so it has no 1-D "
                f"{what} coordinate. Use `rowcol` / the transform instead, or warp the template "
                "to a north-up grid (e.g. `gdalwarp`)."
            )

    @property
    def x(self) -> np.ndarray:
        """Pixel-centre x coordinates, shape (width,); axis-aligned grids only."""
        self._require_axis_aligned("x")
        t = self.transform
        return t.c + t.a * (np.arange(self.width) + 0.5)  # (W,)

    @property
    def y(self) -> np.ndarray:
        """Pixel-centre y coordinates, shape (height,); axis-aligned grids only."""
        self._require_axis_aligned("y")
        t = self.transform
        return t.f + t.e * (np.arange(self.height) + 0.5)  # (H,)

    @property
    def units(self) -> str:
        """Name of the CRS's linear (or angular) unit, e.g. "metre", "US survey foot", "degree"."""
        return self.crs.units_factor[0]

    def rowcol(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel indices of map points, through the inverse affine transform.

        Works for any transform (north-up, south-up, negative x-resolution, rotated).
        Points outside the grid get indices outside ``[0, height) x [0, width)``; check with
        :meth:`contains`. A point on a pixel edge goes to the pixel whose fractional index
        it floors to.

        Parameters
        ----------
        xs, ys : array_like
            Map coordinates in the grid's CRS, same shape (n,).

        Returns
        -------
        rows, cols : numpy.ndarray of int64
            Pixel indices, shape (n,).
        """
        xs = np.asarray(xs, dtype=np.float64)  # (n,)
        ys = np.asarray(ys, dtype=np.float64)  # (n,)
        cols_f, rows_f = ~self.transform @ (xs, ys)  # fractional pixel coordinates, (n,)
        return np.floor(rows_f).astype(np.int64), np.floor(cols_f).astype(np.int64)

    def contains(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Boolean mask, shape (n,): which (row, col) pairs lie inside the grid."""
        rows = np.asarray(rows)
        cols = np.asarray(cols)
        return (rows >= 0) & (rows < self.height) & (cols >= 0) & (cols < self.width)

    def to_dict(self) -> dict:
        """JSON-ready description: shape, GDAL-order geotransform, CRS (EPSG or WKT), units."""
        return {
            "height": self.height,
            "width": self.width,
            "geotransform": list(self.transform.to_gdal()),
            "crs": self.crs.to_string(),
            "units": self.units,
        }

    def write_template(
        self, path: str | Path, data: np.ndarray | None = None, *, overwrite: bool = False
    ) -> Path:
        """Write a one-band float32 GeoTIFF on this grid (zeros unless ``data`` is given).

        Handy as a grid template for the command line, for tests and for sample data.
        Written atomically; see :func:`geocgan.io.ensemble.write_geotiff_stack`.

        Parameters
        ----------
        path : str or Path
            Output file.
        data : numpy.ndarray, optional
            Pixel values, shape (height, width).
        overwrite : bool, default False
            Replace an existing file.

        Raises
        ------
        OutputExistsError
            If ``path`` exists and ``overwrite`` is False.
        """
        # Imported here: reading a grid needs no xarray, zarr or dask.
        from geocgan.io.ensemble import write_geotiff_stack

        if data is None:
            data = np.zeros(self.shape, dtype=np.float32)
        return write_geotiff_stack(
            path,
            self,
            np.asarray(data, np.float32)[None],
            band_names=["template"],
            overwrite=overwrite,
        )
