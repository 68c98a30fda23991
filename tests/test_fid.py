"""FID against the closed-form Gaussian formula; the small classifier and its file format."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from geocgan.errors import CheckpointError, InputError, OutputExistsError
from geocgan.metrics.fid import (
    ClassifierConfig,
    SmallClassifier,
    accuracy,
    embed,
    feature_stats,
    fid,
    frechet_distance,
    load_classifier,
    save_classifier,
    train_classifier,
)


def _with_exact_moments(n: int, mean: np.ndarray, cov: np.ndarray, seed: int) -> np.ndarray:
    """Samples (n, d) with sample mean exactly ``mean`` and (n-1)-normalised covariance ``cov``."""
    z = np.random.default_rng(seed).normal(size=(n, len(mean)))  # (n, d)
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # sample cov = I
    return mean + z @ np.linalg.cholesky(cov).T


def test_fid_of_diagonal_gaussians_matches_closed_form():
    # ||mu1 - mu2||² + sum (sqrt(s1) - sqrt(s2))² for diagonal covariances s1, s2.
    mu1, mu2 = np.array([0.0, 1.0, -2.0, 0.5]), np.array([1.0, 1.0, 0.0, 0.0])
    s1, s2 = np.array([1.0, 4.0, 0.25, 2.0]), np.array([4.0, 1.0, 0.25, 0.5])
    x = _with_exact_moments(3000, mu1, np.diag(s1), seed=0)
    y = _with_exact_moments(2000, mu2, np.diag(s2), seed=1)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)  # 5.25 + 2.5
    assert fid(x, y, nn.Flatten(), batch_size=700) == pytest.approx(expected, rel=1e-9)


def test_fid_of_correlated_gaussians_matches_scipy_sqrtm():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)  # do not commute
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    x = _with_exact_moments(1500, mu1, s1, seed=3)
    y = _with_exact_moments(1500, mu2, s2, seed=4)
    cross = scipy.linalg.sqrtm(s1 @ s2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * cross)
    got = fid(torch.from_numpy(x), torch.from_numpy(y), nn.Flatten(), batch_size=256)
    assert got == pytest.approx(expected, rel=1e-8)


def test_fid_of_identical_sets_is_zero():
    x = np.random.default_rng(5).normal(size=(500, 8))
    assert abs(fid(x, x.copy(), nn.Flatten())) < 1e-9


def test_fid_needs_two_images_per_set():
    with pytest.raises(InputError, match=r"at least 2 fake images, got 1"):
        fid(np.zeros((5, 3)), np.zeros((1, 3)), nn.Flatten())


def _bars(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (n, 28, 28) and labels: 0 = horizontal bar, 1 = vertical bar, random place."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)  # (n,)
    images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)  # background noise
    pos = rng.integers(4, 24, n)
    for i in range(n):
        if labels[i] == 0:
            images[i, pos[i] - 2 : pos[i] + 2, 4:24] = 255
        else:
            images[i, 4:24, pos[i] - 2 : pos[i] + 2] = 255
    return images, labels


@pytest.fixture(scope="module")
def trained():
    images, labels = _bars(256, seed=0)
    test_images, test_labels = _bars(128, seed=1)
    config = ClassifierConfig(n_classes=2, feature_dim=32, width=8)
    model, test_acc = train_classifier(
        images, labels, test_images, test_labels, config=config, epochs=3, batch_size=32, seed=0
    )
    return model, test_acc, test_images, test_labels


def test_classifier_learns_two_classes(trained):
    model, test_acc, test_images, test_labels = trained
    assert test_acc >= 0.95
    assert accuracy(model, test_images, test_labels) == test_acc
    assert model.features(torch.zeros(3, 28, 28)).shape == (3, 32)


def test_training_is_reproducible_from_seed(trained):
    images, labels = _bars(64, seed=0)
    config = ClassifierConfig(n_classes=2, feature_dim=16, width=4)
    runs = [
        train_classifier(images, labels, images, labels, config=config, epochs=1, seed=7)[0]
        for _ in range(2)
    ]
    for p, q in zip(runs[0].parameters(), runs[1].parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_fid_on_classifier_features_separates_classes(trained):
    model, _, test_images, test_labels = trained
    horizontal, vertical = test_images[test_labels == 0], test_images[test_labels == 1]
    half = len(horizontal) // 2
    same = fid(horizontal[:half], horizontal[half:], model)
    different = fid(horizontal, vertical, model)
    assert different > 10 * same


def test_classifier_save_load_round_trip(trained, tmp_path):
    model, test_acc, test_images, _ = trained
    path = save_classifier(
        model, tmp_path / "clf.safetensors", {"dataset": "bars", "acc": test_acc}
    )
    loaded, meta = load_classifier(path)
    assert meta == {"dataset": "bars", "acc": test_acc}
    assert loaded.config == model.config and not loaded.training
    x = torch.from_numpy(test_images[:8])
    torch.testing.assert_close(
        loaded.features(x.float() / 127.5 - 1), model.features(x.float() / 127.5 - 1)
    )
    with pytest.raises(OutputExistsError, match=r"clf\.safetensors exists; pass overwrite=True"):
        save_classifier(model, path)


def test_load_classifier_errors(tmp_path):
    with pytest.raises(CheckpointError, match=r"missing\.safetensors: no such classifier file"):
        load_classifier(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    with pytest.raises(
        CheckpointError, match=r"junk\.safetensors: not a readable safetensors file"
    ):
        load_classifier(junk)
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(CheckpointError, match=r"other\.safetensors: not a geocgan SmallClassifier"):
        load_classifier(tmp_path / "other.safetensors")


def test_train_classifier_rejects_bad_labels():
    images, _ = _bars(4, seed=0)
    with pytest.raises(InputError, match=r"labels must be integers in \[0, 10\), got .* \[0, 12\]"):
        train_classifier(images, np.array([0, 1, 12, 3]), images, np.zeros(4, int), epochs=1)
    with pytest.raises(InputError, match=r"one label per image \(4 images\), got shape \(3,\)"):
        train_classifier(images, np.array([0, 1, 2]), images, np.zeros(4, int), epochs=1)


def test_small_classifier_default_is_the_papers_256_features():
    model = SmallClassifier()
    assert model.features(torch.zeros(2, 1, 28, 28)).shape == (2, 256)
    assert model(torch.zeros(2, 28, 28)).shape == (2, 10)


def test_frechet_distance_batched_matches_fid_and_the_closed_form():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(5, 5))
    s1 = a @ a.T + 0.1 * np.eye(5)
    x = _with_exact_moments(800, rng.normal(size=5), s1, seed=7)
    sets = [
        rng.normal(size=(600, 5)) * rng.uniform(0.5, 2, 5) + rng.normal(size=5) for _ in range(3)
    ]
    mu1, cov1 = feature_stats(torch.from_numpy(x))
    stats = [feature_stats(torch.from_numpy(y)) for y in sets]
    got = frechet_distance(mu1, cov1, torch.stack([m for m, _ in stats]),
                           torch.stack([c for _, c in stats]))  # fmt: skip
    assert got.shape == (3,)
    for value, y in zip(got.tolist(), sets, strict=True):
        assert value == pytest.approx(fid(x, y, nn.Flatten()), rel=1e-7)
    # diagonal Gaussians: ||mu1 - mu2||² + sum (sqrt(s1) - sqrt(s2))²
    d1, d2 = torch.tensor([1.0, 4.0, 0.25]), torch.tensor([4.0, 1.0, 0.25])
    m1, m2 = torch.zeros(3), torch.tensor([1.0, 0.0, 2.0])
    closed = 5.0 + float(((d1.sqrt() - d2.sqrt()) ** 2).sum())
    value = frechet_distance(m1, torch.diag(d1), m2, torch.diag(d2))
    assert float(value) == pytest.approx(closed, rel=1e-12)
    # a blank set (zero covariance) is allowed: its distance is ||mu||² + Tr(S1)
    blank = frechet_distance(m1, torch.diag(d1), m2, torch.zeros(3, 3))
    assert float(blank) == pytest.approx(5.0 + 5.25, rel=1e-12)


def test_classifier_api_for_other_metrics(trained):
    model, _, test_images, test_labels = trained
    x = torch.from_numpy(test_images[:16]).float() / 127.5 - 1  # (16, 28, 28)
    p = model.predict_proba(x)
    torch.testing.assert_close(p.sum(1), torch.ones(16))
    torch.testing.assert_close(model.logits(x), model(x))
    assert (p.argmax(1).numpy() == test_labels[:16]).mean() >= 0.9
    feats = embed(model, test_images[:40], batch_size=7)  # uint8 scaled like fid()
    torch.testing.assert_close(feats, model.features(torch.from_numpy(test_images[:40]).float()
                                                      / 127.5 - 1))  # fmt: skip
    with pytest.raises(InputError, match=r"at least 2 images, got 1"):
        feature_stats(feats[:1])
