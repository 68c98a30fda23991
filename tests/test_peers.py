"""Classical peers: same covariance in GSTools and geone, honoring, seeding, conditioning."""

import sys

import numpy as np
import pytest

from geocgan.errors import ConstraintError, GridError, InputError
from geocgan.peers import (
    PEERS,
    PeerMissingError,
    available_peers,
    geone_covariance_model,
    geone_deesse,
    gstools_covariance_model,
    peer_names_for,
)

GAUSSIAN_PEERS = ["gstools_condsrf", "geone_sgs", "geone_fft"]
GRID = (32, 36)  # H != W catches row/col swaps


def _wells(rng: np.random.Generator, k: int, grid=GRID) -> tuple[np.ndarray, np.ndarray]:
    """(k,) rows and (k,) cols of distinct random pixels."""
    flat = rng.choice(grid[0] * grid[1], size=k, replace=False)
    return np.divmod(flat, grid[1])


def _channel_ti(height: int = 64, width: int = 64) -> np.ndarray:
    """(H, W) int8 training image: four sinuous horizontal channels (1) in a background (0)."""
    yy, xx = np.mgrid[0:height, 0:width]  # (H, W), (H, W)
    ti = np.zeros((height, width), np.int8)
    for centre, phase in [(8, 0.0), (24, 1.0), (40, 2.0), (56, 3.0)]:
        ti[np.abs(yy - (centre + 4 * np.sin(2 * np.pi * xx / 32 + phase))) < 3] = 1
    return ti


def _run(name: str, rows, cols, values, *, n: int, seed: int, grid=GRID, repeats: int = 2):
    if name == "geone_deesse":
        return geone_deesse(
            _channel_ti(), grid, rows, cols, values, n=n, seed=seed, repeats=repeats
        )
    return PEERS[name](grid, rows, cols, values, n=n, seed=seed, repeats=repeats)


@pytest.mark.parametrize(("len_scale", "variance"), [(16.0, 1.0), (5.0, 2.5)])
def test_geone_and_gstools_covariances_are_the_same_function(len_scale, variance):
    lags = np.array([0.0, 0.5, 1.0, 4.0, 16.0, 48.0, 100.0])  # pixels
    expected = variance * np.exp(-lags / len_scale)  # GSTools convention
    np.testing.assert_allclose(
        gstools_covariance_model(len_scale, variance).covariance(lags), expected, rtol=1e-12
    )
    geone_cov = geone_covariance_model(len_scale, variance).func()
    for direction in ([1.0, 0.0], [0.0, 1.0], [0.6, 0.8]):  # isotropic: any unit vector
        vectors = lags[:, None] * np.array(direction)  # (7, 2) lag vectors
        np.testing.assert_allclose(geone_cov(vectors), expected, rtol=1e-12)


@pytest.mark.parametrize("name", GAUSSIAN_PEERS)
def test_gaussian_peer_shape_honoring_diversity_and_timings(name):
    rng = np.random.default_rng(1)
    rows, cols = _wells(rng, 6)
    values = rng.normal(size=6)
    run = _run(name, rows, cols, values, n=3, seed=11)
    assert run.name == name
    assert run.realizations.shape == (3, *GRID)
    assert run.realizations.dtype == np.float32
    # every peer is exact up to float32 rounding (GSTools: kriging variance ~0 at the wells)
    np.testing.assert_allclose(run.realizations[:, rows, cols], np.tile(values, (3, 1)), atol=1e-3)
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        assert np.abs(run.realizations[a] - run.realizations[b]).max() > 0.5
    expected_calls = 3 if name == "gstools_condsrf" else 2  # one field a call vs ceil(3/2)
    assert len(run.times_s) == expected_calls
    assert run.n_per_call == (1 if name == "gstools_condsrf" else 2)
    assert run.setup_s > 0 and run.per_realization_s > 0
    assert run.per_realization_s == pytest.approx(np.median(np.array(run.times_s) / run.n_per_call))


@pytest.mark.parametrize("name", GAUSSIAN_PEERS)
def test_gaussian_peer_reproduces_simple_kriging_mean_and_variance(name):
    """One well of value 2 at (4, 2) of an 8x28 strip: at lag h along the row the conditional
    law is N(2 rho, 1 - rho^2), rho = exp(-h / 16), if the covariance convention is right."""
    n = 120
    threads = {} if name == "geone_fft" else {"nthreads": 1}  # 2 threads crawl on a busy CPU
    run = PEERS[name](
        (8, 28), np.array([4]), np.array([2]), np.array([2.0]), n=n, seed=5, repeats=1, **threads
    )
    for lag in (4, 16):
        rho = np.exp(-lag / 16.0)
        samples = run.realizations[:, 4, 2 + lag].astype(float)  # (n,)
        mean_sd, var_sd = np.sqrt((1 - rho**2) / n), (1 - rho**2) * np.sqrt(2 / (n - 1))
        assert abs(samples.mean() - 2 * rho) < 4 * mean_sd
        assert abs(samples.var(ddof=1) - (1 - rho**2)) < 4 * var_sd


def test_deesse_shape_hard_data_and_diversity():
    rng = np.random.default_rng(2)
    rows, cols = _wells(rng, 8)
    values = np.array([0, 1, 0, 1, 1, 0, 0, 1])
    run = _run("geone_deesse", rows, cols, values, n=3, seed=3)
    assert run.realizations.shape == (3, *GRID)
    assert run.realizations.dtype == np.int8
    assert set(np.unique(run.realizations)) <= {0, 1}
    np.testing.assert_array_equal(run.realizations[:, rows, cols], np.tile(values, (3, 1)))
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        assert (run.realizations[a] != run.realizations[b]).mean() > 0.01
    assert 0.05 < run.realizations.mean() < 0.8  # channels and background, both present


@pytest.mark.parametrize("name", [*GAUSSIAN_PEERS, "geone_deesse"])
def test_seeded_runs_are_reproducible(name):
    rng = np.random.default_rng(4)
    rows, cols = _wells(rng, 4)
    values = np.array([0, 1, 1, 0]) if name == "geone_deesse" else rng.normal(size=4)
    first = _run(name, rows, cols, values, n=2, seed=21, repeats=1).realizations
    again = _run(name, rows, cols, values, n=2, seed=21, repeats=1).realizations
    other = _run(name, rows, cols, values, n=2, seed=22, repeats=1).realizations
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize(
    ("module", "peers"),
    [
        ("geone", ["geone_sgs", "geone_fft", "geone_deesse"]),
        ("gstools", ["gstools_condsrf"]),
    ],
)
def test_missing_peer_package_raises_with_install_hint(monkeypatch, module, peers):
    for loaded in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.setitem(sys.modules, loaded, None)
    monkeypatch.setitem(sys.modules, module, None)
    for name in peers:
        with pytest.raises(PeerMissingError, match=r"pip install geocgan\[peers\]"):
            _run(name, np.array([1]), np.array([1]), np.array([1]), n=1, seed=0)
    assert available_peers() == {name: name not in peers for name in PEERS}


def test_registry_and_cases():
    assert peer_names_for("gaussian") == GAUSSIAN_PEERS
    assert peer_names_for("channels") == ["geone_deesse"]
    assert set(PEERS) == set(GAUSSIAN_PEERS) | {"geone_deesse"}
    assert all(available_peers().values())
    with pytest.raises(InputError, match="unknown benchmark case 'faults'"):
        peer_names_for("faults")


@pytest.mark.parametrize(
    ("rows", "cols", "values", "error", "message"),
    [
        (
            [1, 40],
            [2, 3],
            [0.1, 0.2],
            ConstraintError,
            r"well 1 at \(row 40, col 3\) lies outside the 32x36 grid",
        ),
        (
            [1, 5, 1],
            [2, 3, 2],
            [0.1, 0.2, 0.3],
            ConstraintError,
            r"wells 0 and 2 fall in the same pixel \(row 1, col 2\)",
        ),
        (
            [1, 5],
            [2, 3],
            [0.1, np.nan],
            ConstraintError,
            r"well 1 at \(row 5, col 3\) has value nan",
        ),
        ([1.5], [2], [0.1], ConstraintError, r"well 0 is at \(row 1.5, col 2.0\), not at a pixel"),
        ([1, 2], [2], [0.1], ConstraintError, "rows, cols and values have lengths 2, 1, 1"),
        ([], [], [], ConstraintError, "no wells were given"),
    ],
)
def test_bad_wells_are_reported(rows, cols, values, error, message):
    for name in GAUSSIAN_PEERS:
        with pytest.raises(error, match=message):
            PEERS[name](GRID, np.array(rows), np.array(cols), np.array(values), n=1, seed=0)


def test_bad_grid_counts_and_training_image_are_reported():
    one = (np.array([1]), np.array([1]), np.array([0]))
    with pytest.raises(GridError, match=r"grid_shape \(32,\) is not a 2-D grid"):
        PEERS["geone_fft"]((32,), *one, n=1, seed=0)
    with pytest.raises(InputError, match="n=0 must be a whole number >= 1"):
        PEERS["geone_sgs"](GRID, *one, n=0, seed=0)
    with pytest.raises(InputError, match="repeats=0 must be a whole number >= 1"):
        PEERS["gstools_condsrf"](GRID, *one, n=1, seed=0, repeats=0)
    with pytest.raises(InputError, match="dtype float64; give a 2-D array"):
        geone_deesse(_channel_ti().astype(float), GRID, *one, n=1, seed=0)
    with pytest.raises(ConstraintError, match=r"well 0 at \(row 1, col 1\) has facies code 2"):
        geone_deesse(_channel_ti(), GRID, one[0], one[1], np.array([2]), n=1, seed=0)
