"""Generated and mutated wells files (CSV and GeoJSON) end in geocgan's own errors only.

Issue 17: a header with two columns equal after stripping spaces, ``features: [null]``,
``geometry`` as a list... gave Python tracebacks. Whatever a file holds, ``read_wells``
returns wells on the grid or raises a :class:`GeocganError`; nothing else escapes.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geocgan.errors import GeocganError
from geocgan.io.grid import Grid
from geocgan.io.wells import read_wells

GRID = Grid.from_bounds(500000.0, 5700000.0, 500400.0, 5700240.0, 10.0, "EPSG:32631")
N_CASES = {"csv": 300, "csv_bytes": 100, "geojson": 300, "json_any": 100}  # reported in the issue

NAMES = ["well_id", "x", "y", "value", "facies", " x", "y ", "x ", "lon", "lat", "", "X", "id"]
CELLS = [
    "500005",
    "500395.5",
    "5700005",
    "5700235",
    "3.003",
    "51.44",
    "0",
    "1",
    "2",
    "1.5",
    "",
    " ",
    "nan",
    "inf",
    "-inf",
    "1,5",
    "abc",
    '"q"',
    "1e400",
    "9" * 400,
    "W1",
    "é",
    "0x10",
    "1_0",
    "True",
]
SEPS = [",", ";", "\t"]


def _read(path, *, categorical, crs, drop_outside, id_column):
    """read_wells with the given options: Wells or a GeocganError, nothing else."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings are allowed; they are not the point here
        try:
            wells = read_wells(
                path,
                GRID,
                value="facies" if categorical else "value",
                crs=crs,
                categorical=categorical,
                codes=[0, 1, 2] if categorical else None,
                drop_outside=drop_outside,
                well_id=id_column,
            )
        except GeocganError as err:
            assert str(err)  # a message, never empty
            return None
    assert len(wells) >= 1
    assert GRID.contains(wells.rows, wells.cols).all()
    assert np.isfinite(wells.values).all()
    return wells


options = st.fixed_dictionaries(
    {
        "categorical": st.booleans(),
        "crs": st.sampled_from([None, None, "EPSG:4326", "EPSG:32631", "EPSG:32632", "nonsense"]),
        "drop_outside": st.booleans(),
        "id_column": st.sampled_from(["well_id", "well_id", "id", "name"]),
    }
)


@st.composite
def csv_texts(draw) -> str:
    sep = draw(st.sampled_from(SEPS))
    header = draw(st.lists(st.sampled_from(NAMES), min_size=0, max_size=7))
    width = len(header)
    rows = draw(
        st.lists(
            st.lists(
                st.sampled_from(CELLS) | st.text(max_size=6),
                min_size=max(0, width - 1),
                max_size=width + 1,
            ),
            max_size=8,
        )
    )
    lines = [sep.join(header)] + [sep.join(r) for r in rows]
    text = "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n", "\r\n"]))
    if draw(st.booleans()):  # a mutation: cut, insert or duplicate a slice
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, len(text)))
        text = draw(
            st.sampled_from([text[:i], text[:i] + text[j:], text[:j] + text[i:j] + text[j:]])
        ) + draw(st.text(max_size=4))
    return text


def _json_values():
    return st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(10**400), 10**400)
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["type", "features", "geometry", "properties", "coordinates", "x"]),
                inner,
                max_size=3,
            )
        ),
        max_leaves=8,
    )


@st.composite
def geojson_docs(draw) -> object:
    anything = _json_values()
    number = st.floats(499990, 500410) | st.floats(-200, 200) | anything
    point = st.fixed_dictionaries(
        {
            "type": st.sampled_from(["Feature", "Feature", "Point", "Foo"]),
            "geometry": st.fixed_dictionaries(
                {
                    "type": st.sampled_from(["Point", "Point", "LineString"]),
                    "coordinates": st.lists(number, min_size=0, max_size=3) | anything,
                }
            )
            | anything,
            "properties": st.dictionaries(
                st.sampled_from(["value", "facies", "well_id", "id", "name"]),
                st.integers(-1, 3) | st.floats() | st.text(max_size=3) | anything,
                max_size=4,
            )
            | anything,
        }
    )
    doc = {
        "type": draw(st.sampled_from(["FeatureCollection", "FeatureCollection", "Feature", None])),
        "features": draw(st.lists(point | anything, max_size=5) | anything),
    }
    crs = draw(
        st.none()
        | st.just({"type": "name", "properties": {"name": "EPSG:32631"}})
        | st.fixed_dictionaries({"type": st.just("name"), "properties": anything})
        | anything
    )
    if crs is not None:
        doc["crs"] = crs
    return doc


def fuzz(n: int) -> settings:
    """Settings of the generated-input tests: ``n`` cases, the same ones every run."""
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@fuzz(N_CASES["csv"])
@given(text=csv_texts(), opts=options)
def test_generated_csv_wells_end_in_geocgan_errors(tmp_path, text, opts):
    path = tmp_path / "w.csv"
    path.write_text(text, encoding="utf-8")
    _read(path, **opts)


@fuzz(N_CASES["csv_bytes"])
@given(data=st.binary(max_size=200), opts=options)
def test_arbitrary_bytes_as_csv_end_in_geocgan_errors(tmp_path, data, opts):
    path = tmp_path / "w.csv"
    path.write_bytes(b"x,y,value,facies\n" + data)
    _read(path, **opts)


@fuzz(N_CASES["geojson"])
@given(doc=geojson_docs(), opts=options)
def test_generated_geojson_wells_end_in_geocgan_errors(tmp_path, doc, opts):
    path = tmp_path / "w.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    _read(path, **opts)


@fuzz(N_CASES["json_any"])
@given(doc=_json_values(), opts=options)
def test_any_json_as_geojson_ends_in_geocgan_errors(tmp_path, doc, opts):
    path = tmp_path / "w.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    _read(path, **opts)


@pytest.mark.parametrize(
    "doc",
    [
        {"type": "FeatureCollection", "features": [None]},
        {"type": "FeatureCollection", "features": ["W1"]},
        {"type": "FeatureCollection", "features": "W1"},
        {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "geometry": [500005, 5700005], "properties": {}}],
        },
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [500005, 5700005]},
                    "properties": [1],
                }
            ],
        },
        {"type": "FeatureCollection", "features": [], "crs": {"type": "name", "properties": []}},
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [10**400, 5700005]},
                    "properties": {"value": 1},
                }
            ],
        },
    ],
)
def test_issue_geojson_cases_are_messages(tmp_path, doc):
    path = tmp_path / "w.geojson"
    path.write_text(json.dumps(doc))
    with pytest.raises(GeocganError, match=f"Well file {path}"):
        read_wells(path, GRID)
