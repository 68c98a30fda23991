"""Measurements of ensembles: honoring and geostatistics here; FID in ``geocgan.metrics.fid``."""

from geocgan.metrics.geostats import (
    brier_score,
    conditional_correlation_check,
    connectivity_function,
    coverage,
    ensemble_correlation,
    ensemble_spread,
    facies_proportions,
    honoring,
    neighbourhood_majority,
    neighbourhood_share,
    proportion_error,
    simple_kriging_conditional_covariance,
    spanning_fraction,
    split_wells,
    variogram,
    variogram_error,
)

__all__ = [
    "brier_score",
    "conditional_correlation_check",
    "connectivity_function",
    "coverage",
    "ensemble_correlation",
    "ensemble_spread",
    "facies_proportions",
    "honoring",
    "neighbourhood_majority",
    "neighbourhood_share",
    "proportion_error",
    "simple_kriging_conditional_covariance",
    "spanning_fraction",
    "split_wells",
    "variogram",
    "variogram_error",
]
