"""simulate_volume: a 3-D facies ensemble with wells, soft map and proportion, on disk."""

import json

import numpy as np
import pytest
import xarray as xr

from geocgan.constraints import FieldSpec
from geocgan.errors import GridError, InputError, OutputExistsError
from geocgan.io.grid import Grid
from geocgan.io.grid3d import Grid3D
from geocgan.io.volume import open_volume
from geocgan.io.wells3d import read_wells_3d
from geocgan.models import build_model
from geocgan.models.pixel_cgan import PixelCGANConfig
from geocgan.simulate_volume import simulate_volume

SPEC = FieldSpec(kind="categorical", codes=[0, 1])
TINY = {"nz": 2, "ngf": 4, "ndf": 4, "d_layers": 2}


pytestmark = pytest.mark.usefixtures("one_thread")  # 3-D convolutions: see conftest


@pytest.fixture
def grid():
    plan = Grid.from_bounds(0, 0, 320, 320, 10.0, "EPSG:32631")  # 32 x 32 cells
    return Grid3D.from_plan(plan, (-64.0, 0.0), 2.0)  # 32 layers


def test_simulate_volume_writes_the_ensemble_and_reports(tmp_path, grid):
    model = build_model(
        "pixel-cgan", PixelCGANConfig(ndim=3, soft=True, proportion=True, **TINY), SPEC, seed=0
    )
    csv = tmp_path / "w.csv"
    csv.write_text("well_id,x,y,z,facies\nA,105,215,-3,1\nA,105,215,-33,0\nB,255,45,-61,1\n")
    wells = read_wells_3d(csv, grid, value="facies", categorical=True)
    soft = np.stack([np.full(grid.shape, 0.6), np.full(grid.shape, 0.4)])
    out = tmp_path / "run"
    done = simulate_volume(
        model, grid, out, n=2, wells=wells, soft=soft, proportion=0.4, seed=5, batch_size=2
    )
    ds = open_volume(out / "realizations.zarr")
    assert ds["facies"].shape == (2, 32, 32, 32) and ds.attrs["seed"] == 5
    summary = xr.open_dataset(out / "summary.nc", engine="h5netcdf", decode_coords="all")
    assert summary["probability"].dims == ("facies", "z", "y", "x")
    assert np.allclose(summary["probability"].sum("facies"), 1.0)
    assert summary.rio.crs.to_epsg() == 32631
    report = json.loads((out / "honoring.json").read_text())
    assert len(report["wells"]) == 3 and report["wells"][0]["layer"] == 1
    at = ds["facies"].values[:, 1, 10, 10]  # well A's first sample: layer 1, row 10, col 10
    assert report["wells"][0]["share_honored"] == pytest.approx(np.mean(at == 1))
    assert done["honoring"] == pytest.approx(report["honoring"])
    assert {"summary.vti", "slices.png", "honoring.json"} <= set(done["written"])
    # realization i depends only on (seed, i): the same with another batch size
    again = simulate_volume(
        model,
        grid,
        tmp_path / "again",
        n=2,
        wells=wells,
        soft=soft,
        proportion=0.4,
        seed=5,
        batch_size=1,
    )
    assert again["n"] == 2
    assert np.array_equal(
        open_volume(tmp_path / "again" / "realizations.zarr")["facies"].values, ds["facies"]
    )
    with pytest.raises(OutputExistsError):
        simulate_volume(model, grid, out, n=1)


def test_simulate_volume_refuses_what_it_cannot_take(tmp_path, grid):
    flat = build_model("pixel-cgan", PixelCGANConfig(**TINY), SPEC, seed=0)
    with pytest.raises(InputError, match="needs a 3-D facies model"):
        simulate_volume(flat, grid, tmp_path / "o", n=1)
    model = build_model("pixel-cgan", PixelCGANConfig(ndim=3, **TINY), SPEC, seed=0)
    odd = Grid3D.from_plan(grid.plan, (-40.0, 0.0), 2.0)  # 20 layers
    with pytest.raises(GridError, match="multiples of 16"):
        simulate_volume(model, odd, tmp_path / "o", n=1)
    with pytest.raises(InputError, match="not trained with a proportion"):
        simulate_volume(model, grid, tmp_path / "o", n=1, proportion=0.3)


def test_run_volume_simulation_from_files_and_soft_map_round_trip(tmp_path, grid):
    from geocgan.checkpoint import save_checkpoint
    from geocgan.simulate_volume import read_soft_map, run_volume_simulation

    model = build_model(
        "pixel-cgan", PixelCGANConfig(ndim=3, soft=True, proportion=True, **TINY), SPEC, seed=0
    )
    ckpt = save_checkpoint(tmp_path / "m.safetensors", model, {"epoch": 0})
    traj = tmp_path / "traj.csv"
    traj.write_text("well_id,md,x,y,z\nD,0,5,5,0\nD,100,315,315,-60\n")
    csv = tmp_path / "w.csv"
    csv.write_text("well_id,md,facies\nD,10,1\nD,50,0\n")
    soft = np.stack([np.full(grid.shape, 0.25), np.full(grid.shape, 0.75)])
    np.save(tmp_path / "soft.npy", soft)
    columns = {"value": "facies", "md": "md", "trajectory": traj}
    done = run_volume_simulation(
        csv,
        ckpt,
        tmp_path / "a",
        grid,
        n=1,
        columns=columns,
        soft_path=tmp_path / "soft.npy",
        proportion=0.75,
        device="cpu",
    )
    assert done["n_wells"] == 2 and done["grid"]["nz"] == 32
    # the probability summary of one run is a soft map for the next
    back = read_soft_map(tmp_path / "a" / "summary.nc")
    assert back.shape == (2, 32, 32, 32) and np.allclose(back.sum(0), 1.0)
    with pytest.raises(InputError, match=r"must be \(facies, nz, ny, nx\)"):
        np.save(tmp_path / "flat.npy", soft[:, 0])
        read_soft_map(tmp_path / "flat.npy")
    with pytest.raises(InputError, match="bands must sum to 1"):
        np.save(tmp_path / "bad.npy", soft * 1.1)
        run_volume_simulation(
            None, ckpt, tmp_path / "b", grid, n=1, soft_path=tmp_path / "bad.npy", device="cpu"
        )


def test_cli_simulate_on_a_3d_grid(tmp_path):
    from typer.testing import CliRunner

    from geocgan.checkpoint import save_checkpoint
    from geocgan.cli import app

    model = build_model(
        "pixel-cgan", PixelCGANConfig(ndim=3, proportion=True, **TINY), SPEC, seed=0
    )
    save_checkpoint(tmp_path / "m.safetensors", model, {"epoch": 0})
    Grid.from_bounds(0, 0, 320, 320, 10.0, "EPSG:32631").write_template(tmp_path / "grid.tif")
    (tmp_path / "w.csv").write_text("well_id,x,y,tvd,facies\nA,105,215,3,1\nA,105,215,33,0\n")
    common = ["simulate", str(tmp_path / "w.csv"), "-m", str(tmp_path / "m.safetensors"), "--grid",
              str(tmp_path / "grid.tif"), "--depth-column", "tvd", "--value-column", "facies",
              "-q"]  # fmt: skip
    r = CliRunner().invoke(
        app,
        [*common, "-o", str(tmp_path / "run"), "--z-bounds", "-64", "0", "--dz", "2", "-n", "2",
         "--proportion", "0.3", "--json"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["n_wells"] == 2 and summary["grid"]["nz"] == 32
    assert open_volume(tmp_path / "run" / "realizations.zarr")["facies"].shape == (2, 32, 32, 32)
    r = CliRunner().invoke(app, [*common, "-o", str(tmp_path / "x"), "--proportion", "0.3"])
    assert r.exit_code == 1 and "need both --z-bounds ZMIN ZMAX and --dz" in r.output
    r = CliRunner().invoke(
        app, [*common, "-o", str(tmp_path / "y"), "--z-bounds", "-64", "0", "--dz", "2",
              "--proportion", "1.5"],
    )  # fmt: skip
    assert r.exit_code == 1 and "must lie in (0, 1)" in r.output
    assert not (tmp_path / "y" / "realizations.zarr").exists()
