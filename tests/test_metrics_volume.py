"""Volume statistics: indicator variograms along z, y, x, 3-D connectivity, errors."""

import numpy as np
import pytest

from geocgan.errors import InputError
from geocgan.metrics.volume import (
    connectivity,
    indicator_variograms,
    statistics_error,
    volume_statistics,
)


def test_indicator_variograms_of_layers_and_columns():
    vol = np.zeros((8, 6, 10), dtype=int)
    vol[::2] = 1  # alternating layers: varies along z only
    g = indicator_variograms(vol, 1, max_lag=3)
    assert g["z"].tolist() == [0.5, 0.0, 0.5]
    assert g["y"].tolist() == [0.0, 0.0, 0.0] and g["x"].tolist() == [0.0, 0.0, 0.0]
    stripes = np.zeros((4, 4, 4), dtype=int)
    stripes[:, :, 2:] = 1
    gx = indicator_variograms(stripes, 1, max_lag=4)["x"]
    assert gx[0] == pytest.approx(0.5 * 1 / 3) and np.isnan(gx[3])


def test_connectivity_of_known_bodies():
    vol = np.zeros((4, 10, 10), dtype=int)
    vol[1, 5, :] = 1  # a bar across x: 10 voxels spanning x
    vol[3, 0:2, 0:2] = 1  # a 4-voxel block touching y = 0 only
    c = connectivity(vol, 1)
    assert c == {"largest": pytest.approx(10 / 14), "spanning_x": pytest.approx(10 / 14),
                 "spanning_y": 0.0}  # fmt: skip
    assert connectivity(np.zeros((2, 3, 3)), 1)["largest"] == 0.0


def test_statistics_error_is_zero_against_itself_and_sees_a_shift():
    rng = np.random.default_rng(0)
    vols = (rng.uniform(size=(3, 8, 16, 16)) < 0.3).astype(int)
    s = volume_statistics(vols, [0, 1], max_lag=4)
    assert s["proportions"][1] == pytest.approx(vols.mean())
    assert all(v == 0 for v in statistics_error(s, s).values())
    more = volume_statistics(
        (rng.uniform(size=(3, 8, 16, 16)) < 0.5).astype(int), [0, 1], max_lag=4
    )
    err = statistics_error(more, s)
    assert err["proportion"] == pytest.approx(0.2, abs=0.02) and err["variogram_x"] > 0.02
    with pytest.raises(InputError, match="expected volumes"):
        volume_statistics(np.zeros((4, 4)), [0, 1])
