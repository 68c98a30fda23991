"""The class-conditional GANs: their losses against hand-computed cases, bad input with its
message, and `geocgan train --model M` / `geocgan sample` on a tiny labelled .npz."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from geocgan.checkpoint import load_model
from geocgan.cli import app
from geocgan.errors import GridError, InputError
from geocgan.models import MODELS, build_model
from geocgan.models.image_gan import ImageGAN
from geocgan.models.losses import (
    acgan_d_loss,
    acgan_g_loss,
    d_loss,
    g_loss,
    info_loss,
    twon_d_loss,
    twon_g_loss,
)
from geocgan.simulate import sample
from geocgan.train import FieldArray, TrainConfig, Trainer

CLASS_MODELS = sorted(n for n, m in MODELS.items() if issubclass(m, ImageGAN))
TINY = {"size": 8, "nz": 3, "ngf": 4, "ndf": 4}


def sp(v: float) -> float:  # softplus
    return math.log1p(math.exp(v))


def t(*v) -> torch.Tensor:
    return torch.tensor(v, dtype=torch.float64)


def tiny(name: str, **extra):
    cls = MODELS[name]
    cfg = TINY | ({"n_classes": 3} if cls.labelled else {}) | extra
    return build_model(name, cfg, cls.field_spec(np.array([0.0, 255.0])), seed=0)


def test_the_seven_models_are_registered():
    assert CLASS_MODELS == ["acgan", "cdcgan", "cgan", "dcgan", "infogan", "twon-gan"]
    assert {MODELS[n].condition for n in CLASS_MODELS} == {"labels", "none"}
    assert [n for n in CLASS_MODELS if MODELS[n].labelled] == [
        "acgan",
        "cdcgan",
        "cgan",
        "twon-gan",
    ]


# -- losses against hand-computed cases -------------------------------------------------------


def test_adversarial_losses_by_hand():
    r, f = t(2.0), t(-1.0)
    assert d_loss(r, f, "ns").item() == pytest.approx(sp(-2) + sp(-1))
    assert g_loss(f, "ns").item() == pytest.approx(sp(1))
    assert d_loss(t(0.5), t(0.5), "hinge").item() == pytest.approx(0.5 + 1.5)
    assert d_loss(r, f, "hinge").item() == 0.0
    assert g_loss(f, "hinge").item() == pytest.approx(1.0)
    assert d_loss(r, f, "ls").item() == pytest.approx(0.5 * 1 + 0.5 * 1)
    assert g_loss(f, "ls").item() == pytest.approx(0.5 * 4)
    with pytest.raises(InputError, match="use one of ns, hinge, ls"):
        d_loss(r, f, "wasserstein")


def test_acgan_auxiliary_term_by_hand():
    real = t(0.0, 1.0, 0.0, -1.0)[None]  # real/fake logit 0, class logits (1, 0, -1)
    fake = t(0.0, 0.0, 0.0, 0.0)[None]
    ce_real = -math.log(math.e / (math.e + 1 + 1 / math.e))  # class 0
    want = 2 * math.log(2) + 0.5 * (ce_real + math.log(3))
    got = acgan_d_loss(real, torch.tensor([0]), fake, torch.tensor([2]), "ns", lam=0.5)
    assert got.item() == pytest.approx(want)
    g = acgan_g_loss(real, torch.tensor([0]), "ns", lam=2.0)
    assert g.item() == pytest.approx(math.log(2) + 2 * ce_real)


def test_twon_targets_by_hand():
    """N = 2 classes: 4 logits (real 0, real 1, fake 0, fake 1). A real image of class 1 has
    target 1; a fake made for class 0, target 2 (fake class 0); G wants target 0 for it."""
    real = t(0.3, 1.2, -0.5, 0.1)[None]
    fake = t(-0.2, 0.4, 0.9, 0.0)[None]

    def nll(logits, target):
        e = [math.exp(v) for v in logits[0].tolist()]
        return -math.log(e[target] / sum(e))

    d = twon_d_loss(real, torch.tensor([1]), fake, torch.tensor([0]), "ns")
    assert d.item() == pytest.approx(nll(real, 1) + nll(fake, 2))
    assert twon_g_loss(fake, torch.tensor([0]), "ns").item() == pytest.approx(nll(fake, 0))
    # hinge keeps the class part and replaces the real/fake part, on a = lse(real) - lse(fake)
    a = math.log(math.exp(-0.2) + math.exp(0.4)) - math.log(math.exp(0.9) + 1)
    cls = -math.log(math.exp(-0.2) / (math.exp(-0.2) + math.exp(0.4)))
    assert twon_g_loss(fake, torch.tensor([0]), "hinge").item() == pytest.approx(-a + cls)


def test_infogan_information_term_by_hand():
    cat_logits, code = [t(2.0, 0.0)[None]], [t(0.0, 1.0)[None]]
    mean, logstd, c = t(0.0, 1.0)[None], t(math.log(2), 0.0)[None], t(0.5, 1.0)[None]
    cat, cont = info_loss(cat_logits, code, mean, logstd, c)
    assert cat.item() == pytest.approx(math.log(1 + math.e**2))
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    assert cont.item() == pytest.approx(0.5 * 0.25**2 + math.log(2) + 2 * half_log_2pi)
    # the bound on I(c; x) for a 2-valued code: log 2 - cat, here below 0 (Q is wrong)
    assert math.log(2) - cat.item() < 0


def test_infogan_latent_parts_and_q_reads_its_codes():
    m = tiny("infogan", cat_codes=[4, 3], n_cont=2)
    parts = m.latent()
    assert [(p.shape, p.dist) for p in parts] == [
        ((3,), "normal"),
        ((4,), "categorical"),
        ((3,), "categorical"),
        ((2,), "uniform"),
    ]
    cat, mean, logstd = m.Q(torch.zeros(5, m.D.feature_dim))
    assert [tuple(c.shape) for c in cat] == [(5, 4), (5, 3)] and mean.shape == logstd.shape == (
        5,
        2,
    )


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cgan", "cdcgan", "acgan", "twon-gan"])
def test_a_class_conditional_model_refuses_data_without_labels(name, tmp_path):
    data = FieldArray(np.zeros((4, 8, 8), np.float32))
    with pytest.raises(InputError, match="trains on data with labels.*give labelled images"):
        Trainer(tiny(name), data, TrainConfig(device="cpu"), checkpoint=tmp_path / "m")


def test_labels_outside_the_model_classes_are_refused(tmp_path):
    m = tiny("acgan")  # 3 classes
    data = FieldArray(np.zeros((4, 8, 8), np.float32), labels=np.array([0, 1, 2, 5]))
    with pytest.raises(InputError, match=r"label 5, outside 0..2 .*--set n_classes=6"):
        Trainer(m, data, TrainConfig(device="cpu"), checkpoint=tmp_path / "m")
    with pytest.raises(InputError, match=r"label 7 is outside 0..2"):
        m.generate([torch.zeros(2, 3)], torch.tensor([0, 7]))
    with pytest.raises(InputError, match=r"not all classes 0..2"):
        sample(m, 2, labels=[1, 3])
    with pytest.raises(InputError, match="give 2 integer labels"):
        m.generate([torch.zeros(2, 3)], None)
    with pytest.raises(InputError, match="unconditional: generate without labels"):
        tiny("dcgan").generate([torch.zeros(2, 3)], torch.tensor([0, 1]))


def test_a_latent_code_of_the_wrong_size_is_refused():
    m = tiny("infogan", cat_codes=[4], n_cont=1)
    z = [torch.zeros(2, 3), torch.zeros(2, 5), torch.zeros(2, 1)]
    with pytest.raises(
        InputError, match=r"latent codes of shapes \[\(3,\), \(5,\), \(1,\)\].*\(4,\)"
    ):
        m.generate(z, None)


def test_settings_and_images_of_the_wrong_size():
    with pytest.raises(InputError, match="multiple of 4"):
        tiny("dcgan", size=30)
    with pytest.raises(InputError, match="use one of ns, hinge, ls"):
        tiny("cgan", loss="wgan")
    with pytest.raises(InputError, match="at least one code"):
        tiny("infogan", cat_codes=[], n_cont=0)
    with pytest.raises(GridError, match="--set size=28"):
        tiny("dcgan").check_grid(28, 28)


def test_images_map_to_minus_one_one_and_back():
    spec = MODELS["cdcgan"].field_spec(np.array([[0, 255], [12, 100]], np.uint8))
    x = torch.tensor([[0.0, 255.0]])
    assert spec.encode(x).flatten().tolist() == [-1.0, 1.0]
    assert spec.decode(spec.encode(x)).flatten().tolist() == [0.0, 255.0]


@pytest.mark.parametrize("name", CLASS_MODELS)
def test_every_class_model_trains_with_each_loss(name):
    for loss in ("hinge", "ls"):
        m = tiny(name, loss=loss)
        x = torch.rand(4, 1, 8, 8) * 2 - 1
        from geocgan.models.base import Batch

        out = m.train_step(Batch(x, torch.tensor([0, 1, 2, 0])), torch.Generator().manual_seed(0))
        assert {"loss_d", "loss_g"} <= set(out) and all(torch.isfinite(v) for v in out.values())


# -- the command line -------------------------------------------------------------------------


@pytest.fixture
def tiny_npz(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "digits.npz"
    np.savez(
        path, images=rng.integers(0, 256, (12, 8, 8)).astype(np.uint8), labels=np.arange(12) % 3
    )
    return path


@pytest.mark.parametrize("name", CLASS_MODELS)
def test_geocgan_train_and_sample_each_model(name, tiny_npz, tmp_path):
    out = tmp_path / f"{name}.safetensors"
    sets = [f"{k}={v}" for k, v in TINY.items()] + (
        ["n_classes=3"] if MODELS[name].labelled else []
    )
    args = ["train", str(tiny_npz), "--model", name, "--out", str(out), "--epochs", "1"]
    args += ["--steps-per-epoch", "2", "--batch-size", "4", "--device", "cpu", "--quiet"]
    r = CliRunner().invoke(app, args + [a for s in sets for a in ("--set", s)])
    assert r.exit_code == 0, r.output
    assert out.exists() and out.with_suffix(".jsonl").exists()
    labels = ["--label", "1", "--label", "2"] if MODELS[name].labelled else []
    r = CliRunner().invoke(
        app, ["sample", "--model", str(out), "--out", str(tmp_path / "s.npz"), "-n", "4", *labels]
    )
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "s.npz") as z:
        assert z["images"].shape == (4, 8, 8)
        assert z["images"].min() >= 0 and z["images"].max() <= 255


def test_cli_options_not_given_leave_the_model_defaults(tiny_npz, tmp_path):
    """--ngf/--lr default to the pixel cGAN's values; a class model keeps its own unless given."""
    out = tmp_path / "m.safetensors"
    base = ["train", str(tiny_npz), "--model", "cgan", "--out", str(out), "--epochs", "1"]
    base += ["--steps-per-epoch", "1", "--batch-size", "4", "--device", "cpu", "--quiet"]
    base += ["--set", "size=8", "--set", "n_classes=3"]
    assert CliRunner().invoke(app, base).exit_code == 0
    cfg = load_model(out)[1]["config"]
    assert (cfg["ngf"], cfg["ndf"], cfg["lr_g"]) == (256, 256, 2e-4)  # CGANConfig's
    assert (
        CliRunner().invoke(app, [*base, "--overwrite", "--ngf", "8", "--lr", "1e-3"]).exit_code == 0
    )
    cfg = load_model(out)[1]["config"]
    assert (cfg["ngf"], cfg["ndf"], cfg["lr_g"], cfg["lr_d"]) == (8, 256, 1e-3, 1e-3)


def test_geocgan_train_says_what_a_class_model_needs(tmp_path):
    np.save(tmp_path / "ti.npy", np.zeros((8, 8), np.float32))
    r = CliRunner().invoke(
        app, ["train", str(tmp_path / "ti.npy"), "--model", "acgan", "--out", str(tmp_path / "m")]
    )
    assert r.exit_code == 1
    assert "trains on labelled images; give a dataset name" in r.output
