"""Command-line paths found wanting in review: each fails before its fix."""

from __future__ import annotations

import re

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from typer.testing import CliRunner

from geocgan.checkpoint import load_model
from geocgan.cli import app

runner = CliRunner()
QUICK = ["--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "2", "-q", "--device", "cpu"]


def _tif(path, values, pixel=1.0):
    h, w = values.shape
    with rasterio.open(
        path, "w", driver="GTiff", height=h, width=w, count=1, dtype="float32",
        crs="EPSG:32631", transform=from_origin(0, 64, pixel, pixel),
    ) as d:  # fmt: skip
        d.write(values.astype(np.float32), 1)
    return str(path)


@pytest.mark.parametrize("with_source", [False, True])
def test_srgan_trains_at_its_default_factor(tmp_path, with_source):
    """Without --set factor, super-resolution pairs use the model's factor (4), not 1."""
    fine = np.random.default_rng(0).normal(size=(64, 64))
    args = [_tif(tmp_path / "fine.tif", fine)]
    if with_source:
        coarse = fine.reshape(16, 4, 16, 4).mean((1, 3))
        args += ["--source", _tif(tmp_path / "coarse.tif", coarse, pixel=4.0)]
    sets = ["nf=4", "n_blocks=1", "ndf=4", "nz=1", "receptive_field=16"]
    ck = tmp_path / "sr.safetensors"
    r = runner.invoke(
        app,
        ["train", *args, "--model", "srgan", "--kind", "continuous", "--patch", "32", "-o",
         str(ck), *[a for s in sets for a in ("--set", s)], *QUICK],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert load_model(ck)[1]["config"]["factor"] == 4


def _npz(path, images, labels):
    np.savez(path, images=images, labels=labels)
    return str(path)


@pytest.mark.parametrize(
    "images, labels, message",
    [
        (np.zeros((6, 28, 28)), np.array([0, 1, 2, 0.5, 1, 2]), "labels must be class indices"),
        (np.zeros((6, 2, 28, 28)), np.arange(6) % 3, r"images must be \(N, H, W\)"),
    ],
)
def test_labelled_npz_refused_with_a_clear_error(tmp_path, images, labels, message):
    """Fractional labels are not truncated to classes; images of the wrong rank are named."""
    data = _npz(tmp_path / "d.npz", images, labels)
    r = runner.invoke(
        app, ["train", data, "--model", "acgan", "-o", str(tmp_path / "m.safetensors"), *QUICK]
    )
    assert r.exit_code == 1 and re.search(message, " ".join(r.output.split())), r.output


def test_labelled_npz_one_channel_and_float_class_labels_train(tmp_path):
    """``(N, 1, H, W)`` images and labels stored as whole floats are accepted."""
    rng = np.random.default_rng(0)
    data = _npz(tmp_path / "d.npz", rng.random((6, 1, 8, 8)) * 255, np.arange(6.0) % 3)
    ck = tmp_path / "m.safetensors"
    r = runner.invoke(
        app,
        ["train", data, "--model", "acgan", "--set", "size=8", "--set", "n_classes=3",
         "--set", "ngf=4", "--set", "ndf=4", "-o", str(ck), *QUICK],
    )  # fmt: skip
    assert r.exit_code == 0, r.output


def test_labelled_sets_of_two_sizes_refused(tmp_path):
    a = _npz(tmp_path / "a.npz", np.zeros((4, 8, 8)), np.arange(4) % 2)
    b = _npz(tmp_path / "b.npz", np.zeros((4, 12, 12)), np.arange(4) % 2)
    r = runner.invoke(app, ["train", a, b, "--model", "acgan", "-o", str(tmp_path / "m"), *QUICK])
    assert r.exit_code == 1 and "images of one size" in r.output, r.output


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_labelled_images_with_nan_refused(tmp_path, bad):
    images = np.zeros((4, 8, 8))
    images[1, 2, 3] = bad
    data = _npz(tmp_path / "d.npz", images, np.arange(4) % 2)
    args = [
        "--model",
        "acgan",
        "--set",
        "size=8",
        "--set",
        "n_classes=2",
        "-o",
        str(tmp_path / "m"),
    ]
    r = runner.invoke(app, ["train", data, *args, *QUICK])
    assert r.exit_code == 1 and "NaN or infinite" in r.output, r.output  # was: trained on NaN


def test_lr_option_sets_a_translation_models_rate(tmp_path):
    """``--lr`` reaches the one ``lr`` of pix2pix (it was refused as "not a setting", while
    the message listed ``lr``); a flag no setting takes is still refused."""
    rng = np.random.default_rng(0)
    a, b = (
        _tif(tmp_path / "a.tif", rng.normal(size=(32, 32))),
        _tif(tmp_path / "b.tif", rng.normal(size=(32, 32))),
    )
    ck = tmp_path / "p.safetensors"
    sets = ["levels=3", "ngf=4", "ndf=4", "receptive_field=16"]
    base = [
        "train",
        a,
        "--source",
        b,
        "--model",
        "pix2pix",
        "--kind",
        "continuous",
        "--patch",
        "16",
    ]
    base += [x for s in sets for x in ("--set", s)]
    r = runner.invoke(app, [*base, "--lr", "0.001", "-o", str(ck), *QUICK])
    assert r.exit_code == 0, r.output
    assert load_model(ck)[1]["config"]["lr"] == 0.001
    r = runner.invoke(app, [*base, "--lambda", "3", "-o", str(ck), "--overwrite", *QUICK])
    assert r.exit_code == 1 and "--lambda is not a setting" in r.output, r.output


def test_bad_setting_named_before_the_data_are_read(tmp_path):
    """``n_classes=1`` is reported as such, not as labels outside 0..0."""
    data = _npz(tmp_path / "d.npz", np.zeros((4, 8, 8)), np.arange(4) % 3)
    args = ["--set", "size=8", "--set", "n_classes=1", "-o", str(tmp_path / "m")]
    r = runner.invoke(app, ["train", data, "--model", "acgan", *args, *QUICK])
    assert r.exit_code == 1 and "n_classes must be >= 2" in r.output, r.output


def test_class_gan_refuses_multichannel_stacks():
    """A ``FieldArray`` of ``(N, C, H, W)`` images is refused by name, not by conv2d."""
    from geocgan.errors import InputError
    from geocgan.models import build_model
    from geocgan.models.acgan import ACGAN
    from geocgan.train import FieldArray, TrainConfig, Trainer

    images = np.zeros((4, 1, 8, 8), np.float32)
    cfg = {"size": 8, "n_classes": 2, "ngf": 4, "ndf": 4}
    m = build_model("acgan", cfg, ACGAN.field_spec(images), seed=0)
    data = FieldArray(images, labels=np.arange(4) % 2)
    with pytest.raises(InputError, match=r"one-channel images \(N, H, W\), got \(4, 1, 8, 8\)"):
        Trainer(m, data, TrainConfig(device="cpu"), checkpoint="unused.safetensors")


@pytest.mark.parametrize("epochs", ["1", "2"])
def test_resume_of_a_finished_run_says_so(tmp_path, epochs):
    """Resuming a run already at (or past) --epochs trains nothing and says so, instead of
    printing the log's last row as if it had just trained."""
    data = _npz(tmp_path / "d.npz", np.random.default_rng(0).random((8, 8, 8)), np.arange(8) % 2)
    ck = str(tmp_path / "m.safetensors")
    args = ["train", data, "--model", "acgan", "--set", "size=8", "--set", "n_classes=2"]
    args += ["--set", "ngf=4", "--set", "ndf=4", "-o", ck, "--steps-per-epoch", "1", "-q"]
    r = runner.invoke(app, [*args, "--epochs", "2", "--batch-size", "2"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, [*args, "--epochs", epochs, "--batch-size", "2", "--resume"])
    assert r.exit_code == 0 and "already trained to epoch 2" in r.output, r.output
    assert '"checkpoint"' not in r.output


def test_missing_labelled_set_named(tmp_path):
    r = runner.invoke(app, ["train", str(tmp_path / "gone.npz"), "--model", "acgan", "-o", "m"])
    assert r.exit_code == 1 and "gone.npz does not exist" in r.output, r.output


@pytest.mark.parametrize(
    "side, fix", [(12, "--set size=12"), (30, "crop or pad them to squares whose side")]
)
def test_image_size_fix_is_one_that_works(tmp_path, side, fix):
    """A 30x30 set is not told to use --set size=30, which the config refuses."""
    data = _npz(tmp_path / "d.npz", np.zeros((4, side, side)), np.arange(4) % 2)
    r = runner.invoke(app, ["train", data, "--model", "acgan", "-o", str(tmp_path / "m"), *QUICK])
    assert r.exit_code == 1 and fix in " ".join(r.output.split()), r.output


def test_flip_on_an_image_set_is_refused_not_ignored(tmp_path):
    data = _npz(tmp_path / "d.npz", np.zeros((4, 8, 8)), np.arange(4) % 2)
    r = runner.invoke(
        app, ["train", data, "--model", "acgan", "--flip", "x", "-o", str(tmp_path / "m"), *QUICK]
    )
    assert r.exit_code == 1 and "--flip mirrors patches" in r.output, r.output


def test_sample_saves_infogan_codes_that_remake_its_images(tmp_path):
    """The .npz of ``geocgan sample`` holds the codes each InfoGAN sample was made from."""
    import torch

    from geocgan import noise

    data = _npz(tmp_path / "d.npz", np.random.default_rng(0).random((8, 8, 8)), np.arange(8) % 2)
    ck, out = tmp_path / "i.safetensors", tmp_path / "s.npz"
    sets = ["size=8", "ngf=4", "ndf=4", "nz=3", "cat_codes=3", "n_cont=1"]
    args = [x for s in sets for x in ("--set", s)]
    r = runner.invoke(app, ["train", data, "--model", "infogan", *args, "-o", str(ck), *QUICK])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["sample", "-m", str(ck), "-o", str(out), "-n", "5", "--seed", "4"])
    assert r.exit_code == 0, r.output
    got = np.load(out)
    assert sorted(got.files) == ["code1", "code2", "images"]
    cat, cont = got["code1"], got["code2"]  # (5,) classes, (5, 1) values
    assert cat.shape == (5,) and set(cat) <= {0, 1, 2} and cont.shape == (5, 1)
    m = load_model(ck)[0].eval()
    z = noise.draw(m.latent(), 4, range(5))[0]  # the normal part
    codes = [z, torch.nn.functional.one_hot(torch.as_tensor(cat), 3).float(), torch.as_tensor(cont)]
    with torch.no_grad():
        again = m.spec.decode(m.generate(codes, None)).numpy()
    np.testing.assert_allclose(again, got["images"], atol=1e-4)
