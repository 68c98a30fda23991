"""Scores of class-conditional image generators, on an in-project classifier.

All take the classifier of ``geocgan.metrics.fid`` (a ``SmallClassifier`` trained on the
dataset; ``features`` its penultimate layer, ``predict_proba`` its class probabilities) and
images as ``fid.to_float`` takes them (uint8 0-255, or floats in ``[-1, 1]``):

- ``inception_score``: ``exp(E_x KL(p(y|x) || p(y)))`` (Salimans et al. 2016), mean ± std
  over splits; K for a classifier that is sure of every image with the classes equally
  often, 1 for one class or for uniform uncertainty.
- ``gan_test_accuracy``: the classifier's accuracy on samples against the classes they were
  made for (Shmelkov et al. 2018); on real data, the classifier's own accuracy.
- ``frechet`` / ``class_fid``: FID on the classifier's features, of all images and per class.
- ``intra_class_diversity``: the mean pairwise feature distance within each class.
- ``normalized_mutual_information``: how far one labelling of the images (e.g. InfoGAN's
  categorical code) tells another (the classifier's classes), 0 (independent) to 1.
- ``fid_references``: the values that make an FID readable: real against other real images
  of the same size (the floor) and blank images against real ones.

Values are not comparable with Inception-network numbers nor across classifiers.
"""

from __future__ import annotations

import numpy as np
import torch

from geocgan.errors import InputError
from geocgan.metrics.fid import accuracy, embed, feature_stats, frechet_distance, to_float


@torch.no_grad()
def class_probabilities(classifier, images, *, batch_size: int = 1024) -> torch.Tensor:
    """``p(y | x)`` ``(N, K)`` of ``images`` ``(N, [1,] H, W)``, float64 on the CPU."""
    device = next(classifier.parameters()).device
    was_training = classifier.training
    classifier.eval()
    out = [
        classifier.predict_proba(to_float(images[s : s + batch_size], device)).double().cpu()
        for s in range(0, len(images), batch_size)
    ]
    classifier.train(was_training)
    return torch.cat(out)


def inception_score(probs: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """Inception Score of class probabilities ``probs`` ``(N, K)``: mean and standard
    deviation over ``splits`` consecutive equal parts (the remainder left out)."""
    probs = torch.as_tensor(probs, dtype=torch.float64)
    n = len(probs) // splits
    if probs.ndim != 2 or n < 1:
        raise InputError(
            f"the Inception Score needs (N, K) probabilities with N >= splits ({splits}), got "
            f"shape {tuple(probs.shape)}"
        )
    parts = probs[: n * splits].reshape(splits, n, -1)  # (splits, n, K)
    marginal = parts.mean(1, keepdim=True)  # (splits, 1, K)
    logp = parts.clamp_min(1e-30).log()
    kl = (parts * (logp - marginal.clamp_min(1e-30).log())).sum(-1)  # (splits, n)
    scores = kl.mean(1).exp()  # (splits,)
    return float(scores.mean()), float(scores.std(unbiased=False))


def gan_test_accuracy(classifier, images, labels) -> float:
    """Share of ``images`` the classifier puts in the class they were generated for."""
    return accuracy(classifier, images, labels)


def _check_classes(labels, n: int, n_classes: int, what: str) -> torch.Tensor:
    y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    if y.shape != (n,) or (len(y) and (int(y.min()) < 0 or int(y.max()) >= n_classes)):
        raise InputError(
            f"{what}: give {n} labels in 0..{n_classes - 1}, one per image, got shape "
            f"{tuple(y.shape)}"
        )
    return y


def frechet(real_features: torch.Tensor, fake_features: torch.Tensor) -> float:
    """FID between two sets of features ``(N, d)`` (float64)."""
    mu_r, cov_r = feature_stats(real_features)
    mu_f, cov_f = feature_stats(fake_features)
    return float(frechet_distance(mu_r, cov_r, mu_f, cov_f))


def class_fid(real_features, real_labels, fake_features, fake_labels, n_classes: int) -> np.ndarray:
    """FID per class ``(K,)`` between the real and the generated images of each class (NaN
    where either set has fewer than 2 images)."""
    ry = _check_classes(real_labels, len(real_features), n_classes, "class_fid real_labels")
    fy = _check_classes(fake_labels, len(fake_features), n_classes, "class_fid fake_labels")
    out = np.full(n_classes, np.nan)
    for k in range(n_classes):
        r, f = real_features[ry == k], fake_features[fy == k]
        if len(r) >= 2 and len(f) >= 2:
            out[k] = frechet(r, f)
    return out


def intra_class_diversity(
    features: torch.Tensor, labels, n_classes: int, max_per_class: int = 500
) -> np.ndarray:
    """Mean pairwise Euclidean distance ``(K,)`` between the features of the images of each
    class (the first ``max_per_class`` of a class; NaN for a class with fewer than 2)."""
    y = _check_classes(labels, len(features), n_classes, "intra_class_diversity labels")
    out = np.full(n_classes, np.nan)
    for k in range(n_classes):
        f = features[y == k][:max_per_class].double()
        m = len(f)
        if m >= 2:
            out[k] = float(torch.cdist(f, f).sum() / (m * (m - 1)))
    return out


def class_scores(
    classifier, real, real_labels, fake, fake_labels=None, n_classes: int | None = None
) -> dict[str, float]:
    """Every score of generated images ``fake`` against ``real`` (labels ``(N,)`` each;
    ``fake_labels=None`` for an unconditional generator: no GAN-test, and the per-class
    scores take the classes the classifier assigns to the fakes).

    Returns
    -------
    dict
        ``fid``; ``is_mean``, ``is_std`` (10 splits); ``gan_test`` (conditional only);
        ``class_fid`` (mean over classes); ``diversity`` and ``diversity_real`` (mean over
        classes of ``intra_class_diversity``) and their ratio ``diversity_ratio``.
    """
    k = n_classes or classifier.config.n_classes
    rf, ff = embed(classifier, real), embed(classifier, fake)  # (N, d)
    probs = class_probabilities(classifier, fake)
    out = {"fid": frechet(rf, ff)}
    out["is_mean"], out["is_std"] = inception_score(probs)
    if fake_labels is not None:
        out["gan_test"] = gan_test_accuracy(classifier, fake, fake_labels)
    else:
        fake_labels = probs.argmax(1).numpy()
    out["class_fid"] = float(np.nanmean(class_fid(rf, real_labels, ff, fake_labels, k)))
    div = intra_class_diversity(ff, fake_labels, k)
    div_real = intra_class_diversity(rf, real_labels, k)
    out["diversity"], out["diversity_real"] = float(np.nanmean(div)), float(np.nanmean(div_real))
    out["diversity_ratio"] = out["diversity"] / out["diversity_real"]
    return out


def normalized_mutual_information(a, b) -> float:
    """``I(a; b) / sqrt(H(a) H(b))`` of two labellings ``(N,)`` of the same items (integers
    from 0), from their contingency table: 1 when each determines the other (whatever the
    label names), 0 when independent; 0 when either is constant."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    if a.shape != b.shape or a.ndim != 1 or not len(a) or min(a.min(), b.min()) < 0:
        raise InputError(
            f"two labellings of the same items: give two (N,) arrays of labels from 0, got "
            f"shapes {a.shape} and {b.shape}"
        )
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1)
    p = joint / len(a)  # (Ka, Kb)
    pa, pb = p.sum(1), p.sum(0)
    nz = p > 0
    mi = float((p[nz] * np.log(p[nz] / np.outer(pa, pb)[nz])).sum())
    ha, hb = (float(-(q[q > 0] * np.log(q[q > 0])).sum()) for q in (pa, pb))
    return mi / np.sqrt(ha * hb) if ha > 0 and hb > 0 else 0.0


def fid_references(classifier, real_a, real_b, n: int, blank_value: float = -1.0) -> dict:
    """FIDs that make one of ``n`` generated images readable: ``floor``, the first ``n`` of
    ``real_a`` against the first ``n`` of ``real_b`` (other real images: what a perfect
    generator scores at this size); ``blank``, ``n`` images of ``blank_value`` everywhere
    (in [-1, 1]: -1 is black) against ``real_a``."""
    if min(len(real_a), len(real_b)) < n:
        raise InputError(
            f"the FID floor at size {n} needs {n} images in each real set, got "
            f"{len(real_a)} and {len(real_b)}"
        )
    ra = embed(classifier, real_a[:n])
    blank = torch.full((n, *to_float(real_a[:1], "cpu").shape[1:]), blank_value)
    return {
        "floor": frechet(ra, embed(classifier, real_b[:n])),
        "blank": frechet(ra, embed(classifier, blank)),
    }
