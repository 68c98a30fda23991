"""Synthetic training images: Gaussian random fields and channelized facies."""

import math

import numpy as np
import pytest
from scipy import ndimage

from geocgan.errors import InputError
from geocgan.fields import (
    COVARIANCE_MODELS,
    FIELD_GENERATORS,
    channel_field,
    covariance,
    gaussian_field,
)


def lag_covariance(z: np.ndarray, drow: int, dcol: int) -> float:
    """Mean of z(p) * z(p + (drow, dcol)) over a stack (n, H, W) of zero-mean fields."""
    _, height, width = z.shape
    r0, r1 = max(0, -drow), height - max(0, drow)
    c0, c1 = max(0, -dcol), width - max(0, dcol)
    head = z[:, r0:r1, c0:c1]  # (n, H - |drow|, W - |dcol|)
    tail = z[:, r0 + drow : r1 + drow, c0 + dcol : c1 + dcol]
    return float(np.mean(head.astype(np.float64) * tail))


def spanning_fraction(channel: np.ndarray, axis: int) -> float:
    """Fraction of channel pixels in 4-connected components touching both ends along axis."""
    labels, _ = ndimage.label(channel)  # (H, W)
    first, last = np.take(labels, 0, axis=axis), np.take(labels, -1, axis=axis)
    spanning = np.setdiff1d(np.intersect1d(first, last), [0])
    return np.isin(labels, spanning).sum() / channel.sum()


# -- covariance models ------------------------------------------------------------------------


def test_covariance_known_values():
    h = np.array([0.0, 16.0, 48.0])
    assert np.allclose(
        covariance("exponential", h, 16.0, 2.0), [2.0, 2.0 / math.e, 2.0 * math.exp(-3)]
    )
    assert covariance("exponential", 48.0, 16.0) == pytest.approx(0.05, abs=0.001)  # range 3 L
    assert covariance("gaussian", 16.0, 16.0) == pytest.approx(1.0 / math.e)
    assert np.allclose(covariance("spherical", [0.0, 8.0, 16.0, 30.0], 16.0), [1, 0.3125, 0, 0])
    assert covariance("matern32", 0.0, 5.0, 3.0) == pytest.approx(3.0)
    s = math.sqrt(3.0)
    assert covariance("matern32", 5.0, 5.0) == pytest.approx((1 + s) * math.exp(-s))
    assert covariance("exponential", np.ones((2, 3)), 1.0).shape == (2, 3)
    for model in COVARIANCE_MODELS:  # practical range: correlation ~0.05 (spherical: 0)
        rho = covariance(model, COVARIANCE_MODELS[model].practical_range, 1.0)
        assert rho == pytest.approx(0.05 if model != "spherical" else 0.0, abs=0.001)


# -- Gaussian fields --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (17, 5), (64, 64), (33, 128)])
def test_gaussian_shapes(shape):
    single = gaussian_field(shape, len_scale=4.0)
    stack = gaussian_field(shape, len_scale=4.0, n=3)
    assert single.shape == shape and single.dtype == np.float32
    assert stack.shape == (3, *shape) and stack.dtype == np.float32
    assert np.all(np.isfinite(stack))


def test_gaussian_deterministic_and_k_independent_of_n():
    a = gaussian_field((40, 50), seed=7, n=5)
    assert np.array_equal(a, gaussian_field((40, 50), seed=7, n=5))
    assert np.array_equal(a[3], gaussian_field((40, 50), seed=7, n=4)[3])
    assert np.array_equal(a[0], gaussian_field((40, 50), seed=7))
    assert not np.allclose(a[0], a[1])
    assert not np.allclose(a[0], gaussian_field((40, 50), seed=8))


@pytest.mark.parametrize(
    "model, len_scale",
    [("exponential", 4.0), ("gaussian", 4.0), ("spherical", 12.0), ("matern32", 4.0)],
)
def test_gaussian_empirical_covariance_matches_model(model, len_scale):
    z = gaussian_field((64, 64), model=model, len_scale=len_scale, n=100, seed=1)  # (100, 64, 64)
    for lag in (0, 1, 2, 4, 8):
        expected = covariance(model, lag, len_scale)
        assert lag_covariance(z, 0, lag) == pytest.approx(expected, abs=0.06)  # along x
        assert lag_covariance(z, lag, 0) == pytest.approx(expected, abs=0.06)  # along y


def test_gaussian_not_periodic_across_the_grid():
    # a periodic 64-px field with len_scale 8 would correlate opposite edges at exp(-1/8) = 0.88
    z = gaussian_field((64, 64), len_scale=8.0, n=200, seed=2)  # (200, 64, 64)
    edge_cov = float(np.mean(z[:, :, 0].astype(np.float64) * z[:, :, -1]))
    assert edge_cov == pytest.approx(covariance("exponential", 63.0, 8.0), abs=0.1)
    assert float(np.mean(z[:, 0, :] * z[:, -1, :])) == pytest.approx(0.0, abs=0.1)


@pytest.mark.parametrize(
    "angle, major, minor",
    [
        (0.0, (0, 4), (4, 0)),  # major axis along x (columns)
        (90.0, (4, 0), (0, 4)),  # along y (rows)
        (45.0, (-4, 4), (4, 4)),  # up and right: north-up rows, counter-clockwise from x
    ],
)
def test_gaussian_anisotropy_major_axis_correlates_longer(angle, major, minor):
    z = gaussian_field((64, 64), len_scale=8.0, anisotropy=0.25, angle=angle, n=100, seed=3)
    dist = math.hypot(*major)
    c_major, c_minor = lag_covariance(z, *major), lag_covariance(z, *minor)
    assert c_major > c_minor + 0.3
    assert c_major == pytest.approx(covariance("exponential", dist, 8.0), abs=0.1)
    assert c_minor == pytest.approx(covariance("exponential", dist, 2.0), abs=0.1)


def test_gaussian_mean_and_variance():
    z = gaussian_field((64, 64), len_scale=4.0, mean=5.0, variance=2.0, n=50, seed=4)
    assert z.mean() == pytest.approx(5.0, abs=0.05)
    assert z.var() == pytest.approx(2.0, rel=0.05)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"model": "cubic"}, r"unknown covariance model 'cubic'; valid models are: exponential, "),
        ({"len_scale": 0.0}, r"len_scale must be a finite number > 0, got 0.0"),
        ({"len_scale": float("nan")}, r"len_scale must be a finite number > 0"),
        ({"variance": -1.0}, r"variance must be a finite number > 0, got -1.0"),
        ({"mean": float("inf")}, r"mean must be a finite number, got inf"),
        ({"angle": "north"}, r"angle must be a finite number, got 'north'"),
        ({"anisotropy": 2.0}, r"anisotropy must be in \(0, 1\] .*angle \+= 90"),
        ({"anisotropy": 0.0}, r"anisotropy must be in \(0, 1\]"),
        ({"n": 0}, r"n must be a positive integer \(number of realizations\) or None, got 0"),
        ({"seed": -1}, r"seed must be a non-negative integer, got -1"),
    ],
)
def test_gaussian_bad_parameters(kwargs, match):
    with pytest.raises(InputError, match=match):
        gaussian_field((16, 16), **kwargs)


@pytest.mark.parametrize("shape", [(0, 5), (5,), (8, 8, 8), (2.5, 3), "64x64", (True, 4)])
def test_bad_shape(shape):
    for generator in (gaussian_field, channel_field):
        with pytest.raises(InputError, match=r"shape must be two positive integers"):
            generator(shape)


def test_covariance_unknown_model():
    with pytest.raises(InputError, match=r"unknown covariance model 'linear'.*spherical"):
        covariance("linear", 1.0, 1.0)


# -- channels ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 1), (3, 100), (64, 64), (48, 160), (160, 48)])
def test_channel_shapes(shape):
    single = channel_field(shape)
    stack = channel_field(shape, n=2, n_facies=3)
    assert single.shape == shape and single.dtype == np.uint8
    assert stack.shape == (2, *shape) and stack.dtype == np.uint8
    assert set(np.unique(single)) <= {0, 1} and set(np.unique(stack)) <= {0, 1, 2}


def test_channel_deterministic_and_k_independent_of_n():
    a = channel_field((64, 96), seed=5, n=4)
    assert np.array_equal(a, channel_field((64, 96), seed=5, n=4))
    assert np.array_equal(a[2], channel_field((64, 96), seed=5, n=3)[2])
    assert np.array_equal(a[0], channel_field((64, 96), seed=5))
    assert not np.array_equal(a[0], a[1])


@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((128, 128), {}),
        ((250, 250), {"proportion": 0.1, "width": 4.0}),
        ((100, 300), {"proportion": 0.5, "orientation": 30.0, "sinuosity": 0.5}),
        ((64, 64), {"proportion": 0.35, "width": 10.0, "orientation": 90.0}),
        ((128, 96), {"proportion": 0.2, "sinuosity": 0.0}),  # straight: exact to one row
        ((96, 96), {"proportion": 0.9, "width": 8.0}),
    ],
)
def test_channel_proportion(shape, kwargs):
    for seed in range(3):
        facies = channel_field(shape, seed=seed, **kwargs)
        target = kwargs.get("proportion", 0.28)
        assert np.mean(facies == 1) == pytest.approx(target, abs=0.01)


@pytest.mark.parametrize("shape", [(128, 128), (96, 160)])
@pytest.mark.parametrize("orientation, axis", [(0.0, 1), (90.0, 0)])
def test_channels_connect_end_to_end(shape, orientation, axis):
    fractions = [
        spanning_fraction(channel_field(shape, orientation=orientation, seed=s) == 1, axis)
        for s in range(10)
    ]
    assert np.mean(fractions) > 0.8  # pieces only where a meander leaves and re-enters the grid
    assert min(fractions) > 0.3


def test_channel_orientation_45_runs_up_and_right():
    facies = channel_field((128, 128), orientation=45.0, sinuosity=0.1, seed=6, n=5)
    indicator = (facies == 1) - np.mean(facies == 1)  # (5, H, W)
    along, across = lag_covariance(indicator, -8, 8), lag_covariance(indicator, 8, 8)
    assert along > 2 * abs(across)  # rows grow downwards: up-right is (-drow, +dcol)


def test_straight_channels_have_the_given_width():
    runs = []
    for seed in range(5):
        facies = channel_field((200, 50), proportion=0.1, width=5.0, sinuosity=0.0, seed=seed)
        assert np.all(facies == facies[:, :1])  # straight along x: every column the same
        edges = np.diff(np.r_[0, facies[:, 0], 0].astype(int))  # +1 at run starts, -1 after ends
        runs.extend(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1))
    assert np.median(runs) == pytest.approx(5.0, abs=0.5)


def test_three_facies_levee_borders_channels():
    for seed in range(3):
        facies = channel_field((128, 128), n_facies=3, width=6.0, seed=seed)
        p_channel, p_levee = np.mean(facies == 1), np.mean(facies == 2)
        assert set(np.unique(facies)) == {0, 1, 2}
        assert p_channel == pytest.approx(0.28, abs=0.01)
        assert p_levee == pytest.approx(p_channel / 3.0, abs=0.02)
        to_channel = ndimage.distance_transform_edt(facies != 1)  # (H, W) px to nearest channel
        inner = to_channel[3:-3, 3:-3][facies[3:-3, 3:-3] == 2]  # near edges: channel outside
        assert inner.max() <= 3.0  # a thin rim hugging the channels, not scattered patches
        assert np.array_equal(channel_field((128, 128), seed=seed) == 1, facies == 1)


def test_field_generators_registry():
    assert FIELD_GENERATORS == {"gaussian": gaussian_field, "channels": channel_field}
    for generator in FIELD_GENERATORS.values():
        assert generator((20, 30), seed=1, n=2).shape == (2, 20, 30)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"proportion": 0.0}, r"proportion must be in \(0, 1\) .*got 0.0"),
        ({"proportion": 1.0}, r"proportion must be in \(0, 1\)"),
        ({"proportion": 1.5}, r"proportion must be in \(0, 1\)"),
        ({"n_facies": 4}, r"n_facies must be 2 \(floodplain, channel\) or 3 .*got 4"),
        ({"n_facies": 1}, r"n_facies must be 2"),
        ({"width": 0.0}, r"width must be a finite number > 0, got 0.0"),
        ({"width": -3.0}, r"width must be a finite number > 0, got -3.0"),
        ({"sinuosity": -0.1}, r"sinuosity must be a finite number >= 0"),
        ({"wavelength": 0.0}, r"wavelength must be a finite number > 0"),
        ({"orientation": float("nan")}, r"orientation must be a finite number"),
        ({"n": -2}, r"n must be a positive integer"),
        ({"seed": 1.5}, r"seed must be a non-negative integer, got 1.5"),
    ],
)
def test_channel_bad_parameters(kwargs, match):
    with pytest.raises(InputError, match=match):
        channel_field((32, 32), **kwargs)


def test_channel_proportion_out_of_reach():
    with pytest.raises(InputError, match=r"channels of width 1e-06 px cover only .*widen"):
        channel_field((8, 8), width=1e-6, proportion=0.5)
