"""The model contract: every registered model trains, checkpoints, samples and resumes the
same way, and the refactoring into one contract changed nothing for the shipped models."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from geocgan.checkpoint import load_model, save_checkpoint
from geocgan.constraints import FieldSpec, from_points
from geocgan.errors import InputError
from geocgan.models import MODELS, build_model
from geocgan.models.base import Batch, Latent
from geocgan.models.settings import apply_settings, settings
from geocgan.simulate import generate_batches, sample, simulate
from geocgan.train import BestEpoch, FieldArray, TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_models_give_the_same_ensembles_as_before_the_contract():
    """Reference realizations made with the code before the contract (commit 06b2d1e)."""
    torch.set_num_threads(1)
    ref = np.load(ROOT / "tests/data/shipped_models_reference.npz")
    for key, path in (
        ("channels", "sample_data/channels.safetensors"),
        ("gaussian", "workflows/results/benchmark/gaussian_model.safetensors"),
    ):
        m, _ = load_model(ROOT / path)
        rows, cols, vals = ref[key + "_wells"]
        cons = from_points(ref[key].shape[1:], rows.astype(int), cols.astype(int), vals)
        got = simulate(m, cons, 3, seed=11, batch_size=2, noise_scheme="torch")
        np.testing.assert_array_equal(got, ref[key])


# -- every registered model ------------------------------------------------------------------

TINY = {  # settings that make each model small; anything else is its default
    "pixel-cgan": {"nz": 2, "ngf": 4, "ndf": 4, "d_layers": 2, "density": 0.05},
    **{
        name: {"size": 32, "nz": 4, "ngf": 4, "ndf": 4}
        | ({"n_classes": 3} if name not in ("dcgan", "infogan") else {})
        for name in ("dcgan", "cgan", "cdcgan", "acgan", "twon-gan", "infogan")
    },
    "pix2pix": {"ngf": 4, "ndf": 4, "levels": 3, "receptive_field": 16},
    "cyclegan": {"ngf": 4, "ndf": 4, "n_blocks": 1, "receptive_field": 16, "pool_size": 3},
    "srgan": {"nf": 4, "n_blocks": 1, "ndf": 4, "factor": 2, "nz": 2, "receptive_field": 16},
}


def tiny_case(name: str, n: int = 16):
    """A tiny model of ``name`` and data it trains on (what its ``needs`` say)."""
    cls = MODELS[name]
    cfg = apply_settings(cls.config_class, TINY.get(name, {}), [], name)
    rng = np.random.default_rng(0)
    size = getattr(cls, "tiny_size", 32)
    fields = rng.normal(size=(n, size, size)).astype(np.float32)
    labels = rng.integers(0, 3, n) if "labels" in cls.needs else None
    if cls.needs & {"source", "other"}:  # translation: facies -> field, or coarse -> fine
        return _tiny_translation(name, cls, cfg, fields)
    spec = cls.field_spec(fields, "continuous")
    model = build_model(name, cfg, spec, seed=0)
    data = FieldArray(fields, labels=labels, n_classes=3 if labels is not None else None)
    return model, data


def _tiny_translation(name, cls, cfg, fields):
    from geocgan.models.srgan import block_mean
    from geocgan.pairs import PairedArray, Unpaired

    factor = cfg.get("factor", 1)
    if factor > 1:
        source, kind = block_mean(torch.as_tensor(fields), factor).numpy(), "continuous"
    else:
        source, kind = (fields > 0).astype(np.float32), "categorical"
    spec = cls.translation_spec(fields, source, "continuous", kind)
    if "other" in cls.needs:
        data = Unpaired(FieldArray(fields), FieldArray(source[::-1].copy()))
    else:
        data = PairedArray(fields, source, scale=factor)
    return build_model(name, cfg, spec, seed=0), data


def condition_for(model, n: int):
    if model.condition == "constraints":
        return from_points((32, 32), [3, 20], [5, 17], [0.5, -1.0])
    if model.condition == "labels":
        return torch.arange(n) % 3
    if model.condition == "image":  # one encoded input image per realization
        rng = np.random.default_rng(1)
        codes = torch.as_tensor(rng.random((n, 20, 28)) > 0.5, dtype=torch.float32)
        spec = model.input_spec
        return spec.encode(codes if spec.kind == "categorical" else codes * 2 - 1)
    return None


@pytest.mark.parametrize("name", sorted(MODELS))
def test_contract_training_lowers_loss_and_resumes_bit_identically(name, tmp_path):
    model, data = tiny_case(name)
    cfg = TrainConfig(epochs=2, batch_size=4, steps_per_epoch=3, seed=1, device="cpu", val_size=4)
    Trainer(model, data, cfg, checkpoint=tmp_path / "a.safetensors", progress=False).fit()
    # the same run in two legs: epoch 1, stop, resume to 2
    model2, data2 = tiny_case(name)
    one = replace(cfg, epochs=1)
    Trainer(model2, data2, one, checkpoint=tmp_path / "b.safetensors", progress=False).fit()
    model3, data3 = tiny_case(name)
    Trainer(model3, data3, cfg, checkpoint=tmp_path / "b.safetensors", progress=False).fit(
        resume=True
    )
    a, b = load_file(tmp_path / "a.safetensors"), load_file(tmp_path / "b.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("name", sorted(MODELS))
def test_contract_same_seed_same_initial_weights_and_checkpoint_round_trip(name, tmp_path):
    m1, _ = tiny_case(name)
    m2, _ = tiny_case(name)
    for (k, v), (_, w) in zip(m1.state_dict().items(), m2.state_dict().items(), strict=True):
        assert torch.equal(v, w), k
    other = build_model(name, m1.config, m1.spec, seed=1)
    assert any(
        not torch.equal(v, w)
        for v, w in zip(m1.state_dict().values(), other.state_dict().values(), strict=True)
        if v.is_floating_point()
    )
    save_checkpoint(tmp_path / "m.safetensors", m1, {"epoch": 0})
    back, doc = load_model(tmp_path / "m.safetensors", training_state=True)
    assert doc["model"] == name
    for (k, v), w in zip(m1.state_dict().items(), back.state_dict().values(), strict=True):
        assert torch.equal(v, w), k


@pytest.mark.parametrize("name", sorted(MODELS))
def test_contract_realization_does_not_depend_on_batch_size(name):
    model, _ = tiny_case(name)
    cond = condition_for(model, 5)
    outs = []
    for bs in (1, 2, 5):
        got = np.concatenate(
            [f for _, f in generate_batches(model, cond, range(5), seed=4, batch_size=bs)]
        )
        outs.append(got)
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-5)
    np.testing.assert_allclose(outs[0], outs[2], atol=1e-5)
    assert not np.allclose(outs[0][0], outs[0][1])  # realizations differ


def test_trainer_names_what_the_data_lack():
    class Needy(MODELS["pixel-cgan"]):
        needs = frozenset({"labels"})

    m = Needy(MODELS["pixel-cgan"].config_class(**TINY["pixel-cgan"]), FieldSpec())
    data = FieldArray(np.zeros((4, 32, 32), np.float32))
    with pytest.raises(InputError, match="labels"):
        Trainer(m, data, TrainConfig(device="cpu"), checkpoint="x.safetensors")


def test_labels_outside_range_and_unknown_model_are_clear():
    with pytest.raises(InputError, match="label 5 of image 1 is outside 0..2"):
        FieldArray(np.zeros((3, 8, 8)), labels=np.array([0, 5, 1]), n_classes=3)
    with pytest.raises(InputError, match="valid models: .*pixel-cgan"):
        build_model("stylegan9", {}, FieldSpec())


def test_sample_refuses_a_constraint_model_and_names_the_command():
    m = build_model("pixel-cgan", TINY["pixel-cgan"], FieldSpec(), seed=0)
    with pytest.raises(InputError, match="geocgan simulate"):
        sample(m, 3)


def test_latent_parts_are_checked():
    with pytest.raises(InputError, match="classes"):
        Latent((3,), "categorical", classes=4)
    with pytest.raises(InputError, match="normal, uniform or categorical"):
        Latent((3,), "gamma")


def test_settings_from_the_config_dataclass():
    cls = MODELS["pixel-cgan"].config_class
    s = settings(cls)
    assert s["mode"].choices == ("point", "borehole")
    assert "constraint term" in s["lam"].help
    out = apply_settings(cls, {}, ["lam=3", "mode=borehole", "conditional=false"], "pixel-cgan")
    assert out == {"lam": 3.0, "mode": "borehole", "conditional": False}
    with pytest.raises(InputError, match="not a setting of model 'pixel-cgan'.*lam_local"):
        apply_settings(cls, {}, ["lamda=3"], "pixel-cgan")
    with pytest.raises(InputError, match="one of point, borehole"):
        apply_settings(cls, {}, ["mode=line"], "pixel-cgan")


def test_best_epoch_hook_keeps_the_best_snapshot(tmp_path):
    model, data = tiny_case("pixel-cgan")
    cfg = TrainConfig(epochs=3, batch_size=4, steps_per_epoch=2, seed=0, device="cpu", val_size=4)
    seen = iter([5.0, 2.0, 3.0])

    def fake_metric(trainer, epoch, row):
        return {"score": next(seen)}

    rows = Trainer(
        model,
        data,
        cfg,
        checkpoint=tmp_path / "m.safetensors",
        progress=False,
        on_epoch=[fake_metric, BestEpoch("score")],
    ).fit()
    assert [r["best_epoch"] for r in rows] == [1, 2, 2]
    _, doc = load_model(tmp_path / "m_best.safetensors")
    assert doc["epoch"] == 2


def test_batch_parts():
    b = Batch(torch.zeros(2, 1, 4, 4), labels=torch.tensor([0, 1]))
    assert b.present() == {"labels"} and len(b) == 2
    assert b.map(lambda t: t + 1).labels.tolist() == [0, 1]


def test_simulate_command_refuses_a_model_without_pixel_constraints(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from geocgan.cli import app

    class LabelModel(MODELS["pixel-cgan"]):
        name = "label-test"
        condition = "labels"

    monkeypatch.setitem(MODELS, "label-test", LabelModel)
    m = LabelModel(MODELS["pixel-cgan"].config_class(**TINY["pixel-cgan"]), FieldSpec())
    save_checkpoint(tmp_path / "m.safetensors", m, {"epoch": 1})
    wells = tmp_path / "w.csv"
    wells.write_text("x,y,value\n5,5,1.0\n")
    res = CliRunner().invoke(
        app,
        [
            "simulate",
            str(wells),
            "--model",
            str(tmp_path / "m.safetensors"),
            "--bounds",
            "0",
            "0",
            "32",
            "32",
            "--res",
            "1",
            "--crs",
            "EPSG:32631",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code == 1, res.output
    assert "geocgan sample" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_train_command_epoch_is_one_pass_over_an_image_stack(tmp_path):
    from typer.testing import CliRunner

    from geocgan.cli import app

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", images=rng.random((24, 32, 32)), labels=rng.integers(0, 3, 24))
    res = CliRunner().invoke(
        app,
        [
            "train",
            str(tmp_path / "d.npz"),
            "--model",
            "dcgan",
            "--out",
            str(tmp_path / "m.safetensors"),
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--device",
            "cpu",
            "-q",
            *sum((["--set", f"{k}={v}"] for k, v in TINY["dcgan"].items()), []),
        ],
    )
    assert res.exit_code == 0, res.output
    _, doc = load_model(tmp_path / "m.safetensors")
    assert doc["step"] == 3  # 24 images / batch 8: one pass, not the windows' 40 batches
