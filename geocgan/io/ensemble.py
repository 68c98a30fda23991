"""The ensemble on disk: a resumable Zarr store and band-interleaved GeoTIFFs.

Zarr layout (see /work/shared/CONVENTIONS.md)
---------------------------------------------
* ``<name>(realization, y, x)``: one chunk per realization ``(1, height, width)``, so
  concurrent writers (Dask workers) never share a chunk. Continuous fields: float32, NaN
  fill. Facies (``codes=``): integer codes, uint8 with fill 255 when every code lies in
  0..254 (else int32 with fill -2**31), with CF ``flag_values``/``flag_meanings``; xarray
  decodes them to float with NaN where not generated, as stores of earlier versions
  (float32 codes) read. The variable carries GDAL's ``_CRS`` attribute (WKT) beside CF
  ``grid_mapping``, so GDAL 3.4+ finds the CRS, and ``coordinates: spatial_ref``, so a
  plain ``xr.open_zarr`` keeps the transform of rotated grids.
* ``realization``: int coordinate 0..n-1 (``standard_name="realization"``, ``units="1"``).
* ``x``/``y``: pixel-centre coordinates with CF attributes (axis-aligned grids; rotated
  grids have no 1-D coordinates and rely on ``spatial_ref``'s ``GeoTransform``).
* ``spatial_ref``: CRS (``crs_wkt``) and ``GeoTransform``; the data variable has
  ``grid_mapping: spatial_ref``.
* ``written(realization)``: uint8, 1 once a realization is stored (one chunk each).
* Store attributes: the caller's ``attrs`` plus ``Conventions`` and ``complete``, which
  turns True only in :meth:`EnsembleStore.finalize`. :func:`open_ensemble` refuses an
  incomplete store, so an interrupted run never looks finished; rerunning the same command
  resumes it (:meth:`EnsembleStore.open_or_create`).

Zarr format 2 (default) is read by GDAL/QGIS 3.10+ and gets consolidated metadata at
``finalize``; format 3 needs GDAL >= 3.11.

GeoTIFFs are written to a temporary file in the output directory and renamed into place,
so a final name always holds a whole file. Large ensembles stream: :func:`iter_realizations`
reads a store chunk by chunk and :func:`write_geotiff_chunks` writes a stack chunk by chunk.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import dask.array as da
import numpy as np
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
import zarr
from affine import Affine
from rasterio.crs import CRS

from geocgan.errors import GeocganError, InputError, OutputExistsError
from geocgan.files import atomic_dir, atomic_path

if TYPE_CHECKING:  # annotations only: grid.py writes its template through this module
    from geocgan.io.grid import Grid

REALIZATION = "realization"
WRITTEN = "written"
DIMS = (REALIZATION, "y", "x")
_RESERVED_ATTRS = ("complete", "Conventions")
_MAX_LISTED = 10


def _attr_value(value: object) -> object:
    """A JSON- and netCDF-safe attribute value: scalars and lists of scalars kept, rest as JSON."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple | np.ndarray):
        items = [_attr_value(v) for v in value]
        if all(isinstance(v, str | bool | int | float) for v in items):
            return items
    return json.dumps(value, sort_keys=True, default=str)


def _normalize_attrs(attrs: Mapping[str, object] | None) -> dict[str, object]:
    """Caller attributes as stored, so a resumed run compares equal to the stored ones."""
    attrs = dict(attrs or {})
    clash = [k for k in attrs if k in _RESERVED_ATTRS]
    if clash:
        raise ValueError(f"Attribute names {clash} are reserved by geocgan's ensemble store.")
    return {str(k): _attr_value(v) for k, v in attrs.items()}


def _listing(indices: Sequence[int]) -> str:
    text = ", ".join(map(str, indices[:_MAX_LISTED]))
    return text + (f", ... ({len(indices)} in all)" if len(indices) > _MAX_LISTED else "")


def _check_parent(path: Path) -> None:
    if not path.parent.is_dir():
        raise InputError(
            f"Output directory {path.parent} does not exist. Create it first or choose "
            "another output path."
        )


def _check_new_output(path: Path, overwrite: bool) -> None:
    """Refuse an existing output unless ``overwrite``; refuse a missing parent directory."""
    _check_parent(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(
            f"{path} exists. Pass overwrite=True (--overwrite) to replace it, or choose "
            "another output path."
        )


def _is_zarr_store(path: Path) -> bool:
    return (path / ".zgroup").is_file() or (path / "zarr.json").is_file()


def _group(path: Path, mode: str = "r") -> zarr.Group:
    """Open a store's root group, with a clear error when it is not a Zarr store."""
    if not path.exists():
        raise InputError(f"Ensemble store {path} does not exist. Check the path.")
    if not _is_zarr_store(path):
        raise InputError(f"{path} is not a Zarr store. Give the path of a geocgan ensemble.")
    return zarr.open_group(path, mode=mode)


def _data_name(ds: xr.Dataset, path: Path) -> str:
    """The ensemble variable: the one data variable with dims (realization, y, x)."""
    names = [k for k, v in ds.data_vars.items() if v.dims == DIMS]
    if len(names) != 1 or WRITTEN not in ds:
        raise InputError(
            f"{path} is not a geocgan ensemble store (expected one variable with dims {DIMS} "
            f"and a '{WRITTEN}' flag; found {list(ds.data_vars)})."
        )
    return names[0]


def _missing(path: Path) -> list[int]:
    written = _group(path)[WRITTEN][:]  # (n,) uint8
    return np.flatnonzero(written == 0).tolist()


def ensemble_status(path: str | Path) -> dict:
    """What an ensemble store holds and lacks, without opening it as a dataset.

    Returns
    -------
    dict
        ``complete`` (bool), ``n`` (realizations), ``missing_realizations`` (indices not
        written), and ``unfinished`` (a sentence saying what is missing, or None).
    """
    path = Path(path)
    group = _group(path)
    if WRITTEN not in group:
        raise InputError(f"{path} is not a geocgan ensemble store (no '{WRITTEN}' array).")
    missing = _missing(path)
    complete = group.attrs.get("complete") is True
    unfinished = None
    if not complete:
        unfinished = (
            f"realizations {_listing(missing)} were not written"
            if missing
            else "every realization is written, but the other outputs (GeoTIFFs, summary, "
            "honoring report, overview) were not finished"
        )
    return {
        "complete": complete,
        "n": int(group[WRITTEN].shape[0]),
        "missing_realizations": missing,
        "unfinished": unfinished,
    }


def stored_noise_scheme(path: str | Path) -> str | None:
    """The noise scheme (``geocgan.noise``) a store's realizations were drawn with: its
    ``noise_scheme`` attribute, ``"torch"`` for stores made before it was recorded, None
    where ``path`` holds no Zarr store."""
    path = Path(path)
    if not _is_zarr_store(path):
        return None
    return str(zarr.open_group(path, mode="r").attrs.get("noise_scheme", "torch"))


def storage(codes: Sequence[int] | None) -> tuple[np.dtype, float | int]:
    """Stored dtype and fill value: float32/NaN, or the smallest integer type for ``codes``.

    Facies codes are stored as integers: uint8 with fill 255 when every code lies in
    0..254, else int32 with fill -2**31 (refused as a code).
    """
    if codes is None:
        return np.dtype(np.float32), float("nan")
    codes = [int(c) for c in codes]
    if all(0 <= c <= 254 for c in codes):
        return np.dtype(np.uint8), 255
    fill = int(np.iinfo(np.int32).min)
    if any(not fill < c <= np.iinfo(np.int32).max for c in codes):
        raise InputError(f"Facies codes {codes} do not fit 32-bit integers; recode them.")
    return np.dtype(np.int32), fill


def _template(
    grid: Grid, n: int, name: str, attrs: dict, var_attrs: dict, codes: Sequence[int] | None
) -> xr.Dataset:
    """Lazy unwritten ensemble with coordinates, CRS and flags; only metadata gets written."""
    h, w = grid.shape
    dtype, fill = storage(codes)
    values = da.full((n, h, w), fill, dtype=dtype, chunks=(1, h, w))  # (n, H, W)
    if codes is not None:
        var_attrs = {
            "flag_values": [int(c) for c in codes],
            "flag_meanings": " ".join(f"facies_{int(c)}" for c in codes),
            **var_attrs,
        }
    coords: dict[str, xr.Variable] = {
        REALIZATION: xr.Variable(
            REALIZATION,
            np.arange(n, dtype=np.int64),
            {"standard_name": "realization", "units": "1", "long_name": "realization number"},
        )
    }
    if grid.axis_aligned:
        coords["y"] = xr.Variable("y", grid.y)  # (H,)
        coords["x"] = xr.Variable("x", grid.x)  # (W,)
    ds = xr.Dataset(
        {
            name: xr.Variable(DIMS, values, {"long_name": name, **var_attrs}),
            WRITTEN: xr.Variable(
                REALIZATION,
                np.zeros(n, dtype=np.uint8),  # (n,)
                {
                    "long_name": "1 once the realization is stored",
                    "flag_values": [0, 1],
                    "flag_meanings": "not_written written",
                },
            ),
        },
        coords=coords,
        attrs={**attrs, "Conventions": "CF-1.8", "complete": False},
    )
    ds = ds.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
    if grid.axis_aligned:
        ds = ds.rio.write_coordinate_system()
    ds[name].attrs["_CRS"] = {"wkt": grid.crs.to_wkt()}  # what GDAL's Zarr driver reads
    ds[name].encoding.update({"_FillValue": dtype.type(fill), "coordinates": "spatial_ref"})
    ds[WRITTEN].encoding.update({"_FillValue": None, "chunks": (1,)})
    return ds


def _stored_grid(ds: xr.Dataset) -> tuple[int, int, Affine, CRS]:
    ref = ds["spatial_ref"].attrs
    transform = Affine.from_gdal(*map(float, ref["GeoTransform"].split()))
    return ds.sizes["y"], ds.sizes["x"], transform, CRS.from_wkt(ref["crs_wkt"])


def _write_skeleton(path: Path, ds: xr.Dataset, zarr_format: int, overwrite: bool) -> None:
    """Write a new store's metadata (the data stay unwritten) at ``path``, atomically.

    An existing ``path`` is refused, or with ``overwrite`` replaced if it is a Zarr store
    (anything else is never deleted).

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is False, or it is not a Zarr store.
    """
    _check_parent(path)
    if path.exists():
        if not overwrite:
            hint = ""
            if (
                _is_zarr_store(path)
                and zarr.open_group(path, mode="r").attrs.get("complete") is False
            ):
                hint = " It is an unfinished ensemble: rerun the same command to resume it."
            raise OutputExistsError(
                f"{path} exists.{hint} Pass overwrite=True (--overwrite) to replace it, or "
                "choose another output path."
            )
        if not _is_zarr_store(path):
            raise OutputExistsError(
                f"{path} exists and is not a Zarr store; geocgan will not delete it. "
                "Choose another output path."
            )
        shutil.rmtree(path)
    with atomic_dir(path) as tmp:  # a kill leaves no half-made store under `path`
        ds.to_zarr(tmp, mode="w-", compute=False, consolidated=False, zarr_format=zarr_format)


@dataclass(frozen=True)
class EnsembleStore:
    """A Zarr ensemble being written; create with :meth:`create` or :meth:`open_or_create`.

    Attributes
    ----------
    path : Path
        The store (a directory).
    name : str
        The ensemble variable's name, e.g. "facies" or "value".
    n : int
        Number of realizations.
    zarr_format : int
        2 or 3.
    """

    path: Path
    name: str
    n: int
    zarr_format: int

    @classmethod
    def create(
        cls,
        path: str | Path,
        grid: Grid,
        n: int,
        *,
        name: str = "value",
        attrs: Mapping[str, object] | None = None,
        var_attrs: Mapping[str, object] | None = None,
        codes: Sequence[int] | None = None,
        zarr_format: int = 2,
        overwrite: bool = False,
    ) -> EnsembleStore:
        """Write an empty (all-NaN, nothing ``written``) store's metadata and coordinates.

        Parameters
        ----------
        path : str or Path
            Store directory to create; its parent must exist.
        grid : Grid
            Grid of every realization.
        n : int
            Number of realizations, >= 1.
        name : str, default "value"
            Name of the ensemble variable ("facies" for categorical models).
        attrs : mapping, optional
            Provenance recorded as store attributes (model, seed, lambda, input files,
            version...). Scalars and lists of scalars are stored as-is, anything else as a
            JSON string. They identify the run: resuming requires the same attrs.
        var_attrs : mapping, optional
            Attributes of the ensemble variable, e.g. ``units`` or ``long_name``.
        codes : sequence of int, optional
            Facies codes: store integer codes (see :func:`storage`) with CF
            ``flag_values``/``flag_meanings``. Default: a continuous float32 field.
        zarr_format : {2, 3}, default 2
            2 for GDAL/QGIS < 3.11 users; 3 is the newer format.
        overwrite : bool, default False
            Delete an existing Zarr store at ``path`` first (never a non-Zarr directory).

        Raises
        ------
        OutputExistsError
            ``path`` exists and ``overwrite`` is False (the message says whether the run can
            be resumed), or ``path`` is not a Zarr store and cannot be overwritten.
        """
        path = Path(path)
        if zarr_format not in (2, 3):
            raise ValueError(f"zarr_format must be 2 or 3, got {zarr_format!r}.")
        if n < 1:
            raise ValueError(f"An ensemble needs at least one realization, got n={n}.")
        if name in (REALIZATION, "y", "x", WRITTEN, "spatial_ref"):
            raise ValueError(f"{name!r} is taken by the store layout; name the variable otherwise.")
        ds = _template(grid, n, name, _normalize_attrs(attrs), _normalize_attrs(var_attrs), codes)
        _write_skeleton(path, ds, zarr_format, overwrite)
        return cls(path, name, n, zarr_format)

    @classmethod
    def open_for_resume(
        cls,
        path: str | Path,
        grid: Grid,
        n: int,
        *,
        name: str = "value",
        attrs: Mapping[str, object] | None = None,
        zarr_format: int | None = None,
    ) -> EnsembleStore:
        """Reopen an unfinished store made by the same command, to write what is missing.

        Parameters are those given to :meth:`create` (``zarr_format=None`` accepts either).

        Raises
        ------
        OutputExistsError
            The store is complete, or was made with another grid, n, name, format or attrs
            (the message says which), or is not a geocgan ensemble.
        """
        path = Path(path)
        fix = "Pass overwrite=True (--overwrite) to start again, or choose another output path."
        try:  # InputError (a ValueError) or KeyError: not a whole geocgan store
            group = _group(path)
            ds = xr.open_zarr(path, consolidated=False, decode_coords="all")
            stored_name = _data_name(ds, path)
            height, width, transform, crs = _stored_grid(ds)
        except (KeyError, ValueError) as exc:
            raise OutputExistsError(f"{path} cannot be resumed ({exc}). {fix}") from exc
        killed_in_finalize = group.metadata.zarr_format == 2 and not (path / ".zmetadata").is_file()
        if ds.attrs.get("complete") is True and not killed_in_finalize:
            raise OutputExistsError(f"{path} is a complete ensemble already. {fix}")
        stored_attrs = {k: v for k, v in ds.attrs.items() if k not in _RESERVED_ATTRS}
        new_attrs = _normalize_attrs(attrs)
        if "noise_scheme" in new_attrs:  # one ensemble never mixes two (geocgan.noise)
            old = stored_attrs.setdefault("noise_scheme", "torch")  # older stores: torch
            if old != new_attrs["noise_scheme"]:
                raise OutputExistsError(
                    f"{path} was drawn with noise scheme {old!r}, not "
                    f"{new_attrs['noise_scheme']!r}; resume it with --noise-scheme {old} (or "
                    f"without the option). {fix}"
                )
        expected = {
            "number of realizations": (ds.sizes[REALIZATION], n),
            "variable name": (stored_name, name),
            "grid shape": ((height, width), grid.shape),
            "CRS": (crs, grid.crs),
            "attributes": (stored_attrs, new_attrs),
        }
        if zarr_format is not None:
            expected["Zarr format"] = (group.metadata.zarr_format, zarr_format)
        differ = [k for k, (old, new) in expected.items() if old != new]
        pixel_size = abs(grid.transform.determinant) ** 0.5
        if not transform.almost_equals(grid.transform, precision=1e-9 * pixel_size):
            differ.append("grid transform")
        if differ:
            raise OutputExistsError(
                f"{path} is an unfinished ensemble from a different command "
                f"(its {', '.join(differ)} differ). {fix}"
            )
        return cls(path, stored_name, n, group.metadata.zarr_format)

    @classmethod
    def open_or_create(
        cls,
        path: str | Path,
        grid: Grid,
        n: int,
        *,
        name: str = "value",
        attrs: Mapping[str, object] | None = None,
        var_attrs: Mapping[str, object] | None = None,
        codes: Sequence[int] | None = None,
        zarr_format: int = 2,
        overwrite: bool = False,
    ) -> EnsembleStore:
        """What a command does: resume an unfinished store of the same run, else create one.

        With ``overwrite`` an existing store is always replaced. Parameters and errors are
        those of :meth:`create` and :meth:`open_for_resume`.
        """
        if Path(path).exists() and not overwrite:
            return cls.open_for_resume(
                path, grid, n, name=name, attrs=attrs, zarr_format=zarr_format
            )
        return cls.create(
            path,
            grid,
            n,
            name=name,
            attrs=attrs,
            var_attrs=var_attrs,
            codes=codes,
            zarr_format=zarr_format,
            overwrite=overwrite,
        )

    def missing(self) -> list[int]:
        """Indices of realizations not written yet, ascending."""
        return _missing(self.path)

    def write(self, start: int, data: np.ndarray) -> None:
        """Store realizations ``start .. start + k - 1``; see :func:`write_region`."""
        write_region(self.path, start, data)

    def finalize(self) -> None:
        """Mark the store complete (and consolidate format-2 metadata).

        Raises
        ------
        GeocganError
            If some realizations were never written.
        """
        missing = self.missing()
        if missing:
            raise GeocganError(
                f"Cannot finalize {self.path}: realizations {_listing(missing)} were not "
                "written. Write them first (rerun the same command to resume)."
            )
        zarr.open_group(self.path, mode="r+").attrs["complete"] = True
        if self.zarr_format == 2:
            zarr.consolidate_metadata(self.path)


def write_region(path: str | Path, start: int, data: np.ndarray) -> None:
    """Write realizations ``start .. start + k - 1`` into a store, then flag them written.

    Needs only the path, so it can run as a Dask task in another process; concurrent calls
    for different realizations are safe because every realization is its own chunk. The
    data are written before the flags, so an interruption leaves them flagged unwritten.

    Parameters
    ----------
    path : str or Path
        A store made by :meth:`EnsembleStore.create` (or a volume store,
        :meth:`geocgan.io.volume.VolumeStore.create`).
    start : int
        First realization index.
    data : numpy.ndarray
        Realizations, shape (k, height, width) (volumes: (k, nz, ny, nx)); stored in the
        store's dtype (float32, or integer facies codes).

    Raises
    ------
    OutputExistsError
        If the store is already complete.
    ValueError
        If the shape or index range does not fit the store, or facies codes are not
        integers.
    """
    path = Path(path)
    group = _group(path, mode="r+")
    names = [k for k, a in group.arrays() if a.ndim >= 3]  # (n, H, W), or (n, nz, ny, nx)
    if len(names) != 1 or WRITTEN not in group:
        raise InputError(f"{path} is not a geocgan ensemble store.")
    if group.attrs.get("complete") is True:
        raise OutputExistsError(f"{path} is complete; refusing to modify it.")
    array = group[names[0]]
    n, *field = array.shape
    data = np.asarray(data)  # (k, H, W), or (k, nz, ny, nx)
    if data.shape[1:] != tuple(field) or not 0 <= start <= n - len(data):
        raise ValueError(
            f"Cannot write data of shape {data.shape} at realization {start} into {path} "
            f"holding {n} realizations of {' x '.join(map(str, field))}."
        )
    if np.issubdtype(array.dtype, np.integer):
        fill = array.fill_value
        known = ~np.isnan(data)  # NaN: no value (an input's nodata), stored as the fill
        codes = data[known]
        if not (
            np.isfinite(codes).all() and (codes == np.round(codes)).all() and (codes != fill).all()
        ):
            raise ValueError(f"Facies codes for {path} must be integers other than {fill}.")
        data = np.where(known, data, fill)
    array[start : start + len(data)] = data.astype(array.dtype)
    group[WRITTEN][start : start + len(data)] = 1  # after the data: a kill leaves them unflagged


def open_ensemble(path: str | Path, allow_incomplete: bool = False) -> xr.Dataset:
    """Open an ensemble store lazily, with its CRS decoded (``ds.rio.crs`` works).

    Parameters
    ----------
    path : str or Path
        The Zarr store.
    allow_incomplete : bool, default False
        Open an unfinished store too; realizations not written read as NaN (see the
        ``written`` variable).

    Raises
    ------
    InputError
        If the store is missing, not a geocgan ensemble, or incomplete (the message says
        to rerun the same command to resume).
    """
    path = Path(path)
    group = _group(path)
    complete = group.attrs.get("complete")
    if complete is None:
        raise InputError(f"{path} is not a geocgan ensemble store (no 'complete' attribute).")
    if complete is not True and not allow_incomplete:
        raise InputError(
            f"{path} is an unfinished ensemble: {ensemble_status(path)['unfinished']} (the "
            "run was interrupted or is still going). Rerun the same command to resume it, "
            "or pass allow_incomplete=True to read what is there."
        )
    consolidated = (
        group.metadata.zarr_format == 2 and complete is True and (path / ".zmetadata").is_file()
    )
    ds = xr.open_zarr(path, consolidated=consolidated, decode_coords="all")
    _data_name(ds, path)
    return ds


def _tag_value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(_attr_value(value))


def iter_realizations(
    path: str | Path, size: int = 64, *, allow_incomplete: bool = False
) -> Iterator[tuple[int, np.ndarray]]:
    """Read an ensemble ``size`` realizations at a time, so it never sits in memory whole.

    Parameters
    ----------
    path : str or Path
        The Zarr store.
    size : int, default 64
        Realizations per chunk, >= 1.
    allow_incomplete : bool, default False
        As in :func:`open_ensemble`.

    Yields
    ------
    start : int
        Index of the chunk's first realization.
    chunk : numpy.ndarray
        float32 realizations ``start .. start + k - 1``, shape (k, height, width), k <= size;
        a fresh array the caller may modify.

    Raises
    ------
    InputError
        As in :func:`open_ensemble`.
    """
    if size < 1:
        raise ValueError(f"Chunk size must be >= 1, got {size}.")
    ds = open_ensemble(path, allow_incomplete=allow_incomplete)
    var = ds[_data_name(ds, Path(path))]
    for start in range(0, var.sizes[REALIZATION], size):
        chunk = var.isel({REALIZATION: slice(start, start + size)}).values  # (k, H, W)
        yield start, np.array(chunk, dtype=np.float32)


def write_geotiff_stack(
    path: str | Path,
    grid: Grid,
    data: np.ndarray,
    *,
    band_names: Sequence[str],
    tags: Mapping[str, object] | None = None,
    band_tags: Sequence[Mapping[str, object]] | None = None,
    nodata: float | None = None,
    overwrite: bool = False,
    colormap: Mapping[int, tuple[int, int, int]] | None = None,
) -> Path:
    """Write bands to a tiled, band-interleaved, DEFLATE-compressed GeoTIFF, atomically.

    Band-interleaved so that reading one realization decompresses only that band. For
    stacks too large for memory use :func:`write_geotiff_chunks`.

    Parameters
    ----------
    path : str or Path
        Output file; its directory must exist.
    grid : Grid
        Grid of the bands (CRS and transform are written).
    data : numpy.ndarray
        Bands, shape (n, height, width); dtype kept (bool stored as uint8).
    band_names : sequence of str
        One description per band (shown by QGIS/GDAL), e.g. "realization_0".
    tags : mapping, optional
        Dataset metadata (non-strings stored as JSON).
    band_tags : sequence of mapping, optional
        One metadata mapping per band.
    nodata : float, optional
        Nodata value; default NaN for float data, none for integer data.
    overwrite : bool, default False
        Replace an existing file.
    colormap : mapping of int to (r, g, b), optional
        A colour table (one band of uint8 class codes only): code -> colour, so that QGIS and
        GDAL show the band as classes (written as a palette image).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.
    InputError
        The output directory does not exist.
    """
    data = np.asarray(data)  # (n, H, W)
    if data.dtype == bool:
        data = data.astype(np.uint8)
    if data.ndim != 3:
        raise ValueError(f"Data of shape {data.shape} do not fit grid {grid.shape} as (n, H, W).")
    return write_geotiff_chunks(
        path,
        grid,
        [(0, data)],
        count=data.shape[0],
        dtype=data.dtype,
        band_names=band_names,
        tags=tags,
        band_tags=band_tags,
        nodata=nodata,
        overwrite=overwrite,
        colormap=colormap,
    )


def write_geotiff_chunks(
    path: str | Path,
    grid: Grid,
    chunks: Iterable[tuple[int, np.ndarray]],
    *,
    count: int,
    dtype: np.dtype | str = np.float32,
    band_names: Sequence[str],
    tags: Mapping[str, object] | None = None,
    band_tags: Sequence[Mapping[str, object]] | None = None,
    nodata: float | None = None,
    overwrite: bool = False,
    colormap: Mapping[int, tuple[int, int, int]] | None = None,
) -> Path:
    """Write a GeoTIFF stack chunk by chunk: only one chunk of bands is in memory at a time.

    Same file as :func:`write_geotiff_stack` (tiled, band-interleaved, DEFLATE, atomic).

    Parameters
    ----------
    path : str or Path
        Output file; its directory must exist.
    grid : Grid
        Grid of the bands.
    chunks : iterable of (int, numpy.ndarray)
        ``(start, bands)`` with bands of shape (k, height, width) going to bands
        ``start + 1 .. start + k`` (1-based); in order, together covering every band once.
        Consumed while the file is open, so a generator may compute each chunk lazily.
    count : int
        Number of bands, >= 1.
    dtype : numpy dtype, default float32
        Band data type; chunks are cast to it.
    band_names, tags, band_tags, nodata, overwrite, colormap
        As in :func:`write_geotiff_stack`.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.
    InputError
        The output directory does not exist.
    ValueError
        The chunks do not fit the grid or do not cover bands 1..count in order.
    """
    path = Path(path)
    dtype = np.dtype(dtype)
    if count < 1:
        raise ValueError(f"A GeoTIFF needs at least one band, got count={count}.")
    if len(band_names) != count or (band_tags is not None and len(band_tags) != count):
        raise ValueError(f"Need one band name (and band tag mapping) per band: {count} bands.")
    if colormap is not None and (count != 1 or dtype != np.uint8):
        raise ValueError("A colour table needs one band of uint8 codes.")
    _check_new_output(path, overwrite)
    is_float = np.issubdtype(dtype, np.floating)
    if nodata is None and is_float:
        nodata = float("nan")
    block = min(256, 16 * -(-max(grid.shape) // 16))  # tile side: multiple of 16, <= 256
    profile = {
        "driver": "GTiff",
        "height": grid.height,
        "width": grid.width,
        "count": count,
        "dtype": dtype,
        "crs": grid.crs,
        "transform": grid.transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": block,
        "blockysize": block,
        "interleave": "band",
        "compress": "deflate",
        "predictor": 3 if is_float else 2,
        "bigtiff": "if_safer",
        # never RGB, whatever the band count and dtype; a palette for one band of classes
        "photometric": "PALETTE" if colormap is not None else "MINISBLACK",
    }
    with atomic_path(path) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            done = 0  # bands written so far
            for start, bands in chunks:
                bands = np.asarray(bands, dtype=dtype)  # (k, H, W)
                if bands.ndim != 3 or bands.shape[1:] != grid.shape:
                    raise ValueError(
                        f"Data of shape {bands.shape} do not fit grid {grid.shape} as (n, H, W)."
                    )
                if start != done or start + len(bands) > count:
                    raise ValueError(
                        f"Chunk of {len(bands)} bands at {start} does not follow the "
                        f"{done} bands written so far of {count}."
                    )
                dst.write(bands, indexes=list(range(start + 1, start + len(bands) + 1)))
                done += len(bands)
            if done != count:
                raise ValueError(f"Only {done} of {count} bands were given.")
            if colormap is not None:
                dst.write_colormap(1, {int(k): tuple(v) + (255,) for k, v in colormap.items()})
            dst.update_tags(**{k: _tag_value(v) for k, v in (tags or {}).items()})
            for i, band_name in enumerate(band_names, start=1):
                dst.set_band_description(i, band_name)
                if band_tags is not None:
                    dst.update_tags(i, **{k: _tag_value(v) for k, v in band_tags[i - 1].items()})
    return path


def write_summary_geotiff(
    path: str | Path,
    grid: Grid,
    bands: Mapping[str, np.ndarray],
    *,
    tags: Mapping[str, object] | None = None,
    nodata: float | None = None,
    overwrite: bool = False,
) -> Path:
    """Write named summary maps (e.g. "mean", "std", "p_facies_1") as one GeoTIFF.

    Same conventions as :func:`write_geotiff_stack`; band descriptions are the keys.

    Parameters
    ----------
    path : str or Path
        Output file.
    grid : Grid
        Grid of the maps.
    bands : mapping of str to numpy.ndarray
        Band name -> map of shape (height, width), in band order.
    tags, nodata, overwrite
        As in :func:`write_geotiff_stack`.
    """
    if not bands:
        raise ValueError("write_summary_geotiff needs at least one band.")
    stack = np.stack([np.asarray(b) for b in bands.values()])  # (n_bands, H, W)
    return write_geotiff_stack(
        path, grid, stack, band_names=list(bands), tags=tags, nodata=nodata, overwrite=overwrite
    )
