"""The peers benchmark in a tiny configuration, with the peers installed."""

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
from conftest import load_workflow

import geocgan.benchmark.run
from geocgan.benchmark import BenchConfig, run_benchmark, truth_and_wells
from geocgan.checkpoint import save_checkpoint
from geocgan.constraints import FieldSpec
from geocgan.errors import InputError, OutputExistsError
from geocgan.fields import channel_field
from geocgan.models import build_model
from geocgan.peers import available_peers
from geocgan.recipes import CHANNELS, DENSITY

TINY = {"arch": "fcn", "ngf": 4, "ndf": 4, "nz": 4, "d_layers": 3}
SIZE = 32


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny config: 32x32 grids, n=3, one timed call, a fresh channel model, a 64x64 TI."""
    d = tmp_path_factory.mktemp("bench")
    spec = FieldSpec("categorical", [0, 1])
    save_checkpoint(d / "ch.safetensors", build_model("pixel-cgan", TINY, spec), {"epoch": 0})
    np.save(d / "ti.npy", channel_field((64, 64), seed=1, **CHANNELS).astype(np.int64))
    return BenchConfig(
        sizes=(SIZE,),
        n=3,
        repeats=1,
        train_epochs=1,
        train_steps=2,
        train_batch=4,
        train_patch=SIZE,
        train_images=1,
        train_image_size=96,
        gaussian_model=TINY,
        channel_model=d / "ch.safetensors",
        channel_ti=d / "ti.npy",
        runs=d / "runs",
        out=d / "out",
        compile=False,  # compiling is tested in test_train_simulate; here it would cost minutes
        gaussian_trained=None,  # train (and cache) a tiny model
    )


def test_tiny_benchmark_rows_and_outputs(tiny):
    assert all(available_peers().values()), "the benchmark test needs gstools and geone"
    rows = run_benchmark(tiny, "pytest")
    with (tiny.out / "results.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [(r["case"], r["method"]) for r in table] == [
        ("gaussian", "geocgan"),
        ("gaussian", "gstools_condsrf"),
        ("gaussian", "geone_sgs"),
        ("gaussian", "geone_fft"),
        ("channels", "geocgan"),
        ("channels", "geone_deesse"),
    ]
    n_wells = round(DENSITY * SIZE * SIZE)  # 0.5 % of the truth's pixels
    for r, row in zip(table, rows, strict=True):
        assert r["size"] == str(SIZE) and r["n"] == "3"
        assert r["n_held_out"] == str(max(1, round(0.2 * n_wells)))
        assert float(r["per_realization_s"]) > 0 and float(r["setup_s"]) > 0
        assert float(r["geocgan_speedup"]) == pytest.approx(
            row["per_realization_s"]
            / rows[0 if r["case"] == "gaussian" else 4]["per_realization_s"],
            rel=1e-5,
        )
        if r["case"] == "gaussian":
            assert r["brier"] == "" and r["proportion_error"] == ""
            assert 0 <= float(r["coverage"]) <= 1 and float(r["corr_error"]) >= 0
            assert float(r["std_ratio_near"]) > 0 and float(r["std_ratio_error"]) >= 0
            assert 0 <= float(r["mean_bias"]) < 10  # finite, in kriging stds
            assert np.isfinite(float(r["mean_slope"])) and np.isfinite(float(r["mean_shift"]))
            assert float(r["coverage_expected"]) == pytest.approx(0.9 * 2 / 4)
        else:
            assert (
                r["coverage"] == r["std_ratio_error"] == r["mean_bias"] == r["mean_slope"] == ""
                and 0 <= float(r["brier"]) <= 2
            )
            assert 0 <= float(r["neighbourhood_share"]) <= 1
            assert 0 < float(r["neighbourhood_share_truth"]) <= 1
            assert float(r["channel_proportion_ti"]) == pytest.approx(0.28, abs=0.03)
    for r in table[1:4] + table[5:]:  # the peers honor the wells exactly
        assert float(r["honoring"]) == (
            1.0 if r["case"] == "channels" else pytest.approx(0, abs=1e-10)
        )
    md = (tiny.out / "results.md").read_text()
    assert "command: `pytest`" in md and "## Targets" in md and "load average" in md
    assert md.count("| geocgan | 32 |") == 2
    for name in (
        "timing",
        "channel_statistics",
        "gaussian_correlation",
        "gaussian_coverage",
        "gaussian_spread",
        "examples_gaussian_32",
        "examples_channels_32",
    ):
        assert (tiny.out / f"{name}.png").stat().st_size > 0
    assert (tiny.runs / "gaussian.safetensors").is_file()  # cached for the next run
    # geocgan is timed before and after the peers; its time is the median of all its calls
    details = json.loads((tiny.out / "details.json").read_text())["results"]
    timing = details[f"channels/{SIZE}/geocgan"]["timing"]
    calls = [t / timing["n_per_call"] for t in timing["times_s"] + timing["times_after_peers_s"]]
    assert len(calls) == 2 and rows[4]["per_realization_s"] == pytest.approx(np.median(calls))

    with pytest.raises(OutputExistsError, match="results.csv exists; pass --overwrite"):
        run_benchmark(tiny)


def test_missing_peer_is_skipped_with_a_message(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        geocgan.benchmark.run,
        "available_peers",
        lambda: {**available_peers(), "geone_deesse": False},
    )
    cfg = BenchConfig(**{**tiny.__dict__, "cases": ("channels",), "out": tmp_path})
    rows = run_benchmark(cfg)
    assert [r["method"] for r in rows] == ["geocgan"]
    assert "peers missing, skipped: geone_deesse (install: pip install geocgan[peers])" in (
        capsys.readouterr().err
    )


def test_unknown_case_and_missing_channel_model(tiny, tmp_path):
    with pytest.raises(InputError, match=r"unknown case\(s\) \['faults'\]"):
        run_benchmark(BenchConfig(**{**tiny.__dict__, "cases": ("faults",)}))
    cfg = BenchConfig(
        **{
            **tiny.__dict__,
            "cases": ("channels",),
            "out": tmp_path,
            "channel_model": tmp_path / "none.safetensors",
        }
    )
    with pytest.raises(InputError, match="none.safetensors does not exist.*--channel-model"):
        run_benchmark(cfg)


def test_quick_option_sets_a_small_separate_run():
    cfg = load_workflow("benchmark_peers").parse_args(["--quick", "--cases", "channels"])
    assert cfg.sizes == (64,) and cfg.n == 10 and cfg.cases == ("channels",)
    assert cfg.out.name == "quick" and cfg.runs.name == "quick"


def test_validation_wells_and_geocgan_alone(tiny, tmp_path):
    cfg = replace(
        tiny, out=tmp_path / "val", cases=("channels",), peers=(), truth_seed=2025, wells_seed=8
    )
    rows = run_benchmark(cfg, "pytest")
    assert [r["method"] for r in rows] == ["geocgan"]
    assert "truth seed 2025, wells seed 8 (validation wells" in (cfg.out / "results.md").read_text()
    truth, wells = truth_and_wells("channels", SIZE, 2025, 8)
    default_truth, _ = truth_and_wells("channels", SIZE)
    assert not np.array_equal(truth, default_truth)
    assert np.array_equal(truth[wells.rows, wells.cols], wells.values)


def test_holdout_n_sizes_the_leave_wells_out_ensembles_alone(tiny, tmp_path):
    """--holdout-n: coverage judged with a larger ensemble (an exact one of n covers
    0.9 (n - 1) / (n + 1)); the ensembles of every other statistic keep n."""
    cfg = replace(tiny, out=tmp_path / "h", cases=("gaussian",), peers=(), holdout_n=9)
    (row,) = run_benchmark(cfg, "pytest")
    assert row["n"] == 3 and row["coverage_expected"] == pytest.approx(0.9 * 8 / 10)
    assert "re-simulated with n = 9" in (cfg.out / "results.md").read_text()
    assert load_workflow("benchmark_peers").parse_args(["--holdout-n", "400"]).holdout_n == 400


@pytest.mark.parametrize("size", [64, 256])
def test_a_channel_truth_is_a_tile_of_a_field_as_large_as_the_training_image(size):
    """So that it is a sample of the training image's tiles of its size, which the statistics
    compare with (a 64² field made directly runs its channels across the whole grid)."""
    truth, _ = truth_and_wells("channels", size, 3001, 3101)
    field = channel_field((256, 256), seed=3001, **CHANNELS)
    tiles = [
        field[r : r + size, c : c + size] for r in range(0, 256, size) for c in range(0, 256, size)
    ]
    assert truth.shape == (size, size)
    assert sum(np.array_equal(truth, t) for t in tiles) == 1
