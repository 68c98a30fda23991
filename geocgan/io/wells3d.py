"""Read 3-D well data and snap every log sample to a voxel of a :class:`Grid3D`.

A well file has one row per log sample, located in one of three ways:

* **elevation** (``z=``, ``--z-column``): ``x``, ``y`` and the sample's elevation, positive up,
  in the grid's vertical units. GeoJSON Points may carry it as their third coordinate.
* **depth below a datum** (``depth=``, ``--depth-column``; vertical wells): ``x``, ``y`` and a
  depth, positive down; elevation ``z = datum - depth`` (``datum=``, ``--datum``).
* **measured depth along a trajectory** (``md=``, ``--md-column``, with ``trajectory=``,
  ``--trajectory``; deviated wells): the well id and the measured depth of each sample; the
  trajectory file lists stations per well in increasing md, either as positions
  ``well_id, md, x, y, z`` (elevation), between which a sample is placed **linearly in md**,
  or as a deviation survey ``well_id, md, inc, azi`` (inclination from vertical, azimuth
  clockwise from grid north, degrees) with the tie-in ``x, y, z`` on each well's first
  station, followed by **minimum curvature** (:func:`minimum_curvature`) in the wells' CRS,
  which must then be projected, in the units of md.

Plan coordinates follow the 2-D rules of :mod:`geocgan.io.wells` (``crs=`` / ``--wells-crs``,
GeoJSON ``"crs"`` member, reprojection with pyproj); elevations and depths are taken in the
grid's vertical units and are not converted. Several samples in one voxel are combined as in
2-D (mean, or majority code) by :func:`geocgan.io.wells._aggregate`, layer by layer.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geocgan.constraints import Constraints
from geocgan.errors import ConstraintError, InputError
from geocgan.io.grid3d import Grid3D
from geocgan.io.wells import (
    _CSV_SUFFIXES,
    _GEOJSON_SUFFIXES,
    Wells,
    _aggregate,
    _check_codes,
    _likely_fix,
    _listing,
    _numbers,
    _read_csv,
    _read_geojson,
    _source_crs,
    _Table,
    _to_grid_crs,
)

# Python keyword -> command-line option, for the messages.
OPTIONS = {
    "x": "--x-column",
    "y": "--y-column",
    "z": "--z-column",
    "depth": "--depth-column",
    "md": "--md-column",
    "value": "--value-column",
    "well_id": "--id-column",
    "datum": "--datum",
    "trajectory": "--trajectory",
}


@dataclass(kw_only=True)
class Wells3D(Wells):
    """Well samples snapped to voxels, one entry per occupied voxel.

    The attributes of :class:`~geocgan.io.wells.Wells` (``x``, ``y``, ``rows``, ``cols``,
    ``values``, ``members``, ``report``... one entry per voxel; ``report`` records also give
    the ``layer``), plus:

    Attributes
    ----------
    z : numpy.ndarray of float64, (m,)
        Mean elevation of the entry's samples (positive up).
    layers : numpy.ndarray of int64, (m,)
        Layer index of each entry (layer 0 on top).
    """

    z: np.ndarray
    layers: np.ndarray

    def constraints(self, grid: Grid3D) -> Constraints:
        """Value and mask rasters ``(nz, height, width)`` of the snapped samples."""
        values = np.full(grid.shape, np.nan)  # (D, H, W)
        mask = np.zeros(grid.shape, dtype=bool)  # (D, H, W)
        values[self.layers, self.rows, self.cols] = self.values
        mask[self.layers, self.rows, self.cols] = True
        return Constraints(values, mask)

    def to_dict(self) -> dict:
        """JSON-ready summary (plain Python types, no NaN); each entry also has z and layer."""
        out = super().to_dict()
        out["n_voxels"] = out.pop("n_pixels")
        for entry, z, layer in zip(out["wells"], self.z, self.layers, strict=True):
            entry.update(z=float(z), layer=int(layer))
        return out


def read_wells_3d(
    path: str | Path,
    grid: Grid3D,
    *,
    value: str = "value",
    x: str = "x",
    y: str = "y",
    z: str | None = None,
    depth: str | None = None,
    datum: float = 0.0,
    md: str | None = None,
    trajectory: str | Path | None = None,
    well_id: str = "well_id",
    crs: object = None,
    categorical: bool = False,
    codes: Sequence[int] | None = None,
    drop_outside: bool = False,
) -> Wells3D:
    """Read 3-D well samples from CSV or GeoJSON and snap them to the voxels of ``grid``.

    Parameters
    ----------
    path : str or Path
        ``.csv``/``.txt``/``.tsv`` or ``.geojson``/``.json`` (Points; not with ``md``).
    grid : Grid3D
        The target volume.
    value : str, default "value"
        Column/property with the measured value or facies code.
    x, y : str, default "x", "y"
        Plan coordinate columns (CSV; GeoJSON uses the geometry), also those of the
        trajectory file.
    z : str, optional
        Elevation column/property (positive up). The default when neither ``depth`` nor
        ``md`` is given: "z", or a GeoJSON Point's third coordinate.
    depth : str, optional
        Depth column (positive down below ``datum``) of vertical wells.
    datum : float, default 0.0
        Elevation of depth 0 (``depth`` only).
    md : str, optional
        Measured-depth column; needs ``trajectory``. The samples need no x/y.
    trajectory : str or Path, optional
        CSV of stations with columns ``well_id``, ``md``, ``x``, ``y`` and ``z`` (elevation),
        named as for the well file (``z`` defaults to "z"); in the wells' CRS.
    well_id : str, default "well_id"
        Well id column/property (required with ``md``).
    crs : object, optional
        CRS of the plan coordinates (see :func:`geocgan.io.wells.read_wells`).
    categorical : bool, default False
        Values are integer facies codes.
    codes : sequence of int, optional
        Facies codes the model knows (categorical only).
    drop_outside : bool, default False
        Leave out samples outside the volume (listed in ``dropped``) instead of failing.

    Returns
    -------
    Wells3D

    Raises
    ------
    InputError
        Missing file or column, non-numeric cells, several or no vertical modes, negative
        depths (a depth column holding elevations), md outside a well's stations.
    ConstraintError
        Samples above the top, below the base or outside the grid in plan (and a trajectory
        leaving the grid); unknown facies codes.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Well file {path} does not exist. Check the path.")
    mode = _vertical_mode(path, z, depth, md, trajectory)
    suffix = path.suffix.lower()
    if suffix in _GEOJSON_SUFFIXES and mode == "md":
        raise InputError(
            f"Well file {path}: md=... ({OPTIONS['md']}) reads samples along a trajectory from "
            "CSV only. Save the samples as CSV with columns well_id, md and value."
        )
    if suffix not in _CSV_SUFFIXES | _GEOJSON_SUFFIXES:
        raise InputError(
            f"Well file {path}: unknown format {suffix!r}. Give a .csv or .geojson file."
        )
    zname = {"z": z or "z", "depth": depth, "md": md}[mode]
    if suffix in _CSV_SUFFIXES:
        needed = {"value": value, mode: zname}
        needed.update({"well_id": well_id} if mode == "md" else {"x": x, "y": y})
        _require_columns(path, needed)
        table, third = _csv_table(path, value, x, y, zname, well_id, plan=mode != "md")
    else:
        table = _read_geojson(path, value=value, well_id=well_id)
        third = _geojson_third(path, zname, point_z=mode == "z")
    if not table.where:
        raise InputError(f"Well file {path} holds no wells. Add at least one data row.")
    vals = _numbers(table, table.value, path, what=f"value ({value!r})")  # (n,)
    if categorical:
        vals = _check_codes(table, vals, path, codes)
    elif codes is not None:
        raise InputError("`codes` only applies to categorical wells; pass categorical=True.")
    height = _numbers(table, third, path, what=f"{mode} ({zname!r})")  # (n,)

    source_crs = _source_crs(table, path, crs, grid.plan, is_csv=suffix in _CSV_SUFFIXES)
    if mode == "md":
        if source_crs.is_geographic and all(c in _header(Path(trajectory)) for c in SURVEY):
            raise InputError(
                f"Trajectory file {trajectory} is a deviation survey (inc, azi) but its "
                f"coordinates are read as {source_crs.to_string()}, in degrees: minimum "
                "curvature needs a projected CRS in the units of md. Give the tie-in points in "
                "one (and its CRS with --wells-crs)."
            )
        xs, ys, zs = _along_trajectories(
            table, height, path, Path(trajectory), (x, y, z or "z", md, well_id)
        )
    else:
        xs = _numbers(table, table.x, path, what=f"x coordinate ({x!r})")  # (n,)
        ys = _numbers(table, table.y, path, what=f"y coordinate ({y!r})")  # (n,)
        if mode == "depth":
            zs = _depths_to_elevations(table, height, grid, path, depth, datum)
        else:
            zs = height
    gx, gy = _to_grid_crs(table, xs, ys, source_crs, grid.plan, path)  # (n,), (n,)
    rows, cols = grid.plan.rowcol(gx, gy)  # (n,), (n,)
    layers = grid.layer(zs)  # (n,)
    where = _placement(grid, layers, rows, cols)  # (n,) "" inside, else the reason
    dropped = []
    if any(where):
        if not drop_outside or all(where):
            raise _outside_error(table, where, (xs, ys, zs), source_crs, grid, path, mode)
        dropped = [
            {
                "well_id": table.ids[i],
                "where": table.where[i],
                "x": float(xs[i]),
                "y": float(ys[i]),
                "z": float(zs[i]),
                "reason": reason,
            }
            for i, reason in enumerate(where)
            if reason
        ]
    inside = np.array([not reason for reason in where])  # (n,)
    return Wells3D(
        **_aggregate_voxels(table, inside, gx, gy, zs, layers, rows, cols, vals, categorical, path),
        source=path,
        crs=grid.crs,
        source_crs=source_crs,
        categorical=categorical,
        dropped=dropped,
    )


def _vertical_mode(
    path: Path, z: str | None, depth: str | None, md: str | None, trajectory: object
) -> str:
    """Which of "z", "depth", "md" locates the samples vertically; refuse ambiguous input."""
    given = [name for name, column in (("z", z), ("depth", depth), ("md", md)) if column]
    if len(given) > 1:
        raise InputError(
            f"Well file {path}: give one vertical column, not "
            f"{' and '.join(f'{g}=... ({OPTIONS[g]})' for g in given)}: elevations (z), depths "
            "below a datum (depth) or measured depths along a trajectory (md)."
        )
    mode = given[0] if given else "z"
    if (mode == "md") != (trajectory is not None):
        raise InputError(
            f"Well file {path}: measured depths (md=..., {OPTIONS['md']}) and a trajectory "
            f"file ({OPTIONS['trajectory']}) go together; give both or neither."
        )
    if trajectory is not None and not Path(trajectory).is_file():
        raise InputError(f"Trajectory file {trajectory} does not exist. Check the path.")
    return mode


def _header(path: Path) -> list[str]:
    """Column names of a CSV (separator sniffed as the 2-D reader does); [] if unreadable."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            header = f.readline()
    except (OSError, UnicodeDecodeError):
        return []
    sep = max([",", ";", "\t"], key=header.count)
    return [c.strip() for c in header.rstrip("\r\n").split(sep)]


def _require_columns(path: Path, needed: dict[str, str]) -> None:
    """Refuse a CSV lacking a needed column (role -> name), naming the option that sets it."""
    found = _header(path)
    if not found:
        return  # unreadable or empty: the 2-D reader says why
    for role, name in needed.items():
        if name not in found:
            lowered = {c.lower(): c for c in found}
            hint = f" Did you mean {lowered[name.lower()]!r}?" if name.lower() in lowered else ""
            raise InputError(
                f"{path}: no column {name!r} for {role}. Columns found: "
                f"{', '.join(map(repr, found))}.{hint} Name the column with {role}=... "
                f"(command line: {OPTIONS[role]})."
            )


def _csv_table(
    path: Path, value: str, x: str, y: str, third: str, well_id: str, *, plan: bool
) -> tuple[_Table, list[object]]:
    """The 2-D reader's table of a CSV, plus the cells of the vertical column ``third``.

    ``plan=False`` (samples located by md) reads no x/y columns.
    """
    if plan:
        table = _read_csv(path, value=value, x=x, y=y, well_id=well_id, depth=None)
    else:  # x and y slots hold the md column: the samples have no plan coordinates
        table = _read_csv(path, value=value, x=third, y=third, well_id=well_id, depth=None)
    extra = _read_csv(path, value=value, x=third, y=third, well_id=well_id, depth=third)
    return table, extra.depth


def _geojson_third(path: Path, name: str, *, point_z: bool) -> list[object]:
    """Per feature: property ``name``, else (elevations) the Point's third coordinate."""
    features = json.loads(path.read_text(encoding="utf-8-sig")).get("features") or []
    cells = []
    for feat in features:
        props = feat.get("properties") or {}
        coords = (feat.get("geometry") or {}).get("coordinates") or []
        if name in props:
            cells.append(props[name])
        elif point_z and len(coords) > 2:
            cells.append(coords[2])
        else:
            cells.append(None)
    if all(c is None for c in cells):
        raise InputError(
            f"Well file {path}: no property {name!r} and no third Point coordinate for the "
            f"samples' vertical position. Add it, or name the property with z=... / depth=... "
            f"({OPTIONS['z']} / {OPTIONS['depth']})."
        )
    return cells


def _depths_to_elevations(
    table: _Table, depths: np.ndarray, grid: Grid3D, path: Path, column: str, datum: float
) -> np.ndarray:
    """``datum - depth`` (n,); refuse negative depths, the sign of a column of elevations."""
    if not np.isfinite(datum):
        raise InputError(
            f"Well file {path}: datum={datum!r} ({OPTIONS['datum']}) is not a finite number. "
            "Give the elevation of depth 0 in the grid's vertical units."
        )
    negative = np.flatnonzero(depths < 0)
    if negative.size:
        as_elevation = np.mean((depths >= grid.bottom) & (depths <= grid.top))
        hint = (
            f" Read as elevations, {as_elevation:.0%} of the column would lie inside the grid "
            f"(z {grid.bottom:g} to {grid.top:g}):"
            if as_elevation > 0.5
            else ""
        )
        raise InputError(
            f"Well file {path}: column {column!r} ({OPTIONS['depth']}) holds negative depths at "
            f"{_listing([f'{table.label(i)}: {depths[i]:g}' for i in negative])}; depths are "
            f"positive down below the datum ({datum:g}).{hint} if the column holds "
            f"elevations, pass it as z={column!r} ({OPTIONS['z']} {column}) instead."
        )
    return datum - depths


SURVEY = ("inc", "azi")  # trajectory columns of a deviation survey: minimum curvature


def _along_trajectories(
    samples: _Table,
    md: np.ndarray,
    source: Path,
    path: Path,
    columns: tuple[str, str, str, str, str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions (x, y, z), each (n,), of samples at measured depths ``md`` along their wells.

    ``source`` is the well file, ``path`` the trajectory file, ``columns`` the names of its
    x, y, z, md and well id columns. Stations with positions: linear in md between the two
    stations around each sample. A deviation survey (columns ``inc``, ``azi``): minimum
    curvature from each well's first station, whose x, y, z is the tie-in point (the other
    stations' may be empty).
    """
    x, y, z, md_column, well_id = columns
    survey = all(c in _header(path) for c in SURVEY)
    _require_columns(path, {"well_id": well_id, "md": md_column, "x": x, "y": y, "z": z})
    stations, z_cells = _csv_table(path, md_column, x, y, z, well_id, plan=True)
    smd = _numbers(stations, stations.value, path, what=f"md ({md_column!r})")  # (s,)
    station_ids = np.array(stations.ids)
    firsts = [int(np.flatnonzero(station_ids == w)[0]) for w in dict.fromkeys(stations.ids)]
    if survey:
        inc_table, azi_cells = _csv_table(path, SURVEY[0], x, y, SURVEY[1], well_id, plan=True)
        inc = _numbers(stations, inc_table.value, path, what="inclination ('inc', degrees)")
        azi = _numbers(stations, azi_cells, path, what="azimuth ('azi', degrees)")
        tie = _Table(  # the tie-in rows only: errors name their lines
            [stations.where[i] for i in firsts],
            [stations.ids[i] for i in firsts],
            [stations.x[i] for i in firsts],
            [stations.y[i] for i in firsts],
            [z_cells[i] for i in firsts],
        )
        start = np.full((len(stations.ids), 3), np.nan)  # (s, 3) tie-in at each first station
        start[firsts] = np.column_stack(
            [_numbers(tie, cells, path, what=f"tie-in {name}") for cells, name in
             ((tie.x, f"x ({x!r})"), (tie.y, f"y ({y!r})"), (tie.value, f"z ({z!r})"))]
        )  # fmt: skip
    else:
        xyz = np.column_stack(
            [
                _numbers(stations, stations.x, path, what=f"x coordinate ({x!r})"),
                _numbers(stations, stations.y, path, what=f"y coordinate ({y!r})"),
                _numbers(stations, z_cells, path, what=f"z elevation ({z!r})"),
            ]
        )  # (s, 3)
    out = np.empty((len(md), 3))  # (n, 3): x, y, z
    for well in dict.fromkeys(samples.ids):
        rows = [i for i, w in enumerate(samples.ids) if w == well]
        own = np.flatnonzero(station_ids == well)  # this well's stations, in file order
        if own.size < 2:
            raise InputError(
                f"Trajectory file {path} has {own.size} station(s) for well {well!r} "
                f"(samples at {_listing([samples.where[i] for i in rows])}); a trajectory needs "
                "at least two stations. Add them, or check the well ids."
            )
        if np.any(np.diff(smd[own]) <= 0):
            raise InputError(
                f"Trajectory file {path}: the stations of well {well!r} "
                f"({_listing([stations.where[i] for i in own])}) are not in strictly "
                "increasing md. Sort them by md and remove repeated stations."
            )
        lo, hi = smd[own[0]], smd[own[-1]]
        beyond = [i for i in rows if not lo <= md[i] <= hi]
        if beyond:
            listed = _listing([f"{samples.where[i]}: md {md[i]:g}" for i in beyond])
            raise InputError(
                f"Well file {source}: well {well!r} has samples at md outside its trajectory's "
                f"stations (md {lo:g} to {hi:g} in {path}): {listed}. Extend the trajectory "
                "to cover them, or remove these samples."
            )
        if survey:
            out[rows] = minimum_curvature(smd[own], inc[own], azi[own], start[own[0]], md[rows])
        else:
            for axis in range(3):
                out[rows, axis] = np.interp(md[rows], smd[own], xyz[own, axis])
    return out[:, 0], out[:, 1], out[:, 2]


def minimum_curvature(
    md: np.ndarray, inc: np.ndarray, azi: np.ndarray, start: np.ndarray, at: np.ndarray
) -> np.ndarray:
    """Positions ``(q, 3)`` (x, y, z up) at measured depths ``at`` along a deviation survey.

    Minimum curvature: between two stations the path is the circular arc tangent to both
    stations' directions (ratio factor ``2 / β · tan(β / 2)`` for a dogleg ``β``); a point
    inside an interval lies on that arc, its direction turned by the share of ``β`` its md
    covers. Directions: inclination ``inc`` degrees from vertical (0: straight down),
    azimuth ``azi`` degrees clockwise from grid north (+y).

    Parameters
    ----------
    md, inc, azi : numpy.ndarray, (s,)
        Stations, md strictly increasing.
    start : numpy.ndarray, (3,)
        Position of the first station.
    at : numpy.ndarray, (q,)
        Measured depths within ``[md[0], md[-1]]``.
    """
    i, a = np.radians(inc), np.radians(azi)
    t = np.column_stack([np.sin(i) * np.sin(a), np.sin(i) * np.cos(a), -np.cos(i)])  # (s, 3)

    def step(t1: np.ndarray, t2: np.ndarray, length: np.ndarray) -> np.ndarray:
        """Displacements ``(k, 3)`` along arcs from directions t1 to t2 (each (k, 3))."""
        beta = np.arccos(np.clip(np.sum(t1 * t2, axis=1), -1.0, 1.0))  # (k,)
        small = beta < 1e-9
        ratio = np.where(small, 1.0, 2.0 / np.where(small, 1.0, beta) * np.tan(beta / 2))
        return (length * ratio / 2)[:, None] * (t1 + t2)

    positions = start + np.concatenate(
        [np.zeros((1, 3)), np.cumsum(step(t[:-1], t[1:], np.diff(md)), axis=0)]
    )  # (s, 3) station positions
    k = np.clip(np.searchsorted(md, at, side="right") - 1, 0, len(md) - 2)  # (q,) interval
    t1, t2 = t[k], t[k + 1]  # (q, 3)
    f = (at - md[k]) / (md[k + 1] - md[k])  # (q,) share of the interval's md
    beta = np.arccos(np.clip(np.sum(t1 * t2, axis=1), -1.0, 1.0))  # (q,)
    sin_b = np.sin(beta)
    straight = sin_b < 1e-9
    w1 = np.where(straight, 1 - f, np.sin((1 - f) * beta) / np.where(straight, 1.0, sin_b))
    w2 = np.where(straight, f, np.sin(f * beta) / np.where(straight, 1.0, sin_b))
    tm = w1[:, None] * t1 + w2[:, None] * t2  # (q, 3) direction at the point (slerp)
    return positions[k] + step(t1, tm, at - md[k])


def _placement(grid: Grid3D, layers: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> list[str]:
    """Per sample (n,): "" inside the volume, else "above the top" / "below the base" /
    "outside the grid in plan"."""
    in_plan = grid.plan.contains(rows, cols)  # (n,)
    reasons = []
    for layer, inside in zip(layers.tolist(), in_plan.tolist(), strict=True):
        if not inside:
            reasons.append("outside the grid in plan")
        elif layer < 0:
            reasons.append("above the top")
        elif layer >= grid.nz:
            reasons.append("below the base")
        else:
            reasons.append("")
    return reasons


_FIXES = {
    "above the top": "check the z column or the datum (--datum), or raise ZMAX of --z-bounds",
    "below the base": "check the z column or the datum (--datum), or lower ZMIN of --z-bounds",
    "outside the grid in plan": (
        "check the wells' CRS (crs=..., --wells-crs) or enlarge the plan grid"
    ),
}


def _outside_error(
    table: _Table,
    where: list[str],
    xyz: tuple[np.ndarray, np.ndarray, np.ndarray],
    source_crs: object,
    grid: Grid3D,
    path: Path,
    mode: str,
) -> ConstraintError:
    """One error listing the samples outside the volume, grouped by reason, with the fixes.

    ``xyz``: the samples' (n,) coordinates in ``source_crs``; for those outside in plan the
    2-D reader's diagnosis of a usual CRS slip (lon/lat, swapped axes, UTM zone) is the fix.
    """
    xs, ys, zs = xyz
    xmin, ymin, xmax, ymax = grid.plan.bounds
    parts = []
    for reason, fix in _FIXES.items():
        if mode == "md" and reason != "outside the grid in plan":
            fix = "check the trajectory's z (elevation, positive up) and the samples' md"
        hit = [i for i, r in enumerate(where) if r == reason]
        if hit and reason == "outside the grid in plan":
            slip = _likely_fix(xs[hit], ys[hit], source_crs, grid.plan)
            fix = slip.rstrip(".") if slip else fix
        if hit:
            listed = _listing(
                [f"{table.label(i)} at x={xs[i]:.10g}, y={ys[i]:.10g}, z={zs[i]:.10g}" for i in hit]
            )
            parts.append(f"{len(hit)} sample(s) {reason}: {listed} ({fix})")
    kind = "a trajectory leaves the grid: " if mode == "md" else ""
    n_out = sum(1 for r in where if r)
    tail = (
        " Pass drop_outside=True (--drop-outside) to leave them out." if n_out < len(where) else ""
    )
    return ConstraintError(
        f"Well file {path}: {kind}{n_out} of {len(where)} sample(s) lie outside the volume (x "
        f"{xmin:.10g} to {xmax:.10g}, y {ymin:.10g} to {ymax:.10g}, z {grid.bottom:.10g} to "
        f"{grid.top:.10g} positive up, {grid.crs.to_string()}). {'; '.join(parts)}.{tail}"
    )


def _aggregate_voxels(
    table: _Table,
    inside: np.ndarray,
    gx: np.ndarray,
    gy: np.ndarray,
    zs: np.ndarray,
    layers: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    vals: np.ndarray,
    categorical: bool,
    path: Path,
) -> dict:
    """Combine samples sharing a voxel with the 2-D rule, one layer at a time (top down)."""
    parts: dict[str, list] = {k: [] for k in ("ids", "x", "y", "z", "layers", "rows", "cols")}
    parts.update(values=[], members=[], report=[])
    mixed = []  # (message, layer) of the voxels whose samples have different codes
    for layer in np.unique(layers[inside]):
        keep = np.flatnonzero(inside & (layers == layer))  # (k,) samples in this layer
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            flat = _aggregate(
                table, keep, gx, gy, rows, cols, vals, categorical=categorical, path=path
            )
        mixed += [(str(w.message), int(layer)) for w in caught]
        voxel_z: dict[tuple[int, int], list[float]] = {}
        for i in keep:
            voxel_z.setdefault((int(rows[i]), int(cols[i])), []).append(float(zs[i]))
        parts["z"].append([np.mean(v) for v in voxel_z.values()])  # same order as _aggregate's
        parts["layers"].append(np.full(len(flat["ids"]), layer, dtype=np.int64))
        for key in ("ids", "x", "y", "rows", "cols", "values"):
            parts[key].append(flat[key])
        parts["members"] += flat["members"]
        parts["report"] += [{"layer": int(layer), **rec} for rec in flat["report"]]
    if mixed:  # one warning, not one per voxel: a finely sampled log mixes codes in many
        more = f"; and {len(mixed) - 1} more such voxel(s), listed in the report" * (len(mixed) > 1)
        warnings.warn(
            f"{mixed[0][0].rstrip('.')} (layer {mixed[0][1]}){more}.", UserWarning, stacklevel=3
        )
    out = {k: np.concatenate(parts[k]) for k in ("ids", "x", "y", "z", "values")}
    out.update({k: np.concatenate(parts[k]).astype(np.int64) for k in ("layers", "rows", "cols")})
    return {**out, "members": parts["members"], "report": parts["report"]}
