"""The benchmark over independent cases: aggregation with known answers, then end to end."""

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import load_workflow
from test_benchmark import SIZE, TINY, tiny  # noqa: F401 (tiny: the benchmark's fixture)

import geocgan.benchmark.replicates as br
from geocgan.checkpoint import save_checkpoint
from geocgan.constraints import FieldSpec
from geocgan.errors import InputError, OutputExistsError
from geocgan.models import build_model


def _row(seed, case, method, **values):
    return {"truth_seed": seed, "case": case, "size": 64, "method": method, **values}


def test_paired_comparison_and_pooled_coverage_known_answers():
    g, d = [0.1, 0.2, 0.3], [0.2, 0.2, 0.5]
    p = br.paired(np.array(g), np.array(d))
    assert p["diff_mean"] == pytest.approx(-0.1)
    assert p["diff_se"] == pytest.approx(0.1 / math.sqrt(3))  # std of (-0.1, 0, -0.2) / sqrt(3)
    assert (p["a_better"], p["k"]) == (2, 3)  # a tie is not a win
    assert br._verdict(p) == "met, within noise"  # 0.1 < 2 * 0.0577
    assert br._verdict(br.paired(np.array([0.1, 0.1, 0.1]), np.array([0.3, 0.31, 0.29]))) == (
        "met, clear"
    )
    assert br._verdict(br.paired(np.array([0.4, 0.5]), np.array([0.3, 0.3]))) == "MISSED, clear"
    assert br.mean_se(np.array([2.0, np.nan])) == (2.0, pytest.approx(math.nan, nan_ok=True))

    rows = [  # coverage weighted by the held-out wells of each case
        _row(1, "gaussian", "geocgan", coverage=1.0, coverage_expected=0.9, n_held_out=2),
        _row(2, "gaussian", "geocgan", coverage=0.5, coverage_expected=0.8, n_held_out=6),
    ]
    pooled = br.pooled_coverage(rows, "gaussian", 64, "geocgan")
    assert pooled["coverage"] == pytest.approx((2 * 1.0 + 6 * 0.5) / 8)
    assert pooled["expected_if_exact"] == pytest.approx((2 * 0.9 + 6 * 0.8) / 8)
    assert pooled["n_held_out"] == 8


def test_summary_pairs_the_cases_by_seed():
    rows = []
    for seed, (ge, de) in zip((5, 3, 4), ((0.1, 0.2), (0.3, 0.5), (0.2, 0.2)), strict=True):
        for method, err in (("geocgan", ge), ("geone_deesse", de)):
            stats = {k: err for k in br.CHANNEL_TARGETS}
            rows.append(
                _row(seed, "channels", method, honoring=1.0, neighbourhood_share=0.9, spread=0.5)
                | stats
                | {"brier": 0.2}
            )
    s = br.summarize(rows)
    targets = {t["target"]: t for t in s["targets"]}
    t = targets["channels 64²: variogram error < DeeSse's"]
    assert t["diff_mean"] == pytest.approx(-0.1) and t["a_better"] == 2
    assert t["mean_a"] == pytest.approx(0.2) and t["mean_b"] == pytest.approx(0.3)
    assert targets["channels 64²: facies match at wells ≥ 99 % (worst case)"]["verdict"] == "met"
    mean, se = s["statistics"]["channels/64/geocgan"]["proportion_error"]
    assert mean == pytest.approx(0.2) and se == pytest.approx(0.1 / math.sqrt(3))

    # a peer without the case of seed 4: the other two cases stay paired seed by seed
    rows = [r for r in rows if (r["truth_seed"], r["method"]) != (4, "geone_deesse")]
    t = next(
        t
        for t in br.summarize(rows)["targets"]
        if t["target"].endswith("variogram error < DeeSse's")
    )
    assert t["k"] == 2 and t["diff_mean"] == pytest.approx(-0.15)  # (0.1-0.2, 0.3-0.5) / 2


def test_tiny_replicates_end_to_end_and_resume(tiny, tmp_path, monkeypatch):  # noqa: F811
    bench = replace(tiny, peers=("geone_fft", "geone_deesse"), compile=False)
    cfg = br.ReplicateConfig(bench=bench, replicates=2, jobs=2, out=tmp_path / "rep")
    rows = br.run_replicates(cfg, "pytest")
    methods = [(r["truth_seed"], r["case"], r["method"]) for r in rows]
    assert methods == [
        (seed, case, method)
        for seed in (3000, 3001)
        for case, method in (
            ("gaussian", "geocgan"),
            ("gaussian", "geone_fft"),
            ("channels", "geocgan"),
            ("channels", "geone_deesse"),
        )
    ]
    assert {r["size"] for r in rows} == {SIZE}
    # each case is its own draw: truths and wells differ between the seeds
    assert rows[0]["variogram_error"] != rows[4]["variogram_error"]
    md = (cfg.out / "summary.md").read_text()
    assert "command: `pytest`" in md and "truth seeds 3000–3001" in md
    assert f"channels {SIZE}²: variogram error < DeeSse's" in md and "of 2 |" in md
    summary = json.loads((cfg.out / "summary.json").read_text())
    g = [r["corr_error"] for r in rows if (r["case"], r["method"]) == ("gaussian", "geocgan")]
    assert summary["statistics"][f"gaussian/{SIZE}/geocgan"]["corr_error"][0] == pytest.approx(
        np.mean(g)
    )
    assert (cfg.out / "replicates.png").stat().st_size > 0
    assert len(list((cfg.out / "cases").glob("*.json"))) == 4

    with pytest.raises(OutputExistsError, match="summary.md exists; pass --overwrite"):
        br.run_replicates(cfg)

    # an interrupted run: one case and the summary missing; the rerun computes that case alone
    (cfg.out / "summary.md").unlink()
    (cfg.out / "cases" / "channels_3001_3101.json").unlink()
    ran = []
    real = br.run_case
    monkeypatch.setattr(
        br, "run_case", lambda b, case, *args: ran.append(case) or real(b, case, *args)
    )
    again = br.run_replicates(replace(cfg, jobs=1))
    assert ran == ["channels"] and len(again) == len(rows)
    assert "3 case(s) kept from an earlier call" in (cfg.out / "summary.md").read_text()
    assert [r["truth_seed"] for r in again] == [r["truth_seed"] for r in rows]

    # a kept case that lacks a peer which runs now (installed since) is not mixed in either
    case_file = cfg.out / "cases" / "channels_3000_3100.json"
    doc = json.loads(case_file.read_text())
    doc["rows"] = [r for r in doc["rows"] if r["method"] == "geocgan"]
    case_file.write_text(json.dumps(doc))
    (cfg.out / "summary.md").unlink()
    with pytest.raises(InputError, match=r"other settings \(methods\)"):
        br.run_replicates(replace(cfg, jobs=1))
    ran.clear()
    br.run_replicates(replace(cfg, jobs=1, overwrite=True))
    assert ran == ["channels"]

    # cases made with other settings are not mixed in
    (cfg.out / "summary.md").unlink()
    with pytest.raises(InputError, match=r"other settings \(n\); pass --overwrite"):
        br.run_replicates(replace(cfg, bench=replace(bench, n=4), jobs=1))
    with pytest.raises(InputError, match=r"other settings \(holdout_n\); pass --overwrite"):
        br.run_replicates(replace(cfg, bench=replace(bench, holdout_n=5), jobs=1))
    # cases kept before holdout_n existed were made with the grid's n: still the same settings
    for path in (cfg.out / "cases").glob("*.json"):
        doc = json.loads(path.read_text())
        assert doc["settings"].pop("holdout_n") == 0
        path.write_text(json.dumps(doc))
    # --overwrite with the same settings keeps every case and writes the summary again
    ran.clear()
    br.run_replicates(replace(cfg, jobs=1, overwrite=True))
    assert ran == [] and (cfg.out / "summary.md").exists()
    # another channel model: its cases are made again, the Gaussian ones are kept
    spec = FieldSpec("categorical", [0, 1])
    torch.manual_seed(1)
    other = tmp_path / "other.safetensors"
    save_checkpoint(other, build_model("pixel-cgan", TINY, spec), {"epoch": 0})
    new = replace(cfg, bench=replace(bench, channel_model=other), jobs=1)
    (cfg.out / "summary.md").unlink()
    with pytest.raises(
        InputError, match=r"channels_3000_3100.json was made with other settings \(model\)"
    ):
        br.run_replicates(new)
    br.run_replicates(replace(new, overwrite=True))
    assert ran == ["channels", "channels"]


def test_the_script_says_where_the_models_and_results_lie():
    root = Path(__file__).resolve().parents[1]
    cfg = load_workflow("benchmark_replicates").parse_args(["--replicates", "3"])
    assert cfg.root == root and cfg.out == root / "workflows/results/benchmark/replicates"
    assert cfg.bench.channel_model == root / "sample_data/channels.safetensors"
    assert cfg.bench.peers == ("geone_sgs", "geone_fft", "geone_deesse") and not cfg.bench.compile
    assert br._rel(root / "sample_data/channels.safetensors", cfg.root) == (
        "sample_data/channels.safetensors"
    )
