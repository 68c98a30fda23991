"""The class-GAN study's own logic: disjoint class-balanced splits and the verdicts against
the published comparison (the training itself is the models' tests)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_workflow


@pytest.fixture(scope="module")
def study():
    return load_workflow("class_gans")


def test_balanced_splits_are_disjoint_and_take_classes_in_turn(study):
    labels = np.random.default_rng(0).integers(0, 10, 2000)
    train, val = study.balanced(labels, 300), study.balanced(labels, 100, skip=300)
    assert not set(train) & set(val)
    assert labels[train].tolist() == [i % 10 for i in range(300)]
    assert labels[val].tolist() == [i % 10 for i in range(100)]


def run(model, seed, fid, is_, acc, div, late=0.0):
    return {"model": model, "seed": seed, "fid": fid, "is_mean": is_, "gan_test": acc,
            "diversity_ratio": div, "late_rise": late, "collapsed": False}  # fmt: skip


def test_verdicts_follow_the_numbers(study):
    models = ["cgan", "cdcgan", "acgan", "twon-gan"]
    published = (
        [  # the published order: 2N-GAN best and stable, cDCGAN diverse but wrong
            run("cgan", s, 100, 5.0, 0.8, 0.8, late=5) for s in (0, 1)
        ]
        + [run("cdcgan", s, 100 + 10 * s, 5.5, 0.5, 1.0, late=5) for s in (0, 1)]
        + [run("acgan", s, 100 + 30 * s, 3.0, 0.9, 0.7, late=50) for s in (0, 1)]
        + [run("twon-gan", s, 80, 7.0, 0.95, 0.9, late=1) for s in (0, 1)]
    )
    text = "\n".join(study.verdicts(published, models))
    assert "highest Inception Score: twon-gan" in text
    assert "most stable (relative FID spread over seeds + relative late rise): twon-gan" in text
    assert text.count("agrees") == 3 and "differs" not in text
    # too short to test stability: said, not decided on noise
    short = [{**r, "late_rise": 0.0} for r in published]
    assert "stability not tested" in "\n".join(study.verdicts(short, models))
    # ACGAN not last any more
    swapped = [{**r, "is_mean": 9.0} if r["model"] == "acgan" else r for r in published]
    assert "the claim 'ACGAN lowest score' differs" in "\n".join(study.verdicts(swapped, models))
