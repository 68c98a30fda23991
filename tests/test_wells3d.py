"""3-D grids and wells: voxel snapping of vertical and deviated wells, bad input."""

import json

import numpy as np
import pytest
from pyproj import Transformer

from geocgan.errors import ConstraintError, GridError, InputError
from geocgan.io.grid import Grid
from geocgan.io.grid3d import Grid3D
from geocgan.io.wells3d import read_wells_3d

CRS = "EPSG:32631"


@pytest.fixture
def grid():
    # 10 columns x 5 rows of 10 m from (0, 0) to (100, 50); 10 layers of 10 m from 0 down to -100
    return Grid3D.from_plan(Grid.from_bounds(0, 0, 100, 50, 10.0, CRS), (-100.0, 0.0), 10.0)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_grid3d_layers_and_coordinates(grid):
    assert grid.shape == (10, 5, 10)
    assert grid.z[:2].tolist() == [-5.0, -15.0] and grid.bottom == -100.0
    # top itself is layer 0, a boundary goes to the layer below, the base is outside
    assert grid.layer([0.0, -10.0, -99.9, -100.0, 0.1]).tolist() == [0, 1, 9, 10, -1]
    assert grid.to_dict()["z_positive"] == "up" and grid.to_dict()["nz"] == 10
    odd = Grid3D.from_bounds((0, 0, -10.4, 10, 10, 0), 1.0, 2.0, CRS)  # 5.2 layers -> 5
    assert odd.nz == 5 and odd.top == 0.0


@pytest.mark.parametrize(
    ("z_bounds", "dz", "match"),
    [
        ((0.0, -100.0), 10.0, "ZMIN < ZMAX"),
        ((-10.0, 0.0), 0.0, "--dz"),
        ((-1.0, 0.0), 5.0, "thicker"),
    ],
)
def test_grid3d_bad_levels(z_bounds, dz, match):
    with pytest.raises(GridError, match=match):
        Grid3D.from_plan(Grid.from_bounds(0, 0, 10, 10, 1.0, CRS), z_bounds, dz)


def test_vertical_well_by_elevation_lands_in_known_voxels(tmp_path, grid):
    path = write(
        tmp_path,
        "w.csv",
        "well_id,x,y,z,facies\nW1,15,45,-5,1\nW1,15,45,-95,0\nW2,99,1,0,1\n",
    )
    wells = read_wells_3d(path, grid, value="facies", categorical=True)
    assert wells.layers.tolist() == [0, 0, 9]  # layers top down; W2 at z=0 is in the top layer
    assert wells.rows.tolist() == [0, 4, 0] and wells.cols.tolist() == [1, 9, 1]
    assert wells.values.tolist() == [1, 1, 0] and wells.values.dtype == np.int64
    c = wells.constraints(grid)
    assert c.mask.shape == (10, 5, 10) and c.count == 3 and c.values[9, 0, 1] == 0
    entry = wells.to_dict()["wells"][1]
    assert entry["z"] == 0.0 and (entry["layer"], entry["row"], entry["col"]) == (0, 4, 9)
    assert json.loads(json.dumps(wells.to_dict()))["n_voxels"] == 3


def test_depth_below_a_datum(tmp_path, grid):
    path = write(tmp_path, "w.csv", "well_id,x,y,tvd,value\nA,55,25,25,0.5\nA,55,25,41,0.7\n")
    wells = read_wells_3d(path, grid, depth="tvd", datum=10.0)
    assert wells.z.tolist() == [-15.0, -31.0]
    assert wells.layers.tolist() == [1, 3] and wells.rows.tolist() == [2, 2]
    assert wells.cols.tolist() == [5, 5] and wells.values.tolist() == [0.5, 0.7]


def test_deviated_well_interpolated_linearly_in_md(tmp_path, grid):
    traj = write(
        tmp_path,
        "traj.csv",
        "well_id,md,x,y,z\nD1,0,5,5,0\nD1,100,95,5,-100\nD2,0,50,45,0\nD2,90,50,45,-90\n",
    )
    path = write(tmp_path, "w.csv", "well_id,md,value\nD1,45,1.0\nD1,99,2.0\nD2,62,3.0\n")
    wells = read_wells_3d(path, grid, md="md", trajectory=traj)
    # D1 at md 45: x = 5 + 0.9 * 45 = 45.5, y = 5, z = -45; at md 99: x = 94.1, z = -99
    # entries come layer by layer, top down
    assert wells.ids.tolist() == ["D1", "D2", "D1"]
    assert wells.x.tolist() == pytest.approx([45.5, 50.0, 94.1])
    assert wells.z.tolist() == pytest.approx([-45.0, -62.0, -99.0])
    voxels = list(zip(wells.layers.tolist(), wells.rows.tolist(), wells.cols.tolist(), strict=True))
    assert voxels == [(4, 4, 4), (6, 0, 5), (9, 4, 9)]


def test_deviated_well_on_the_base_is_refused_then_dropped(tmp_path, grid):
    traj = write(tmp_path, "traj.csv", "well_id,md,x,y,z\nD1,0,5,5,0\nD1,100,95,5,-100\n")
    path = write(tmp_path, "w.csv", "well_id,md,value\nD1,45,1.0\nD1,100,2.0\n")
    with pytest.raises(
        ConstraintError,
        match=r"trajectory leaves the grid: 1 of 2.*below the base: line 3 \(well D1\) at x=95, y=5, z=-100 \(check the trajectory's z",
    ):
        read_wells_3d(path, grid, md="md", trajectory=traj)
    wells = read_wells_3d(path, grid, md="md", trajectory=traj, drop_outside=True)
    assert len(wells) == 1 and wells.dropped[0]["reason"] == "below the base"


def test_samples_in_one_voxel_use_the_2d_rule(tmp_path, grid):
    path = write(
        tmp_path,
        "w.csv",
        "well_id,x,y,z,facies\nA,51,21,-31,1\nB,59,29,-39,0\nC,55,25,-35,0\nD,55,25,-45,1\n",
    )
    with pytest.warns(UserWarning, match=r"majority code 0.*\(layer 3\)"):
        wells = read_wells_3d(path, grid, value="facies", categorical=True)
    assert wells.ids.tolist() == ["A+B+C", "D"] and wells.values.tolist() == [0, 1]
    assert wells.z[0] == pytest.approx(-35.0) and wells.layers.tolist() == [3, 4]
    assert wells.report == [
        {
            "layer": 3,
            "row": 2,
            "col": 5,
            "well_ids": ["A", "B", "C"],
            "values": [1, 0, 0],
            "kept": 0,
            "rule": "majority",
        }
    ]


def test_reprojected_from_lonlat(tmp_path, grid):
    to_lonlat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    lon, lat = to_lonlat.transform(500_035.0, 15.0)
    utm = Grid3D.from_plan(Grid.from_bounds(500_000, 0, 500_100, 50, 10.0, CRS), (-100, 0), 10.0)
    path = write(tmp_path, "w.csv", f"well_id,x,y,z,value\nL,{lon!r},{lat!r},-55,2.0\n")
    wells = read_wells_3d(path, utm, crs="EPSG:4326")
    assert (wells.layers[0], wells.rows[0], wells.cols[0]) == (5, 3, 3)
    assert wells.x[0] == pytest.approx(500_035.0, abs=1e-3)


def test_geojson_points_with_a_third_coordinate(tmp_path, grid):
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [25, 35, -65]},
            "properties": {"well_id": "G1", "value": 4.0},
        },
    ]
    collection = {
        "type": "FeatureCollection",
        "features": features,
        "crs": {"type": "name", "properties": {"name": CRS}},
    }
    path = write(tmp_path, "w.geojson", json.dumps(collection))
    wells = read_wells_3d(path, grid)
    assert (wells.layers[0], wells.rows[0], wells.cols[0]) == (6, 1, 2)


@pytest.mark.parametrize(
    ("z", "match"),
    [
        ("5", r"1 sample\(s\) above the top: line 2 \(well W1\) at x=15, y=45, z=5 .*raise ZMAX"),
        ("-150", r"below the base: line 2 \(well W1\).*lower ZMIN of --z-bounds"),
    ],
)
def test_above_the_top_and_below_the_base(tmp_path, grid, z, match):
    path = write(tmp_path, "w.csv", f"well_id,x,y,z,value\nW1,15,45,{z},1\n")
    with pytest.raises(ConstraintError, match=match):
        read_wells_3d(path, grid)


def test_depth_column_holding_elevations(tmp_path, grid):
    path = write(tmp_path, "w.csv", "well_id,x,y,depth,value\nW1,15,45,-20,1\nW1,15,45,-30,1\n")
    with pytest.raises(
        InputError,
        match=r"column 'depth' \(--depth-column\) holds negative depths at line 2 \(well W1\): -20.*100% of the column would lie inside.*pass it as z='depth' \(--z-column depth\)",
    ):
        read_wells_3d(path, grid, depth="depth")


def test_md_beyond_the_stations_and_unknown_well(tmp_path, grid):
    traj = write(tmp_path, "traj.csv", "well_id,md,x,y,z\nD1,0,5,5,0\nD1,50,5,5,-50\n")
    path = write(tmp_path, "w.csv", "well_id,md,value\nD1,60,1.0\n")
    with pytest.raises(
        InputError, match=r"well 'D1' has samples at md outside .*md 0 to 50.*line 2: md 60"
    ):
        read_wells_3d(path, grid, md="md", trajectory=traj)
    path = write(tmp_path, "w2.csv", "well_id,md,value\nD9,10,1.0\n")
    with pytest.raises(InputError, match=r"0 station\(s\) for well 'D9'"):
        read_wells_3d(path, grid, md="md", trajectory=traj)


def test_trajectory_out_of_order(tmp_path, grid):
    traj = write(tmp_path, "traj.csv", "well_id,md,x,y,z\nD1,50,5,5,-50\nD1,0,5,5,0\n")
    path = write(tmp_path, "w.csv", "well_id,md,value\nD1,10,1.0\n")
    with pytest.raises(InputError, match="not in strictly increasing md"):
        read_wells_3d(path, grid, md="md", trajectory=traj)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"z": "z", "depth": "tvd"},
            r"give one vertical column, not z=\.\.\. \(--z-column\) and depth",
        ),
        ({"md": "md"}, "go together"),
        (
            {"z": "elev"},
            r"no column 'elev' for z\. Columns found: 'well_id', 'x', 'y', 'Z', 'value'\. .*--z-column",
        ),
    ],
)
def test_bad_vertical_options(tmp_path, grid, kwargs, match):
    path = write(tmp_path, "w.csv", "well_id,x,y,Z,value\nW1,15,45,-5,1\n")
    with pytest.raises(InputError, match=match):
        read_wells_3d(path, grid, **kwargs)


def test_missing_z_column_suggests_case(tmp_path, grid):
    path = write(tmp_path, "w.csv", "well_id,x,y,Z,value\nW1,15,45,-5,1\n")
    with pytest.raises(InputError, match="Did you mean 'Z'"):
        read_wells_3d(path, grid)


def test_outside_in_plan(tmp_path, grid):
    path = write(tmp_path, "w.csv", "well_id,x,y,z,value\nW1,150,45,-5,1\nW2,15,45,-5,1\n")
    with pytest.raises(
        ConstraintError,
        match=r"1 of 2 sample\(s\).*outside the grid in plan: line 2 \(well W1\).*--wells-crs.*--drop-outside",
    ):
        read_wells_3d(path, grid)


def test_minimum_curvature_quarter_circle_and_straight_hole():
    from geocgan.io.wells3d import minimum_curvature

    # build from vertical to horizontal, heading east, over 100 m: a quarter circle of radius R
    r = 100 / (np.pi / 2)
    md, inc, azi = np.array([0.0, 100.0]), np.array([0.0, 90.0]), np.array([90.0, 90.0])
    p = minimum_curvature(md, inc, azi, np.array([10.0, 20.0, 0.0]), np.array([0.0, 50.0, 100.0]))
    half = np.radians(45)
    assert p[1] == pytest.approx([10 + r * (1 - np.cos(half)), 20.0, -r * np.sin(half)])
    assert p[2] == pytest.approx([10 + r, 20.0, -r])
    # a straight inclined hole: 60 deg from vertical, azimuth 0 (north)
    p = minimum_curvature(md, np.array([60.0, 60.0]), np.array([0.0, 0.0]), np.zeros(3),
                          np.array([40.0]))  # fmt: skip
    assert p[0] == pytest.approx([0.0, 40 * np.sin(np.radians(60)), -20.0])


def test_deviation_survey_places_samples_by_minimum_curvature(tmp_path, grid):
    traj = write(
        tmp_path,
        "survey.csv",
        "well_id,md,inc,azi,x,y,z\nS,0,0,90,5,25,0\nS,100,90,90,,,\n",
    )
    path = write(tmp_path, "w.csv", "well_id,md,facies\nS,50,1\nS,100,0\n")
    wells = read_wells_3d(path, grid, md="md", trajectory=traj, value="facies", categorical=True)
    r = 100 / (np.pi / 2)
    assert wells.x.tolist() == pytest.approx([5 + r * (1 - np.cos(np.pi / 4)), 5 + r])
    assert wells.z.tolist() == pytest.approx([-r * np.sin(np.pi / 4), -r])
    assert wells.layers.tolist() == [4, 6] and wells.cols.tolist() == [2, 6]
    bad = write(tmp_path, "bad.csv", "well_id,md,inc,azi,x,y,z\nS,0,0,90,5,,0\nS,100,90,90,,,\n")
    with pytest.raises(InputError, match=r"missing or NaN tie-in y \('y'\) at line 2 \(well S\)"):
        read_wells_3d(path, grid, md="md", trajectory=bad, value="facies", categorical=True)


def test_deviation_survey_in_degrees_is_refused(tmp_path, grid):
    traj = write(tmp_path, "s.csv", "well_id,md,inc,azi,x,y,z\nS,0,0,0,2.9,0.1,0\nS,10,0,0,,,\n")
    path = write(tmp_path, "w.csv", "well_id,md,value\nS,5,1\n")
    with pytest.raises(InputError, match="needs a projected CRS in the units of md"):
        read_wells_3d(path, grid, md="md", trajectory=traj, crs="EPSG:4326")
