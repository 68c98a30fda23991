"""``geocgan evaluate`` end to end on tiny stores: JSON contents, plots, errors, command line."""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from geocgan.checkpoint import save_checkpoint
from geocgan.cli import app
from geocgan.constraints import FieldSpec
from geocgan.errors import CheckpointError, InputError, OutputExistsError
from geocgan.evaluate import (
    STATS_FILE,
    KnownCovariance,
    WellPixels,
    evaluate,
    plot_reliability,
    reference_statistics,
    training_windows,
)
from geocgan.fields import channel_field, gaussian_field
from geocgan.io.ensemble import EnsembleStore, open_ensemble
from geocgan.io.grid import Grid
from geocgan.job import SimulateConfig, run_simulation
from geocgan.metrics.geostats import facies_proportions, honoring
from geocgan.models import build_model

TINY = {"arch": "fcn", "ngf": 4, "ndf": 4, "nz": 4, "d_layers": 3}
SIZE = 32  # pixels a side
N = 6  # realizations
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _strict_json(path):
    """Parse a JSON file, refusing NaN / Infinity."""
    return json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in {path}"))


def _grid():
    return Grid.from_bounds(0, 0, SIZE * 10, SIZE * 10, 10, "EPSG:32631")


@pytest.fixture(scope="module")
def facies_run(tmp_path_factory):
    """A categorical store made by `geocgan simulate` with a tiny untrained model."""
    d = tmp_path_factory.mktemp("facies")
    model = build_model("pixel-cgan", TINY, FieldSpec("categorical", [0, 1]))
    ckpt = save_checkpoint(d / "model.safetensors", model, {"epoch": 0})
    grid = _grid()
    truth = channel_field((SIZE, SIZE), seed=5)
    flat = np.random.default_rng(0).choice(SIZE * SIZE, 12, replace=False)
    rows, cols = np.divmod(flat, SIZE)
    xs, ys = grid.transform @ (cols + 0.5, rows + 0.5)
    wells = d / "wells.csv"
    pd.DataFrame(
        {"well_id": [f"W{i}" for i in range(12)], "x": xs, "y": ys, "facies": truth[rows, cols]}
    ).to_csv(wells, index=False)
    cfg = SimulateConfig(n=N, progress=False, wells_columns={"value": "facies"})
    run_simulation(wells, ckpt, d / "sim", grid=grid, config=cfg)
    ti = channel_field((96, 96), seed=1)  # (96, 96) uint8: 9 windows of 32x32
    return {
        "dir": d,
        "store": d / "sim" / "ensemble.zarr",
        "wells": wells,
        "ti": ti,
        "rows": rows,
        "cols": cols,
        "values": truth[rows, cols],
        "ckpt": ckpt,
    }


@pytest.fixture(scope="module")
def continuous_run(tmp_path_factory):
    """A continuous store written directly, recording a tiny continuous checkpoint."""
    d = tmp_path_factory.mktemp("gauss")
    spec = FieldSpec("continuous", center=0.0, scale=1.0)
    ckpt = save_checkpoint(d / "model.safetensors", build_model("pixel-cgan", TINY, spec), {})
    fields = gaussian_field((SIZE, SIZE), len_scale=4.0, n=N, seed=3)  # (N, 32, 32)
    flat = np.random.default_rng(1).choice(SIZE * SIZE, 10, replace=False)
    rows, cols = np.divmod(flat, SIZE)
    values = fields[0, rows, cols].astype(float)
    fields[:, rows, cols] = values  # every realization honors the wells exactly
    attrs = {"field": spec.to_dict(), "checkpoint": str(ckpt), "seed": 3}
    store = EnsembleStore.create(d / "ensemble.zarr", _grid(), N, name="value", attrs=attrs)
    store.write(0, fields)
    store.finalize()
    wells = SimpleNamespace(rows=rows, cols=cols, values=values)  # a wells-like object
    ti = gaussian_field((64, 64), len_scale=4.0, seed=9)
    return {"dir": d, "store": d / "ensemble.zarr", "wells": wells, "ti": ti, "fields": fields}


def test_facies_store_evaluation_json_and_plots(facies_run, tmp_path):
    r = facies_run
    out = tmp_path / "eval"
    result = evaluate(
        r["store"],
        training_image=r["ti"],
        out_dir=out,
        wells=r["wells"],
        wells_columns={"value": "facies"},
        holdout=4,
        holdout_seed=1,
    )
    doc = _strict_json(out / STATS_FILE)
    assert doc == result
    assert set(doc) == {
        "store",
        "training_image",
        "training_image_windows",
        "wells",
        "summary",
        "statistics",
        "leave_wells_out",
        "outputs",
    }
    assert doc["training_image_windows"] == {"n": 9, "shape": [SIZE, SIZE]}
    assert doc["wells"]["n"] == 12
    for name in ("variograms", "proportions", "connectivity", "calibration"):
        assert (out / f"{name}.png").read_bytes()[:8] == PNG_MAGIC

    # the numbers are those of the metrics on the stored raw output
    fields = open_ensemble(r["store"])["facies"].values.astype(int)  # (N, 32, 32)
    stats = doc["statistics"]
    expected = honoring(fields, r["rows"], r["cols"], r["values"], categorical=True)
    assert stats["honoring"]["overall"] == pytest.approx(expected["overall"])
    assert doc["summary"]["honoring"] == stats["honoring"]["overall"]
    assert stats["proportions"]["ensemble"] == pytest.approx(facies_proportions(fields, [0, 1]))
    ti_props = facies_proportions(training_windows(r["ti"], (SIZE, SIZE)), [0, 1])
    assert stats["proportions"]["training_image"] == pytest.approx(ti_props)
    assert stats["proportions"]["error"] == pytest.approx(
        np.max(np.abs(facies_proportions(fields, [0, 1]) - ti_props))
    )
    assert set(stats["variogram"]["lags"]) == {"omni", "x", "y"}
    assert len(stats["variogram"]["lags"]["x"]) == SIZE // 2
    assert set(stats["connectivity"]["by_facies"]) == {"0", "1"}
    assert stats["conditional_correlation"] is None  # no covariance for facies
    assert (
        stats["conditional_spread"] is None and doc["summary"]["conditional_spread_error"] is None
    )

    lwo = doc["leave_wells_out"]
    assert lwo["n_held_out"] == 4 and len(lwo["held_out"]) == 4
    assert lwo["checkpoint"] == str(r["ckpt"]) and lwo["n_realizations"] == N
    assert 0 <= lwo["brier"] <= 2 and doc["summary"]["brier"] == lwo["brier"]
    assert doc["summary"]["coverage"] is None


def test_continuous_store_with_known_covariance(continuous_run, tmp_path):
    r = continuous_run
    out = tmp_path / "eval"
    doc = evaluate(
        r["store"],
        training_image=r["ti"],
        out_dir=out,
        wells=r["wells"],
        holdout=3,
        known_covariance=KnownCovariance("exponential", 4.0, 1.0),
        lags=(1, 2),
    )
    stats = doc["statistics"]
    assert stats["honoring"]["metric"] == "mse"
    assert stats["honoring"]["overall"] == pytest.approx(0.0, abs=1e-10)  # wells were set exactly
    assert stats["honoring"]["mse_over_variance"] == pytest.approx(0.0, abs=1e-9)
    assert stats["spread"]["value"] == pytest.approx(np.mean(np.std(r["fields"], axis=0)), rel=1e-5)
    corr = stats["conditional_correlation"]
    assert corr["lags"] == [1, 2] and len(corr["exact"]) == 2
    assert doc["summary"]["conditional_correlation_error"] == pytest.approx(
        np.mean(corr["abs_error"])
    )
    spread = stats["conditional_spread"]  # by distance to the nearest well
    assert len(spread["ratio"]) == len(spread["edges"]) - 1 and spread["edges"][-1] is None
    assert sum(spread["pixels"]) == SIZE * SIZE - len(r["wells"].rows)  # every non-well pixel
    assert doc["summary"]["conditional_spread_error"] == spread["mean_abs_error"] > 0
    cmean = stats["conditional_mean"]  # ensemble mean against the kriging estimate, same bins
    assert cmean["pixels"] == spread["pixels"] and cmean["left_out"] == 0
    assert len(cmean["bias"]) == len(spread["ratio"])
    assert doc["summary"]["conditional_mean_bias"] == cmean["rms_bias"]
    assert 0 <= cmean["rms_bias"] < 10  # finite, in kriging stds
    assert stats["proportions"] is None and stats["connectivity"] is None
    lwo = doc["leave_wells_out"]
    assert lwo["seed"] == 3 and 0 <= lwo["coverage"] <= 1
    assert lwo["expected_if_calibrated"] == pytest.approx(0.9 * (N - 1) / (N + 1))
    assert sorted(p.name for p in out.glob("*.png")) == [
        "calibration.png",
        "conditional_spread.png",
        "variograms.png",
    ]
    _strict_json(out / STATS_FILE)


def test_outputs_are_not_overwritten_without_overwrite(continuous_run, tmp_path):
    r = continuous_run
    kwargs = {"training_image": r["ti"], "out_dir": tmp_path, "wells": r["wells"]}
    evaluate(r["store"], **kwargs)
    with pytest.raises(OutputExistsError, match="already holds evaluation.json.*overwrite"):
        evaluate(r["store"], **kwargs)
    evaluate(r["store"], **kwargs, overwrite=True)


def test_missing_checkpoint_is_reported_before_any_work(continuous_run, tmp_path):
    r = continuous_run
    with pytest.raises(CheckpointError, match="checkpoint given .*nope.safetensors.*--model"):
        evaluate(
            r["store"],
            training_image=r["ti"],
            out_dir=tmp_path,
            wells=r["wells"],
            holdout=2,
            checkpoint=tmp_path / "nope.safetensors",
        )
    assert not (tmp_path / STATS_FILE).exists()


def test_checkpoint_of_another_kind_is_refused(continuous_run, facies_run, tmp_path):
    r = continuous_run
    with pytest.raises(InputError, match="categorical model but the ensemble .* continuous"):
        evaluate(
            r["store"],
            training_image=r["ti"],
            out_dir=tmp_path,
            wells=r["wells"],
            holdout=2,
            checkpoint=facies_run["ckpt"],
        )


def test_store_without_field_spec_is_refused(tmp_path):
    store = EnsembleStore.create(tmp_path / "e.zarr", _grid(), 2, attrs={"seed": 0})
    store.write(0, np.zeros((2, SIZE, SIZE)))
    store.finalize()
    with pytest.raises(InputError, match="does not record its field spec"):
        evaluate(store.path, training_image=np.zeros((SIZE, SIZE)), out_dir=tmp_path / "o")


def test_wells_errors(continuous_run, tmp_path):
    r = continuous_run
    common = {"training_image": r["ti"], "out_dir": tmp_path}
    with pytest.raises(InputError, match="no rows/cols/values"):
        evaluate(r["store"], wells=[(1, 2, 0.5)], **common)
    with pytest.raises(InputError, match="wells file .*missing.csv does not exist"):
        evaluate(r["store"], wells=tmp_path / "missing.csv", **common)
    with pytest.raises(InputError, match="no wells given and the store does not record"):
        evaluate(r["store"], **common)
    bad = SimpleNamespace(rows=np.array([1, 2]), cols=np.array([1]), values=np.array([0.0, 1.0]))
    with pytest.raises(InputError, match="1-D and of one length"):
        WellPixels.from_object(bad, categorical=False)
    codes = SimpleNamespace(rows=np.array([1]), cols=np.array([1]), values=np.array([0.5]))
    with pytest.raises(InputError, match="holds 0.5, not an integer facies code"):
        WellPixels.from_object(codes, categorical=True)


def test_training_image_and_covariance_errors():
    with pytest.raises(InputError, match="must be 2-D"):
        reference_statistics(np.zeros((2, 8, 8)), (8, 8), categorical=False)
    with pytest.raises(InputError, match="channel_axis='z'"):
        reference_statistics(np.zeros((8, 8)), (8, 8), categorical=False, channel_axis="z")
    with pytest.raises(InputError, match="holds 0.5, not an integer facies code"):
        reference_statistics(np.full((8, 8), 0.5), (8, 8), categorical=True)
    with pytest.raises(InputError, match="covariance model 'cubic' is unknown"):
        KnownCovariance("cubic")
    with pytest.raises(InputError, match="len_scale=0.0: give a positive number"):
        KnownCovariance("exponential", 0.0)
    with pytest.raises(InputError, match="give the field's finite mean"):
        KnownCovariance("exponential", 4.0, 1.0, float("nan"))
    np.testing.assert_allclose(
        KnownCovariance("exponential", 4.0, 2.0)([0.0, 4.0]), [2.0, 2 / np.e]
    )


def test_training_windows_tile_without_overlap():
    ti = np.arange(10 * 7).reshape(10, 7)
    windows = training_windows(ti, (4, 3))  # 2 x 2 windows
    assert windows.shape == (4, 4, 3)
    np.testing.assert_array_equal(windows[3], ti[4:8, 3:6])
    assert training_windows(ti, (20, 20)).shape == (1, 10, 7)  # TI smaller: the whole TI


def test_reliability_plot_refuses_to_overwrite(tmp_path):
    path = plot_reliability(np.array([[0.2, 0.9]]), np.array([[False, True]]), tmp_path / "r.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(OutputExistsError, match="r.png exists"):
        plot_reliability(np.array([[0.2]]), np.array([[True]]), path)


def test_cli_evaluate(facies_run, tmp_path):
    r = facies_run
    ti = tmp_path / "ti.npy"
    np.save(ti, r["ti"].astype(np.int64))
    args = [
        "evaluate",
        str(r["store"]),
        "-t",
        str(ti),
        "-o",
        str(tmp_path / "ev"),
        "--wells",
        str(r["wells"]),
        "--value-column",
        "facies",
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    printed = json.loads(res.stdout)
    assert set(printed) == {"store", "summary", "outputs"}
    assert printed["summary"]["honoring_metric"] == "facies_match"
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1 and "already holds evaluation.json" in res.output


def test_leave_wells_out_generates_on_the_canvas_the_ensemble_was_made_with(
    continuous_run, tmp_path
):
    """A checkpoint re-exported with another canvas since the ensemble was made: a warning,
    and the check generates as the ensemble was generated (no canvas here)."""
    from dataclasses import replace

    from geocgan.checkpoint import load_model

    r = continuous_run
    kwargs = {"training_image": r["ti"], "wells": r["wells"], "holdout": 3}
    want = evaluate(r["store"], out_dir=tmp_path / "a", **kwargs)["leave_wells_out"]
    model, _ = load_model(r["dir"] / "model.safetensors")
    model.config = replace(model.config, canvas=64)
    wider = save_checkpoint(tmp_path / "wide.safetensors", model, {})
    with pytest.warns(UserWarning, match="now has canvas 64.*made with 0"):
        got = evaluate(r["store"], out_dir=tmp_path / "b", checkpoint=wider, **kwargs)
    got = got["leave_wells_out"]
    assert got["coverage"] == want["coverage"] and got["held_out"] == want["held_out"]
