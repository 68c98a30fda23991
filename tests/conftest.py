import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

torch.set_num_threads(2)


def smooth_fields(n: int, size: int, seed: int = 0, sigma: float = 3.0) -> np.ndarray:
    """(n, size, size) smooth Gaussian-like fields with unit variance: a tiny training set."""
    rng = np.random.default_rng(seed)
    f = gaussian_filter(rng.standard_normal((n, size, size)), sigma=(0, sigma, sigma), mode="wrap")
    return (f / f.std()).astype(np.float32)


@pytest.fixture
def one_thread():
    """One torch thread for the test (3-D convolutions on the shared 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def load_workflow(name: str):
    """``workflows/<name>.py`` as a module (registered in ``sys.modules``: dataclasses look
    their module up), to test a study's own logic and command line."""
    path = Path(__file__).resolve().parents[1] / "workflows" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def tiny_train_args(ti, out, *extra, epochs: int = 1, batch_size: int = 2) -> list[str]:
    """`geocgan train` arguments for a tiny CPU model: 32-pixel patches, 2 D layers, 4 filters,
    2 steps an epoch; `extra` options go last."""
    return [
        "train",
        str(ti),
        "--out",
        str(out),
        "--patch",
        "32",
        "--d-layers",
        "2",
        "--ngf",
        "4",
        "--ndf",
        "4",
        "--epochs",
        str(epochs),
        "--steps-per-epoch",
        "2",
        "--batch-size",
        str(batch_size),
        "--device",
        "cpu",
        "-q",
        *extra,
    ]


@pytest.fixture
def fields28():
    return smooth_fields(256, 28)


@pytest.fixture
def facies32():
    return (smooth_fields(64, 32, seed=1) > 0.5).astype(np.float32)
