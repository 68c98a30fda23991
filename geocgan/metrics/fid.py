"""FID for MNIST-like images, on the features of a small classifier trained on the data.

Inception-v3 weights cannot be downloaded here, and Inception features of
28x28 digits are a poor embedding anyway; like Ruffino et al. (2020) we use the
256-d penultimate layer of a small CNN trained on the same dataset. Values are
therefore not comparable to Inception FIDs, nor between feature extractors.

The statistics and the Fréchet distance are computed by torchmetrics'
``FrechetInceptionDistance`` with a custom feature module, in float64.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance

from geocgan.errors import CheckpointError, InputError, OutputExistsError

_FORMAT = "geocgan.SmallClassifier/1"


@dataclass
class ClassifierConfig:
    """Size of a ``SmallClassifier``.

    Attributes
    ----------
    n_classes : int, default 10
        Number of classes.
    feature_dim : int, default 256
        Width of the penultimate layer, the FID feature space.
    width : int, default 32
        Channels of the first convolution (the second has twice as many).
    """

    n_classes: int = 10
    feature_dim: int = 256
    width: int = 32


def to_float(images: np.ndarray | torch.Tensor, device: str | torch.device) -> torch.Tensor:
    """Move images to ``device``, scaling uint8 [0, 255] to float32 [-1, 1].

    Parameters
    ----------
    images : array or tensor, (N, ...)
        uint8 in [0, 255], or floating point (assumed in [-1, 1], kept as is).
    device : str or torch.device
        Target device.

    Returns
    -------
    torch.Tensor
        Same shape; float32 for uint8 input, else the input's dtype.
    """
    x = torch.as_tensor(images).to(device)
    return x.float() / 127.5 - 1.0 if x.dtype == torch.uint8 else x


class SmallClassifier(nn.Module):
    """Two-convolution CNN on 1x28x28 images in [-1, 1]; its penultimate layer gives FID features.

    Parameters
    ----------
    config : ClassifierConfig, optional
        Sizes; default ``ClassifierConfig()`` (10 classes, 256 features).
    """

    def __init__(self, config: ClassifierConfig | None = None) -> None:
        super().__init__()
        self.config = config or ClassifierConfig()
        w = self.config.width
        self.body = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1),  # (N, w, 28, 28)
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, w, 14, 14)
            nn.Conv2d(w, 2 * w, 3, padding=1),  # (N, 2w, 14, 14)
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 2w, 7, 7)
            nn.Flatten(),  # (N, 2w*49)
            nn.Linear(2 * w * 49, self.config.feature_dim),
            nn.ReLU(),  # (N, feature_dim)
        )
        self.head = nn.Linear(self.config.feature_dim, self.config.n_classes)
        self.num_features = self.config.feature_dim  # read by torchmetrics

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features, (N, feature_dim), of images (N, [1,] 28, 28) in [-1, 1]."""
        x = x.unsqueeze(1) if x.dim() == 3 else x
        return self.body(x.to(self.head.weight.dtype))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, (N, n_classes), of images (N, [1,] 28, 28) in [-1, 1]."""
        return self.head(self.features(x))

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities p(y | x), (N, n_classes): the input of Inception-Score-like
        metrics and of GAN-test / GAN-train accuracies."""
        return torch.softmax(self.logits(x), dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, (N, n_classes) (same as ``logits``)."""
        return self.logits(x)


def _check_labels(images: np.ndarray | torch.Tensor, labels, n_classes: int) -> torch.Tensor:
    labels = torch.as_tensor(labels)
    if len(images) == 0:
        raise InputError("no images given: need at least one image and label.")
    if labels.dim() != 1 or labels.shape[0] != len(images):
        raise InputError(
            f"labels must be a vector with one label per image ({len(images)} images), "
            f"got shape {tuple(labels.shape)}."
        )
    if labels.is_floating_point() or labels.min() < 0 or labels.max() >= n_classes:
        raise InputError(
            f"labels must be integers in [0, {n_classes}), got {labels.dtype} in "
            f"[{labels.min().item()}, {labels.max().item()}]; set n_classes accordingly."
        )
    return labels.long()


@torch.no_grad()
def accuracy(
    model: SmallClassifier,
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    *,
    batch_size: int = 1024,
) -> float:
    """Fraction of ``images`` (N, [1,] 28, 28) that ``model`` puts in the right class."""
    device = model.head.weight.device
    labels = _check_labels(images, labels, model.config.n_classes).to(device)
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)
    for start in range(0, len(images), batch_size):
        x = to_float(images[start : start + batch_size], device)  # (B, [1,] 28, 28)
        correct += (model(x).argmax(dim=1) == labels[start : start + batch_size]).sum()
    model.train(was_training)
    return correct.item() / len(images)


def train_classifier(
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    test_images: np.ndarray | torch.Tensor,
    test_labels: np.ndarray | torch.Tensor,
    *,
    config: ClassifierConfig | None = None,
    epochs: int = 5,
    batch_size: int = 128,
    lr: float = 1e-3,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> tuple[SmallClassifier, float]:
    """Train a ``SmallClassifier`` with Adam and cross-entropy.

    Parameters
    ----------
    images : array or tensor, (N, [1,] 28, 28)
        Training images, uint8 in [0, 255] or float in [-1, 1]; held on ``device``.
    labels : array or tensor, (N,)
        Integer classes in [0, config.n_classes).
    test_images, test_labels
        Held-out images and labels, same conventions, used only for the returned accuracy.
    config : ClassifierConfig, optional
        Network size; default ``ClassifierConfig()``.
    epochs : int, default 5
        Passes over the training set.
    batch_size : int, default 128
        Images per step.
    lr : float, default 1e-3
        Adam learning rate.
    device : str or torch.device, default "cpu"
        Where to train.
    seed : int, default 0
        Seed of the weight initialisation and of the batch order.

    Returns
    -------
    model : SmallClassifier
        Trained, in eval mode, on ``device``.
    test_accuracy : float
        Fraction of ``test_images`` classified correctly.
    """
    config = config or ClassifierConfig()
    y = _check_labels(images, labels, config.n_classes).to(device)  # (N,)
    x = to_float(images, device)  # (N, [1,] 28, 28)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SmallClassifier(config)
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator(device=device).manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator, device=device)  # (N,)
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            loss = F.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    model.eval()
    return model, accuracy(model, test_images, test_labels)


def save_classifier(
    model: SmallClassifier, path: str | Path, meta: dict | None = None, *, overwrite: bool = False
) -> Path:
    """Save weights, config and ``meta`` in one safetensors file (JSON in its header).

    Parameters
    ----------
    model : SmallClassifier
        The classifier.
    path : str or Path
        Output ``.safetensors`` file.
    meta : dict, optional
        JSON-serialisable facts to keep with it (dataset, test accuracy, seed...).
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it.")
    try:
        header = json.dumps({"format": _FORMAT, "config": asdict(model.config), "meta": meta or {}})
    except TypeError as exc:
        raise InputError(f"classifier meta for {path} is not JSON-serialisable: {exc}.") from None
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"geocgan": header})
    return path


def load_classifier(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[SmallClassifier, dict]:
    """Load a classifier written by ``save_classifier``.

    Returns
    -------
    model : SmallClassifier
        In eval mode, on ``device``.
    meta : dict
        The ``meta`` given at save time.

    Raises
    ------
    CheckpointError
        Missing, unreadable or foreign file, or weights that do not fit the config.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such classifier file; train one first.")
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = json.loads((handle.metadata() or {}).get("geocgan", "{}"))
        tensors = load_file(str(path))
    except (SafetensorError, OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc}).") from None
    if header.get("format") != _FORMAT:
        raise CheckpointError(
            f"{path}: not a geocgan SmallClassifier file (format {header.get('format')!r}, "
            f"expected {_FORMAT!r}); save it with save_classifier."
        )
    model = SmallClassifier(ClassifierConfig(**header["config"]))
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match the stored config: {exc}") from None
    return model.to(device).eval(), header["meta"]


class _Float64Features(nn.Module):
    """Extractor output for torchmetrics: ``features(x)`` (else ``module(x)``), flat, float64."""

    def __init__(self, extractor: nn.Module, num_features: int) -> None:
        super().__init__()
        self.extractor = extractor
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.extractor.features(x) if hasattr(self.extractor, "features") else self.extractor(x)
        return f.reshape(f.shape[0], -1).double()  # (B, num_features)


@torch.no_grad()
def fid(
    real: np.ndarray | torch.Tensor,
    fake: np.ndarray | torch.Tensor,
    feature_extractor: nn.Module,
    *,
    batch_size: int = 1024,
    device: str | torch.device | None = None,
) -> float:
    """Fréchet distance between the feature distributions of two image sets.

    ``||mu_r - mu_f||² + Tr(S_r + S_f - 2 (S_r S_f)^{1/2})`` over the features of
    ``feature_extractor`` (its ``features`` method if it has one, else its output,
    flattened). Use many more images than features (e.g. 10 000 for 256 features):
    FID is biased upwards at small N.

    Parameters
    ----------
    real, fake : array or tensor, (N, ...)
        Inputs of the extractor. uint8 inputs are scaled to [-1, 1] float32;
        floating inputs are passed as they are. N >= 2 each.
    feature_extractor : nn.Module
        E.g. a trained ``SmallClassifier``; used in eval mode, moved to ``device``.
    batch_size : int, default 1024
        Images per forward pass.
    device : str or torch.device, optional
        Where features are computed; default the extractor's device (CPU if it has
        no parameters).

    Returns
    -------
    float
        The FID, computed in float64.
    """
    for label, images in (("real", real), ("fake", fake)):
        if len(images) < 2:
            raise InputError(f"FID needs at least 2 {label} images, got {len(images)}.")
    if device is None:
        device = next((p.device for p in feature_extractor.parameters()), torch.device("cpu"))

    def batches(images):
        for start in range(0, len(images), batch_size):
            yield to_float(images[start : start + batch_size], device)

    was_training = feature_extractor.training
    feature_extractor.to(device).eval()
    num_features = _Float64Features(feature_extractor, 0)(next(batches(real[:1]))).shape[1]
    metric = FrechetInceptionDistance(feature=_Float64Features(feature_extractor, num_features))
    metric = metric.to(device)
    for x in batches(real):
        metric.update(x, real=True)
    for x in batches(fake):
        metric.update(x, real=False)
    value = metric.compute()  # float64 scalar
    feature_extractor.train(was_training)
    return value.item()


@torch.no_grad()
def embed(
    model: nn.Module, images: np.ndarray | torch.Tensor, *, batch_size: int = 1024
) -> torch.Tensor:
    """Features ``(N, d)`` of ``images`` (N, ...) by ``model.features`` (else ``model``), in
    batches on the model's device; uint8 images are scaled to [-1, 1] as in ``fid``."""
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    extract = _Float64Features(model, 0)
    was_training = model.training
    model.eval()
    out = [extract(to_float(images[s : s + batch_size], device)).float()
           for s in range(0, len(images), batch_size)]  # fmt: skip
    model.train(was_training)
    return torch.cat(out)


def feature_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(..., d)`` and (N-1)-normalised covariance ``(..., d, d)`` of features
    ``(..., N, d)``, in float64 (leading axes: independent sets, e.g. one per run)."""
    f = features.double()
    if f.shape[-2] < 2:
        raise InputError(f"feature statistics need at least 2 images, got {f.shape[-2]}.")
    mu = f.mean(-2)
    centred = f - mu[..., None, :]
    return mu, centred.transpose(-1, -2) @ centred / (f.shape[-2] - 1)


def frechet_distance(
    mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor
) -> torch.Tensor:
    """Fréchet distance of Gaussians (mu1, cov1) and (mu2, cov2), batched over ``mu2, cov2``.

    ``||mu1 - mu2||² + Tr(cov1) + Tr(cov2) - 2 Tr((cov1 cov2)^{1/2})``, with the last trace
    as ``Σ sqrt(eig(S cov2 S))`` where ``S = cov1^{1/2}`` (a symmetric matrix similar to
    ``cov1 cov2``): one symmetric eigendecomposition per set, so one reference (the real
    images) against hundreds of generated sets costs little.

    Parameters
    ----------
    mu1 : (d,), cov1 : (d, d)
        The reference set (e.g. real images), from ``feature_stats``.
    mu2 : (..., d), cov2 : (..., d, d)
        One or many sets to compare with it.

    Returns
    -------
    torch.Tensor (...,)
        The distances, float64.
    """
    mu1, cov1, mu2, cov2 = (t.double() for t in (mu1, cov1, mu2, cov2))
    w, v = torch.linalg.eigh(cov1)
    root = (v * w.clamp_min(0).sqrt()) @ v.T  # (d, d): cov1^{1/2}
    inner = torch.linalg.eigvalsh(root @ cov2 @ root)  # (..., d)
    cross = inner.clamp_min(0).sqrt().sum(-1)
    trace = torch.diagonal(cov1).sum() + torch.diagonal(cov2, dim1=-2, dim2=-1).sum(-1)
    return ((mu1 - mu2) ** 2).sum(-1) + trace - 2 * cross
