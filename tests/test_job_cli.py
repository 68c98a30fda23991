"""The main job end to end: wells + grid + model -> Zarr, GeoTIFF, honoring, PNG; and the CLI."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from typer.testing import CliRunner

from geocgan.checkpoint import read_checkpoint, save_checkpoint
from geocgan.cli import app
from geocgan.constraints import FieldSpec
from geocgan.errors import InputError
from geocgan.io import ensemble as ens
from geocgan.io.ensemble import open_ensemble
from geocgan.io.grid import Grid
from geocgan.job import SimulateConfig, neighbourhood_majority, run_simulation
from geocgan.models import build_model

SAMPLE = Path(__file__).parents[1] / "sample_data"
runner = CliRunner()


@pytest.fixture
def tiny_model(tmp_path):
    m = build_model(
        "pixel-cgan",
        {"arch": "fcn", "ngf": 4, "ndf": 4, "nz": 2, "d_layers": 3},
        FieldSpec("categorical", [0, 1]),
    )
    return save_checkpoint(tmp_path / "tiny.safetensors", m, {"epoch": 0}, training_state=False)


@pytest.fixture
def site(tmp_path):
    """A 40x50 grid (not a multiple of 16: padded and cropped) with 6 wells."""
    grid = Grid.from_bounds(1000.0, 2000.0, 1000.0 + 50 * 10, 2000.0 + 40 * 10, 10.0, "EPSG:32631")
    grid.write_template(tmp_path / "grid.tif")
    rows, cols = np.array([0, 5, 10, 20, 30, 39]), np.array([0, 7, 30, 12, 44, 49])
    xs, ys = grid.transform @ (cols + 0.5, rows + 0.5)
    pd.DataFrame(
        {"well_id": [f"w{i}" for i in range(6)], "x": xs, "y": ys, "facies": [0, 1, 1, 0, 1, 0]}
    ).to_csv(tmp_path / "wells.csv", index=False)
    return grid, tmp_path / "wells.csv", tmp_path / "grid.tif"


def _cfg(**kw):
    return SimulateConfig(
        progress=False,
        wells_columns={"value": "facies", "x": "x", "y": "y", "well_id": "well_id"},
        **kw,
    )


def test_cli_end_to_end_on_the_sample_data(tmp_path):
    out = tmp_path / "demo"
    r = runner.invoke(
        app,
        [
            "simulate",
            str(SAMPLE / "wells.csv"),
            "--grid",
            str(SAMPLE / "grid.tif"),
            "--model",
            str(SAMPLE / "channels.safetensors"),
            "--value-column",
            "facies",
            "-n",
            "4",
            "--out",
            str(out),
            "--json",
            "-q",
        ],
    )
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["n"] == 4 and summary["n_wells"] == 82
    assert summary["honoring"]["overall"] >= 0.99  # the shipped model honors its wells
    with (
        rasterio.open(SAMPLE / "grid.tif") as t,
        rasterio.open(out / "realizations.tif") as s,
        rasterio.open(out / "summary.tif") as p,
    ):
        assert s.crs == t.crs and p.crs == t.crs
        assert s.transform == t.transform and p.transform == t.transform
        assert s.count == 4 and s.descriptions == tuple(f"realization {i}" for i in range(4))
        assert p.descriptions == ("probability of facies 0", "probability of facies 1")
        probs = p.read()
        np.testing.assert_allclose(probs.sum(0), 1.0, atol=1e-6)
    # the most likely facies: one band of uint8 codes with a colour table (classes in QGIS)
    with rasterio.open(out / "most_likely.tif") as m:
        assert m.count == 1 and m.dtypes[0] == "uint8" and m.nodata == 255
        assert m.crs == s.crs and m.transform == s.transform
        table = m.colormap(1)
        assert table[0][:3] != table[1][:3]  # two facies, two colours
        np.testing.assert_array_equal(m.read(1), np.argmax(probs, axis=0))
    assert "most_likely.tif" in summary["outputs"]
    ds = open_ensemble(out / "ensemble.zarr")
    assert ds["facies"].dims == ("realization", "y", "x") and ds.sizes["realization"] == 4
    assert ds.rio.crs == rasterio.crs.CRS.from_epsg(32631)
    assert ds.attrs["seed"] == 0 and ds.attrs["n_wells"] == 82
    rep = json.loads((out / "honoring.json").read_text())
    assert len(rep["per_well"]) == 82 and {"id", "observed", "match_share"} <= set(
        rep["per_well"][0]
    )
    assert (out / "overview.png").read_bytes()[:4] == b"\x89PNG"


def test_padded_grid_is_cropped_back_and_wells_land_in_their_pixels(site, tiny_model, tmp_path):
    grid, wells, _ = site
    run_simulation(wells, tiny_model, tmp_path / "o", grid=grid, config=_cfg(n=3, batch_size=2))
    ds = open_ensemble(tmp_path / "o" / "ensemble.zarr")
    assert ds["facies"].shape == (3, 40, 50)
    np.testing.assert_allclose(ds.x.values, grid.x)
    np.testing.assert_allclose(ds.y.values, grid.y)
    rep = json.loads((tmp_path / "o" / "honoring.json").read_text())
    assert [(w["row"], w["col"]) for w in rep["per_well"]] == [
        (0, 0),
        (5, 7),
        (10, 30),
        (20, 12),
        (30, 44),
        (39, 49),
    ]


def test_resume_after_interruption_gives_the_same_realizations(
    site, tiny_model, tmp_path, monkeypatch
):
    grid, wells, _ = site
    run_simulation(
        wells, tiny_model, tmp_path / "straight", grid=grid, config=_cfg(n=6, batch_size=2)
    )
    calls = {"n": 0}
    real_write = ens.write_region

    def dying_write(path, start, data):
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the user pressed Ctrl-C after two batches
        calls["n"] += 1
        real_write(path, start, data)

    monkeypatch.setattr(ens, "write_region", dying_write)
    with pytest.raises(KeyboardInterrupt):
        run_simulation(
            wells, tiny_model, tmp_path / "resumed", grid=grid, config=_cfg(n=6, batch_size=2)
        )
    with pytest.raises(
        InputError, match=r"unfinished ensemble: realizations 4.*Rerun the same command"
    ):
        open_ensemble(tmp_path / "resumed" / "ensemble.zarr")
    assert not (tmp_path / "resumed" / "honoring.json").exists()  # nothing looks complete
    monkeypatch.setattr(ens, "write_region", real_write)
    summary = run_simulation(
        wells, tiny_model, tmp_path / "resumed", grid=grid, config=_cfg(n=6, batch_size=2)
    )
    assert summary["resumed_from"] == 4
    a = open_ensemble(tmp_path / "straight" / "ensemble.zarr")["facies"].values
    b = open_ensemble(tmp_path / "resumed" / "ensemble.zarr")["facies"].values
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("canvas", [0, 64])
def test_dask_cluster_writes_the_same_ensemble(site, tmp_path, canvas):
    """In process and on a Dask cluster, with and without a generation canvas: the same
    ensemble, and the one ``conditional_realizations`` makes."""
    from dask.distributed import LocalCluster

    from geocgan.checkpoint import load_model
    from geocgan.evaluate import WellPixels, conditional_realizations

    m = build_model(
        "pixel-cgan",
        {"arch": "fcn", "ngf": 4, "ndf": 4, "nz": 2, "d_layers": 3, "canvas": canvas},
        FieldSpec("categorical", [0, 1]),
    )
    tiny_model = save_checkpoint(tmp_path / "m.safetensors", m, {"epoch": 0}, training_state=False)
    grid, wells, _ = site
    run_simulation(wells, tiny_model, tmp_path / "local", grid=grid, config=_cfg(n=5, batch_size=2))
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        run_simulation(
            wells,
            tiny_model,
            tmp_path / "dask",
            grid=grid,
            config=_cfg(n=5, batch_size=2, dask_address=cluster.scheduler_address, device="cpu"),
        )
    a = open_ensemble(tmp_path / "local" / "ensemble.zarr")["facies"].values
    b = open_ensemble(tmp_path / "dask" / "ensemble.zarr")["facies"].values
    np.testing.assert_array_equal(a, b)
    df = pd.read_csv(wells)
    rows, cols = np.array([0, 5, 10, 20, 30, 39]), np.array([0, 7, 30, 12, 44, 49])
    pixels = WellPixels(rows, cols, df["facies"].to_numpy(), list(df["well_id"]))
    model = load_model(tiny_model)[0]
    want = conditional_realizations(model, grid.shape, pixels, n=5, seed=_cfg().seed)
    np.testing.assert_array_equal(a, want)


def test_exact_snaps_the_geotiffs_and_reports_raw_honoring_separately(site, tiny_model, tmp_path):
    grid, wells, _ = site
    run_simulation(wells, tiny_model, tmp_path / "o", grid=grid, config=_cfg(n=3, exact=True))
    rep = json.loads((tmp_path / "o" / "honoring.json").read_text())
    assert rep["after_exact_snapping"]["overall"] == 1.0 and 0 <= rep["overall"] <= 1
    with rasterio.open(tmp_path / "o" / "realizations.tif") as src:
        stack = src.read()
    w = rep["wells"]["wells"]
    for i in range(3):
        assert [stack[i, e["row"], e["col"]] for e in w] == [e["value"] for e in w]


@pytest.mark.parametrize(
    "kind, exact", [("categorical", True), ("continuous", False), ("continuous", True)]
)
def test_chunked_outputs_equal_the_in_memory_ensemble(site, tmp_path, kind, exact):
    """5 realizations read 2 at a time give the bands, summary and report of the whole."""
    grid, wells, _ = site
    spec = FieldSpec("categorical", [0, 1]) if kind == "categorical" else FieldSpec()
    model = build_model(
        "pixel-cgan", {"arch": "fcn", "ngf": 4, "ndf": 4, "nz": 2, "d_layers": 3}, spec
    )
    ckpt = save_checkpoint(tmp_path / "m.safetensors", model, {"epoch": 0}, training_state=False)
    out = tmp_path / "o"
    run_simulation(wells, ckpt, out, grid=grid, config=_cfg(n=5, write_chunk=2, exact=exact))
    name = "facies" if kind == "categorical" else "value"
    raw = open_ensemble(out / "ensemble.zarr")[name].values  # (5, H, W) raw generator output
    rep = json.loads((out / "honoring.json").read_text())
    rows, cols = (np.array([e[k] for e in rep["per_well"]]) for k in ("row", "col"))
    observed = np.array([e["observed"] for e in rep["per_well"]])
    fields = raw.copy()
    if exact:
        fields[:, rows, cols] = observed
    with rasterio.open(out / "realizations.tif") as s, rasterio.open(out / "summary.tif") as p:
        np.testing.assert_array_equal(s.read(), fields)
        assert s.descriptions == tuple(f"realization {i}" for i in range(5))
        summary = dict(zip(p.descriptions, p.read(), strict=True))
    sim = raw[:, rows, cols]  # (5, n_wells)
    if kind == "categorical":
        for c in (0, 1):
            np.testing.assert_allclose(
                summary[f"probability of facies {c}"], (fields == c).mean(0), atol=1e-7
            )
        around = neighbourhood_majority(raw, rows, cols)  # (5, n_wells)
        assert rep["overall"] == pytest.approx((sim == observed).mean())
        assert rep["neighbourhood_match"] == pytest.approx((around == observed).mean())
    else:
        np.testing.assert_allclose(summary["mean"], fields.mean(0), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(summary["std"], fields.std(0), rtol=1e-5, atol=1e-6)
        assert rep["overall"] == pytest.approx(((sim - observed) ** 2).mean(), rel=1e-6)
        assert rep["field_variance"] == pytest.approx(raw.astype(np.float64).var(), rel=1e-6)
        assert [e["p95"] for e in rep["per_well"]] == pytest.approx(np.quantile(sim, 0.95, 0))
    if exact:
        assert rep["after_exact_snapping"]["overall"] == (1.0 if kind == "categorical" else 0.0)
    assert (out / "overview.png").read_bytes()[:4] == b"\x89PNG"


def _simulate_args(site, model, out, *extra):
    _, wells, grid_tif = site
    return [
        "simulate",
        str(wells),
        "--grid",
        str(grid_tif),
        "--model",
        str(model),
        "--value-column",
        "facies",
        "-n",
        "2",
        "--out",
        str(out),
        "-q",
        *extra,
    ]


def test_compile_option_reaches_the_model(site, tiny_model, tmp_path, monkeypatch):
    from geocgan.models import PixelCGAN

    calls = []
    monkeypatch.setattr(PixelCGAN, "compile_generator", lambda self: calls.append(self.config))
    args = _simulate_args(site, tiny_model, tmp_path / "o")
    assert runner.invoke(app, args).exit_code == 0 and calls == []  # off by default
    assert runner.invoke(app, [*args, "--overwrite", "--compile"]).exit_code == 0
    assert len(calls) == 1


def test_existing_output_is_refused_without_overwrite(site, tiny_model, tmp_path):
    args = _simulate_args(site, tiny_model, tmp_path / "o")
    assert runner.invoke(app, args).exit_code == 0
    r = runner.invoke(app, args)
    assert (
        r.exit_code == 1 and "complete ensemble already" in r.output and "--overwrite" in r.output
    )
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda df: df.rename(columns={"facies": "facie"}), "--value-column"),
        (lambda df: df.assign(x=df.x + np.array([0, 0, 1e5, 0, 0, 0])), "--drop-outside"),
        (lambda df: df.assign(facies=[0, 1, 2, 0, 1, 0]), "codes"),
        (lambda df: df.assign(facies=["0", "1", "a", "0", "1", "0"]), "line 4"),
    ],
)
def test_bad_wells_give_a_clear_error_and_no_outputs(site, tiny_model, tmp_path, edit, message):
    _, wells, _ = site
    edit(pd.read_csv(wells)).to_csv(wells, index=False)
    r = runner.invoke(app, _simulate_args(site, tiny_model, tmp_path / "o"))
    assert r.exit_code == 1 and message in r.output, r.output
    assert not (tmp_path / "o").exists()


def test_drop_outside_drops_and_reports(site, tiny_model, tmp_path):
    _, wells, _ = site
    df = pd.read_csv(wells)
    df.loc[2, "x"] += 1e5
    df.to_csv(wells, index=False)
    r = runner.invoke(
        app, _simulate_args(site, tiny_model, tmp_path / "o", "--drop-outside", "--json")
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["n_wells"] == 5
    rep = json.loads((tmp_path / "o" / "honoring.json").read_text())
    assert len(rep["wells"]["dropped"]) == 1


def test_missing_checkpoint_and_grid_choice(site, tmp_path):
    r = runner.invoke(app, _simulate_args(site, tmp_path / "none.safetensors", tmp_path / "o"))
    assert r.exit_code == 1 and "does not exist; train one" in r.output
    _, wells, _ = site
    r = runner.invoke(app, ["simulate", str(wells), "--model", "m", "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "--grid TEMPLATE.tif or as --bounds" in r.output


def test_info_on_checkpoint_and_store(site, tiny_model, tmp_path):
    r = runner.invoke(app, ["info", str(tiny_model)])
    doc = json.loads(r.stdout)
    assert (
        doc["model"] == "pixel-cgan"
        and doc["field"]["codes"] == [0, 1]
        and doc["parameters"]["G"] > 0
    )
    assert runner.invoke(app, _simulate_args(site, tiny_model, tmp_path / "o")).exit_code == 0
    doc = json.loads(runner.invoke(app, ["info", str(tmp_path / "o" / "ensemble.zarr")]).stdout)
    assert doc["dims"]["realization"] == 2 and doc["crs"] == "EPSG:32631"


def test_options_from_a_config_file(site, tiny_model, tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("simulate:\n  n: 3\n  seed: 9\n  value-column: facies\n")
    args = _simulate_args(site, tiny_model, tmp_path / "o")
    args = [a for a in args if a not in ("-n", "2", "--value-column", "facies")]
    r = runner.invoke(app, ["--config", str(cfg), *args, "--json"])
    assert r.exit_code == 0, r.output
    ds = xr.open_zarr(tmp_path / "o" / "ensemble.zarr")
    assert ds.sizes["realization"] == 3 and ds.attrs["seed"] == 9


def test_config_file_with_an_unknown_option_is_refused(site, tiny_model, tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text("[simulate]\nvalue-colum = 'facies'\n")
    r = runner.invoke(
        app, ["--config", str(cfg), *_simulate_args(site, tiny_model, tmp_path / "o")]
    )
    assert r.exit_code == 2 and "unknown options ['value-colum'] for `simulate`" in r.output


def test_overwrite_never_deletes_files_geocgan_did_not_write(site, tiny_model, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "thesis.docx").write_text("precious")
    r = runner.invoke(app, [*_simulate_args(site, tiny_model, out), "--overwrite"])
    assert r.exit_code == 1 and "holds files geocgan did not write (thesis.docx)" in r.output
    assert (out / "thesis.docx").read_text() == "precious"


def test_neighbourhood_majority_ignores_off_grid_neighbours():
    f = np.zeros((1, 4, 4))
    f[0, 0, 0] = 1  # a corner well of facies 1 ...
    f[0, 0, 1] = 1  # ... with 1 of its 3 real neighbours of facies 1: no majority of 1
    assert neighbourhood_majority(f, np.array([0]), np.array([0]))[0, 0] == 0
    f[0, 1, 0] = 1  # 2 of 3
    assert neighbourhood_majority(f, np.array([0]), np.array([0]))[0, 0] == 1


def test_train_command_writes_a_checkpoint_log_and_curve(tmp_path):
    ti = (np.add.outer(np.arange(64), np.arange(64)) // 8 % 2).astype(np.float32)
    np.save(tmp_path / "ti.npy", ti)
    out = tmp_path / "m.safetensors"
    args = [
        "train",
        str(tmp_path / "ti.npy"),
        "--out",
        str(out),
        "--epochs",
        "1",
        "--steps-per-epoch",
        "2",
        "--batch-size",
        "2",
        "--patch",
        "32",
        "--ngf",
        "4",
        "--ndf",
        "4",
        "-q",
        "--device",
        "cpu",
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["epoch"] == 1
    assert out.exists() and out.with_suffix(".jsonl").exists() and out.with_suffix(".png").exists()
    r = runner.invoke(app, args)
    assert r.exit_code == 1 and "--resume" in r.output
    r = runner.invoke(app, [*args, "--resume", "--epochs", "2", "--seed", "5"])
    assert r.exit_code == 1 and "trained with other settings (train.seed)" in r.output
    r = runner.invoke(app, [*args, "--resume", "--epochs", "2"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["epoch"] == 2
    crps = ["--lambda-crps", "2", "--crps-patch", "4"]
    r = runner.invoke(app, [*args, "--overwrite", "--ema", "0.99", *crps])
    assert r.exit_code == 0, r.output  # an averaged generator, the calibration term
    config = read_checkpoint(out)[1]["config"]
    assert config["ema"] == 0.99 and config["lam_crps"] == 2.0 and config["crps_patch"] == 4
    assert "crps" in json.loads(out.with_suffix(".jsonl").read_text().splitlines()[-1])
    r = runner.invoke(
        app,
        [*args, "--resume", "--epochs", "2", "--ema", "0.99", *crps, "--flip", "xy"],
    )
    assert r.exit_code == 1 and "other settings (flip)" in r.output  # drawn unmirrored so far
    r = runner.invoke(app, [*args, "--overwrite", "--flip", "xy", "--d-layers", "6"])
    assert r.exit_code == 1 and "give --patch 64 or more, or fewer --d-layers" in r.output
    r = runner.invoke(app, [*args, "--overwrite", "--flip", "xy"])
    assert r.exit_code == 0, r.output
    doc = read_checkpoint(out)[1]
    assert (doc["flip"], doc["config"]["d_layers"]) == ("xy", 4)
    # the moment term matches the whole image's facies proportions (the checkerboard: 1/2)
    r = runner.invoke(app, [*args, "--overwrite", "--lambda-moments", "10"])
    assert r.exit_code == 0, r.output
    assert read_checkpoint(out)[1]["config"]["moment_target"] == [0.5, 0.5]
    r = runner.invoke(
        app, [*args, "--overwrite", "--lambda-moments", "10", "--moment-target", "batch"]
    )
    assert r.exit_code == 0, r.output
    assert read_checkpoint(out)[1]["config"]["moment_target"] == []
    r = runner.invoke(app, [*args, "--overwrite", "--canvas", "64"])  # generation canvas
    assert r.exit_code == 0, r.output
    assert read_checkpoint(out)[1]["config"]["canvas"] == 64
    r = runner.invoke(app, [*args, "--resume", "--epochs", "2"])  # without it: refused
    assert r.exit_code == 1 and "canvas" in r.output
