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


@pytest.fixture
def fields28():
    return smooth_fields(256, 28)


@pytest.fixture
def facies32():
    return (smooth_fields(64, 32, seed=1) > 0.5).astype(np.float32)
