"""Training images: GeoTIFF, NetCDF or Zarr (through xarray), or ``.npy``, as 2-D arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geocgan.errors import InputError


def read_training_image(path: str | Path, *, variable: str | None = None) -> np.ndarray:
    """Read one 2-D training image ``(H, W)``.

    Parameters
    ----------
    path : str or Path
        ``.tif``/``.tiff`` (band 1, through rasterio), ``.nc`` (NetCDF), ``.zarr`` (a store),
        or ``.npy`` (loaded without pickle).
    variable : str, optional
        Variable of a NetCDF/Zarr dataset; required when it holds several.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"training image {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        import rasterio

        with rasterio.open(path) as src:
            arr = src.read(1, masked=True).astype(np.float64).filled(np.nan)  # integer rasters too
    elif suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError as err:
            raise InputError(f"{path} is not a plain numeric .npy array ({err})") from None
    elif suffix in (".nc", ".zarr"):
        import xarray as xr

        ds = xr.open_zarr(path, consolidated=None) if suffix == ".zarr" else xr.open_dataset(path)
        arr = ds[choose_variable(ds, path, variable)].squeeze().values
    else:
        raise InputError(
            f"training image {path}: unknown format {suffix!r}; use .tif, .nc, .zarr or .npy"
        )
    arr = np.asarray(arr).squeeze()
    if arr.ndim != 2:
        hint = (
            "; for a 3-D training volume train a 3-D model (geocgan train ... --set ndim=3)"
            if arr.ndim == 3
            else ""
        )
        raise InputError(f"training image {path} must be 2-D, got shape {arr.shape}{hint}")
    if np.isnan(arr).any():
        raise InputError(
            f"training image {path} has {int(np.isnan(arr).sum())} missing (NaN/nodata) pixels; "
            "crop it to a complete rectangle"
        )
    return arr


def choose_variable(ds, path, variable: str | None) -> str:
    """The variable of dataset ``ds`` (read from ``path``) to use: ``variable``, or its only
    variable of 2 or more dimensions; ``InputError`` naming the choices otherwise."""
    names = sorted(str(v) for v in ds.data_vars if ds[v].ndim >= 2)
    if variable is None and len(names) != 1:
        raise InputError(f"{path} holds variables {names}; choose one with --variable")
    name = variable or names[0]
    if name not in ds:
        raise InputError(f"{path} has no variable {name!r}; it has {names}")
    return name
