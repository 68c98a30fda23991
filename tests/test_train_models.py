"""workflows/train_models.py: model settings on the command line, fine-tunes of a checkpoint."""

import argparse

import pytest
import torch
from conftest import load_workflow

from geocgan.checkpoint import load_model, read_checkpoint, save_checkpoint
from geocgan.constraints import FieldSpec
from geocgan.errors import InputError
from geocgan.models import build_model
from geocgan.models.base import Batch

TINY = {"arch": "fcn", "ngf": 4, "ndf": 4, "nz": 4, "d_layers": 3, "lam_local": 1.0}


tm = load_workflow("train_models")


@pytest.fixture
def trained(tmp_path):
    """A checkpoint with optimizer state, one training step in."""
    torch.manual_seed(0)
    model = build_model("pixel-cgan", TINY, FieldSpec())
    model.train_step(Batch(torch.randn(2, 1, 32, 32)), torch.Generator().manual_seed(1))
    return save_checkpoint(tmp_path / "init.safetensors", model, {"epoch": 1}), model


def test_a_fine_tune_keeps_weights_and_optimizer_state_with_new_loss_weights(trained, tmp_path):
    init, old = trained
    new = build_model("pixel-cgan", {**TINY, "lam_local": 3.0, "ema": 0.9}, FieldSpec())
    ckpt = tmp_path / "run" / "model.safetensors"
    ckpt.parent.mkdir()
    tm.start_from(init, ckpt, new)
    model, doc = load_model(ckpt, training_state=True)
    assert (model.config.lam_local, model.config.ema) == (3.0, 0.9)
    assert doc["fine_tune"]["changed"] == {"lam_local": 1.0, "ema": 0.0}
    assert doc["epoch"] == 1  # training goes on from where the checkpoint was
    for a, b in zip(model.G.parameters(), old.G.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    for a, b in zip(model.G_ema.parameters(), old.G.parameters(), strict=True):
        torch.testing.assert_close(a, b)  # the average starts from the trained weights
    state = model.optimizers["G"].state_dict()["state"]
    assert state and all(int(s["step"]) == 1 for s in state.values())


def test_a_fine_tune_refuses_other_nets_and_the_same_settings_are_copied(trained, tmp_path):
    init, _ = trained
    wider = build_model("pixel-cgan", {**TINY, "ngf": 8}, FieldSpec())
    with pytest.raises(InputError, match="other net settings \\(ngf\\)"):
        tm.start_from(init, tmp_path / "a.safetensors", wider)
    assert not (tmp_path / "a.safetensors").exists()
    same = build_model("pixel-cgan", TINY, FieldSpec())
    tm.start_from(init, tmp_path / "b.safetensors", same)
    assert (tmp_path / "b.safetensors").read_bytes() == init.read_bytes()
    assert "fine_tune" not in read_checkpoint(tmp_path / "b.safetensors")[1]


def test_set_reads_values_as_json_where_it_can():
    assert tm.model_setting("ngf=8") == ("ngf", 8)
    assert tm.model_setting("lam_local=2.5") == ("lam_local", 2.5)
    assert tm.model_setting("lam=3") == ("lam", 3.0)
    assert tm.model_setting("mode=borehole") == ("mode", "borehole")
    assert tm.model_setting("partial=true") == ("partial", True)
    with pytest.raises(argparse.ArgumentTypeError, match="KEY=VALUE"):
        tm.model_setting("ngf")
    with pytest.raises(argparse.ArgumentTypeError, match="wants a bool like false"):
        tm.model_setting("partial=False")  # Python's spelling: text, which would be truthy
    with pytest.raises(argparse.ArgumentTypeError, match="wants a int"):
        tm.model_setting("ngf=8.5")


def test_unknown_settings_are_refused_before_anything_is_written(tmp_path, capsys):
    with pytest.raises(SystemExit):
        tm.main(["gaussian", "--set", "widht=3", "--epochs", "1", "--run", str(tmp_path / "r")])
    assert "widht" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_run_started_from_a_snapshot_takes_its_weights_and_its_average(tmp_path, capsys):
    torch.manual_seed(0)
    trained = build_model("pixel-cgan", {**TINY, "ema": 0.9}, FieldSpec())
    for _ in range(3):
        trained.train_step(Batch(torch.randn(2, 1, 32, 32)), torch.Generator().manual_seed(1))
    snap = save_checkpoint(
        tmp_path / "snap.safetensors", trained, {"epoch": 3}, training_state=False
    )
    differ = zip(trained.G.parameters(), trained.G_ema.parameters(), strict=True)
    assert not all(torch.equal(a, b) for a, b in differ)  # so the restart below is seen
    model = build_model("pixel-cgan", {**TINY, "ema": 0.9, "lam_local": 5.0}, FieldSpec())
    tm.start_weights(model, snap)
    for a, b in zip(trained.G_ema.parameters(), model.G_ema.parameters(), strict=True):
        torch.testing.assert_close(a, b)  # the snapshot's average ...
    for a, b in zip(model.G_ema.parameters(), model.G.parameters(), strict=True):
        torch.testing.assert_close(a, b)  # ... from which the trained generator restarts
    for a, b in zip(trained.D.parameters(), model.D.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    with pytest.raises(InputError, match="other sizes"):
        tm.start_weights(build_model("pixel-cgan", {**TINY, "ngf": 8}, FieldSpec()), snap)
    with pytest.raises(SystemExit):
        tm.main(
            [
                "gaussian",
                "--start",
                str(snap),
                "--init",
                str(snap),
                "--epochs",
                "1",
                "--run",
                str(tmp_path / "r"),
            ]
        )
    assert "both bring weights" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_export_writes_a_finished_model_with_the_generation_canvas(trained, tmp_path, capsys):
    init, old = trained
    out = tmp_path / "final.safetensors"
    args = ["gaussian", "--export", str(init), "--to", str(out), "--canvas", "96", "--note", "n"]
    assert tm.main(args) == 0
    model, doc = load_model(out)
    assert (model.config.canvas, doc["complete"], doc["trained"]) == (96, True, "n")
    for a, b in zip(model.G.parameters(), old.G.parameters(), strict=True):
        torch.testing.assert_close(a, b)  # the same weights
    assert tm.main(args) == 1 and "--overwrite" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a canvas is set on an export, not on a training run
        tm.main(["gaussian", "--canvas", "96", "--epochs", "1", "--run", str(tmp_path / "r")])


def test_export_scales_the_noise_of_one_stage_and_records_the_gains(tmp_path, capsys):
    """--noise-gain 0=1.5: the 1/8 stage's noise scale × 1.5 in both generators, nothing else
    changed; a second export multiplies the recorded gains."""
    torch.manual_seed(0)
    src = build_model("pixel-cgan", {**TINY, "ema": 0.9}, FieldSpec())
    src.train_step(Batch(torch.randn(2, 1, 32, 32)), torch.Generator().manual_seed(1))
    init = save_checkpoint(tmp_path / "s.safetensors", src, {"epoch": 1})
    out, again = tmp_path / "g.safetensors", tmp_path / "g2.safetensors"
    assert (
        tm.main(["gaussian", "--export", str(init), "--to", str(out), "--noise-gain", "0=1.5"]) == 0
    )
    model, doc = load_model(out)
    assert doc["noise_gains"] == {"0": 1.5}
    for net in ("G", "G_ema"):
        new, old = getattr(model, net).state_dict(), getattr(src, net).state_dict()
        for key, value in new.items():
            want = old[key] * 1.5 if key == "stages.0.noise_scale" else old[key]
            torch.testing.assert_close(value, want)
    assert (
        tm.main(["gaussian", "--export", str(out), "--to", str(again), "--noise-gain", "0=2"]) == 0
    )
    assert read_checkpoint(again)[1]["noise_gains"] == {"0": 3.0}
    bad = ["gaussian", "--export", str(init), "--to", str(tmp_path / "b.safetensors")]
    assert tm.main([*bad, "--noise-gain", "4=1.5"]) == 1
    assert "give a stage 0-3" in capsys.readouterr().err
    assert not (tmp_path / "b.safetensors").exists()
    before = model.G.stages[0].noise_scale.clone()
    with pytest.raises(InputError, match="give a stage 0-3"):  # checked before any is applied
        model.scale_noise({0: 2.0, 4: 1.5})
    torch.testing.assert_close(model.G.stages[0].noise_scale, before)
    with pytest.raises(SystemExit):  # malformed, and not on a training run
        tm.main([*bad, "--noise-gain", "0:1.5"])
    with pytest.raises(SystemExit):
        tm.main(["gaussian", "--noise-gain", "0=2", "--epochs", "1", "--run", str(tmp_path / "r")])
