"""Geostatistical metrics checked against cases with a known answer."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from geocgan.errors import ConstraintError, GeocganError, InputError, OutputExistsError
from geocgan.metrics.geostats import (
    brier_score,
    conditional_correlation_check,
    conditional_mean_check,
    conditional_spread_check,
    connectivity_function,
    coverage,
    ensemble_correlation,
    ensemble_spread,
    facies_proportions,
    honoring,
    proportion_error,
    simple_kriging,
    simple_kriging_conditional_covariance,
    spanning_fraction,
    split_wells,
    variogram,
    variogram_error,
)
from geocgan.metrics.plots_geostats import (
    plot_calibration,
    plot_conditional_spread,
    plot_connectivity,
    plot_proportions,
    plot_variograms,
)

LEN_SCALE = 4.0  # pixels


def exp_cov(h):
    """Exponential covariance, unit variance, length scale LEN_SCALE pixels."""
    return np.exp(-np.asarray(h, dtype=float) / LEN_SCALE)


def pixel_coords(shape):
    rr, cc = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    return np.stack([rr.ravel(), cc.ravel()], axis=1).astype(float)  # (H*W, 2)


def pairwise_dist(x):
    return np.sqrt(np.sum((x[:, None] - x[None]) ** 2, axis=-1))


def gaussian_samples(shape, n, seed):
    """Exact unconditional samples, (n, H, W), by Cholesky of the full covariance."""
    cov = exp_cov(pairwise_dist(pixel_coords(shape)))
    chol = np.linalg.cholesky(cov)
    z = np.random.default_rng(seed).standard_normal((n, cov.shape[0]))
    return (z @ chol.T).reshape(n, *shape)


def conditional_samples(shape, rows, cols, values, n, seed):
    """Exact conditional samples given wells (Schur complement), wells set to their values."""
    coords = pixel_coords(shape)
    flat_wells = np.asarray(rows) * shape[1] + np.asarray(cols)
    free = np.setdiff1d(np.arange(coords.shape[0]), flat_wells)
    cov = exp_cov(pairwise_dist(coords))
    k_ww = cov[np.ix_(flat_wells, flat_wells)]
    k_fw = cov[np.ix_(free, flat_wells)]
    mean = k_fw @ np.linalg.solve(k_ww, values)
    cond = cov[np.ix_(free, free)] - k_fw @ np.linalg.solve(k_ww, k_fw.T)
    z = np.random.default_rng(seed).standard_normal((n, free.size))
    out = np.empty((n, coords.shape[0]))
    out[:, free] = mean + z @ np.linalg.cholesky(cond).T
    out[:, flat_wells] = values
    return out.reshape(n, *shape), cov, flat_wells


@pytest.fixture(scope="module")
def gauss_24():
    return gaussian_samples((24, 24), n=300, seed=1)


# ------------------------------------------------------------------------ proportions


def test_proportions_of_constant_and_mixed_fields():
    np.testing.assert_allclose(facies_proportions(np.zeros((3, 5, 5), int), [0, 1]), [1, 0])
    field = np.zeros((4, 10), int)
    field[:, :3] = 2  # 12 of 40 pixels
    np.testing.assert_allclose(facies_proportions(field, [0, 2]), [0.7, 0.3])
    ti = np.zeros((8, 8), int)
    ti[:, :4] = 2  # half
    assert proportion_error(field, ti, [0, 2]) == pytest.approx(0.2)


def test_proportions_reject_unlisted_code_and_floats():
    with pytest.raises(ConstraintError, match=r"codes \[2\] that are not in codes=\[0, 1\]"):
        facies_proportions(np.array([[0, 1], [2, 1]]), [0, 1])
    with pytest.raises(InputError, match="need integer codes"):
        facies_proportions(np.zeros((2, 2)), [0])


def test_bad_fields_shape_and_nan():
    with pytest.raises(InputError, match=r"\(n, H, W\) or \(H, W\) array.*got shape \(5,\)"):
        facies_proportions(np.zeros(5, int), [0])
    with pytest.raises(InputError, match=r"must be a \(n, H, W\) array"):
        ensemble_spread(np.zeros((4, 4)))
    bad = np.zeros((2, 3, 3))
    bad[1, 2, 0] = np.nan
    with pytest.raises(InputError, match=r"NaN/inf, first at index .* = \(1, 2, 0\)"):
        ensemble_spread(bad)


# ------------------------------------------------------------------------ variograms


def test_axis_variograms_match_exponential_model(gauss_24):
    vario = variogram(gauss_24, directions=("x", "y"))
    assert vario["codes"] is None
    for d in ("x", "y"):
        lags = vario["lags"][d]
        np.testing.assert_array_equal(lags, np.arange(1, 13))
        model = 1.0 - exp_cov(lags)
        np.testing.assert_allclose(vario["gamma"][d], model, atol=0.06)


def test_omni_variogram_matches_pair_averaged_model(gauss_24):
    vario = variogram(gauss_24, directions=("omni",))
    edges = np.arange(0.5, 13.0)
    dist = pairwise_dist(pixel_coords((24, 24)))
    dist = dist[np.triu_indices_from(dist, k=1)]
    which = np.digitize(dist, edges) - 1  # bin index of each pair
    expected = [np.mean(1.0 - exp_cov(dist[which == i])) for i in range(12)]
    np.testing.assert_allclose(vario["lags"]["omni"], np.arange(1, 13))
    np.testing.assert_allclose(vario["gamma"]["omni"], expected, atol=0.06)
    sampled = variogram(gauss_24, directions=("omni",), sampling_size=300, seed=3)
    assert variogram_error(sampled, vario) < 0.1
    again = variogram(gauss_24, directions=("omni",), sampling_size=300, seed=3)
    np.testing.assert_array_equal(sampled["gamma"]["omni"], again["gamma"]["omni"])


def test_indicator_variogram_of_thresholded_gaussian(gauss_24):
    facies = (gauss_24 > 0).astype(np.int64)
    vario = variogram(facies, directions=("x", "y"))
    np.testing.assert_array_equal(vario["codes"], [0, 1])
    lags = vario["lags"]["x"]
    # median-thresholded Gaussian: gamma_I(h) = arccos(rho(h)) / (2 pi), same for both facies
    model = np.arccos(exp_cov(lags)) / (2 * np.pi)
    for d in ("x", "y"):
        assert vario["gamma"][d].shape == (2, 12)
        np.testing.assert_allclose(vario["gamma"][d], np.stack([model, model]), atol=0.015)


def test_variogram_error_known_values(gauss_24):
    vario = variogram(gauss_24[:20], directions=("x", "y"))
    doubled = {**vario, "gamma": {d: 2 * g for d, g in vario["gamma"].items()}}
    assert variogram_error(vario, vario) == 0.0
    assert variogram_error(doubled, vario) == pytest.approx(1.0)
    facies = variogram((gauss_24[:20] > 0).astype(int), directions=("x",))
    with pytest.raises(InputError, match="different facies codes"):
        variogram_error(facies, vario)


def test_variogram_bad_inputs(gauss_24):
    with pytest.raises(InputError, match=r"directions=\('z',\)"):
        variogram(gauss_24[:2], directions=("z",))
    with pytest.raises(InputError, match="increasing, non-negative bin edges"):
        variogram(gauss_24[:2], bins=[3.0, 1.0])
    with pytest.raises(InputError, match="last edge must reach lag 1 pixel"):
        variogram(gauss_24[:2], bins=[0.0, 0.5])
    with pytest.raises(InputError, match="fields are continuous"):
        variogram(gauss_24[:2], codes=[0, 1])


def test_variogram_without_gstools_says_how_to_install(monkeypatch, gauss_24):
    monkeypatch.setitem(sys.modules, "gstools", None)  # makes `import gstools` fail
    with pytest.raises(GeocganError, match=r"pip install geocgan\[geostats\]"):
        variogram(gauss_24[:2])


# ------------------------------------------------------------------------ connectivity


def channel_and_blobs():
    channel = np.zeros((12, 12), int)
    channel[4:7, :] = 1  # 3-pixel-thick straight channel crossing the grid along x
    blobs = np.zeros((12, 12), int)
    blobs[1::4, 1::4] = 1  # isolated single pixels, 4 apart
    return channel, blobs


def test_connectivity_of_channel_and_blobs():
    channel, blobs = channel_and_blobs()
    assert spanning_fraction(channel, 1, "x") == 1.0
    assert spanning_fraction(channel, 1, "y") == 0.0
    assert spanning_fraction(blobs, 1, "x") == 0.0
    lags, tau = connectivity_function(channel, 1, max_lag=4)
    np.testing.assert_array_equal(lags, [1, 2, 3, 4])
    np.testing.assert_array_equal(tau["x"], 1.0)
    np.testing.assert_array_equal(tau["y"][:2], 1.0)  # within the channel's thickness
    assert np.all(np.isnan(tau["y"][2:]))  # no pair of channel pixels 3 or 4 rows apart
    _, tau_blobs = connectivity_function(blobs, 1, max_lag=4)
    assert tau_blobs["x"][3] == 0.0 and tau_blobs["y"][3] == 0.0  # pairs exist, never connected


def test_connectivity_pools_realizations():
    channel, blobs = channel_and_blobs()
    # channel: 36 facies pixels, all spanning; blobs: 9 pixels, none -> mean of 1 and 0
    assert spanning_fraction(np.stack([channel, blobs]), 1, "x") == pytest.approx(0.5)
    part = channel.copy()
    part[:, 6] = 0  # cut the channel: no component spans
    part[0, :] = 1  # a spanning row of 12 pixels next to 33 non-spanning channel pixels
    assert spanning_fraction(part, 1, "x") == pytest.approx(12 / 45)
    _, tau = connectivity_function(np.stack([channel, blobs]), 1, max_lag=4)
    # lag 4 along x: channel 3*8 connected pairs, blobs 3*2 unconnected pairs
    assert tau["x"][3] == pytest.approx(24 / 30)


def test_connectivity_bad_inputs():
    channel, _ = channel_and_blobs()
    with pytest.raises(InputError, match=r"facies code 5 occurs in no realization.*\[0, 1\]"):
        spanning_fraction(channel, 5, "x")
    with pytest.raises(InputError, match="axis='z'"):
        spanning_fraction(channel, 1, "z")
    with pytest.raises(InputError, match="max_lag=12: must be between 1 and 11"):
        connectivity_function(channel, 1, max_lag=12)


# ------------------------------------------------------------------------ spread, honoring


def test_ensemble_spread_known_values():
    same = np.repeat(np.random.default_rng(0).normal(size=(1, 6, 6)), 5, axis=0)
    assert ensemble_spread(same) == 0.0
    assert ensemble_spread(np.zeros((4, 6, 6), int)) == 0.0
    assert ensemble_spread(np.stack([np.zeros((3, 3)), np.full((3, 3), 2.0)])) == 1.0
    two = np.stack([np.zeros((3, 3), int), np.ones((3, 3), int)])
    assert ensemble_spread(two) == pytest.approx(1.0)  # 50/50 at every pixel = 1 bit
    four = np.stack([np.full((3, 3), k) for k in range(4)])
    assert ensemble_spread(four) == pytest.approx(2.0)
    with pytest.raises(InputError, match="needs at least 2"):
        ensemble_spread(same[:1])


def test_honoring_continuous_and_categorical():
    rows, cols = np.array([0, 2, 4, 4]), np.array([1, 3, 0, 4])
    values = np.array([1.0, -2.0, 0.5, 3.0])
    field = np.zeros((3, 5, 5))
    field[:, rows, cols] = values
    perfect = honoring(field, rows, cols, values, categorical=False)
    assert perfect["metric"] == "mse" and perfect["overall"] == 0.0
    field[1, rows, cols] += 2.0
    res = honoring(field, rows, cols, values, categorical=False)
    np.testing.assert_allclose(res["per_realization"], [0, 4, 0])
    facies = np.zeros((2, 5, 5), int)
    codes = np.array([1, 2, 0, 1])
    facies[:, rows, cols] = codes
    facies[1, 0, 1] = 0  # one wrong well in realization 1
    res = honoring(facies, rows, cols, codes, categorical=True)
    assert res["metric"] == "facies_match"
    np.testing.assert_allclose(res["per_realization"], [1.0, 0.75])
    assert res["overall"] == pytest.approx(0.875)


def test_honoring_bad_wells():
    field = np.zeros((2, 5, 5))
    with pytest.raises(ConstraintError, match=r"well 1: row 5 is outside the grid \(0..4\)"):
        honoring(field, np.array([0, 5]), np.array([0, 0]), np.zeros(2), categorical=False)
    with pytest.raises(ConstraintError, match="one length"):
        honoring(field, np.array([0, 1]), np.array([0]), np.zeros(2), categorical=False)
    with pytest.raises(ConstraintError, match="well 0: value is nan"):
        honoring(field, np.array([0]), np.array([0]), np.array([np.nan]), categorical=False)
    with pytest.raises(InputError, match="categorical=True; pass integer facies codes"):
        honoring(field + 0.5, np.array([0]), np.array([0]), np.zeros(1), categorical=True)
    # facies codes as geocgan.simulate returns them (float32) are codes
    ones = np.ones((2, 5, 5), np.float32)
    assert honoring(ones, np.array([0]), np.array([0]), np.ones(1), True)["overall"] == 1.0


# ------------------------------------------------------------------------ Gaussian conditioning


def test_conditional_covariance_is_schur_complement_and_matches_samples():
    shape, rows, cols = (6, 6), np.array([1, 4]), np.array([2, 3])
    fields, cov, wells = conditional_samples(shape, rows, cols, np.array([1.0, -1.0]), 20000, 2)
    free = np.setdiff1d(np.arange(36), wells)
    ia, ib = np.triu_indices(free.size)  # every pair of non-well pixels, incl. a pixel with itself
    a, b = free[ia], free[ib]
    pairs = np.stack([a // 6, a % 6, b // 6, b % 6], axis=1)  # (P, 4)
    cond = cov - cov[:, wells] @ np.linalg.solve(cov[np.ix_(wells, wells)], cov[wells])
    exact_cov, exact_corr = simple_kriging_conditional_covariance(shape, rows, cols, exp_cov, pairs)
    np.testing.assert_allclose(exact_cov, cond[a, b], atol=1e-12)
    np.testing.assert_allclose(exact_corr[ia == ib], 1.0)
    np.testing.assert_allclose(ensemble_correlation(fields, pairs), exact_corr, atol=0.03)
    well_pair = np.array([[1, 2, 0, 0]])  # pixel (1, 2) is a well: no conditional variance
    assert np.isnan(simple_kriging_conditional_covariance(shape, rows, cols, exp_cov, well_pair)[1])


def test_conditional_correlation_check_exact_vs_wrong_ensemble():
    shape, rows, cols = (16, 16), np.array([3, 8, 12]), np.array([4, 10, 2])
    fields = conditional_samples(shape, rows, cols, np.array([0.5, -1.0, 2.0]), 3000, 4)[0]
    res = conditional_correlation_check(fields, rows, cols, exp_cov, lags=(1, 3, 6), n_pairs=100)
    np.testing.assert_array_equal(res["lags"], [1, 3, 6])
    assert np.all(res["exact"][:-1] > res["exact"][1:])  # correlation decays with lag
    assert np.all(res["abs_error"] < 0.02)
    assert np.all(res["pair_abs_error"] < 0.03)
    noise = np.random.default_rng(5).standard_normal((300, *shape))  # no spatial correlation
    bad = conditional_correlation_check(noise, rows, cols, exp_cov, lags=(1,), n_pairs=100)
    assert bad["abs_error"][0] > 0.5


def test_conditional_spread_check_exact_vs_prior_ensemble():
    """Exact conditional samples have the kriging std in every distance bin; samples of the
    prior, which ignore the wells, are far too wide beside them and right far from them."""
    shape, rows, cols = (20, 20), np.array([3, 9, 15, 16]), np.array([4, 11, 2, 17])
    values = np.array([0.5, -1.0, 2.0, 0.0])
    fields = conditional_samples(shape, rows, cols, values, 4000, 6)[0]
    edges = (0, 1.5, 3, 6)
    res = conditional_spread_check(fields, rows, cols, exp_cov, edges=edges)
    assert res["pixels"].sum() == 400 - 4 and np.all(res["pixels"] > 0)  # all but the wells
    assert np.all(np.diff(res["exact_std"]) > 0)  # kriging std grows away from the wells
    np.testing.assert_allclose(res["ratio"], 1.0, atol=0.04)
    assert res["mean_abs_error"] < 0.03
    prior = gaussian_samples(shape, 4000, 7)
    bad = conditional_spread_check(prior, rows, cols, exp_cov, edges=edges)
    assert bad["ratio"][0] > 1.3 and bad["ratio"][-1] < 1.05 and bad["mean_abs_error"] > 0.15
    assert np.isinf(bad["edges"][-1])
    few = conditional_spread_check(fields, rows, cols, exp_cov, edges=(0, 1.5, 30), n_pixels=50)
    assert few["pixels"].sum() == 50 and few["pixels"][-1] == 0 and np.isnan(few["ratio"][-1])
    with pytest.raises(InputError, match="give at least 2 increasing distances"):
        conditional_spread_check(fields, rows, cols, exp_cov, edges=(3, 1))


def test_simple_kriging_is_the_exact_conditional_mean_and_variance():
    shape, rows, cols = (6, 6), np.array([1, 4]), np.array([2, 3])
    values = np.array([1.0, -1.0])
    fields, cov, wells = conditional_samples(shape, rows, cols, values - 0.5, 1, 0)
    every = np.argwhere(np.ones(shape, dtype=bool))  # (36, 2)
    est, var = simple_kriging(shape, rows, cols, values, exp_cov, every, mean=0.5)
    k_ww = cov[np.ix_(wells, wells)]
    np.testing.assert_allclose(est, 0.5 + cov[:, wells] @ np.linalg.solve(k_ww, values - 0.5))
    cond = cov - cov[:, wells] @ np.linalg.solve(k_ww, cov[wells])
    np.testing.assert_allclose(var, np.diag(cond), atol=1e-12)
    np.testing.assert_allclose(est[wells], values)  # a well keeps its value, with no variance
    np.testing.assert_allclose(var[wells], 0.0, atol=1e-12)
    with pytest.raises(InputError, match=r"pixel 0: \[6, 0\] lies outside the 6x6 grid"):
        simple_kriging(shape, rows, cols, values, exp_cov, np.array([[6, 0]]))
    with pytest.raises(InputError, match=r"pixels must be a \(P, 2\) integer array"):
        simple_kriging(shape, rows, cols, values, exp_cov, np.array([[0.5, 1.0]]))


def test_conditional_mean_check_exact_vs_shifted_ensemble(tmp_path):
    """Exact conditional samples are centred on the kriging estimate (z^2 = 1/n, no bias);
    the same samples shifted by 0.3 field units are biased by 0.3 kriging stds far from the
    wells, where the kriging std is about the prior's 1, and by more beside them."""
    shape, rows, cols = (20, 20), np.array([3, 9, 15, 16]), np.array([4, 11, 2, 17])
    values = np.array([0.5, -1.0, 2.0, 0.0])
    fields = conditional_samples(shape, rows, cols, values, 400, 8)[0]
    edges = (0, 1.5, 3, 6)
    res = conditional_mean_check(fields, rows, cols, values, exp_cov, edges=edges)
    assert res["pixels"].sum() == 400 - 4 and res["left_out"] == 0
    np.testing.assert_allclose(res["sampling_z2"], 1 / 400, rtol=0.15)  # the kriging spread
    np.testing.assert_allclose(res["z2"], 1 / 400, rtol=0.5)
    assert res["rms_bias"] < 0.03 and np.all(res["bias"] < 0.04)
    # 400 exact samples: within sampling noise of 1 and 0 (seeds 8-19 gave 0.96-1.02, -0.01-0.03)
    assert res["slope"] == pytest.approx(1, abs=0.06) and res["shift"] == pytest.approx(0, abs=0.05)
    every = np.argwhere(np.ones(shape, dtype=bool))
    centre = simple_kriging(shape, rows, cols, values, exp_cov, every)[0].reshape(shape)
    for scale in (0.5, 2.0):  # too narrow or too wide, but centred: no bias either way
        scaled = centre + scale * (fields - centre)
        other = conditional_mean_check(scaled, rows, cols, values, exp_cov, edges=edges)
        assert other["rms_bias"] < 0.03, scale
        np.testing.assert_allclose(other["sampling_z2"], scale**2 / 400, rtol=0.15)
    bad = conditional_mean_check(fields + 0.3, rows, cols, values, exp_cov, edges=edges)
    assert 0.25 < bad["bias"][-1] < 0.35 and bad["bias"][0] > bad["bias"][-1]
    assert bad["rms_bias"] > 0.25
    assert bad["shift"] == pytest.approx(res["shift"] + 0.3)  # the same line, 0.3 higher
    assert bad["slope"] == pytest.approx(res["slope"])
    weak = conditional_mean_check(fields - 0.5 * centre, rows, cols, values, exp_cov, edges=edges)
    assert weak["slope"] == pytest.approx(res["slope"] - 0.5)  # follows the wells half as much
    assert weak["rms_bias"] > 0.1
    moved = conditional_mean_check(fields + 0.3, rows, cols, values + 0.3, exp_cov, mean=0.3)
    assert moved["rms_bias"] < 0.03  # the same field about a known mean of 0.3
    spread = conditional_spread_check(fields + 0.3, rows, cols, exp_cov, edges=edges)
    png = plot_conditional_spread(spread, tmp_path / "spread.png", mean_check=bad)
    assert png.stat().st_size > 0
    coarse = conditional_mean_check(fields, rows, cols, values, exp_cov, edges=(0, 3))
    with pytest.raises(InputError, match="other distance bins than check"):
        plot_conditional_spread(spread, tmp_path / "other.png", mean_check=coarse)
    with pytest.raises(InputError, match="give the field's finite mean"):
        conditional_mean_check(fields, rows, cols, values, exp_cov, mean=np.nan)
    with pytest.raises(ConstraintError, match="values has shape"):
        conditional_mean_check(fields, rows, cols, values[:2], exp_cov)


def test_conditional_mean_check_leaves_out_vanishing_kriging_variances():
    """A smooth (Gaussian) covariance and dense wells leave pixels with kriging variances of
    rounding size; dividing by them would make the bias meaningless, so they are counted and
    left out."""

    def smooth(h):
        return np.exp(-((np.asarray(h, dtype=float) / 6.0) ** 2))

    shape, rng = (24, 24), np.random.default_rng(0)
    flat = rng.choice(576, 100, replace=False)
    rows, cols, values = flat // 24, flat % 24, rng.standard_normal(100)
    est, var = simple_kriging(shape, rows, cols, values, smooth, np.argwhere(np.ones(shape, bool)))
    tiny = int(np.sum(np.delete(var, flat) < 1e-6))
    fields = est.reshape(shape) + 1e-3 * rng.standard_normal((5, *shape))
    res = conditional_mean_check(fields, rows, cols, values, smooth)
    assert tiny > 0 and res["left_out"] == tiny
    assert res["pixels"].sum() == 576 - 100 - tiny and np.isfinite(res["rms_bias"])


def test_conditional_covariance_bad_inputs():
    rows, cols, pairs = np.array([1, 1]), np.array([2, 2]), np.array([[0, 0, 0, 1]])
    with pytest.raises(ConstraintError, match="two wells share one pixel"):
        simple_kriging_conditional_covariance((6, 6), rows, cols, exp_cov, pairs)
    with pytest.raises(InputError, match=r"pairs must be a \(P, 4\)"):
        simple_kriging_conditional_covariance((6, 6), [1], [2], exp_cov, np.zeros((3, 2), int))
    with pytest.raises(InputError, match=r"pair 0: \[0, 0, 6, 1\] lies outside the 6x6 grid"):
        simple_kriging_conditional_covariance((6, 6), [1], [2], exp_cov, np.array([[0, 0, 6, 1]]))
    with pytest.raises(InputError, match="must be vectorised"):
        simple_kriging_conditional_covariance((6, 6), [1], [2], lambda h: 1.0, pairs)
    with pytest.raises(InputError, match="lag 40: must be between 1 and 15"):
        conditional_correlation_check(np.zeros((3, 16, 16)), [1], [1], exp_cov, lags=(40,))


# ------------------------------------------------------------------------ leave-wells-out


def test_split_wells_partitions_indices():
    keep, hold = split_wells(10, 3, seed=7)
    assert hold.size == 3 and keep.size == 7
    np.testing.assert_array_equal(np.sort(np.concatenate([keep, hold])), np.arange(10))
    np.testing.assert_array_equal(split_wells(10, 3, seed=7)[1], hold)
    with pytest.raises(InputError, match="cannot hold out k=10 of 10 wells"):
        split_wells(10, 10, seed=0)


def test_coverage_of_perfect_and_overconfident_ensembles():
    rng = np.random.default_rng(6)
    n, shape = 400, (40, 50)  # 2000 held-out pixels, each with its own predictive N(mu, s^2)
    mu, sd = rng.normal(size=shape), rng.uniform(0.5, 2.0, size=shape)
    fields = mu + sd * rng.standard_normal((n, *shape))
    truth = mu + sd * rng.standard_normal(shape)
    rows, cols = np.indices(shape).reshape(2, -1)
    values = truth[rows, cols]
    assert coverage(fields, rows, cols, values) == pytest.approx(0.9 * (n - 1) / (n + 1), abs=0.02)
    assert coverage(fields, rows, cols, values, (0.25, 0.75)) == pytest.approx(0.5, abs=0.03)
    narrow = mu + sd / 3 * rng.standard_normal((n, *shape))
    assert coverage(narrow, rows, cols, values) < 0.6
    with pytest.raises(InputError, match=r"interval=\(0.9, 0.1\)"):
        coverage(fields, rows, cols, values, (0.9, 0.1))


def test_brier_score_known_values():
    rows, cols = np.array([0, 1]), np.array([0, 1])
    sure = np.ones((4, 2, 2), int)
    assert brier_score(sure, rows, cols, np.array([1, 1]), [0, 1]) == 0.0
    assert brier_score(sure, rows, cols, np.array([0, 0]), [0, 1]) == 2.0
    split = np.stack([np.zeros((2, 2), int), np.ones((2, 2), int)])
    assert brier_score(split, rows, cols, np.array([0, 1]), [0, 1]) == 0.5
    with pytest.raises(ConstraintError, match=r"well 1: value 3.0 is not one of codes=\[0, 1\]"):
        brier_score(split, rows, cols, np.array([0, 3]), [0, 1])


# ------------------------------------------------------------------------ plots


def test_plots_write_png_and_refuse_overwrite(tmp_path, gauss_24):
    png = b"\x89PNG"
    vario = variogram(gauss_24[:10], directions=("x", "y"))
    facies = (gauss_24[:10] > 0).astype(int)
    fvario = variogram(facies, directions=("omni", "x"))
    channel, blobs = channel_and_blobs()
    rows, cols = np.array([2, 5, 9]), np.array([3, 7, 1])
    outputs = [
        plot_variograms({"model": vario, "half": vario}, tmp_path / "v.png"),
        plot_variograms({"facies": fvario}, tmp_path / "fv.png"),
        plot_proportions({"ti": [0.5, 0.5], "ens": [0.4, 0.6]}, [0, 1], tmp_path / "p.png"),
        plot_connectivity(
            {
                "channel": connectivity_function(channel, 1, max_lag=4),
                "blobs": connectivity_function(blobs, 1, max_lag=4),
            },
            tmp_path / "c.png",
        ),
        plot_calibration(gauss_24, rows, cols, gauss_24[0, rows, cols], tmp_path / "cal.png"),
    ]
    for path in outputs:
        assert path.read_bytes()[:4] == png
    with pytest.raises(OutputExistsError, match="v.png exists; pass overwrite=True"):
        plot_variograms({"model": vario}, tmp_path / "v.png")
    plot_variograms({"model": vario}, tmp_path / "v.png", overwrite=True)
    with pytest.raises(InputError, match=r"proportions\['ti'\] has shape \(3,\)"):
        plot_proportions({"ti": [0.2, 0.3, 0.5]}, [0, 1], tmp_path / "p2.png")


def test_neighbourhood_share_tells_a_channel_from_an_isolated_pixel():
    from geocgan.metrics.geostats import neighbourhood_share

    rows, cols, facies = np.array([5]), np.array([5]), np.array([1])
    channel = np.zeros((12, 12), np.int64)
    channel[4:7, :] = 1  # a 3-pixel-wide channel through the well
    isolated = np.zeros((12, 12), np.int64)
    isolated[5, 5] = 1  # the well's facies at the well pixel only
    assert neighbourhood_share(channel, rows, cols, facies) == 1.0
    assert neighbourhood_share(isolated, rows, cols, facies) == 0.0
    both = np.stack([channel, isolated, channel, channel])
    assert neighbourhood_share(both, rows, cols, facies) == 0.75
