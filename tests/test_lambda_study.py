"""The λ-study workflow: the paper's data protocol, and a one-epoch run end to end."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geocgan.errors import InputError, OutputExistsError
from geocgan.io.idx import write_idx

N_TRAIN, N_TEST = 360, 120


def _load_workflow():
    path = Path(__file__).resolve().parents[1] / "workflows" / "lambda_study.py"
    spec = importlib.util.spec_from_file_location("lambda_study", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["lambda_study"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


ls = _load_workflow()


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


def test_split_indices_paper_protocol():
    cfg = ls.StudyConfig()
    idx = ls.split_indices(60000, 10000, cfg)
    sizes = {k: len(v) for k, v in idx.items()}
    # 1/6 of train is validation; 10% of each split is constraint sources, removed from it
    assert sizes == {"train": 45000, "train_source": 5000, "val": 9000, "val_source": 1000,
                     "test": 9000, "test_source": 1000}  # fmt: skip
    official_train = [set(idx[k].tolist()) for k in ("train", "train_source", "val", "val_source")]
    assert sum(map(len, official_train)) == 60000 and set.union(*official_train) == set(
        range(60000)
    )
    training = set(idx["train"].tolist())
    for source in ("train_source", "val_source"):
        assert training.isdisjoint(idx[source].tolist())
    assert set(idx["test"].tolist()).isdisjoint(idx["test_source"].tolist())
    # the split depends on the split seed only, so every run sees the same data
    again = ls.split_indices(60000, 10000, cfg)
    assert all(np.array_equal(idx[k], again[k]) for k in idx)


def test_no_constraint_source_image_in_training(data_dir):
    cfg = ls.MODES["tiny"]
    data = ls.prepare("mnist", cfg, data_dir)
    train = index_of(data.train)
    sources = index_of(data.train_source) | index_of(data.val_source)
    assert len(train) == len(data.train) == cfg.train_images  # the first 256 of 270
    assert train.isdisjoint(sources)
    assert index_of(data.test).isdisjoint(index_of(data.test_source))
    assert len(data.test_source) == round(0.1 * N_TEST)
    assert data.train.min() >= -1 and data.train.max() == 1  # [0, 255] -> [-1, 1]
    assert "NOT the standard mnist files" in data.source


def test_tiny_study_end_to_end(tmp_path, data_dir):
    out, runs_dir = tmp_path / "res", tmp_path / "runs"
    argv = ["--tiny", "--datasets", "mnist", "--data-dir", str(data_dir), "--out", str(out),
            "--runs-dir", str(runs_dir), "--threads", "1", "--no-progress"]  # fmt: skip
    ls.main(argv)
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs.columns) == ls.CSV_COLUMNS
    assert runs[["dataset", "setting", "seed", "epochs"]].values.tolist() == [
        ["mnist", "uncond", 0, 1], ["mnist", "lambda=10", 0, 1]]  # fmt: skip
    assert math.isnan(runs["lambda"][0]) and runs["lambda"][1] == 10
    numbers = runs[["mse", "fid", "mse_best", "fid_best", "val_mse_last", "classifier_accuracy",
                    "wall_s"]].to_numpy()  # fmt: skip
    assert np.isfinite(numbers).all() and (numbers >= 0).all()
    # at most (1 - (-1))^2 = 4 in [-1, 1] units; 4 constrained pixels of 784 per map
    assert (runs["mse"] <= 4).all() and runs["eval_images"].eq(64).all()
    assert runs["best_epoch"].eq(1).all() and (runs["mse"] == runs["mse_best"]).all()
    summary = (out / "summary.md").read_text()
    assert "| lambda=10 | 10 | 1 |" in summary and "[-1, 1] pixel units" in summary
    assert "--tiny" in summary and "NOT the standard mnist files" in summary
    for png in ("mse_vs_lambda", "fid_vs_lambda", "mse_vs_fid", "samples_mnist"):
        assert (out / f"{png}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list(runs_dir.glob("classifier-mnist-*.safetensors"))) == 1

    # resumable: a second call finds both runs done and trains nothing
    ls.main(argv)
    assert len(pd.read_csv(out / "runs.csv")) == 2
    # changed training options cannot be mixed into the same results
    with pytest.raises(OutputExistsError, match=r"res holds runs made with other options.*epochs"):
        ls.main([*argv, "--epochs", "2"])


def test_bad_options_say_what_to_do():
    with pytest.raises(InputError, match=r"setting 'lam10' is neither 'uncond' nor a lambda"):
        ls.parse_args(["--settings", "uncond,lam10"])
    with pytest.raises(InputError, match=r"dataset 'cifar' is unknown; use mnist,fashion-mnist"):
        ls.parse_args(["--datasets", "cifar"])
    with pytest.raises(InputError, match=r"seeds must be >= 1, got 0"):
        ls.parse_args(["--quick", "--seeds", "0"])
