"""geocgan.recipes: the shipped models were trained from these recipes."""

from pathlib import Path

import numpy as np
import pytest

from geocgan.checkpoint import read_checkpoint
from geocgan.io.images import read_training_image
from geocgan.recipes import (
    CHANNEL_SPEC,
    GAUSSIAN_MODEL,
    channel_model_config,
    gaussian_training_images,
    training_image,
)

ROOT = Path(__file__).resolve().parents[1]


def test_the_channel_training_image_is_the_shipped_one():
    ti = training_image()  # (256, 256)
    assert np.array_equal(ti, read_training_image(ROOT / "sample_data/training_image.tif"))
    target = channel_model_config(ti)["moment_target"]  # proportions of codes 0 and 1
    assert target[1] == pytest.approx(np.mean(ti == 1)) and sum(target) == pytest.approx(1)
    assert CHANNEL_SPEC.codes == [0, 1]


@pytest.mark.parametrize(
    ("model", "recipe", "changed"),
    [
        # fine-tuned with lam_local 5 (workflows/results/gpu/README.md, session 4)
        ("sample_data/channels.safetensors", "channels", {"lam_local": 5.0}),
        # a narrower generator distilled from the recipe's (benchmark_peers.py's docstring)
        ("workflows/results/benchmark/gaussian_model.safetensors", "gaussian", {"ngf": 8}),
    ],
)
def test_the_shipped_models_have_their_recipes_settings(model, recipe, changed):
    config = read_checkpoint(ROOT / model)[1]["config"]
    settings = channel_model_config(training_image()) if recipe == "channels" else GAUSSIAN_MODEL
    assert {k: config[k] for k in settings if config[k] != settings[k]} == changed


def test_gaussian_training_images_are_fixed_by_their_seed():
    a, b = gaussian_training_images(2, 64), gaussian_training_images(2, 64)
    assert a.shape == (2, 64, 64) and np.array_equal(a, b)
    assert not np.array_equal(a[0], a[1])
