"""Defects found by trying the 3-D and translation I/O as a GIS user would (review 2026-12-05)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from geocgan.models import build_model
from geocgan.models.pix2pix import Pix2Pix
from geocgan.translate import read_raster, translate, write_geotiff

TRANSFORM = from_origin(600000, 5000000, 25, 25)


def pix2pix(source_kind):
    x = np.random.default_rng(0).normal(size=(8, 16, 16)).astype(np.float32)
    src = (x > 0).astype(np.float32) if source_kind == "categorical" else x
    spec = Pix2Pix.translation_spec(x, src, "continuous", source_kind)
    return build_model("pix2pix", {"ngf": 4, "ndf": 4, "levels": 3, "receptive_field": 16}, spec)


def write_tif(path, data, dtype, nodata):
    profile = dict(driver="GTiff", height=data.shape[0], width=data.shape[1], count=1)
    profile.update(dtype=dtype, crs="EPSG:32631", transform=TRANSFORM, nodata=nodata)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data.astype(dtype)[None])
    return path


def test_facies_input_nodata_is_not_the_continuous_outputs_nodata(tmp_path):
    codes = (np.random.default_rng(1).random((24, 40)) < 0.4).astype(np.uint8)
    codes[:3, :4] = 255
    src = write_tif(tmp_path / "codes.tif", codes, "uint8", 255)
    translate(pix2pix("categorical"), src, tmp_path / "k.tif")
    with rasterio.open(tmp_path / "k.tif") as o:
        assert o.dtypes[0] == "float32" and np.isnan(o.nodata)  # not the codes' 255
        got = o.read(1, masked=True)
    assert got.mask[:3, :4].all() and got.mask.sum() == 12


def test_continuous_nodata_dropped_when_a_valid_output_pixel_takes_it(tmp_path):
    data = np.random.default_rng(2).normal(size=(16, 16)).astype(np.float32)
    data[0, 0] = 0.0
    raster = read_raster(write_tif(tmp_path / "in.tif", data, "float32", 0.0))
    model = pix2pix("continuous")
    out = np.ones((16, 16), np.float32)
    out[0, 0], out[5, 5] = np.nan, 0.0  # a real output value equal to the input's nodata
    write_geotiff(tmp_path / "o.tif", model, raster, out, tags={})
    with rasterio.open(tmp_path / "o.tif") as o:
        assert np.isnan(o.nodata) and o.read(1)[5, 5] == 0.0
    out[5, 5] = 2.0  # no clash: the input's nodata is kept
    write_geotiff(tmp_path / "p.tif", model, raster, out, tags={})
    with rasterio.open(tmp_path / "p.tif") as o:
        assert o.nodata == 0.0 and o.read(1)[0, 0] == 0.0


def simulate_args(tmp_path):
    """``geocgan simulate`` arguments: a tiny 3-D checkpoint, one well, a 32 x 32 plan grid."""
    from geocgan.checkpoint import save_checkpoint
    from geocgan.constraints import FieldSpec
    from geocgan.models.pixel_cgan import PixelCGANConfig

    config = PixelCGANConfig(ndim=3, nz=2, ngf=4, ndf=4, d_layers=2)
    model = build_model("pixel-cgan", config, FieldSpec(kind="categorical", codes=[0, 1]))
    ckpt = save_checkpoint(tmp_path / "m.safetensors", model, {"epoch": 0})
    wells = tmp_path / "w.csv"
    wells.write_text("well_id,x,y,z,value\nA,5,5,-3,1\n")
    return ["simulate", str(wells), "-m", str(ckpt), "-o", str(tmp_path / "o"), "-q",
            "--bounds", "0", "0", "320", "320", "--res", "10", "--crs", "EPSG:32631",
            "--device", "cpu"]  # fmt: skip


def test_simulate_with_a_3d_model_but_no_z_levels_says_how_to_give_them(tmp_path):
    from typer.testing import CliRunner

    from geocgan.cli import app

    r = CliRunner().invoke(app, simulate_args(tmp_path))
    assert r.exit_code == 1 and "is a 3-D model" in r.output and "--z-bounds" in r.output
    assert not (tmp_path / "o").exists()


def test_simulate_refuses_3d_options_without_z_levels_and_2d_options_with_them(tmp_path):
    from typer.testing import CliRunner

    from geocgan.cli import app

    args = simulate_args(tmp_path)
    r = CliRunner().invoke(app, [*args, "--z-column", "z"])  # was: a 2-D run ignoring it
    assert r.exit_code == 1 and "need both --z-bounds ZMIN ZMAX and --dz" in r.output
    z = ["--z-bounds", "-320", "0", "--dz", "10"]
    r = CliRunner().invoke(app, [*args, *z, "--precision", "bfloat16", "--exact"])
    assert r.exit_code == 1 and "--exact, --precision: not for 3D grids" in r.output
    assert not (tmp_path / "o").exists()


def test_3d_wells_in_lon_lat_on_a_utm_grid_are_diagnosed_as_in_2d(tmp_path):
    from geocgan.errors import ConstraintError
    from geocgan.io.grid import Grid
    from geocgan.io.grid3d import Grid3D
    from geocgan.io.wells3d import read_wells_3d

    grid = Grid3D.from_plan(
        Grid.from_bounds(500000, 4499680, 500320, 4500000, 10.0, "EPSG:32631"), (-320, 0), 10
    )
    wells = tmp_path / "w.csv"  # (500055, 4499945) in EPSG:32631, as longitude/latitude
    wells.write_text("well_id,x,y,z,value\nA,3.000650546,40.65036103,-15,1\n")
    with pytest.raises(ConstraintError, match="longitude/latitude .* crs='EPSG:4326'"):
        read_wells_3d(wells, grid, categorical=True)
    assert len(read_wells_3d(wells, grid, categorical=True, crs="EPSG:4326")) == 1


@pytest.mark.usefixtures("one_thread")
def test_a_killed_volume_run_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    import geocgan.simulate_volume as sv
    from geocgan.constraints import FieldSpec
    from geocgan.errors import OutputExistsError
    from geocgan.io.grid import Grid
    from geocgan.io.grid3d import Grid3D
    from geocgan.io.volume import open_volume
    from geocgan.models.pixel_cgan import PixelCGANConfig

    config = PixelCGANConfig(ndim=3, nz=2, ngf=4, ndf=4, d_layers=2)
    model = build_model("pixel-cgan", config, FieldSpec(kind="categorical", codes=[0, 1]))
    grid = Grid3D.from_plan(Grid.from_bounds(0, 0, 320, 320, 10.0, "EPSG:32631"), (-64, 0), 2)
    kw = {"n": 4, "seed": 3, "batch_size": 1}
    sv.simulate_volume(model, grid, tmp_path / "whole", **kw)
    batches = sv.generate_batches

    def killed_after_two(*args, **kwargs):
        for k, batch in enumerate(batches(*args, **kwargs)):
            if k == 2:
                raise KeyboardInterrupt
            yield batch

    monkeypatch.setattr(sv, "generate_batches", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        sv.simulate_volume(model, grid, tmp_path / "cut", **kw)
    monkeypatch.setattr(sv, "generate_batches", batches)
    with pytest.raises(OutputExistsError, match="different run .*attributes"):
        sv.simulate_volume(model, grid, tmp_path / "cut", **{**kw, "seed": 4})
    done = sv.simulate_volume(model, grid, tmp_path / "cut", **kw)  # was: "exists"
    assert done["resumed_from"] == 2
    whole, cut = (open_volume(tmp_path / d / "realizations.zarr") for d in ("whole", "cut"))
    assert np.array_equal(whole["facies"].values, cut["facies"].values)
    with pytest.raises(OutputExistsError, match="complete"):
        sv.simulate_volume(model, grid, tmp_path / "cut", **kw)


def test_a_volume_of_the_wrong_size_says_which_dz_fits(tmp_path):
    from geocgan.constraints import FieldSpec
    from geocgan.errors import GridError
    from geocgan.io.grid import Grid
    from geocgan.io.grid3d import Grid3D
    from geocgan.models.pixel_cgan import PixelCGANConfig
    from geocgan.simulate_volume import simulate_volume

    config = PixelCGANConfig(ndim=3, nz=2, ngf=4, ndf=4, d_layers=2)
    model = build_model("pixel-cgan", config, FieldSpec(kind="categorical", codes=[0, 1]))
    plan = Grid.from_bounds(0, 0, 320, 320, 10.0, "EPSG:32631")
    odd = Grid3D.from_plan(plan, (-320, 0), 7.0)  # 46 layers
    with pytest.raises(GridError, match=r"46 layers .* multiples of 16.*--dz 6\.\d+ for 48"):
        simulate_volume(model, odd, tmp_path / "o", n=1)


def test_a_netcdf_soft_map_stored_bottom_up_and_south_up_lands_on_the_grid(tmp_path):
    import xarray as xr

    from geocgan.errors import InputError
    from geocgan.io.grid import Grid
    from geocgan.io.grid3d import Grid3D
    from geocgan.simulate_volume import read_soft_map

    grid = Grid3D.from_plan(Grid.from_bounds(0, 0, 40, 30, 10.0, "EPSG:32631"), (-4, 0), 2)
    p = np.random.default_rng(0).random(grid.shape)  # (2, 3, 4) in the grid's order
    coords = {"z": grid.z, "y": grid.plan.y, "x": grid.plan.x}
    ds = xr.Dataset({"p_10": (("z", "y", "x"), p), "p_2": (("z", "y", "x"), 1 - p)}, coords)
    ds.isel(z=slice(None, None, -1), y=slice(None, None, -1)).to_netcdf(tmp_path / "up.nc")
    got = read_soft_map(tmp_path / "up.nc", grid=grid)  # was: flipped, p_10 first
    np.testing.assert_array_equal(got, np.stack([1 - p, p]))
    ds.assign_coords(x=grid.plan.x + 5).to_netcdf(tmp_path / "off.nc")
    with pytest.raises(InputError, match="x coordinates .* are not the grid's"):
        read_soft_map(tmp_path / "off.nc", grid=grid)


def test_well_csv_rows_longer_than_the_header_never_shift_the_columns(tmp_path):
    from geocgan.errors import InputError
    from geocgan.io.grid import Grid
    from geocgan.io.wells import read_wells

    grid = Grid.from_bounds(0, 0, 320, 320, 10.0, "EPSG:32631")
    trailing = tmp_path / "trailing.csv"  # a spreadsheet export's trailing separators
    trailing.write_text("well_id,x,y,value\nA,15,25,1,\nB,105,215,0,\n")
    wells = read_wells(trailing, grid, categorical=True)  # was: x read as the well id...
    assert list(wells.ids) == ["A", "B"] and list(wells.values) == [1, 0]
    unnamed = tmp_path / "unnamed.csv"
    unnamed.write_text("well_id,x,y,value\nA,15,25,1,0.9\n")
    with pytest.raises(InputError, match=r"more fields than the header names \(4\) at line 2"):
        read_wells(unnamed, grid, categorical=True)


def test_a_finely_sampled_log_gives_one_warning_for_its_mixed_voxels(tmp_path):
    import warnings

    from geocgan.io.grid import Grid
    from geocgan.io.grid3d import Grid3D
    from geocgan.io.wells3d import read_wells_3d

    grid = Grid3D.from_plan(Grid.from_bounds(0, 0, 320, 320, 10.0, "EPSG:32631"), (-64, 0), 2)
    rows = [f"A,15,25,{-0.5 * k - 0.25},{k % 2}" for k in range(12)]  # 4 samples per layer
    (tmp_path / "log.csv").write_text("well_id,x,y,z,value\n" + "\n".join(rows) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wells = read_wells_3d(tmp_path / "log.csv", grid, categorical=True)
    assert len(wells) == 3 and len(wells.report) == 3
    assert len(caught) == 1 and "(layer 0); and 2 more such voxel(s)" in str(caught[0].message)


def test_the_suggested_gdal_translate_type_is_one_gdal_knows(tmp_path):
    from geocgan.errors import InputError

    src = write_tif(tmp_path / "f.tif", np.zeros((16, 16)), "float32", None)
    with pytest.raises(InputError, match="gdal_translate -ot Byte "):  # was: -ot Uint8
        translate(pix2pix("categorical"), src, tmp_path / "o.tif", doc={"input_dtype": "uint8"})


def test_more_realizations_than_a_geotiff_holds_are_refused_before_generating():
    from geocgan.errors import InputError
    from geocgan.job import SimulateConfig

    SimulateConfig(n=65535)
    with pytest.raises(InputError, match="at most 65535"):  # was: after generating them all
        SimulateConfig(n=65536)
