"""Read well data (CSV or GeoJSON points), reproject them to the grid and snap them to pixels.

CRS rules
---------
* ``crs=`` (the command line's ``--wells-crs``) always names the CRS of the coordinates.
* A CSV file cannot declare a CRS: without ``crs=`` its coordinates are *assumed* to be in
  the grid's CRS. If they are not, the wells usually fall outside the grid and the error
  says to pass ``crs=``.
* A GeoJSON file's legacy ``"crs"`` member is honoured; without it the coordinates are
  longitude/latitude (EPSG:4326), as RFC 7946 requires. A ``crs=`` that contradicts a
  declared ``"crs"`` member is an error.
* Wells in another CRS than the grid's are reprojected with pyproj (``always_xy=True``:
  x = easting/longitude, y = northing/latitude).

Vertical sections
-----------------
A vertical section is a grid whose x axis is the distance along the section (or an easting)
and whose y axis is elevation, positive up (GeoTIFF rows go down the raster, so row 0 is the
top). Pass ``depth=`` (the command line's ``--depth-column``) to read well logs on such a
grid: each CSV row gives ``x`` (the borehole's position along the section, in the grid's
units) and a depth, positive down below a datum; its elevation is ``y = datum - depth``
(``datum=``, ``--datum``, default 0). No y column is needed then. Each sample row is one
constrained pixel, so a borehole gives a column of pixels. Section coordinates are taken in the
grid's units: no reprojection is done, and GeoJSON files are not accepted for sections.

Several wells in one pixel are combined: the mean for continuous values, the majority
code for categorical ones (ties go to the smallest code, with a warning when codes
disagree). Every combination is listed in :attr:`Wells.report`.
"""

from __future__ import annotations

import csv
import json
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import Transformer
from pyproj.exceptions import ProjError
from rasterio.crs import CRS

from geocgan.errors import ConstraintError, GridError, InputError
from geocgan.io.grid import Grid, parse_crs

# Python keyword -> command-line option (quoted in error messages): the column names, and the
# datum of a vertical section.
COLUMN_OPTIONS = {
    "x": "--x-column",
    "y": "--y-column",
    "value": "--value-column",
    "well_id": "--id-column",
    "depth": "--depth-column",
    "datum": "--datum",
}
_ROLES = {
    "x": "x coordinates",
    "y": "y coordinates",
    "value": "values",
    "well_id": "well ids",
    "depth": "depths below the datum",
}
# Common column names for coordinates, suggested when the expected name is missing.
_COORD_ALIASES = {
    "x": ("lon", "long", "longitude", "easting", "east", "x_coord", "xcoord"),
    "y": ("lat", "latitude", "northing", "north", "y_coord", "ycoord"),
    "depth": ("tvd", "depth_m", "z_depth"),
}
_MAX_LISTED = 5  # problems listed per error message before "... and N more"
_CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
_GEOJSON_SUFFIXES = {".geojson", ".json"}


@dataclass
class Wells:
    """Wells snapped to grid pixels, one entry per occupied pixel.

    Attributes
    ----------
    ids : numpy.ndarray of str, shape (m,)
        Label of each entry: the well id, or ids joined by "+" where wells were combined.
    x, y : numpy.ndarray of float64, shape (m,)
        Mean position of the entry's wells, in the grid's CRS (``crs``); for a vertical
        section, position along the section and elevation ``datum - depth``.
    rows, cols : numpy.ndarray of int64, shape (m,)
        Pixel indices on the grid.
    values : numpy.ndarray, shape (m,)
        float64 values, or int64 facies codes when ``categorical``.
    members : list of list of str
        Ids of the wells behind each entry.
    dropped : list of dict
        Wells left out (outside the grid with ``drop_outside=True``), with their location
        in the file and their coordinates as given (for a section also ``"depth"``, with
        ``"y"`` the elevation ``datum - depth``).
    report : list of dict
        One record per pixel holding several wells: ids, values, the value kept and the rule.
    source : Path
        The file read.
    crs : rasterio.crs.CRS
        CRS of ``x``/``y`` (the grid's).
    source_crs : rasterio.crs.CRS
        CRS of the coordinates in the file (given, declared, or assumed).
    categorical : bool
        Whether values are facies codes.
    """

    ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    members: list[list[str]]
    source: Path
    crs: CRS
    source_crs: CRS
    categorical: bool
    dropped: list[dict] = field(default_factory=list)
    report: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def to_dict(self) -> dict:
        """JSON-ready summary (plain Python types, no NaN)."""
        cast = int if self.categorical else float
        return {
            "source": str(self.source),
            "crs": self.crs.to_string(),
            "source_crs": self.source_crs.to_string(),
            "categorical": self.categorical,
            "n_pixels": len(self),
            "n_wells": sum(len(m) for m in self.members),
            "wells": [
                {
                    "id": str(self.ids[i]),
                    "members": list(self.members[i]),
                    "x": float(self.x[i]),
                    "y": float(self.y[i]),
                    "row": int(self.rows[i]),
                    "col": int(self.cols[i]),
                    "value": cast(self.values[i]),
                }
                for i in range(len(self))
            ],
            "dropped": self.dropped,
            "report": self.report,
        }


@dataclass
class _Table:
    """Raw cells of a well file, before any checking; one entry per well."""

    where: list[str]  # location in the file, e.g. "line 4" or "feature 2"
    ids: list[str]  # well ids (generated from `where` when the file has none)
    x: list[object]
    y: list[object]  # empty for a vertical section, which gives depths instead
    value: list[object]
    declared_crs: CRS | None = None
    depth: list[object] = field(default_factory=list)  # vertical sections only

    def label(self, i: int) -> str:
        """ "line 4 (well W3)", or "line 4" when the id was generated from the location."""
        if self.ids[i] == self.where[i]:
            return self.where[i]
        return f"{self.where[i]} (well {self.ids[i]})"


def read_wells(
    path: str | Path,
    grid: Grid,
    *,
    value: str = "value",
    x: str = "x",
    y: str = "y",
    well_id: str = "well_id",
    crs: object = None,
    categorical: bool = False,
    codes: Sequence[int] | None = None,
    drop_outside: bool = False,
    depth: str | None = None,
    datum: float = 0.0,
) -> Wells:
    """Read wells from a CSV or GeoJSON file and snap them to ``grid``.

    Parameters
    ----------
    path : str or Path
        ``.csv``/``.txt``/``.tsv`` (header row; ``,``, ``;`` or tab separated; UTF-8) or
        ``.geojson``/``.json`` (a FeatureCollection of Points).
    grid : Grid
        The target grid.
    value : str, default "value"
        Column (CSV) or property (GeoJSON) holding the measured value or facies code.
    x, y : str, default "x", "y"
        Coordinate columns of a CSV file (GeoJSON uses the point geometry). ``y`` is ignored
        when ``depth`` is given.
    well_id : str, default "well_id"
        Column/property with well names. Optional when left at the default: wells are then
        named by their location in the file ("line 4", "feature 2"); a GeoJSON feature's
        ``"id"`` member is used when the property is absent.
    crs : object, optional
        CRS of the coordinates (anything rasterio accepts, e.g. "EPSG:4326"). Default: the
        grid's CRS for CSV, the declared ``"crs"`` member or EPSG:4326 for GeoJSON.
    categorical : bool, default False
        Values are integer facies codes (combined by majority, returned as int64).
    codes : sequence of int, optional
        The facies codes the model knows; other codes are refused. Categorical only.
    drop_outside : bool, default False
        Drop wells outside the grid (listed in ``Wells.dropped``) instead of failing.
    depth : str, optional
        Read a vertical section: the CSV column with depths (grid units, positive down below
        ``datum``) replaces the y column, and each row's elevation is ``datum - depth``. The
        grid's y axis must be elevation (positive up); ``x`` is the position along the
        section in the grid's units. CSV only; no reprojection (``crs`` must be None or the
        grid's CRS).
    datum : float, default 0.0
        Elevation of depth 0, in the grid's y units. Only used with ``depth``.

    Returns
    -------
    Wells

    Raises
    ------
    InputError
        Missing or unreadable file, missing columns, non-numeric or empty values,
        non-integer facies codes, a CRS conflict, ``depth`` with a GeoJSON file or with a
        ``crs`` other than the grid's.
    ConstraintError
        Wells outside the grid (without ``drop_outside``), unknown facies codes, no well
        left on the grid.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Well file {path} does not exist. Check the path.")
    suffix = path.suffix.lower()
    if depth is not None:
        _check_section(path, suffix, crs, grid, datum)
    if suffix in _CSV_SUFFIXES:
        table = _read_csv(path, value=value, x=x, y=y, well_id=well_id, depth=depth)
    elif suffix in _GEOJSON_SUFFIXES:
        table = _read_geojson(path, value=value, well_id=well_id)
    else:
        raise InputError(
            f"Well file {path}: unknown format {suffix!r}. Give a .csv or .geojson file."
        )
    if not table.where:
        raise InputError(f"Well file {path} holds no wells. Add at least one data row.")
    if depth is None:  # a borehole log repeats its id on every sample row; a map well does not
        _separate_duplicate_ids(table, path)

    xs = _numbers(table, table.x, path, what=f"x coordinate ({x!r})")  # (n,)
    if depth is None:
        ys = _numbers(table, table.y, path, what=f"y coordinate ({y!r})")  # (n,)
        depths = None
    else:
        depths = _numbers(table, table.depth, path, what=f"depth ({depth!r})")  # (n,)
        ys = datum - depths  # (n,) elevation, positive up
    vals = _numbers(table, table.value, path, what=f"value ({value!r})")  # (n,)
    if categorical:
        vals = _check_codes(table, vals, path, codes, column=value)
    elif codes is not None:
        raise InputError("`codes` only applies to categorical wells; pass categorical=True.")

    if depth is None:
        source_crs = _source_crs(table, path, crs, grid, is_csv=suffix in _CSV_SUFFIXES)
        gx, gy = _to_grid_crs(table, xs, ys, source_crs, grid, path)  # (n,), (n,)
    else:
        source_crs, gx, gy = grid.crs, xs, ys  # section coordinates are in grid units
    rows, cols = grid.rowcol(gx, gy)  # (n,), (n,)
    inside = grid.contains(rows, cols)  # (n,) bool
    dropped = []
    if not inside.all():
        outside = np.flatnonzero(~inside)
        if not drop_outside or inside.sum() == 0:
            raise _outside_error(
                table,
                outside,
                xs,
                ys,
                source_crs,
                grid,
                path,
                depths=depths,
                datum=datum,
                grid_xy=(gx, gy),
            )
        dropped = [
            {
                "well_id": table.ids[i],
                "where": table.where[i],
                "x": float(xs[i]),
                "y": float(ys[i]),
                **({} if depths is None else {"depth": float(depths[i])}),
                "reason": "outside the grid",
            }
            for i in outside
        ]
    keep = np.flatnonzero(inside)  # (k,)
    if not categorical:
        _warn_if_codes(vals[keep], path, value)
    wells = _aggregate(table, keep, gx, gy, rows, cols, vals, categorical=categorical, path=path)
    return Wells(
        **wells,
        source=path,
        crs=grid.crs,
        source_crs=source_crs,
        categorical=categorical,
        dropped=dropped,
    )


def _check_section(path: Path, suffix: str, crs: object, grid: Grid, datum: float) -> None:
    """Refuse what a vertical section cannot take: GeoJSON, reprojection, a non-finite datum."""
    if not np.isfinite(datum):
        raise InputError(
            f"Well file {path}: datum={datum!r} ({COLUMN_OPTIONS['datum']}) is not a finite "
            "number. Give the elevation of depth 0 in the grid's y units."
        )
    if suffix in _GEOJSON_SUFFIXES:
        raise InputError(
            f"Well file {path}: depth=... ({COLUMN_OPTIONS['depth']}) reads vertical sections "
            "from CSV only; GeoJSON points have no depth column. Save the well logs as CSV with "
            "columns x, depth and value."
        )
    if crs is None:
        return
    try:
        given = parse_crs(crs, what=f"the wells in {path}")
    except GridError as exc:
        raise InputError(str(exc)) from exc
    if given != grid.crs:
        raise InputError(
            f"Well file {path}: crs={given.to_string()} (--wells-crs) was given with "
            f"depth=... ({COLUMN_OPTIONS['depth']}), but section coordinates are taken in the "
            f"grid's units ({grid.crs.to_string()}) and cannot be reprojected. Drop --wells-crs "
            "and give x as the position along the section, in the grid's units."
        )


def _missing_column(path: Path, name: str, role: str, found: list[str], kind: str) -> InputError:
    """Error for a column/property that is not there, with the ones found and a suggestion."""
    lowered = {c.lower(): c for c in found}
    candidates = [name.lower(), *_COORD_ALIASES.get(role, ())]
    guesses = [lowered[c] for c in candidates if c in lowered]
    hint = f" Did you mean {guesses[0]!r}?" if guesses else ""
    plural = {"column": "Columns", "property": "Properties"}[kind]
    return InputError(
        f"Well file {path}: no {kind} {name!r} for the {_ROLES[role]}. "
        f"{plural} found: {', '.join(map(repr, found)) or 'none'}.{hint} "
        f"Name the {kind} with {role}=... (command line: {COLUMN_OPTIONS[role]})."
    )


def _read_csv(path: Path, *, value: str, x: str, y: str, well_id: str, depth: str | None) -> _Table:
    """Read a CSV as strings; data row i (0-based) is line i + 2 of the file.

    With ``depth`` (a vertical section) the depth column is read instead of the y column.
    """
    try:
        with open(path, encoding="utf-8-sig") as f:
            header = f.readline()
        sep = max([",", ";", "\t"], key=header.count)
        with warnings.catch_warnings():  # fields beyond the header: checked below
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            frame = pd.read_csv(
                path,
                sep=sep,
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=False,
                skipinitialspace=True,
                encoding="utf-8-sig",
                index_col=False,  # never the first column as an index: columns would shift
            )
    except UnicodeDecodeError as exc:
        raise InputError(
            f"Well file {path} is not UTF-8 text ({exc}). Save it as UTF-8 CSV."
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError(
            f"Well file {path} is empty. It needs a header row naming the columns "
            f"({x}, {y if depth is None else depth}, {value}) and one row per well."
        ) from exc
    except pd.errors.ParserError as exc:
        raise InputError(
            f"Well file {path} cannot be read as CSV ({str(exc).strip()}). Check that every "
            "line has the same number of fields as the header."
        ) from exc
    names = [c.strip() for c in next(csv.reader([header], delimiter=sep), [])]  # as written
    twice = sorted({c for c in names if names.count(c) > 1})
    if twice:
        raise InputError(
            f"Well file {path}: the header names column(s) {', '.join(map(repr, twice))} more "
            "than once (spaces around names do not count). Rename or delete the extra columns."
        )
    _refuse_extra_fields(path, sep, len(names))
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.fillna("")
    found = list(frame.columns)
    second = ("y", y) if depth is None else ("depth", depth)
    for role, name in (("x", x), second, ("value", value)):
        if name not in frame.columns:
            raise _missing_column(path, name, role, found, "column")
    if well_id not in frame.columns and well_id != "well_id":
        raise _missing_column(path, well_id, "well_id", found, "column")

    lines = np.arange(len(frame)) + 2  # spreadsheet line numbers (header is line 1)
    nonblank = (frame.apply(lambda col: col.str.strip()) != "").any(axis=1).to_numpy()
    frame, lines = frame[nonblank], lines[nonblank]
    where = [f"line {n}" for n in lines]
    if well_id in frame.columns:
        ids = [s.strip() or w for s, w in zip(frame[well_id], where, strict=True)]
    else:
        ids = list(where)
    if depth is None:
        return _Table(where, ids, list(frame[x]), list(frame[y]), list(frame[value]))
    return _Table(where, ids, list(frame[x]), [], list(frame[value]), depth=list(frame[depth]))


def _refuse_extra_fields(path: Path, sep: str, width: int) -> None:
    """Refuse rows with non-empty cells beyond the header's ``width`` columns (an unnamed
    column); empty ones, the trailing separators of some spreadsheet exports, are fine."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = csv.reader(f, delimiter=sep)
        extra = [f"line {rows.line_num}" for row in rows if any(c.strip() for c in row[width:])]
    if extra:
        raise InputError(
            f"Well file {path}: more fields than the header names ({width}) at "
            f"{_listing(extra)}. Name the extra column in the header, or delete its cells."
        )


def _read_geojson(path: Path, *, value: str, well_id: str) -> _Table:
    """Read Point features; feature i (1-based) is "feature i"."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(f"Well file {path} is not UTF-8 text ({exc}). Save it as UTF-8.") from exc
    except json.JSONDecodeError as exc:
        raise InputError(
            f"Well file {path} is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}. Fix the file or export it again."
        ) from exc
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "FeatureCollection":
        features = data.get("features") or []
        if not isinstance(features, list):
            raise InputError(
                f'Well file {path}: "features" must be a list of Point features, got '
                f"{type(features).__name__}. Export the wells as GeoJSON points."
            )
    elif kind == "Feature":
        features = [data]
    else:
        raise InputError(
            f"Well file {path}: expected a GeoJSON FeatureCollection of Points, got "
            f"type {kind!r}. Export the wells as GeoJSON points."
        )
    where, ids, xs, ys, vals, problems, prop_names = [], [], [], [], [], [], set()
    for i, feat in enumerate(features, start=1):
        loc = f"feature {i}"
        if not isinstance(feat, dict):
            problems.append(f"{loc} is {type(feat).__name__}, not a Feature object")
            continue
        geom = feat.get("geometry") or {}
        props = feat.get("properties") or {}
        if not isinstance(geom, dict) or not isinstance(props, dict):
            problems.append(f"{loc}: geometry and properties must be JSON objects")
            continue
        prop_names.update(props)
        coords = geom.get("coordinates")
        if geom.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2:
            problems.append(f"{loc}: geometry {geom.get('type')!r}")
            continue
        where.append(loc)
        ids.append(str(props.get(well_id, feat.get("id", loc))))
        xs.append(coords[0])
        ys.append(coords[1])
        vals.append(props.get(value))
    if problems:
        raise InputError(
            f"Well file {path}: wells must be Point features; {_listing(problems)}. Convert "
            'the geometries to points (each feature an object with "geometry" and '
            '"properties" objects).'
        )
    if features and value not in prop_names:
        raise _missing_column(path, value, "value", sorted(prop_names), "property")
    if features and well_id != "well_id" and well_id not in prop_names:
        raise _missing_column(path, well_id, "well_id", sorted(prop_names), "property")
    return _Table(where, ids, xs, ys, vals, declared_crs=_declared_crs(data, path))


def _declared_crs(data: dict, path: Path) -> CRS | None:
    """The legacy GeoJSON "crs" member (named or EPSG-code form), or None when absent."""
    member = data.get("crs")
    if member is None:
        return None
    props = member.get("properties", {}) if isinstance(member, dict) else {}
    props = props if isinstance(props, dict) else {}
    name = props.get("name") or (f"EPSG:{props['code']}" if "code" in props else None)
    if not isinstance(name, str | int) or isinstance(name, bool):
        raise InputError(
            f'Well file {path}: its "crs" member {member!r} is not understood. '
            "Remove it and give the CRS with crs=... (command line: --wells-crs)."
        )
    try:
        return parse_crs(name, what=f"the wells in {path}")
    except GridError as exc:
        raise InputError(str(exc)) from exc


def _listing(items: list[str]) -> str:
    """First few items joined by "; ", with a count of the rest."""
    text = "; ".join(items[:_MAX_LISTED])
    if len(items) > _MAX_LISTED:
        text += f"; and {len(items) - _MAX_LISTED} more"
    return text


def _numbers(table: _Table, cells: list[object], path: Path, *, what: str) -> np.ndarray:
    """Convert cells to float64, shape (n,); list empty, NaN and non-numeric cells in one error."""
    out = np.empty(len(cells), dtype=np.float64)  # (n,)
    empty, bad = [], []
    for i, cell in enumerate(cells):
        text = cell.strip() if isinstance(cell, str) else cell
        if text is None or text == "":
            empty.append(table.label(i))
            continue
        try:
            if isinstance(text, bool):
                raise ValueError
            out[i] = float(text)
        except (TypeError, ValueError, OverflowError):
            bad.append((table.label(i), text))
            continue
        if not np.isfinite(out[i]):
            empty.append(f"{table.label(i)}: {text!r}")
    if bad:
        decimal_comma = any(isinstance(t, str) and _parses(t.replace(",", ".")) for _, t in bad)
        hint = " Use '.' as the decimal separator." if decimal_comma else ""
        raise InputError(
            f"Well file {path}: non-numeric {what} at "
            f"{_listing([f'{loc}: {t!r}' for loc, t in bad])}.{hint} "
            "Fix these cells (numbers only)."
        )
    if empty:
        raise InputError(
            f"Well file {path}: missing or NaN {what} at {_listing(empty)}. "
            "Fill these cells or delete the rows; geocgan honours every well exactly, "
            "so it needs a value at each."
        )
    return out


def _parses(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_MAX_CODES = 10  # whole-number values with at most this many distinct ones look like codes


def _separate_duplicate_ids(table: _Table, path: Path) -> None:
    """Warn about well ids used more than once and rename them ``"W1 (line 4)"`` in place,
    so the wells stay apart in every report."""
    counts = Counter(table.ids)
    twice = [k for k, c in counts.items() if c > 1]
    if not twice:
        return
    rows = [
        f"{k!r} at {', '.join(w for w, i in zip(table.where, table.ids, strict=True) if i == k)}"
        for k in twice
    ]
    warnings.warn(
        f"Well file {path}: well id(s) used more than once: {_listing(rows)}. They are kept "
        "as separate wells, named with their place in the file (e.g. "
        f"'{twice[0]} ({table.where[table.ids.index(twice[0])]})'); give each well its own id.",
        stacklevel=3,
    )
    table.ids = [
        f"{i} ({w})" if counts[i] > 1 else i for i, w in zip(table.ids, table.where, strict=True)
    ]


def _warn_if_codes(vals: np.ndarray, path: Path, column: str) -> None:
    """Warn when values meant as a continuous property are a few whole numbers (codes?)."""
    distinct = np.unique(vals)
    if len(vals) > 1 and len(distinct) <= _MAX_CODES and (distinct == np.round(distinct)).all():
        shown = ", ".join(f"{v:g}" for v in distinct)
        warnings.warn(
            f"Well file {path}: every value in {column!r} is one of the whole numbers "
            f"{shown}: they look like facies codes, but the model is continuous and takes "
            f"them as measured values. Use a facies model for facies, or name the column of "
            f"values with {COLUMN_OPTIONS['value']}.",
            stacklevel=3,
        )


def _check_codes(
    table: _Table,
    vals: np.ndarray,
    path: Path,
    codes: Sequence[int] | None,
    column: str = "value",
) -> np.ndarray:
    """Facies codes as int64, shape (n,); refuse non-integers and codes the model lacks."""
    fractional = np.flatnonzero(vals != np.round(vals))
    if fractional.size:
        known = "" if codes is None else f" (codes {sorted(int(c) for c in codes)})"
        raise InputError(
            f"Well file {path}: facies codes must be integers, but {column!r} holds "
            f"{_listing([f'{table.label(i)}: {vals[i]:g}' for i in fractional])}. These look "
            f"like continuous values, and the model is a facies model{known}: give its "
            f"integer codes, name the facies column with {COLUMN_OPTIONS['value']}, or use a "
            "model of a continuous property."
        )
    ints = vals.astype(np.int64)  # (n,)
    if codes is not None:
        known = sorted(int(c) for c in codes)
        unknown = np.flatnonzero(~np.isin(ints, known))
        if unknown.size:
            raise ConstraintError(
                f"Well file {path}: facies code(s) {sorted(set(ints[unknown].tolist()))} are "
                f"unknown to the model, which knows codes {known}: "
                f"{_listing([f'{table.label(i)}: {ints[i]}' for i in unknown])}. "
                "Recode these wells to the model's codes."
            )
    return ints


def _source_crs(table: _Table, path: Path, crs: object, grid: Grid, *, is_csv: bool) -> CRS:
    """CRS of the file's coordinates: given, else declared, else EPSG:4326 (GeoJSON) or grid's."""
    if crs is not None:
        try:
            given = parse_crs(crs, what=f"the wells in {path}")
        except GridError as exc:
            raise InputError(str(exc)) from exc
        if table.declared_crs is not None and table.declared_crs != given:
            raise InputError(
                f"Well file {path} declares CRS {table.declared_crs.to_string()} but "
                f"crs={given.to_string()} (--wells-crs) was given. Drop --wells-crs to use the "
                "file's CRS, or fix the file's \"crs\" member."
            )
        return given
    if table.declared_crs is not None:
        return table.declared_crs
    return grid.crs if is_csv else CRS.from_epsg(4326)


def _to_grid_crs(
    table: _Table, xs: np.ndarray, ys: np.ndarray, src: CRS, grid: Grid, path: Path
) -> tuple[np.ndarray, np.ndarray]:
    """Reproject (n,) coordinates from ``src`` to the grid's CRS (a no-op when equal)."""
    if src.is_geographic:
        wild = np.flatnonzero((np.abs(xs) > 360) | (np.abs(ys) > 90))
        if wild.size:
            raise InputError(
                f"Well file {path}: coordinates are read as longitude/latitude "
                f"({src.to_string()}) but {_listing([_at(table, i, xs, ys) for i in wild])} "
                "are not valid degrees. Give the wells' CRS with crs=... (--wells-crs)."
            )
    if src == grid.crs:
        return xs, ys
    transformer = Transformer.from_crs(src, grid.crs, always_xy=True)
    gx, gy = transformer.transform(xs, ys)  # (n,), (n,)
    gx, gy = np.asarray(gx, np.float64), np.asarray(gy, np.float64)
    bad = np.flatnonzero(~(np.isfinite(gx) & np.isfinite(gy)))
    if bad.size:
        raise ConstraintError(
            f"Well file {path}: {_listing([_at(table, i, xs, ys) for i in bad])} cannot be "
            f"reprojected from {src.to_string()} to the grid's {grid.crs.to_string()}. "
            "Check the wells' CRS (crs=..., --wells-crs)."
        )
    return gx, gy


def _at(table: _Table, i: int, xs: np.ndarray, ys: np.ndarray, y_name: str = "y") -> str:
    return f"{table.label(i)} at x={xs[i]:.10g}, {y_name}={ys[i]:.10g}"


def _outside_error(
    table: _Table,
    outside: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    src: CRS,
    grid: Grid,
    path: Path,
    *,
    depths: np.ndarray | None = None,
    datum: float = 0.0,
    grid_xy: tuple[np.ndarray, np.ndarray] | None = None,
) -> ConstraintError:
    """Error listing wells outside the grid, with the grid's bounds and the likely fix.

    ``depths`` (n,) marks a vertical section: wells are then listed by x and depth.
    ``grid_xy``: the wells' (n,) coordinates in the grid's CRS, to compare extents.
    """
    xmin, ymin, xmax, ymax = grid.bounds
    n, total = len(outside), len(table.where)
    if depths is None:
        listed = [_at(table, i, xs, ys) for i in outside]
        given = f"coordinates as in the file, {src.to_string()}"
    else:
        listed = [_at(table, i, xs, depths, "depth") for i in outside]
        given = f"elevation y = datum {datum:g} - depth"
    msg = (
        f"Well file {path}: {n} of {total} well(s) lie outside the grid "
        f"(x {xmin:.10g} to {xmax:.10g}, y {ymin:.10g} to {ymax:.10g}, {grid.crs.to_string()}): "
        f"{_listing(listed)} ({given})."
    )
    if n == total and depths is not None:
        msg += (
            f" Check the datum (datum=..., {COLUMN_OPTIONS['datum']}) and that the grid is a "
            "vertical section whose y axis is elevation, positive up, in the units of the depths."
        )
    elif n == total:
        if grid_xy is not None:
            gx, gy = grid_xy
            msg += (
                f" The wells span x {np.min(gx):.10g} to {np.max(gx):.10g}, y {np.min(gy):.10g} "
                f"to {np.max(gy):.10g} in the grid's CRS"
                + ("" if src == grid.crs else f" (reprojected from {src.to_string()})")
                + "."
            )
        looks_lonlat = np.all(np.abs(xs) <= 180) and np.all(np.abs(ys) <= 90)
        fix = _likely_fix(xs, ys, src, grid)
        if fix:
            msg += " " + fix
        elif src == grid.crs and looks_lonlat and not grid.crs.is_geographic:
            msg += (
                " The coordinates look like longitude/latitude: pass crs='EPSG:4326' (--wells-crs)."
            )
        else:
            msg += (
                " If the wells use another CRS than assumed, give it with crs=... "
                "(--wells-crs); otherwise check the grid."
            )
    else:
        msg += " Pass drop_outside=True (--drop-outside) to leave them out, or enlarge the grid."
    return ConstraintError(msg)


def _utm_zone(crs: CRS) -> tuple[int, str] | None:
    """(zone, "N"/"S") of a WGS 84 / UTM CRS (EPSG:326zz / 327zz), else None."""
    code = crs.to_epsg() or 0
    if 32601 <= code <= 32660 or 32701 <= code <= 32760:
        return code % 100, "N" if code < 32700 else "S"
    return None


def _all_inside(xs: np.ndarray, ys: np.ndarray, src: CRS, grid: Grid) -> bool:
    """Whether (n,) points read in ``src`` all land on ``grid``."""
    try:
        gx, gy = Transformer.from_crs(src, grid.crs, always_xy=True).transform(xs, ys)
    except ProjError:  # pyproj refuses some pairs of CRSs: not a candidate then
        return False
    gx, gy = np.asarray(gx, np.float64), np.asarray(gy, np.float64)  # (n,), (n,)
    if not (np.isfinite(gx).all() and np.isfinite(gy).all()):
        return False
    return bool(grid.contains(*grid.rowcol(gx, gy)).all())


def _likely_fix(xs: np.ndarray, ys: np.ndarray, src: CRS, grid: Grid) -> str | None:
    """A sentence naming why every well missed the grid, when a usual slip explains it.

    Tried on the file's (n,) coordinates ``xs``, ``ys``: x and y swapped (latitude first),
    longitude/latitude read as projected, and a neighbouring UTM zone; then, for
    longitude/latitude wells on a UTM grid, the zone the wells lie in.
    """
    if _all_inside(ys, xs, src, grid):
        return (
            "Read with x and y swapped they fall on the grid: swap --x-column and "
            "--y-column (GeoJSON points are [longitude, latitude], x first)."
        )
    lonlat = CRS.from_epsg(4326)
    if src != lonlat and np.all(np.abs(xs) <= 180) and np.all(np.abs(ys) <= 90):
        for a, b, how in ((xs, ys, ""), (ys, xs, ", with x and y swapped")):
            if _all_inside(a, b, lonlat, grid):
                return (
                    f"Read as longitude/latitude{how} they fall on the grid: pass "
                    f"crs='EPSG:4326' (--wells-crs){how}."
                )
    zone = _utm_zone(grid.crs) or _utm_zone(src)
    if zone is not None and not src.is_geographic:
        for z in (zone[0] + d for d in (0, -1, 1, -2, 2, -3, 3)):
            for south in (zone[1] == "S", zone[1] == "N"):
                cand = CRS.from_epsg((32700 if south else 32600) + (z - 1) % 60 + 1)
                if cand != src and _all_inside(xs, ys, cand, grid):
                    return (
                        f"Read in {cand.to_string()} (UTM zone {(z - 1) % 60 + 1}"
                        f"{'S' if south else 'N'}) they fall on the grid: the wells are in "
                        f"another UTM zone than assumed; pass crs='{cand.to_string()}' "
                        "(--wells-crs)."
                    )
    grid_zone = _utm_zone(grid.crs)
    if src.is_geographic and grid_zone is not None and np.all(np.abs(xs) <= 180):
        zones = sorted({int((lon + 180) // 6) % 60 + 1 for lon in xs})
        if grid_zone[0] not in zones:
            return (
                f"The wells' longitudes {np.min(xs):.6g} to {np.max(xs):.6g} lie in UTM zone(s) "
                f"{', '.join(map(str, zones))}, the grid is in zone {grid_zone[0]}"
                f"{grid_zone[1]}: check the grid's CRS or the wells' coordinates."
            )
    return None


def _aggregate(
    table: _Table,
    keep: np.ndarray,
    gx: np.ndarray,
    gy: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    vals: np.ndarray,
    *,
    categorical: bool,
    path: Path,
) -> dict:
    """Combine wells sharing a pixel (mean or majority), keeping first-appearance order."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i in keep:
        groups.setdefault((int(rows[i]), int(cols[i])), []).append(int(i))
    out_vals, members, report = [], [], []
    for (r, c), idx in groups.items():
        members.append([table.ids[i] for i in idx])
        if len(idx) == 1:
            out_vals.append(vals[idx[0]])
            continue
        group_vals = vals[idx]  # (g,)
        if categorical:
            counts = Counter(group_vals.tolist())
            top = max(counts.values())
            kept = min(code for code, k in counts.items() if k == top)
            rule = "majority"
            if len(counts) > 1:
                warnings.warn(
                    f"Well file {path}: wells {', '.join(members[-1])} fall in pixel "
                    f"(row {r}, col {c}) with different codes {group_vals.tolist()}; kept the "
                    f"majority code {kept} (ties go to the smallest code).",
                    stacklevel=3,
                )
        else:
            kept = float(group_vals.mean())
            rule = "mean"
        out_vals.append(kept)
        report.append(
            {
                "row": r,
                "col": c,
                "well_ids": members[-1],
                "values": group_vals.tolist(),
                "kept": kept,
                "rule": rule,
            }
        )
    idx_lists = list(groups.values())
    return {
        "ids": np.array(["+".join(m) for m in members], dtype=str),
        "x": np.array([gx[idx].mean() for idx in idx_lists], dtype=np.float64),
        "y": np.array([gy[idx].mean() for idx in idx_lists], dtype=np.float64),
        "rows": np.array([r for r, _ in groups], dtype=np.int64),
        "cols": np.array([c for _, c in groups], dtype=np.int64),
        "values": np.array(out_vals, dtype=np.int64 if categorical else np.float64),
        "members": members,
        "report": report,
    }
