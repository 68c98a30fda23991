"""Facies volumes end to end: wells, soft map and proportion in; store, summaries, report out.

:func:`simulate_volume` generates ``n`` realizations of a 3-D facies model
(``PixelCGANConfig(ndim=3)``) on a :class:`~geocgan.io.grid3d.Grid3D`, conditioned on any of:
wells (:func:`~geocgan.io.wells3d.read_wells_3d`), a soft probability map ``(K, nz, ny, nx)``
and a target proportion (:mod:`geocgan.conditioning`). Realization ``i`` depends only on
``(seed, i)``. It writes into ``out/``:

* ``realizations.zarr``: the ensemble ``(realization, z, y, x)`` (:class:`VolumeStore`);
* ``summary.nc``: the probability of each facies per voxel (NetCDF, CF z and CRS);
* ``summary.vti``: realization 0 and the facies probabilities, for ParaView (``[3d]`` extra);
* ``slices.png``: realization 0 and the probability of the last facies, three slices each;
* ``honoring.json``: per well voxel, the share of realizations with the well's facies.

The store is marked complete last: rerunning a killed run (same grid, inputs, seed, ``n``
and provenance, e.g. the checkpoint) generates only the realizations it lacks, then writes the summaries again.

The grid's sides must be multiples of 16 (at least 32): volumes are not padded yet.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr
import zarr

from geocgan.conditioning import condition_maps
from geocgan.errors import GridError, InputError
from geocgan.files import atomic_path
from geocgan.io.grid3d import Grid3D
from geocgan.io.volume import (
    VolumeStore,
    open_volume,
    plot_slices,
    volume_dataset,
    write_volume_netcdf,
    write_vti,
)
from geocgan.io.wells3d import Wells3D, read_wells_3d
from geocgan.models import GANModel
from geocgan.simulate import generate_batches


def simulate_volume(
    model: GANModel,
    grid: Grid3D,
    out: str | Path,
    *,
    n: int,
    wells: Wells3D | None = None,
    soft: np.ndarray | None = None,
    proportion: float | Sequence[float] | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    overwrite: bool = False,
    progress: bool = False,
    provenance: dict | None = None,
) -> dict:
    """Generate and write a conditional facies ensemble on a 3-D grid.

    Parameters
    ----------
    model : GANModel
        A 3-D facies model (``config.ndim == 3``, categorical).
    grid : Grid3D
        The volume; sides multiples of 16, at least 32.
    out : str or Path
        Output directory (created; its parent must exist).
    n : int
        Number of realizations.
    wells : Wells3D, optional
        Snapped well samples (facies codes).
    soft : numpy.ndarray, (K, nz, ny, nx), optional
        Facies probabilities, bands in the order of the model's codes.
    proportion : float or sequence of float, optional
        Target proportion (a number: that of the last facies of a two-facies model).
    seed : int
        Realization ``i`` uses ``(seed, i)``.
    batch_size : int, optional
        Realizations per forward pass (default: the sampler's choice).
    overwrite : bool
        Replace existing outputs (else an unfinished store of the same run is resumed).
    progress : bool
        Show a progress bar.
    provenance : dict, optional
        More store attributes, e.g. the checkpoint's path; a resumed run must give the same.

    Returns
    -------
    dict
        What was written and the honoring summary.

    Raises
    ------
    InputError
        A 2-D or continuous model, a soft map or proportion it cannot take, wells that are
        not facies codes of the model.
    GridError
        A grid the nets cannot take.
    """
    config, spec = model.config, model.spec
    if getattr(config, "ndim", 2) != 3 or spec.kind != "categorical":
        raise InputError(
            "simulate_volume needs a 3-D facies model (PixelCGANConfig(ndim=3), categorical); "
            "train one with ndim=3 on facies volumes."
        )
    try:
        model.check_grid(*grid.shape)
    except GridError:
        nz, ny, nx = grid.shape
        layers = max(32, 16 * round(nz / 16))
        raise GridError(
            f"The volume is {nz} layers x {ny} rows x {nx} columns; 3-D models take sides that "
            "are multiples of 16, at least 32, and volumes are not padded yet. Choose --dz so "
            f"that ZMAX - ZMIN holds such a number of layers (e.g. --dz "
            f"{(grid.top - grid.bottom) / layers:g} for {layers}) and a plan grid (--grid, "
            "--bounds/--res) of such rows and columns."
        ) from None
    if wells is not None:
        unknown = sorted(set(np.asarray(wells.values).tolist()) - set(spec.codes))
        if not wells.categorical or unknown:
            raise InputError(
                f"wells from {wells.source} must be facies codes of the model {spec.codes}; "
                f"found {unknown or 'continuous values'}. Read them with categorical=True and "
                "recode them."
            )
    cond = condition_maps(
        spec,
        grid.shape,
        soft=bool(getattr(config, "soft", False)),
        proportion=bool(getattr(config, "proportion", False)),
        constraints=None if wells is None else wells.constraints(grid),
        soft_map=soft,
        target=proportion,
        trained_range=getattr(config, "proportion_range", ()),
    )  # (1, C, nz, ny, nx)
    out = Path(out)
    if not out.parent.is_dir():
        raise InputError(f"Output directory {out.parent} does not exist. Create it first.")
    out.mkdir(exist_ok=True)
    attrs = {
        "model": model.name,
        "seed": seed,
        "wells": "" if wells is None else str(wells.source),
        "soft_map": soft is not None,
        "proportion": [] if proportion is None else list(np.atleast_1d(proportion)),
        **(provenance or {}),
    }
    store = VolumeStore.open_or_create(  # a killed run's store is resumed
        out / "realizations.zarr",
        grid,
        n,
        name="facies",
        codes=spec.codes,
        attrs=attrs,
        overwrite=overwrite,
    )
    todo = store.missing()
    overwrite = overwrite or len(todo) < n  # a resumed run rewrites the summaries
    for idx, fields in generate_batches(
        model, cond, todo, seed=seed, batch_size=batch_size, progress=progress
    ):
        for i, field in zip(idx, fields, strict=True):  # (nz, ny, nx); todo has gaps
            store.write(int(i), field[None])
    facies = zarr.open_group(store.path, mode="r")["facies"]  # (n, nz, ny, nx) uint8
    counts = np.zeros((len(spec.codes), *grid.shape), dtype=np.int64)  # (K, nz, ny, nx)
    for i in range(n):
        field = facies[i]  # (nz, ny, nx)
        for k, code in enumerate(spec.codes):
            counts[k] += field == code
    first = facies[0]  # (nz, ny, nx)
    prob = counts / n  # (K, nz, ny, nx)
    summary = volume_dataset(grid, prob, name="probability", attrs=attrs)  # facies as 1st dim
    summary = summary.rename({"realization": "facies"}).assign_coords(facies=spec.codes)
    summary["facies"].attrs = {"long_name": "facies code"}
    summary["probability"].attrs["long_name"] = f"share of the {n} realizations with the facies"
    write_volume_netcdf(out / "summary.nc", summary, overwrite=overwrite)
    arrays = {"facies_0": first, **{f"p_{c}": prob[k] for k, c in enumerate(spec.codes)}}
    written = ["realizations.zarr", "summary.nc"]
    try:
        write_vti(out / "summary.vti", grid, arrays, overwrite=overwrite)
        written.append("summary.vti")
    except InputError as exc:  # pyevtk missing: the rest stands
        if "pyevtk" not in str(exc):
            raise
    at = None
    if wells is not None and len(wells):
        at = (grid.nz // 2, int(wells.rows[0]), int(wells.cols[0]))
    for name, volume, categorical in (
        ("slices.png", first, True),
        ("slices_probability.png", prob[-1], False),
    ):
        plot_slices(out / name, grid, volume, wells=wells, at=at, categorical=categorical)
        written.append(name)
    report = honoring_report(out / "realizations.zarr", wells, allow_incomplete=True)
    with atomic_path(out / "honoring.json") as tmp:
        tmp.write_text(json.dumps(report, indent=1) + "\n")
    written.append("honoring.json")
    store.finalize()  # last: until here a rerun resumes
    return {
        "out": str(out),
        "written": written,
        "n": n,
        "resumed_from": n - len(todo),
        "honoring": report["honoring"],
    }


def honoring_report(
    store: str | Path, wells: Wells3D | None, *, allow_incomplete: bool = False
) -> dict:
    """Per well voxel the share of realizations holding the well's facies, and overall.

    ``allow_incomplete``: read a store not finalized yet (see :func:`open_volume`).
    """
    if wells is None or not len(wells):
        return {"honoring": None, "wells": []}
    facies = open_volume(store, allow_incomplete=allow_incomplete)["facies"]  # lazy, by chunk
    where = {"z": wells.layers, "y": wells.rows, "x": wells.cols}  # each (m,)
    voxels = {d: xr.DataArray(i, dims="well") for d, i in where.items()}
    at = facies.isel(voxels).values  # (n, m): one realization in memory at a time
    hit = (at == wells.values[None]).mean(0)  # (m,)
    entries = [
        {
            "id": str(wells.ids[i]),
            "layer": int(wells.layers[i]),
            "row": int(wells.rows[i]),
            "col": int(wells.cols[i]),
            "z": float(wells.z[i]),
            "facies": int(wells.values[i]),
            "share_honored": float(hit[i]),
        }
        for i in range(len(wells))
    ]
    return {"honoring": float(hit.mean()), "wells": entries}


def read_soft_map(
    path: str | Path, *, variable: str | None = None, grid: Grid3D | None = None
) -> np.ndarray:
    """A soft probability map ``(K, nz, ny, nx)`` from ``.npy``, NetCDF or Zarr.

    NetCDF/Zarr: a variable with a leading facies dimension (e.g. the ``probability`` of a
    ``summary.nc``), or one ``(nz, ny, nx)`` variable per facies named ``p_<code>`` (taken in
    the order of their codes). With ``grid``, the ``z``, ``y`` and ``x`` coordinates a
    NetCDF/Zarr map has are checked against the grid's, and an axis stored the other way
    round (z up, y north) is flipped; a ``.npy`` is taken in the grid's order (layer 0 on top,
    row 0 north). The bands are checked against the model by
    :func:`geocgan.conditioning.check_soft`.
    """
    path = Path(path)
    if path.suffix.lower() == ".npy":
        if not path.is_file():
            raise InputError(f"Soft map {path} does not exist. Check the path.")
        soft = np.load(path, allow_pickle=False)
    else:
        if not path.exists():
            raise InputError(f"Soft map {path} does not exist. Check the path.")
        if path.suffix.lower() == ".zarr":
            ds = xr.open_zarr(path, consolidated=False)
        else:
            ds = xr.open_dataset(path)
        bands = [str(v) for v in ds.data_vars if str(v).startswith("p_")]
        bands.sort(key=lambda b: (0, int(b[2:]), b) if b[2:].isdigit() else (1, 0, b))
        if variable is None and "probability" in ds:
            variable = "probability"
        if variable is not None:
            soft = _on_grid(ds[variable], grid, path)
        elif bands:
            soft = np.stack([_on_grid(ds[b], grid, path) for b in bands])
        else:
            raise InputError(
                f"Soft map {path}: no 'probability' variable and no p_<code> bands "
                f"(found {list(ds.data_vars)}); name the variable with variable=... ."
            )
    soft = np.asarray(soft, dtype=np.float64)
    if soft.ndim != 4:
        raise InputError(f"Soft map {path} must be (facies, nz, ny, nx), got shape {soft.shape}.")
    return soft


def _on_grid(da, grid: Grid3D | None, path: Path) -> np.ndarray:
    """The values of a DataArray with its z, y, x axes in the grid's order and direction."""
    if grid is None:
        return da.values
    spacing = {"z": grid.dz, "y": abs(grid.plan.transform.e), "x": abs(grid.plan.transform.a)}
    for axis, ref in (("z", grid.z), ("y", grid.plan.y), ("x", grid.plan.x)):
        if axis not in da.coords or da[axis].ndim != 1:
            continue
        have = np.asarray(da[axis].values, dtype=np.float64)
        tol = 1e-3 * spacing[axis]
        same, flipped = (
            a.shape == ref.shape and np.allclose(a, ref, rtol=0, atol=tol)
            for a in (have, have[::-1])
        )
        if flipped and not same:
            da = da.isel({axis: slice(None, None, -1)})
        elif not same:
            raise InputError(
                f"Soft map {path}: its {axis} coordinates ({have.size} from {have[0]:g} to "
                f"{have[-1]:g}) are not the grid's ({ref.size} from {ref[0]:g} to {ref[-1]:g}, "
                "cell centres). Resample the map onto the grid of --grid/--bounds, --z-bounds "
                "and --dz."
            )
    dims = [d for d in da.dims if d not in ("z", "y", "x")]
    if {"z", "y", "x"} <= set(da.dims):
        da = da.transpose(*dims, "z", "y", "x")
    return da.values


def run_volume_simulation(
    wells_path: str | Path | None,
    checkpoint: str | Path,
    out: str | Path,
    grid: Grid3D,
    *,
    n: int,
    seed: int = 0,
    columns: dict | None = None,
    wells_crs: object = None,
    drop_outside: bool = False,
    soft_path: str | Path | None = None,
    proportion: float | Sequence[float] | None = None,
    batch_size: int | None = None,
    device: str = "auto",
    overwrite: bool = False,
    progress: bool = False,
) -> dict:
    """What ``geocgan simulate`` does for a 3-D grid: read, load, :func:`simulate_volume`.

    ``columns`` are :func:`read_wells_3d`'s column keywords (value, x, y, z, depth, datum, md,
    trajectory, well_id).
    """
    from geocgan.checkpoint import load_model
    from geocgan.devices import resolve_device

    model, _ = load_model(checkpoint, device=resolve_device(device))
    wells = None
    if wells_path is not None:
        wells = read_wells_3d(
            wells_path,
            grid,
            **(columns or {}),
            crs=wells_crs,
            categorical=True,
            codes=model.spec.codes or None,
            drop_outside=drop_outside,
        )
    soft = None if soft_path is None else read_soft_map(soft_path, grid=grid)
    summary = simulate_volume(
        model,
        grid,
        out,
        n=n,
        wells=wells,
        soft=soft,
        proportion=proportion,
        seed=seed,
        batch_size=batch_size,
        overwrite=overwrite,
        progress=progress,
        provenance={"checkpoint": str(checkpoint)},
    )
    return {**summary, "n_wells": 0 if wells is None else len(wells), "grid": grid.to_dict()}
