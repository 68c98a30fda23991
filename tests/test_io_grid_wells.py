"""Grid geometry and well reading: pixel snapping, reprojection, aggregation, input errors."""

import json

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer

from geocgan.errors import ConstraintError, GridError, InputError
from geocgan.io.grid import Grid
from geocgan.io.wells import read_wells

UTM = "EPSG:32631"
X0, Y0 = 500_000.0, 4_000_640.0  # upper-left corner of the UTM test grid (EPSG:32631)


@pytest.fixture
def grid() -> Grid:
    """64 x 64 north-up grid of 10 m pixels, x 500000..500640, y 4000000..4000640."""
    return Grid.from_bounds(X0, Y0 - 640, X0 + 640, Y0, 10, "EPSG:32631")


def centre(row: int, col: int) -> tuple[float, float]:
    """Map coordinates of a pixel centre of the north-up test grid."""
    return X0 + 10 * (col + 0.5), Y0 - 10 * (row + 0.5)


def write_csv(path, text: str):
    path.write_text(text)
    return path


def write_geojson(path, points, *, crs=None):
    """points: list of (x, y, properties); crs: a legacy "crs" member."""
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [x, y]},
                "properties": p,
            }
            for x, y, p in points
        ],
    }
    if crs is not None:
        doc["crs"] = crs
    path.write_text(json.dumps(doc))
    return path


# ---------------------------------------------------------------- Grid


def test_from_bounds_geometry(grid):
    assert grid.shape == (64, 64)
    assert grid.transform == Affine(10, 0, X0, 0, -10, Y0)
    assert grid.x[0] == X0 + 5 and grid.x[-1] == X0 + 635
    assert grid.y[0] == Y0 - 5 and grid.y[-1] == Y0 - 635
    assert grid.units == "metre"
    assert grid.bounds == (X0, Y0 - 640, X0 + 640, Y0)


def test_from_bounds_rounds_to_whole_pixels():
    # 104 m / 10 m -> 10 pixels, 106 m / 10 m -> 11 pixels; the upper-left corner stays.
    g = Grid.from_bounds(0, 0, 104, 106, 10, "EPSG:32631")
    assert g.shape == (11, 10)
    assert (g.transform.c, g.transform.f) == (0, 106)


def test_from_bounds_rejects_bad_input():
    with pytest.raises(GridError, match="resolution must be positive"):
        Grid.from_bounds(0, 0, 100, 100, 0, "EPSG:32631")
    with pytest.raises(GridError, match="xmin < xmax"):
        Grid.from_bounds(100, 0, 0, 100, 10, "EPSG:32631")
    with pytest.raises(GridError, match="not understood.*EPSG code"):
        Grid.from_bounds(0, 0, 100, 100, 10, "EPSG:99999")


def test_geotiff_template_roundtrip(grid, tmp_path):
    path = grid.write_template(tmp_path / "template.tif")
    assert Grid.from_geotiff(path) == grid
    assert sorted(p.name for p in tmp_path.iterdir()) == ["template.tif"]


def test_from_geotiff_errors(tmp_path):
    with pytest.raises(GridError, match=r"missing\.tif does not exist.*bounds"):
        Grid.from_geotiff(tmp_path / "missing.tif")
    no_crs = tmp_path / "nocrs.tif"
    with rasterio.open(
        no_crs,
        "w",
        driver="GTiff",
        width=4,
        height=4,
        count=1,
        dtype="uint8",
        transform=Affine(1, 0, 0, 0, -1, 4),
    ) as dst:
        dst.write(np.zeros((1, 4, 4), np.uint8))
    with pytest.raises(GridError, match=r"nocrs\.tif has no CRS.*gdal_edit"):
        Grid.from_geotiff(no_crs)
    text = tmp_path / "notes.tif"
    text.write_text("not a raster")
    with pytest.raises(GridError, match=r"notes\.tif cannot be read as a raster"):
        Grid.from_geotiff(text)


def test_rowcol_north_up(grid):
    x, y = centre(3, 7)
    rows, cols = grid.rowcol([x, X0 + 0.1, X0 + 639.9], [y, Y0 - 0.1, Y0 - 639.9])
    assert rows.tolist() == [3, 0, 63] and cols.tolist() == [7, 0, 63]
    assert grid.contains(rows, cols).all()
    rows, cols = grid.rowcol([X0 - 1, X0 + 641], [Y0 - 5, Y0 + 1])
    assert not grid.contains(rows, cols).any()


def test_rowcol_south_up_and_negative_xres():
    # South-up: row 0 at the bottom (y grows with the row index).
    south_up = Grid(10, 10, Affine(10, 0, 0, 0, 10, 1000), UTM)
    rows, cols = south_up.rowcol([15.0], [1025.0])
    assert (rows[0], cols[0]) == (2, 1)
    assert south_up.y[2] == 1025.0
    # Negative x resolution: column 0 at the east edge.
    flipped = Grid(10, 10, Affine(-10, 0, 100, 0, -10, 1000), UTM)
    rows, cols = flipped.rowcol([85.0], [995.0])
    assert (rows[0], cols[0]) == (0, 1)
    assert flipped.x[1] == 85.0


def test_rotated_grid_rowcol_and_no_1d_coordinates(grid):
    rotated = Grid(
        20, 30, Affine.translation(X0, Y0) @ Affine.rotation(30) @ Affine.scale(10, -10), grid.crs
    )
    r, c = np.array([0, 5, 19]), np.array([0, 12, 29])
    xs, ys = rotated.transform @ (c + 0.5, r + 0.5)
    rows, cols = rotated.rowcol(xs, ys)
    assert rows.tolist() == r.tolist() and cols.tolist() == c.tolist()
    with pytest.raises(GridError, match="rotated.*no 1-D x coordinate"):
        _ = rotated.x
    with pytest.raises(GridError, match="rotated.*no 1-D y coordinate"):
        _ = rotated.y


def test_units_of_geographic_and_feet_crs():
    assert Grid.from_bounds(0, 0, 1, 1, 0.1, "EPSG:4326").units == "degree"
    assert Grid.from_bounds(0, 0, 100, 100, 10, "EPSG:2263").units == "US survey foot"


# ---------------------------------------------------------------- wells: placement


def test_csv_wells_land_in_their_pixels(grid, tmp_path):
    (x1, y1), (x2, y2) = centre(3, 7), centre(60, 2)
    path = write_csv(tmp_path / "w.csv", f"well_id,x,y,value\nA,{x1},{y1},0.25\nB,{x2},{y2},-1\n")
    wells = read_wells(path, grid)
    assert wells.ids.tolist() == ["A", "B"]
    assert wells.rows.tolist() == [3, 60] and wells.cols.tolist() == [7, 2]
    assert wells.values.tolist() == [0.25, -1.0]
    assert wells.x.tolist() == [x1, x2] and wells.y.tolist() == [y1, y2]
    assert wells.crs == grid.crs and wells.source_crs == grid.crs
    assert wells.dropped == [] and wells.report == []
    json.dumps(wells.to_dict(), allow_nan=False)


def test_csv_semicolons_bom_spaces_and_no_id_column(grid, tmp_path):
    x, y = centre(10, 20)
    path = tmp_path / "excel.csv"
    path.write_text(f"\ufeffX ; Y ; porosity\n{x}; {y}; 0.3\n\n", encoding="utf-8")
    wells = read_wells(path, grid, x="X", y="Y", value="porosity")
    assert wells.ids.tolist() == ["line 2"]
    assert (wells.rows[0], wells.cols[0], wells.values[0]) == (10, 20, 0.3)


def test_wells_on_rotated_grid(grid, tmp_path):
    rotated = Grid(
        20, 30, Affine.translation(X0, Y0) @ Affine.rotation(-20) @ Affine.scale(10, -10), grid.crs
    )
    x, y = rotated.transform @ (12.5, 5.5)  # centre of row 5, col 12
    wells = read_wells(write_csv(tmp_path / "w.csv", f"x,y,value\n{x},{y},1\n"), rotated)
    assert (wells.rows[0], wells.cols[0]) == (5, 12)


def test_geojson_lonlat_reprojected_to_utm(grid, tmp_path):
    to_lonlat = Transformer.from_crs("EPSG:32631", "EPSG:4326", always_xy=True)
    pixels = [(0, 0), (17, 41), (63, 63)]
    points = []
    for i, (r, c) in enumerate(pixels):
        lon, lat = to_lonlat.transform(*centre(r, c))
        points.append((lon, lat, {"well_id": f"W{i}", "value": float(i)}))
    # RFC 7946: no "crs" member means longitude/latitude.
    wells = read_wells(write_geojson(tmp_path / "w.geojson", points), grid)
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32631", always_xy=True)
    ex, ey = to_utm.transform([p[0] for p in points], [p[1] for p in points])
    assert np.allclose(wells.x, ex) and np.allclose(wells.y, ey)
    assert list(zip(wells.rows.tolist(), wells.cols.tolist(), strict=True)) == pixels
    assert wells.source_crs.to_epsg() == 4326 and wells.crs == grid.crs


def test_csv_with_wells_crs_is_reprojected(grid, tmp_path):
    lon, lat = Transformer.from_crs("EPSG:32631", "EPSG:4326", always_xy=True).transform(
        *centre(30, 31)
    )
    path = write_csv(tmp_path / "w.csv", f"x,y,value\n{lon},{lat},2\n")
    wells = read_wells(path, grid, crs="EPSG:4326")
    assert (wells.rows[0], wells.cols[0]) == (30, 31)


@pytest.mark.parametrize(
    "member",
    [
        {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32631"}},
        {"type": "EPSG", "properties": {"code": 32631}},  # GeoJSON 2008 form
    ],
)
def test_geojson_declared_crs_and_conflict(grid, tmp_path, member):
    x, y = centre(5, 6)
    path = write_geojson(tmp_path / "w.json", [(x, y, {"value": 1.0})], crs=member)
    wells = read_wells(path, grid)
    assert (wells.rows[0], wells.cols[0]) == (5, 6)
    assert wells.ids.tolist() == ["feature 1"]
    with pytest.raises(InputError, match="declares CRS EPSG:32631 but crs=EPSG:4326"):
        read_wells(path, grid, crs="EPSG:4326")


def test_projected_coordinates_read_as_lonlat_are_refused(grid, tmp_path):
    x, y = centre(5, 6)
    path = write_geojson(tmp_path / "w.geojson", [(x, y, {"well_id": "P1", "value": 1.0})])
    with pytest.raises(InputError, match=r"longitude/latitude.*feature 1 \(well P1\).*--wells-crs"):
        read_wells(path, grid)


# ---------------------------------------------------------------- wells: aggregation


def test_duplicate_continuous_wells_are_averaged(grid, tmp_path):
    (xa, ya), (xc, yc) = centre(4, 4), centre(9, 9)
    path = write_csv(
        tmp_path / "w.csv",
        f"well_id,x,y,value\nA,{xa - 2},{ya},1.0\nC,{xc},{yc},5\nB,{xa + 2},{ya + 1},3.0\n",
    )
    wells = read_wells(path, grid)
    assert wells.ids.tolist() == ["A+B", "C"]
    assert wells.members == [["A", "B"], ["C"]]
    assert wells.values.tolist() == [2.0, 5.0]
    assert wells.x[0] == pytest.approx(xa) and wells.y[0] == pytest.approx(ya + 0.5)
    assert wells.report == [
        {
            "row": 4,
            "col": 4,
            "well_ids": ["A", "B"],
            "values": [1.0, 3.0],
            "kept": 2.0,
            "rule": "mean",
        }
    ]


def test_duplicate_facies_take_the_majority_with_a_warning(grid, tmp_path):
    x, y = centre(3, 4)
    x2, y2 = centre(8, 8)
    path = write_csv(
        tmp_path / "w.csv",
        f"well_id,x,y,facies\nW1,{x},{y},1\nW2,{x + 1},{y},2\nW3,{x},{y + 1},2\n"
        f"T1,{x2},{y2},2\nT2,{x2},{y2},1\n",
    )
    with pytest.warns(UserWarning) as rec:
        wells = read_wells(path, grid, value="facies", categorical=True, codes=[0, 1, 2])
    messages = [str(w.message) for w in rec]  # one per conflicting pixel
    assert len(messages) == 2
    assert (
        "wells W1, W2, W3 fall in pixel (row 3, col 4) with different codes [1, 2, 2]; "
        "kept the majority code 2" in messages[0]
    )
    assert "wells T1, T2 fall in pixel (row 8, col 8)" in messages[1]
    assert wells.values.dtype == np.int64
    assert wells.values.tolist() == [2, 1]  # majority 2; the 1-1 tie goes to the smaller code
    assert [r["rule"] for r in wells.report] == ["majority", "majority"]
    assert wells.report[0]["well_ids"] == ["W1", "W2", "W3"]


def test_agreeing_duplicate_facies_do_not_warn(grid, tmp_path, recwarn):
    x, y = centre(3, 4)
    path = write_csv(tmp_path / "w.csv", f"x,y,value\n{x},{y},1\n{x},{y},1.0\n")
    wells = read_wells(path, grid, categorical=True)
    assert wells.values.tolist() == [1] and len(wells.report) == 1
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


# ---------------------------------------------------------------- wells: bad input


def test_missing_file(grid, tmp_path):
    with pytest.raises(InputError, match=r"nowhere\.csv does not exist"):
        read_wells(tmp_path / "nowhere.csv", grid)


def test_unknown_format(grid, tmp_path):
    path = write_csv(tmp_path / "w.xlsx", "x")
    with pytest.raises(InputError, match=r"unknown format '\.xlsx'.*\.csv or \.geojson"):
        read_wells(path, grid)


def test_empty_csv(grid, tmp_path):
    with pytest.raises(InputError, match=r"w\.csv is empty\. It needs a header row"):
        read_wells(write_csv(tmp_path / "w.csv", ""), grid)
    with pytest.raises(InputError, match=r"w2\.csv holds no wells"):
        read_wells(write_csv(tmp_path / "w2.csv", "x,y,value\n"), grid)


def test_missing_columns_are_named_with_the_option(grid, tmp_path):
    path = write_csv(tmp_path / "w.csv", "well_id,X,Y,porosity\nA,1,2,0.3\n")
    with pytest.raises(
        InputError,
        match=r"no column 'value'.*Columns found: 'well_id', 'X', 'Y', 'porosity'.*--value-column",
    ):
        read_wells(path, grid, x="X", y="Y")
    with pytest.raises(InputError, match=r"no column 'x'.*Did you mean 'X'\?.*--x-column"):
        read_wells(path, grid, value="porosity")
    with pytest.raises(InputError, match=r"no column 'name'.*--id-column"):
        read_wells(path, grid, x="X", y="Y", value="porosity", well_id="name")


def test_missing_geojson_property(grid, tmp_path):
    path = write_geojson(tmp_path / "w.geojson", [(1.0, 2.0, {"por": 0.3})])
    with pytest.raises(InputError, match=r"no property 'value'.*Properties found: 'por'"):
        read_wells(path, grid)


def test_non_point_geometry(grid, tmp_path):
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
                "properties": {"value": 1},
            }
        ],
    }
    path = tmp_path / "w.geojson"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"Point features; feature 1: geometry 'LineString'"):
        read_wells(path, grid)


def test_non_numeric_value_names_line_and_well(grid, tmp_path):
    x, y = centre(1, 1)
    path = write_csv(
        tmp_path / "w.csv", f'well_id,x,y,value\nA,{x},{y},1\nB,{x},{y},abc\nC,{x},{y},"0,5"\n'
    )
    with pytest.raises(
        InputError,
        match=r"non-numeric value \('value'\) at line 3 \(well B\): 'abc'; line 4 \(well C\): "
        r"'0,5'\. Use '\.' as the decimal separator",
    ):
        read_wells(path, grid)


def test_empty_and_nan_values_are_refused(grid, tmp_path):
    x, y = centre(1, 1)
    path = write_csv(
        tmp_path / "w.csv", f"well_id,x,y,value\nA,{x},{y},1\nB,{x},{y},\nC,{x},{y},NaN\n"
    )
    with pytest.raises(
        InputError,
        match=r"missing or NaN value \('value'\) at line 3 \(well B\); line 4 \(well C\)",
    ):
        read_wells(path, grid)
    path = write_csv(tmp_path / "w2.csv", f"x,y,value\n{x},,1\n")
    with pytest.raises(InputError, match=r"missing or NaN y coordinate \('y'\) at line 2"):
        read_wells(path, grid)


def test_wells_outside_the_grid(grid, tmp_path):
    (x1, y1), (x2, y2) = centre(2, 2), centre(5, 5)
    path = write_csv(
        tmp_path / "w.csv",
        f"well_id,x,y,value\nA,{x1},{y1},1\nFAR,{X0 - 50},{y2},7\nB,{x2},{y2},3\n",
    )
    with pytest.raises(
        ConstraintError,
        match=r"1 of 3 well\(s\) lie outside the grid.*line 3 \(well FAR\) at x=499950.*--drop-outside",
    ):
        read_wells(path, grid)
    wells = read_wells(path, grid, drop_outside=True)
    assert wells.ids.tolist() == ["A", "B"]
    assert wells.dropped == [
        {"well_id": "FAR", "where": "line 3", "x": X0 - 50, "y": y2, "reason": "outside the grid"}
    ]


def test_all_wells_outside_suggest_the_wells_crs(grid, tmp_path):
    path = write_csv(tmp_path / "w.csv", "x,y,value\n3.1,36.1,1\n3.2,36.2,1\n")
    with pytest.raises(ConstraintError, match=r"2 of 2 .*look like longitude/latitude.*EPSG:4326"):
        read_wells(path, grid, drop_outside=True)


def test_facies_codes_must_be_known_integers(grid, tmp_path):
    x, y = centre(1, 1)
    path = write_csv(tmp_path / "w.csv", f"well_id,x,y,value\nA,{x},{y},1.5\n")
    with pytest.raises(InputError, match=r"facies codes must be integers, but .* line 2 \(well A\): 1\.5.*look like continuous"):
        read_wells(path, grid, categorical=True)
    path = write_csv(tmp_path / "w2.csv", f"well_id,x,y,value\nA,{x},{y},1\nB,{x},{y},7\n")
    with pytest.raises(
        ConstraintError,
        match=r"code\(s\) \[7\] are unknown to the model, which knows codes \[0, 1, 2\]: "
        r"line 3 \(well B\): 7",
    ):
        read_wells(path, grid, categorical=True, codes=[2, 1, 0])


# ---------------------------------------------------------------- wells: vertical sections


@pytest.fixture
def section() -> Grid:
    """Vertical section of 5 m pixels: x 0..200 m along the section, elevation 0 to -100 m."""
    return Grid.from_bounds(0, -100, 200, 0, 5, UTM)


def test_borehole_log_fills_a_column_of_pixels(section, tmp_path):
    assert section.shape == (20, 40)  # rows count down from elevation 0, 5 m each
    path = write_csv(
        tmp_path / "log.csv",
        "well_id,x,depth,value\n"
        "BH1,72.5,0,0.1\nBH1,72.5,12.5,0.2\nBH1,72.5,50,0.3\nBH1,72.5,52,0.5\nBH1,72.5,97.5,0.6\n"
        "BH2,150,47.5,0.9\n",
    )
    wells = read_wells(path, section, depth="depth")
    # row = floor(depth / 5), col = floor(x / 5); depths 50 and 52 share row 10 and are averaged.
    assert wells.rows.tolist() == [0, 2, 10, 19, 9]
    assert wells.cols.tolist() == [14, 14, 14, 14, 30]
    assert wells.values.tolist() == pytest.approx([0.1, 0.2, 0.4, 0.6, 0.9])
    assert wells.y.tolist() == [0.0, -12.5, -51.0, -97.5, -47.5]  # elevation = 0 - depth
    assert wells.ids.tolist() == ["BH1", "BH1", "BH1+BH1", "BH1", "BH2"]
    assert wells.report[0]["row"] == 10 and wells.report[0]["rule"] == "mean"
    assert wells.source_crs == section.crs and wells.dropped == []


def test_datum_shifts_the_rows(section, tmp_path):
    path = write_csv(tmp_path / "log.csv", "x,depth,value\n12.5,12.5,1\n12.5,42.5,2\n")
    assert read_wells(path, section, depth="depth").rows.tolist() == [2, 8]
    # A datum 20 m below the section's top moves every sample 20 m = 4 rows down.
    shifted = read_wells(path, section, depth="depth", datum=-20.0)
    assert shifted.rows.tolist() == [6, 12] and shifted.y.tolist() == [-32.5, -62.5]
    # A datum 10 m above the top (e.g. a kelly bushing) moves them 2 rows up.
    assert read_wells(path, section, depth="depth", datum=10).rows.tolist() == [0, 6]
    with pytest.raises(InputError, match=r"datum=nan \(--datum\) is not a finite number"):
        read_wells(path, section, depth="depth", datum=float("nan"))


def test_section_missing_depth_column(section, tmp_path):
    path = write_csv(tmp_path / "log.csv", "x,TVD,value\n10,5,1\n")
    with pytest.raises(
        InputError,
        match=r"no column 'depth' for the depths below the datum.*Did you mean 'TVD'\?"
        r".*depth=\.\.\. \(command line: --depth-column\)",
    ):
        read_wells(path, section, depth="depth")


def test_section_nan_depth_names_line_and_well(section, tmp_path):
    path = write_csv(tmp_path / "log.csv", "well_id,x,depth,value\nBH1,10,5,1\nBH1,10,NaN,2\n")
    with pytest.raises(
        InputError, match=r"missing or NaN depth \('depth'\) at line 3 \(well BH1\): 'NaN'\. Fill"
    ):
        read_wells(path, section, depth="depth")


def test_section_samples_below_the_grid(section, tmp_path):
    path = write_csv(
        tmp_path / "log.csv", "well_id,x,depth,value\nBH1,10,5,1\nBH1,10,120,2\nBH2,60,5,3\n"
    )
    with pytest.raises(
        ConstraintError,
        match=r"1 of 3 well\(s\) lie outside the grid \(x 0 to 200, y -100 to 0.*"
        r"line 3 \(well BH1\) at x=10, depth=120 \(elevation y = datum 0 - depth\).*--drop-outside",
    ):
        read_wells(path, section, depth="depth")
    wells = read_wells(path, section, depth="depth", drop_outside=True)
    assert wells.rows.tolist() == [1, 1] and wells.cols.tolist() == [2, 12]
    assert wells.dropped == [
        {
            "well_id": "BH1",
            "where": "line 3",
            "x": 10.0,
            "y": -120.0,
            "depth": 120.0,
            "reason": "outside the grid",
        }
    ]
    # Every sample outside: a wrong datum is the likely cause.
    with pytest.raises(
        ConstraintError, match=r"3 of 3 .*Check the datum \(datum=\.\.\., --datum\)"
    ):
        read_wells(path, section, depth="depth", datum=-500)


def test_section_refuses_geojson_and_reprojection(section, tmp_path):
    path = write_geojson(tmp_path / "w.geojson", [(10.0, 5.0, {"value": 1.0})])
    with pytest.raises(InputError, match=r"--depth-column\) reads vertical sections from CSV only"):
        read_wells(path, section, depth="depth")
    path = write_csv(tmp_path / "log.csv", "x,depth,value\n10,5,1\n")
    with pytest.raises(
        InputError,
        match=r"crs=EPSG:4326 \(--wells-crs\) was given with depth=.*taken in the grid's units",
    ):
        read_wells(path, section, depth="depth", crs="EPSG:4326")
    assert read_wells(path, section, depth="depth", crs=UTM).rows.tolist() == [1]
