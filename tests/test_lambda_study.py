"""The λ study: the paper's protocol, the stacked trainer (batched = alone), the epoch rules,
collapse flags, and a tiny study end to end on synthetic digits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import load_workflow

from geocgan.errors import CheckpointError, InputError
from geocgan.io.idx import write_idx
from geocgan.models.nets import DCGAN28Generator
from geocgan.models.stacked import (
    INIT_STREAM,
    RunSpec,
    StackConfig,
    StackData,
    StackedGAN,
    constraint_maps,
)
from geocgan.seeds import derive_seed

N_TRAIN, N_TEST = 360, 120


ls = load_workflow("lambda_study")


def synthetic_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 28x28 uint8 "digits": a bright bar whose position is the label, on weak noise.

    Pixels (0, 0) and (0, 1) hold the image's index (little-endian base 256), so a test can
    tell which image ended up in which part of a split.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)  # (n,)
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)  # (n, 28, 28)
    for i, k in enumerate(labels):
        images[i, 4:24, 3 + 2 * k : 6 + 2 * k] = 255
    images[:, 0, 0], images[:, 0, 1] = np.arange(n) % 256, np.arange(n) // 256
    return images, labels


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """The four standard IDX file names, holding synthetic digits (not the real MNIST)."""
    d = tmp_path_factory.mktemp("idx")
    (x, y), (xt, yt) = synthetic_digits(N_TRAIN, 0), synthetic_digits(N_TEST, 1)
    for name, array in zip(ls.datasets.FILE_NAMES, (x, y, xt, yt), strict=True):
        write_idx(d / name, array)
    return d


def index_of(images: np.ndarray) -> set[int]:
    """Decode the index written by ``synthetic_digits`` from images in [-1, 1]."""
    px = np.rint((images[:, 0, :2] + 1) * 127.5).astype(int)  # (n, 2)
    return set((px[:, 0] + 256 * px[:, 1]).tolist())


# -- the protocol -------------------------------------------------------------------------


def test_split_indices_paper_protocol():
    idx = ls.split_indices(60000, 10000, ls.StudyConfig())
    sizes = {k: len(v) for k, v in idx.items()}
    # 1/6 of train is validation; 10% of each split is constraint sources, removed from it
    assert sizes == {"train": 45000, "train_source": 5000, "val": 9000, "val_source": 1000,
                     "test": 9000, "test_source": 1000}  # fmt: skip
    official_train = [set(idx[k].tolist()) for k in ("train", "train_source", "val", "val_source")]
    assert sum(map(len, official_train)) == 60000
    assert set.union(*official_train) == set(range(60000))
    assert set(idx["test"].tolist()).isdisjoint(idx["test_source"].tolist())
    again = ls.split_indices(60000, 10000, ls.StudyConfig())  # the split seed fixes it
    assert all(np.array_equal(idx[k], again[k]) for k in idx)


def test_no_constraint_source_image_in_training(data_dir):
    cfg = ls.MODES["tiny"]
    data = ls.prepare("mnist", cfg, data_dir)
    train, val = index_of(data.train), index_of(data.val)
    sources = index_of(data.train_source) | index_of(data.val_source)
    assert len(train) == len(data.train) == cfg.train_images
    assert train.isdisjoint(sources) and val.isdisjoint(sources) and train.isdisjoint(val)
    assert index_of(data.test).isdisjoint(index_of(data.test_source))
    assert len(data.test_source) == round(0.1 * N_TEST)
    assert data.train.min() >= -1 and data.train.max() == 1  # [0, 255] -> [-1, 1]
    assert "NOT the standard mnist files" in data.source


def _tiny_data(seed: int = 0) -> StackData:
    g = torch.Generator().manual_seed(seed)
    train = torch.rand(2, 32, 28, 28, generator=g) * 2 - 1  # (P, N, 28, 28)
    source = torch.rand(2, 20, 28, 28, generator=g) * 2 - 1  # (P, S, 28, 28)
    return StackData(train, source)


CFG = StackConfig(nz=8, ngf=4, ndf=4, batch_size=16)


def test_real_pairs_carry_their_own_constraints_and_g_gets_the_sources():
    data = _tiny_data()
    stack = StackedGAN([RunSpec(0, 10.0, True, 0), RunSpec(1, 1.0, True, 1)], CFG)
    seen = []
    original = stack.train_step

    def spy(x, cond_real, cond_gen, z):
        seen.append((x, cond_real, cond_gen))
        return original(x, cond_real, cond_gen, z)

    stack.train_step = spy
    stack.train_epoch(data)
    assert len(seen) == 32 // 16
    for x, cond_real, cond_gen in seen:
        mask = cond_real[:, :, 1]  # (R, B, 28, 28)
        assert mask.sum((-1, -2)).eq(CFG.n_constrained).all() and CFG.n_constrained == 4
        # the real image's constraints are that image at the mask, zero elsewhere
        torch.testing.assert_close(cond_real[:, :, 0], x * mask, rtol=0, atol=0)
        # the generator's constraint values are those of a source image of the run's pool
        gmask = cond_gen[:, :, 1]
        for r, pool in enumerate((0, 1)):
            for b in range(cond_gen.shape[1]):
                on = gmask[r, b] > 0
                hits = (data.source[pool][:, on] == cond_gen[r, b, 0][on]).all(1)  # (S,)
                assert hits.any()
                assert not (data.train[pool][:, on] == cond_gen[r, b, 0][on]).all(1).any()


def test_constraint_maps_reads_the_image_at_the_pixels():
    images = torch.arange(2 * 784, dtype=torch.float32).view(2, 28, 28)
    cond = constraint_maps(images, torch.tensor([[0, 5, 783, 30], [1, 2, 3, 4]]))
    assert cond.shape == (2, 2, 28, 28)
    assert cond[0, 1].flatten().nonzero().flatten().tolist() == [0, 5, 30, 783]
    assert cond[0, 0].flatten()[[0, 5, 30, 783]].tolist() == [0, 5, 30, 783]
    assert cond[1, 0].sum() == 784 * 4 + 1 + 2 + 3 + 4


def test_a_run_in_the_stack_equals_the_run_alone(tmp_path):
    data = _tiny_data()
    runs = [RunSpec(3, 10.0, True, 0), RunSpec(4, 0.0, False, 1), RunSpec(5, 100.0, True, 1)]
    stack = StackedGAN(runs, CFG)
    # the stacked generator is nets.DCGAN28Generator with the run's seeded initial weights
    torch.manual_seed(derive_seed(5, INIT_STREAM))
    module = DCGAN28Generator(1, 2, CFG.nz, CFG.ngf, CFG.cond_skip)
    z, cond = (
        torch.randn(3, 6, CFG.nz),
        constraint_maps(data.source[1, :6], torch.arange(24).view(6, 4)),
    )
    expected = torch.tanh(module([z[2]], cond))[:, 0]
    torch.testing.assert_close(stack.generate(cond, z)[2], expected, rtol=1e-5, atol=1e-6)
    for _ in range(2):
        stack.train_epoch(data)
    for i in (1, 2):
        alone = StackedGAN([runs[i]], CFG)
        for _ in range(2):
            alone.train_epoch(data)
        for group, group_alone in ((stack.g_params, alone.g_params),
                                   (stack.d_params, alone.d_params),
                                   (stack.d_buffers, alone.d_buffers)):  # fmt: skip
            for k in group:
                torch.testing.assert_close(group[k][i], group_alone[k][0], rtol=1e-4, atol=1e-5)
    # the runs did learn something different from each other and from their start
    fresh = StackedGAN(runs, CFG)
    assert not torch.allclose(stack.g_params["fc.0.weight"], fresh.g_params["fc.0.weight"])
    # a resumed stack continues exactly
    stack.save(tmp_path / "stack.safetensors")
    resumed = StackedGAN(runs, CFG)
    resumed.load(tmp_path / "stack.safetensors")
    assert resumed.epoch == 2
    stack.train_epoch(data)
    resumed.train_epoch(data)
    for k in stack.g_params:
        torch.testing.assert_close(stack.g_params[k], resumed.g_params[k], rtol=0, atol=0)
    with pytest.raises(CheckpointError, match=r"a checkpoint of other runs or settings"):
        StackedGAN(runs[:2], CFG).load(tmp_path / "stack.safetensors")


def test_stack_refuses_bad_runs():
    with pytest.raises(InputError, match=r"an unconditional run has no constraints; use lam 0"):
        StackedGAN([RunSpec(0, 1.0, False)], CFG)
    with pytest.raises(InputError, match=r"a stack needs at least one run"):
        StackedGAN([], CFG)


# -- epoch rules and collapse flags -------------------------------------------------------


def test_epoch_rules_on_a_hand_made_log():
    # epochs 1..5: the MSE keeps falling while the FID is best at epoch 2
    val_mse = [1.0, 0.5, 0.3, 0.2, 0.1]
    val_fid = [100.0, 20.0, 60.0, 90.0, 100.0]
    # normalised MSE: 1, .444, .222, .111, 0; FID: 1, 0, .5, .875, 1
    # distance: 1.41, 0.444, 0.547, 0.882, 1.0 -> epoch 2
    assert ls.choose_epochs(val_mse, val_fid) == {"authors": 2, "valmse": 5}
    # a constant metric counts 0, so the other one decides; ties go to the earliest epoch
    assert ls.choose_epochs([0.3, 0.3, 0.3], [5.0, 4.0, 4.0]) == {"authors": 2, "valmse": 1}


def test_collapse_flags_blank_and_healthy_runs():
    real = torch.as_tensor(ls.to_unit(synthetic_digits(200, 3)[0]))  # (200, 28, 28)
    real_spread = ls.sample_spread(real)[0]
    blank = -torch.ones(200, 28, 28)
    assert ls.collapse_flags(*ls.sample_spread(blank), real_spread) == (True, True)
    assert ls.collapse_flags(*ls.sample_spread(real), real_spread) == (False, False)
    # one good-looking image repeated: not blank, but collapsed
    same = real[:1].expand(200, 28, 28)
    assert ls.collapse_flags(*ls.sample_spread(same), real_spread) == (False, True)


# -- end to end ---------------------------------------------------------------------------


def test_tiny_study_end_to_end(tmp_path, data_dir):
    out = tmp_path / "res"
    argv = ["--tiny", "--datasets", "mnist", "--data-dir", str(data_dir), "--out", str(out),
            "--runs-dir", str(tmp_path / "runs"), "--classifiers", str(tmp_path / "clf"),
            "--threads", "1", "--no-progress"]  # fmt: skip
    ls.main(argv)
    runs = pd.read_csv(out / "runs.csv")
    assert runs[["dataset", "setting", "seed"]].values.tolist() == [
        ["mnist", "uncond", 0], ["mnist", "lambda=0", 0], ["mnist", "lambda=10", 0]]  # fmt: skip
    assert math.isnan(runs["lambda"][0]) and runs["lambda"][2] == 10
    for rule in ls.RULES:
        assert runs[f"epoch_{rule}"].between(1, 2).all()
        numbers = runs[[f"mse_{rule}", f"fid_{rule}", f"spread_{rule}"]].to_numpy()
        assert np.isfinite(numbers).all() and (numbers >= 0).all()
        # at most (1 - (-1))^2 = 4 in [-1, 1] units; the [0, 1] column is a quarter of it
        assert (runs[f"mse_{rule}"] <= 4).all()
        np.testing.assert_allclose(runs[f"mse01_{rule}"], runs[f"mse_{rule}"] / 4)
    epochs = pd.read_csv(out / "epochs.csv")
    assert len(epochs) == 3 * 2 and epochs["val_fid"].notna().all()
    summary = (out / "summary.md").read_text()
    assert "real vs real (floor)" in summary and "blank (all-black) images" in summary
    assert "(c) some λ beats λ = 0" in summary and "--tiny" in summary
    for png in ("mse_vs_lambda", "fid_vs_lambda", "mse_vs_fid", "samples_mnist_input"):
        assert (out / f"{png}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "clf" / "mnist.safetensors").exists()
    # resumed from the last epoch's checkpoint: the same numbers, nothing retrained
    first = runs.drop(columns=["train_s", "wall_s", "date"])
    ls.main(argv)
    again = pd.read_csv(out / "runs.csv").drop(columns=["train_s", "wall_s", "date"])
    pd.testing.assert_frame_equal(first, again)
    # --report rebuilds the summary and the figures from the folder alone
    summary = (out / "summary.md").read_text()
    (out / "summary.md").unlink()
    (out / "samples_mnist_input.png").unlink()
    ls.main([*argv, "--report"])
    assert (out / "summary.md").read_text() == summary
    assert (out / "samples_mnist_input.png").exists()


def test_bad_options_say_what_to_do():
    with pytest.raises(InputError, match=r"setting 'lam10' is neither 'uncond' nor a lambda"):
        ls.parse_args(["--settings", "uncond,lam10"])
    with pytest.raises(InputError, match=r"dataset 'cifar' is unknown; use mnist,fashion-mnist"):
        ls.parse_args(["--datasets", "cifar"])
    with pytest.raises(InputError, match=r"design 'late' is unknown; use input,skip"):
        ls.parse_args(["--designs", "late"])
    with pytest.raises(InputError, match=r"seeds must be >= 1, got 0"):
        ls.parse_args(["--quick", "--seeds", "0"])
