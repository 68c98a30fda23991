"""Scores of class-conditional generators against known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geocgan.errors import InputError
from geocgan.metrics.classes import (
    class_fid,
    class_probabilities,
    class_scores,
    fid_references,
    frechet,
    gan_test_accuracy,
    inception_score,
    intra_class_diversity,
    normalized_mutual_information,
)
from geocgan.metrics.fid import ClassifierConfig, SmallClassifier


def classifier(seed: int = 0) -> SmallClassifier:
    torch.manual_seed(seed)
    return SmallClassifier(ClassifierConfig(n_classes=4, feature_dim=8, width=4)).eval()


def images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 28, 28, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_inception_score_known_answers():
    k = 5
    sure = torch.eye(k).repeat(20, 1)  # (100, 5): sure of each image, classes equally often
    mean, std = inception_score(sure, splits=10)
    assert mean == pytest.approx(k) and std == pytest.approx(0, abs=1e-12)
    assert inception_score(torch.full((100, k), 1 / k))[0] == pytest.approx(1.0)
    one_class = torch.zeros(100, k)
    one_class[:, 2] = 1
    assert inception_score(one_class)[0] == pytest.approx(1.0)
    # half sure of class 0, half of class 1, in each split: 2 classes used
    two = torch.eye(k)[torch.arange(100) % 2]
    assert inception_score(two)[0] == pytest.approx(2.0)
    with pytest.raises(InputError, match="N >= splits"):
        inception_score(sure[:5])


def test_gan_test_on_real_data_is_the_classifier_accuracy():
    clf, x = classifier(), images(64)
    y = torch.arange(64) % 4
    by_hand = float((class_probabilities(clf, x).argmax(1) == y).double().mean())
    assert gan_test_accuracy(clf, x, y) == pytest.approx(by_hand)
    predicted = class_probabilities(clf, x).argmax(1)
    assert gan_test_accuracy(clf, x, predicted) == 1.0


def test_fid_of_identical_sets_is_zero_and_of_shifted_sets_the_shift():
    f = torch.randn(200, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert frechet(f, f) == pytest.approx(0, abs=1e-8)
    shift = torch.tensor([3.0, 0, 0, 0, 0, 0], dtype=torch.float64)
    assert frechet(f, f + shift) == pytest.approx(9.0, rel=1e-6)
    y = np.arange(200) % 4
    per = class_fid(f, y, f, y, 4)
    assert per.shape == (4,) and np.allclose(per, 0, atol=1e-8)


def test_intra_class_diversity_by_hand():
    f = torch.tensor([[0.0, 0], [3, 0], [0, 0], [1, 0], [2, 0]])
    y = [0, 0, 1, 1, 1]
    div = intra_class_diversity(f, y, 3)
    assert div[0] == pytest.approx(3.0)
    assert div[1] == pytest.approx((1 + 2 + 1) / 3)
    assert np.isnan(div[2])  # no image of class 2


def test_class_scores_and_references_on_real_images():
    clf = classifier()
    x, y = images(100, 1), np.arange(100) % 4
    s = class_scores(clf, x, y, x, y)
    assert s["fid"] == pytest.approx(0, abs=1e-6) and s["class_fid"] == pytest.approx(0, abs=1e-6)
    assert s["diversity_ratio"] == pytest.approx(1.0)
    assert 1 <= s["is_mean"] <= 4 and "gan_test" in s
    assert "gan_test" not in class_scores(clf, x, y, x)  # unconditional: none
    ref = fid_references(clf, x, x, 50)
    assert ref["floor"] == pytest.approx(0, abs=1e-6) and ref["blank"] > 0
    with pytest.raises(InputError, match="needs 200 images"):
        fid_references(clf, x, x, 200)


def test_bad_labels_are_refused():
    f = torch.zeros(3, 2)
    with pytest.raises(InputError, match="give 3 labels in 0..1"):
        class_fid(f, [0, 1, 2], f, [0, 1, 1], 2)
    with pytest.raises(InputError, match="give 3 labels"):
        intra_class_diversity(f, [0, 1], 2)


def test_normalized_mutual_information_known_answers():
    a = np.arange(1000) % 5
    assert normalized_mutual_information(a, a) == pytest.approx(1.0)
    assert normalized_mutual_information(a, (a * 3 + 1) % 5) == pytest.approx(1.0)  # renamed
    b = np.arange(1000) // 200  # each value of b meets every value of a equally often
    assert normalized_mutual_information(a, b) == pytest.approx(0.0, abs=1e-12)
    assert normalized_mutual_information(a, np.zeros(1000, int)) == 0.0
    # classes 3 and 4 merged: b is a function of a, so I(a; b) = H(b)
    merged = np.minimum(a, 3)
    h_b = -(3 * 0.2 * np.log(0.2) + 0.4 * np.log(0.4))
    assert normalized_mutual_information(a, merged) == pytest.approx(h_b / np.sqrt(np.log(5) * h_b))
    with pytest.raises(InputError, match="two labellings"):
        normalized_mutual_information(a, a[:10])
