"""Volumes on disk: a Zarr ensemble ``(realization, z, y, x)``, NetCDF, VTK images, PNG slices.

Zarr layout (the 2-D store's, see :mod:`geocgan.io.ensemble`, with a vertical axis)
-------------------------------------------------------------------------------------
* ``<name>(realization, z, y, x)``: float32 with NaN fill, or, for facies (``codes``),
  uint8 codes with fill 255 and CF ``flag_values``/``flag_meanings``; one chunk per
  realization ``(1, nz, ny, nx)``.
* ``z``: layer-centre elevations, descending (layer 0 on top), CF ``axis="Z"``,
  ``positive="up"``, ``units`` the CRS's linear unit, ``standard_name="height"`` is not
  claimed (the vertical datum is the user's); ``x``/``y``/``realization`` as in 2-D.
* ``spatial_ref`` (rioxarray): CRS WKT and the plan ``GeoTransform``; ``z_top``/``dz``
  store attributes give the vertical grid exactly.
* ``written(realization)`` flags and a ``complete`` store attribute that turns True only in
  :meth:`VolumeStore.finalize`; :func:`open_volume` refuses an unfinished store.

VTK image files (``.vti``, ParaView) are written with ``pyevtk`` (the optional ``[3d]``
extra): the VTK image's origin is the lowest voxel centre and z increases upwards, so the
layer axis is flipped on the way out. Rotated plan grids have no VTK image form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import dask.array as da
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from geocgan.errors import GridError, InputError, OutputExistsError
from geocgan.files import atomic_path
from geocgan.io.ensemble import (
    REALIZATION,
    WRITTEN,
    EnsembleStore,
    _check_new_output,
    _is_zarr_store,
    _listing,
    _missing,
    _normalize_attrs,
    _write_skeleton,
    storage,
    write_region,
)
from geocgan.io.grid import Grid
from geocgan.io.grid3d import Grid3D
from geocgan.io.wells3d import Wells3D

DIMS = (REALIZATION, "z", "y", "x")


def _storage(codes: Sequence[int] | None) -> tuple[np.dtype, float | int]:
    """The 2-D store's :func:`~geocgan.io.ensemble.storage`, facies limited to uint8 codes
    0..254 (fill 255)."""
    if codes is not None and not all(0 <= int(c) <= 254 for c in codes):
        raise InputError(f"Facies codes {list(codes)} must lie in 0..254 for a volume store.")
    return storage(codes)


def volume_dataset(
    grid: Grid3D,
    data: np.ndarray | da.Array,
    *,
    name: str = "value",
    codes: Sequence[int] | None = None,
    attrs: Mapping[str, object] | None = None,
    var_attrs: Mapping[str, object] | None = None,
) -> xr.Dataset:
    """Realizations ``(n, nz, ny, nx)`` as a CF dataset with z, x, y and the CRS.

    Parameters
    ----------
    grid : Grid3D
        The volume's grid; its plan grid must be axis-aligned.
    data : array, (n, nz, ny, nx)
        Values or facies codes (stored as float32, or uint8 with ``codes``).
    name : str, default "value"
        The data variable ("facies" for categorical models).
    codes : sequence of int, optional
        Facies codes, written as CF ``flag_values``.
    attrs, var_attrs : mapping, optional
        Dataset (provenance) and variable attributes; non-scalars are stored as JSON.

    Raises
    ------
    GridError
        A rotated plan grid, or ``data`` of another shape than the grid's.
    """
    if not grid.plan.axis_aligned:
        raise GridError(
            "Volumes need a north-up (axis-aligned) plan grid; warp the template with gdalwarp."
        )
    if data.ndim != 4 or tuple(data.shape[1:]) != grid.shape:
        raise GridError(
            f"Volume data of shape {tuple(data.shape)} do not fit the grid: expected "
            f"(n, {', '.join(map(str, grid.shape))}) = (realizations, nz, ny, nx)."
        )
    dtype, fill = _storage(codes)
    var_attrs = {"long_name": name, **_normalize_attrs(var_attrs)}
    if codes is not None:
        var_attrs["flag_values"] = [int(c) for c in codes]
        var_attrs["flag_meanings"] = " ".join(f"facies_{int(c)}" for c in codes)
    units = grid.plan.crs.linear_units or "unknown"
    coords = {
        REALIZATION: xr.Variable(
            REALIZATION,
            np.arange(data.shape[0], dtype=np.int64),
            {"standard_name": "realization", "units": "1", "long_name": "realization number"},
        ),
        "z": xr.Variable(
            "z",
            grid.z,  # (nz,) descending
            {"axis": "Z", "positive": "up", "units": units, "long_name": "elevation"},
        ),
        "y": xr.Variable("y", grid.plan.y),  # (ny,)
        "x": xr.Variable("x", grid.plan.x),  # (nx,)
    }
    ds = xr.Dataset(
        {name: xr.Variable(DIMS, data.astype(dtype), var_attrs)},
        coords=coords,
        attrs={
            **_normalize_attrs(attrs),
            "Conventions": "CF-1.8",
            "z_top": grid.top,
            "dz": grid.dz,
        },
    )
    ds = ds.rio.write_crs(grid.crs).rio.write_transform(grid.plan.transform)
    ds = ds.rio.write_coordinate_system()
    ds[name].encoding["_FillValue"] = dtype.type(fill)
    return ds


@dataclass(frozen=True)
class VolumeStore:
    """A Zarr volume ensemble being written, realization by realization.

    Attributes
    ----------
    path : Path
        The store (a directory).
    name : str
        The data variable.
    n : int
        Number of realizations.
    """

    path: Path
    name: str
    n: int

    @classmethod
    def create(
        cls,
        path: str | Path,
        grid: Grid3D,
        n: int,
        *,
        name: str = "value",
        codes: Sequence[int] | None = None,
        attrs: Mapping[str, object] | None = None,
        var_attrs: Mapping[str, object] | None = None,
        overwrite: bool = False,
    ) -> VolumeStore:
        """Write an empty store (metadata, coordinates, nothing ``written``), Zarr format 2.

        Raises
        ------
        OutputExistsError
            ``path`` exists and ``overwrite`` is False, or it is not a Zarr store.
        """
        path = Path(path)
        dtype, fill = _storage(codes)
        shape = (n, *grid.shape)  # (n, nz, ny, nx)
        lazy = da.full(shape, fill, dtype=dtype, chunks=(1, *grid.shape))
        ds = volume_dataset(grid, lazy, name=name, codes=codes, attrs=attrs, var_attrs=var_attrs)
        ds[WRITTEN] = xr.Variable(
            REALIZATION,
            np.zeros(n, dtype=np.uint8),
            {
                "long_name": "1 once the realization is stored",
                "flag_values": [0, 1],
                "flag_meanings": "not_written written",
            },
        )
        ds[WRITTEN].encoding.update({"_FillValue": None, "chunks": (1,)})
        ds.attrs["complete"] = False
        _write_skeleton(path, ds, 2, overwrite)
        return cls(path, name, n)

    @classmethod
    def open_or_create(
        cls, path: str | Path, grid: Grid3D, n: int, *, overwrite: bool = False, **kwargs
    ) -> VolumeStore:
        """Resume an unfinished store of the same run (grid, n, variable, attrs), else create one.

        ``kwargs`` are those of :meth:`create`. With ``overwrite`` an existing store is
        always replaced.

        Raises
        ------
        OutputExistsError
            The store is complete, or was made by another run (the message says what differs).
        """
        path = Path(path)
        if overwrite or not path.exists():
            return cls.create(path, grid, n, overwrite=overwrite, **kwargs)
        fix = "Pass overwrite=True (--overwrite) to start again, or choose another output path."
        try:
            ds = open_volume(path, allow_incomplete=True)
            stored = stored_grid(ds)
        except (InputError, KeyError, ValueError) as exc:
            raise OutputExistsError(f"{path} cannot be resumed ({exc}). {fix}") from exc
        if ds.attrs.get("complete") is True and (path / ".zmetadata").is_file():
            raise OutputExistsError(f"{path} is a complete volume ensemble already. {fix}")
        name = kwargs.get("name", "value")
        reserved = ("complete", "Conventions", "z_top", "dz")
        expected = {
            "number of realizations": (ds.sizes[REALIZATION], n),
            "variable": (name in ds.data_vars, True),
            "grid": (stored.to_dict(), grid.to_dict()),
            "attributes": (
                {k: v for k, v in ds.attrs.items() if k not in reserved},
                _normalize_attrs(kwargs.get("attrs")),
            ),
        }
        differ = [k for k, (old, new) in expected.items() if old != new]
        if differ:
            raise OutputExistsError(
                f"{path} is an unfinished volume ensemble from a different run (its "
                f"{', '.join(differ)} differ). {fix}"
            )
        return cls(path, name, n)

    def missing(self) -> list[int]:
        """Indices of realizations not written yet, ascending."""
        return _missing(self.path)

    def write(self, start: int, data: np.ndarray) -> None:
        """Store realizations ``start .. start + k - 1`` (data ``(k, nz, ny, nx)``), then flag
        them; see :func:`geocgan.io.ensemble.write_region`."""
        write_region(self.path, start, data)

    def finalize(self) -> None:
        """Mark the store complete and consolidate its metadata (as the 2-D store does).

        Raises
        ------
        GeocganError
            If some realizations were never written.
        """
        EnsembleStore(self.path, self.name, self.n, zarr_format=2).finalize()


def write_volume_zarr(path: str | Path, grid: Grid3D, data: np.ndarray, **kwargs) -> Path:
    """Create a :class:`VolumeStore`, write all of ``data`` ``(n, nz, ny, nx)``, finalize it.

    ``kwargs`` are those of :meth:`VolumeStore.create` (name, codes, attrs, overwrite...).
    """
    store = VolumeStore.create(path, grid, len(data), **kwargs)
    store.write(0, data)
    store.finalize()
    return store.path


def open_volume(path: str | Path, allow_incomplete: bool = False) -> xr.Dataset:
    """Open a volume store lazily with its CRS decoded (``ds.rio.crs``) and z coordinate.

    Raises
    ------
    InputError
        Missing, not a geocgan volume store, or unfinished (unless ``allow_incomplete``).
    """
    path = Path(path)
    if not (path.exists() and _is_zarr_store(path)):
        raise InputError(f"{path} is not a Zarr store. Give the path of a geocgan volume store.")
    # raw values: facies stay uint8 (255 where unwritten), continuous values NaN where unwritten
    ds = xr.open_zarr(path, consolidated=False, decode_coords="all", mask_and_scale=False)
    if WRITTEN not in ds or not any(v.dims == DIMS for v in ds.data_vars.values()):
        raise InputError(
            f"{path} is not a geocgan volume store (expected a variable with dims {DIMS} and "
            f"a '{WRITTEN}' flag; found {list(ds.data_vars)})."
        )
    if ds.attrs.get("complete") is not True and not allow_incomplete:
        missing = np.flatnonzero(ds[WRITTEN].values == 0).tolist()
        raise InputError(
            f"{path} is unfinished: realizations {_listing(missing)} were not written. Rerun "
            "the command that made it, or pass allow_incomplete=True to read what is there."
        )
    return ds


def stored_grid(ds: xr.Dataset) -> Grid3D:
    """The :class:`Grid3D` of a volume dataset (from ``spatial_ref`` and ``z_top``/``dz``)."""
    from affine import Affine

    transform = Affine.from_gdal(*map(float, ds["spatial_ref"].attrs["GeoTransform"].split()))
    plan = Grid(ds.sizes["y"], ds.sizes["x"], transform, ds.rio.crs)
    return Grid3D(plan, float(ds.attrs["z_top"]), float(ds.attrs["dz"]), ds.sizes["z"])


def write_volume_netcdf(path: str | Path, ds: xr.Dataset, *, overwrite: bool = False) -> Path:
    """Write a volume dataset (e.g. from :func:`volume_dataset`) as NetCDF-4 (h5netcdf), atomically."""
    path = Path(path)
    _check_new_output(path, overwrite)
    ds = ds.drop_vars(WRITTEN, errors="ignore").copy()
    for obj in (ds, *ds.variables.values()):  # NetCDF has no boolean attributes: 0/1
        obj.attrs = {k: int(v) if isinstance(v, bool) else v for k, v in obj.attrs.items()}
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    return path


def write_vti(
    path: str | Path, grid: Grid3D, arrays: Mapping[str, np.ndarray], *, overwrite: bool = False
) -> Path:
    """One VTK image file (``.vti``, ParaView) with a cell array per entry of ``arrays``.

    Parameters
    ----------
    path : str or Path
        Output file, ending in ``.vti``.
    grid : Grid3D
        Axis-aligned plan grid.
    arrays : mapping of str to numpy.ndarray, each (nz, ny, nx)
        Cell data (a realization, a summary volume such as a facies probability).
    overwrite : bool, default False
        Replace an existing file.

    Raises
    ------
    InputError
        ``pyevtk`` is not installed (install the ``[3d]`` extra), or a bad path or shape.
    """
    try:
        from pyevtk.hl import imageToVTK
    except ImportError as exc:
        raise InputError(
            "Writing VTK files needs pyevtk: pip install 'geocgan[3d]' (or pip install pyevtk)."
        ) from exc
    path = Path(path)
    if path.suffix != ".vti":
        raise InputError(f"{path}: a VTK image file must end in .vti.")
    if not grid.plan.axis_aligned:
        raise GridError("VTK images need a north-up (axis-aligned) plan grid.")
    _check_new_output(path, overwrite)
    t = grid.plan.transform
    # VTK wants (x, y, z) order with increasing coordinates: flip rows and layers as needed
    cells = {}
    for key, arr in arrays.items():
        arr = np.asarray(arr)
        arr = arr.astype(np.uint8) if arr.dtype == bool else arr
        if arr.shape != grid.shape:
            raise InputError(f"Array {key!r} has shape {arr.shape}, expected {grid.shape}.")
        arr = arr[::-1]  # layers bottom up
        if t.e < 0:
            arr = arr[:, ::-1]  # rows south to north
        if t.a < 0:
            arr = arr[:, :, ::-1]
        dtype = arr.dtype if np.issubdtype(arr.dtype, np.integer) else np.float32
        cells[key] = np.ascontiguousarray(arr.transpose(2, 1, 0), dtype=dtype)  # (nx, ny, nz)
    xmin, ymin, _, _ = grid.plan.bounds
    with atomic_path(path) as tmp:
        written = imageToVTK(
            str(tmp.with_suffix("")),
            origin=(xmin, ymin, grid.bottom),
            spacing=(abs(t.a), abs(t.e), grid.dz),
            cellData=cells,
        )
        Path(written).replace(tmp)
    return path


def plot_slices(
    path: str | Path,
    grid: Grid3D,
    volume: np.ndarray,
    *,
    wells: Wells3D | None = None,
    at: tuple[int, int, int] | None = None,
    categorical: bool = False,
    title: str = "",
) -> Path:
    """PNG of three slices through a volume: plan at a layer, x-z at a row, y-z at a column.

    Well voxels on a slice are drawn as squares in their value's colour with a black edge;
    the plan view also marks every well's position with a cross.

    Parameters
    ----------
    path : str or Path
        Output PNG (written atomically, replaced if present).
    grid : Grid3D
        Axis-aligned plan grid.
    volume : numpy.ndarray, (nz, ny, nx)
        One realization or a summary volume.
    wells : Wells3D, optional
        Snapped samples to draw.
    at : (layer, row, col), optional
        Where to cut; default the middle of each axis.
    categorical : bool, default False
        Facies codes (discrete colours) rather than continuous values.
    title : str
        Figure title.
    """
    from geocgan.plots import _save, plt

    volume = np.asarray(volume, dtype=np.float64)  # (nz, ny, nx)
    nz, ny, nx = grid.shape
    layer, row, col = at if at is not None else (nz // 2, ny // 2, nx // 2)
    x, y, z = grid.plan.x, grid.plan.y, grid.z
    # panel: (image (v, h), horizontal coords h, vertical coords v, title, labels, well mask)
    panels = [
        (volume[layer], x, y, f"layer {layer} (z = {z[layer]:g})", ("x", "y"), "layers", layer),
        (volume[:, row], x, z, f"row {row} (y = {y[row]:g})", ("x", "z"), "rows", row),
        (volume[:, :, col], y, z, f"column {col} (x = {x[col]:g})", ("y", "z"), "cols", col),
    ]
    cmap = plt.get_cmap("tab10" if categorical else "viridis")
    finite = volume[np.isfinite(volume)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if categorical:
        vmin, vmax = -0.5, 9.5
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), constrained_layout=True)
    for ax, (img, h, v, label, names, index, at_index) in zip(axes, panels, strict=True):
        if h[0] > h[-1]:
            img, h = img[:, ::-1], h[::-1]  # h increasing to the right
        if v[0] < v[-1]:
            img, v = img[::-1], v[::-1]  # v decreasing down the image (origin upper)
        dh = abs(h[1] - h[0]) if len(h) > 1 else abs(grid.plan.transform.a)
        dv = abs(v[1] - v[0]) if len(v) > 1 else grid.dz
        box = (h[0] - dh / 2, h[-1] + dh / 2, v[-1] - dv / 2, v[0] + dv / 2)
        im = ax.imshow(
            img, extent=box, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest", aspect="auto"
        )
        ax.set(title=label, xlabel=names[0], ylabel=names[1])
        if wells is not None and len(wells):
            u, w = (getattr(wells, name) for name in names)
            if index == "layers":
                ax.plot(u, w, "x", color="k", markersize=4, alpha=0.5)
            on = getattr(wells, index) == at_index
            ax.scatter(
                u[on],
                w[on],
                c=wells.values[on],
                cmap=cmap,
                vmin=vmin,
                vmax=vmax,
                marker="s",
                edgecolors="k",
                s=36,
            )
    fig.colorbar(im, ax=axes, shrink=0.8)
    if title:
        fig.suptitle(title)
    return _save(fig, Path(path))


def read_training_volume(path: str | Path, *, variable: str | None = None) -> np.ndarray:
    """One 3-D training image ``(D, H, W)`` (layer 0 on top) from ``.npy``, NetCDF or Zarr.

    Parameters
    ----------
    path : str or Path
        ``.npy`` (loaded without pickle), ``.nc`` or ``.zarr``; a volume store of geocgan
        gives its realization 0.
    variable : str, optional
        The variable of a NetCDF/Zarr dataset; required when it holds several volumes.

    Raises
    ------
    InputError
        Missing file, unknown format, several variables and none chosen, not 3-D, NaNs.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"Training volume {path} does not exist. Check the path.")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise InputError(f"{path} is not a plain numeric .npy array ({exc}).") from None
    elif suffix in (".nc", ".zarr"):
        if suffix == ".zarr":
            ds = xr.open_zarr(path, consolidated=False, mask_and_scale=False)
        else:
            ds = xr.open_dataset(path)
        names = sorted(str(v) for v in ds.data_vars if ds[v].ndim >= 3)
        if variable is None and len(names) != 1:
            raise InputError(
                f"{path} holds the volumes {names}; choose one with variable=... (--variable)."
            )
        name = variable or names[0]
        if name not in ds:
            raise InputError(f"{path} has no variable {name!r}; it has {names}.")
        data = ds[name]
        arr = (data.isel({REALIZATION: 0}) if REALIZATION in data.dims else data).values
    else:
        raise InputError(
            f"Training volume {path}: unknown format {suffix!r}; use .npy, .nc or .zarr."
        )
    arr = np.asarray(arr).squeeze()
    if arr.ndim != 3:
        raise InputError(
            f"Training volume {path} must be 3-D (layers, rows, columns), got shape {arr.shape}."
        )
    if np.issubdtype(arr.dtype, np.floating) and np.isnan(arr).any():
        raise InputError(
            f"Training volume {path} has {int(np.isnan(arr).sum())} missing (NaN) voxels; crop "
            "it to a complete box."
        )
    return arr
