"""`geocgan train --seed S` is reproducible: two runs give identical checkpoints, and a run
stopped and resumed (twice) gives the same checkpoint as an uninterrupted one."""

from __future__ import annotations

import numpy as np
import torch
from conftest import tiny_train_args
from safetensors.torch import load_file
from typer.testing import CliRunner

from geocgan.cli import app


def _train(tmp_path, ti, out, epochs, *extra):
    args = tiny_train_args(ti, out, "--seed", "7", *extra, epochs=epochs, batch_size=4)
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    return load_file(out)


def _equal(a, b):
    assert a.keys() == b.keys()
    return all(torch.equal(a[k], b[k]) for k in a)


def test_train_seed_reproducible_and_resume_exact(tmp_path):
    ti = tmp_path / "ti.npy"
    rng = np.random.default_rng(0)
    np.save(ti, (rng.random((64, 64)) < 0.3).astype(np.int64))
    torch.manual_seed(123)  # the global generator must not matter
    a = _train(tmp_path, ti, tmp_path / "a.safetensors", 3)
    torch.manual_seed(999)
    b = _train(tmp_path, ti, tmp_path / "b.safetensors", 3)
    assert _equal(a, b)
    # stopped after epochs 1 and 2, resumed each time
    c_path = tmp_path / "c.safetensors"
    _train(tmp_path, ti, c_path, 1)
    _train(tmp_path, ti, c_path, 2, "--resume")
    c = _train(tmp_path, ti, c_path, 3, "--resume")
    assert _equal(a, c)
    # another seed is another run (other initial weights from epoch 0 on)
    d = _train(tmp_path, ti, tmp_path / "d.safetensors", 1, "--seed", "8")
    assert not _equal(a, d)


def test_train_unknown_model_and_foreign_option(tmp_path):
    ti = tmp_path / "ti.npy"
    np.save(ti, np.zeros((64, 64), np.int64))
    res = CliRunner().invoke(
        app, ["train", str(ti), "--out", str(tmp_path / "m.safetensors"), "--model", "pix3pix"]
    )
    assert res.exit_code == 1 and "valid models" in res.output and "pixel-cgan" in res.output
    res = CliRunner().invoke(
        app, ["train", str(ti), "--out", str(tmp_path / "m.safetensors"), "--set", "lamda=2"]
    )
    assert res.exit_code == 1 and "not a setting of model 'pixel-cgan'" in res.output
