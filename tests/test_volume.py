"""3-D outputs: Zarr volume store round trip (CRS, vertical coordinate), NetCDF, VTK, PNG."""

import numpy as np
import pytest
import xarray as xr

from geocgan.errors import GeocganError, GridError, InputError, OutputExistsError
from geocgan.fields import channel_field_3d
from geocgan.io.grid import Grid
from geocgan.io.grid3d import Grid3D
from geocgan.io.volume import (
    DIMS,
    VolumeStore,
    open_volume,
    plot_slices,
    read_training_volume,
    stored_grid,
    volume_dataset,
    write_volume_netcdf,
    write_volume_zarr,
    write_vti,
)
from geocgan.io.wells3d import read_wells_3d

CRS = "EPSG:32631"


@pytest.fixture
def grid():
    plan = Grid.from_bounds(500_000, 0, 500_080, 60, 10.0, CRS)  # 8 x 6 cells
    return Grid3D.from_plan(plan, (-50.0, 0.0), 10.0)  # 5 layers


def facies(grid, n=3):
    return channel_field_3d(grid.shape, proportion=0.3, width=3.0, thickness=2.0, n=n, seed=1)


def test_zarr_round_trip_with_crs_and_vertical_coordinate(tmp_path, grid):
    data = facies(grid)
    path = write_volume_zarr(
        tmp_path / "v.zarr", grid, data, name="facies", codes=[0, 1], attrs={"seed": 3}
    )
    ds = open_volume(path)
    assert ds["facies"].dims == DIMS == ("realization", "z", "y", "x")
    assert ds["facies"].dtype == np.uint8 and np.array_equal(ds["facies"].values, data)
    assert ds.rio.crs.to_epsg() == 32631
    assert ds["facies"].encoding.get("grid_mapping") == "spatial_ref"
    z = ds["z"]
    assert z.attrs["positive"] == "up" and z.attrs["units"] == "metre" and z.attrs["axis"] == "Z"
    assert z.values.tolist() == [-5.0, -15.0, -25.0, -35.0, -45.0]
    assert ds["x"].values[0] == 500_005.0 and ds["y"].values[0] == 55.0
    assert ds["facies"].attrs["flag_values"] == [0, 1] and ds.attrs["seed"] == 3
    back = stored_grid(ds)
    assert back.shape == grid.shape and back.top == 0.0 and back.dz == 10.0
    assert back.plan.transform == grid.plan.transform


def test_unfinished_store_is_refused_and_resumable(tmp_path, grid):
    data = np.random.default_rng(0).normal(size=(3, *grid.shape)).astype(np.float32)
    store = VolumeStore.create(tmp_path / "v.zarr", grid, 3)
    store.write(0, data[:2])
    assert store.missing() == [2]
    with pytest.raises(InputError, match=r"unfinished: realizations 2 were not written"):
        open_volume(store.path)
    with pytest.raises(GeocganError, match="Cannot finalize"):
        store.finalize()
    assert np.isnan(open_volume(store.path, allow_incomplete=True)["value"][2]).all()
    store.write(2, data[2:])
    store.finalize()
    assert np.array_equal(open_volume(store.path)["value"].values, data)
    with pytest.raises(OutputExistsError, match="complete"):
        store.write(0, data[:1])
    with pytest.raises(OutputExistsError, match="--overwrite"):
        VolumeStore.create(store.path, grid, 3)


def test_shape_mismatch_and_rotated_grid(grid):
    with pytest.raises(GridError, match=r"expected \(n, 5, 6, 8\)"):
        volume_dataset(grid, np.zeros((1, 5, 8, 6)))
    from affine import Affine

    rotated = Grid(6, 8, Affine.rotation(30) @ Affine.scale(10, -10), CRS)
    with pytest.raises(GridError, match="axis-aligned"):
        volume_dataset(Grid3D(rotated, 0.0, 10.0, 5), np.zeros((1, 5, 6, 8)))


def test_netcdf_round_trip(tmp_path, grid):
    data = facies(grid, n=2)
    ds = volume_dataset(grid, data, name="facies", codes=[0, 1])
    path = write_volume_netcdf(tmp_path / "v.nc", ds)
    back = xr.open_dataset(path, decode_coords="all", engine="h5netcdf")
    assert back.rio.crs.to_epsg() == 32631 and back["z"].attrs["positive"] == "up"
    assert np.array_equal(back["facies"].values, data)
    with pytest.raises(OutputExistsError):
        write_volume_netcdf(path, ds)


def test_vti_is_readable_by_vtk_with_z_up(tmp_path, grid):
    vtk = pytest.importorskip("vtkmodules.vtkIOXML")
    from vtkmodules.util.numpy_support import vtk_to_numpy

    data = facies(grid, n=1)[0]
    path = write_vti(tmp_path / "v.vti", grid, {"facies": data})
    reader = vtk.vtkXMLImageDataReader()
    reader.SetFileName(str(path))
    reader.Update()
    image = reader.GetOutput()
    assert image.GetDimensions() == (9, 7, 6)  # points: cells + 1 along x, y, z
    assert image.GetOrigin() == pytest.approx((500_000.0, 0.0, -50.0))
    cells = vtk_to_numpy(image.GetCellData().GetArray("facies")).reshape(5, 6, 8)  # (z, y, x) up
    assert np.array_equal(cells, data[::-1, ::-1, :])  # layers bottom up, rows south to north
    with pytest.raises(InputError, match=r"must end in \.vti"):
        write_vti(tmp_path / "v.vtk", grid, {"facies": data})


def test_slices_png_with_wells(tmp_path, grid):
    wells_csv = tmp_path / "w.csv"
    wells_csv.write_text("well_id,x,y,z,facies\nA,500045,35,-5,1\nA,500045,35,-25,0\n")
    wells = read_wells_3d(wells_csv, grid, value="facies", categorical=True)
    path = plot_slices(
        tmp_path / "s.png", grid, facies(grid, 1)[0], wells=wells, at=(2, 2, 4), categorical=True
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_read_training_volume(tmp_path, grid):
    data = facies(grid, n=2)
    np.save(tmp_path / "v.npy", data[0])
    assert np.array_equal(read_training_volume(tmp_path / "v.npy"), data[0])
    store = write_volume_zarr(tmp_path / "v.zarr", grid, data, name="facies", codes=[0, 1])
    assert np.array_equal(read_training_volume(store), data[0])
    ds = volume_dataset(grid, data, name="facies", codes=[0, 1])
    nc = write_volume_netcdf(tmp_path / "v.nc", ds.isel(realization=0))
    assert np.array_equal(read_training_volume(nc), data[0])
    np.save(tmp_path / "flat.npy", data[0, 0])
    with pytest.raises(
        InputError, match=r"must be 3-D \(layers, rows, columns\), got shape \(6, 8\)"
    ):
        read_training_volume(tmp_path / "flat.npy")
    with pytest.raises(InputError, match="unknown format '.tif'"):
        (tmp_path / "v.tif").write_bytes(b"")
        read_training_volume(tmp_path / "v.tif")
