"""3D training images: Gaussian fields by FFT with anisotropy/angles, channel bodies."""

import math

import numpy as np
import pytest
from scipy import ndimage

from geocgan.errors import InputError
from geocgan.fields import FIELD_GENERATORS_3D, channel_field_3d, gaussian_field_3d


def lag1_correlation(z: np.ndarray, axis: int) -> float:
    """Correlation of neighbours along ``axis`` of a stack (n, D, H, W) of zero-mean fields."""
    n = z.shape[axis]
    head, tail = np.take(z, range(n - 1), axis=axis), np.take(z, range(1, n), axis=axis)
    return float(np.mean(head.astype(np.float64) * tail) / np.mean(z.astype(np.float64) ** 2))


@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 5, 7), (16, 32, 8)])
def test_gaussian_3d_shapes(shape):
    assert gaussian_field_3d(shape, len_scale=4.0).shape == shape
    out = gaussian_field_3d(shape, len_scale=4.0, n=2)
    assert out.shape == (2, *shape) and out.dtype == np.float32


def test_gaussian_3d_seeded_and_k_independent_of_n():
    a = gaussian_field_3d((6, 8, 10), n=3, seed=4)
    b = gaussian_field_3d((6, 8, 10), n=1, seed=4)
    assert np.array_equal(a[0], b[0])
    assert not np.array_equal(a[0], gaussian_field_3d((6, 8, 10), seed=5))


def test_gaussian_3d_anisotropy_and_spacing_match_the_model():
    # exponential, len 8 along x, minor (y) 4, vertical 2 -> lag-1 correlations e^-1/8, -1/4, -1/2
    z = gaussian_field_3d((16, 32, 48), len_scale=8.0, anisotropy=(0.5, 0.25), n=4, seed=1)
    got = [lag1_correlation(z, axis) for axis in (3, 2, 1)]  # x, y, z
    assert got == pytest.approx([math.exp(-1 / 8), math.exp(-1 / 4), math.exp(-1 / 2)], abs=0.03)
    # isotropic in metres, voxels 4 m thick: one layer is a lag of 4 m
    z = gaussian_field_3d((24, 24, 24), len_scale=8.0, spacing=(4.0, 1.0, 1.0), n=4)
    assert lag1_correlation(z, 1) == pytest.approx(math.exp(-0.5), abs=0.03)
    assert lag1_correlation(z, 3) == pytest.approx(math.exp(-1 / 8), abs=0.03)


@pytest.mark.parametrize(
    ("angles", "longest"),
    [((90.0, 0.0, 0.0), 2), ((0.0, 90.0, 0.0), 1), ((0.0, 0.0, 0.0), 3)],
)
def test_gaussian_3d_angles_turn_the_major_axis(angles, longest):
    z = gaussian_field_3d(
        (24, 24, 24), len_scale=8.0, anisotropy=(0.3, 0.3), angles=angles, n=3, seed=2
    )
    corr = {axis: lag1_correlation(z, axis) for axis in (1, 2, 3)}
    assert max(corr, key=corr.get) == longest
    assert corr[longest] > max(v for a, v in corr.items() if a != longest) + 0.15


def test_gaussian_3d_rake_turns_the_short_axis_horizontal():
    z = gaussian_field_3d(
        (24, 24, 24), len_scale=8.0, anisotropy=(1.0, 0.3), angles=(0.0, 0.0, 90.0), n=3
    )
    corr = [lag1_correlation(z, axis) for axis in (1, 2, 3)]  # z, y, x
    assert corr[1] < corr[0] - 0.15 and corr[1] < corr[2] - 0.15


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": (8, 8)}, "three positive integers"),
        ({"anisotropy": (0.5,)}, "anisotropy must be 2 finite numbers"),
        ({"anisotropy": (0.5, 1.5)}, r"in \(0, 1\]"),
        ({"angles": (0.0, float("nan"), 0.0)}, "angles must be 3 finite numbers"),
        ({"spacing": (1.0, 0.0, 1.0)}, "spacing must be three numbers > 0"),
        ({"len_scale": -1.0}, "len_scale"),
    ],
)
def test_gaussian_3d_bad_parameters(kwargs, match):
    kwargs = {"shape": (4, 4, 4), **kwargs}
    with pytest.raises(InputError, match=match):
        gaussian_field_3d(**kwargs)


@pytest.mark.parametrize("shape", [(8, 24, 32), (16, 40, 24)])
@pytest.mark.parametrize("proportion", [0.1, 0.3])
def test_channel_3d_proportion_and_codes(shape, proportion):
    out = channel_field_3d(shape, proportion=proportion, width=8.0, thickness=3.0, n=2, seed=1)
    assert out.shape == (2, *shape) and out.dtype == np.uint8
    assert set(np.unique(out)) == {0, 1}
    assert out.mean(axis=(1, 2, 3)) == pytest.approx([proportion] * 2, abs=0.005)


def test_channel_3d_seeded_and_k_independent_of_n():
    a = channel_field_3d((6, 20, 20), n=3, seed=7)
    assert np.array_equal(a[2], channel_field_3d((6, 20, 20), n=3, seed=7)[2])
    assert np.array_equal(a[0], channel_field_3d((6, 20, 20), seed=7))


def test_channel_3d_bodies_are_lenses_running_along_the_orientation():
    vol = channel_field_3d(
        (12, 48, 64), proportion=0.1, width=12.0, thickness=4.0, sinuosity=0.0, seed=3
    )
    # straight channels along x: every x section looks the same (up to the exact-proportion ties)
    assert np.mean(vol[:, :, :1] == vol) > 0.97
    # a body is wider at its top than at its base, and no thicker than `thickness` layers
    labels, count = ndimage.label(vol[:, :, 10])  # (D, H) section across the channels
    for i in range(1, count + 1):
        layers, rows = np.nonzero(labels == i)
        widths = [np.sum(layers == k) for k in range(layers.min(), layers.max() + 1)]
        assert widths[0] >= widths[-1]
        assert layers.max() - layers.min() + 1 <= 4
    turned = channel_field_3d(
        (12, 64, 48), proportion=0.1, width=12.0, thickness=4.0, orientation=90.0, sinuosity=0.0
    )
    assert np.mean(turned[:, :1, :] == turned) > 0.97


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"proportion": 1.0}, r"proportion must be in \(0, 1\)"),
        ({"thickness": 0.0}, "thickness"),
        ({"sinuosity": -1.0}, "sinuosity"),
        ({"shape": (4, 4)}, "three positive integers"),
    ],
)
def test_channel_3d_bad_parameters(kwargs, match):
    kwargs = {"shape": (4, 8, 8), **kwargs}
    with pytest.raises(InputError, match=match):
        channel_field_3d(**kwargs)


def test_registry_3d():
    assert FIELD_GENERATORS_3D["gaussian"] is gaussian_field_3d
    assert FIELD_GENERATORS_3D["channels"] is channel_field_3d
