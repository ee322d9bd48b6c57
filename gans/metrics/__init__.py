"""How good are the generated images? Fréchet distance and KID on the features of a named network.

Both metrics compare two clouds of feature vectors: one from real images, one from generated ones.
Which network gives the features matters as much as the formula, so the metric is named after it:

- ``FID``: the standard FID Inception v3 (the TensorFlow 2015-12-05 weights as pytorch-fid ships
  them, ``pt_inception-2015-12-05-*.pth``). Nothing is downloaded here, ever: it is used only when
  the user hands us the path to that file. Its numbers are comparable with published FIDs
  (given the same number of images).
- ``FD-mnist`` / ``FD-atari`` (and ``KID-mnist`` / ``KID-atari``): a small CNN that the playground
  trains itself, once, on its built-in labelled data (5,000 MNIST digits; frames of several Atari
  games labelled by game) and caches under the home folder. These numbers rank models trained
  here against each other; they are not FIDs and cannot be compared with published FIDs. The
  held-out accuracy stored beside each network says how well it learned its task (for Atari the
  held-out frames come from the same episodes as the training frames, so it flatters).

Both distances shrink as more images are measured, so only compare numbers taken on equal counts.

The package holds one concern per module: ``distances`` (FD and KID, pure numpy), ``images``
(getting images into a network), ``own_networks`` (the playground's CNN: training and its cache)
and ``inception`` (the FID Inception v3); this file is the public face. Import from here.

Typical use::

    quality = measure(real, fake)              # N×C×H×W tensors in [-1, 1]
    print(quality.metric, quality.fd, quality.kid)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gans.metrics.distances import (
    frechet_distance,
    frechet_distance_from_stats,
    kernel_inception_distance,
    kid,
    mmd2_unbiased,
    polynomial_kernel,
    statistics,
)
from gans.metrics.images import _as_float, _checked_images, _to_network_input
from gans.metrics.inception import FIDInceptionV3, load_fid_inception
from gans.metrics.own_networks import (
    _RECIPES,
    FEATURE_DIM,
    NetworkProgress,
    ProgressFn,
    SmallCNN,
    _load_cached,
    _Recipe,  # noqa: F401 - tests name it
    _save_cached,
    _train,
)
from playground.errors import PlaygroundError
from playground.i18n import Words

__all__ = [
    "FEATURE_DIM",
    "FIDInceptionV3",
    "FeatureNetwork",
    "NetworkProgress",
    "ProgressFn",
    "Quality",
    "SmallCNN",
    "feature_network",
    "frechet_distance",
    "frechet_distance_from_stats",
    "kernel_inception_distance",
    "kid",
    "kid_name",
    "measure",
    "mmd2_unbiased",
    "polynomial_kernel",
    "statistics",
]

_mmd2_unbiased = mmd2_unbiased  # its name before the split, which tests still use


def kid_name(metric: str) -> str:
    """The KID named beside an FD metric: "KID-mnist", "KID-atari", or plain "KID" beside "FID"."""
    return "KID" if metric == "FID" else metric.replace("FD-", "KID-", 1)


class FeatureNetwork:
    """A frozen network that turns images into feature vectors, and the name of the metric it gives.

    ``features`` takes any N×C×H×W images in [-1, 1] (or uint8), 1 or 3 channels, any size: they are
    converted to what the network was built for (grayscale repeated to RGB, RGB to gray by luma,
    bilinear resize), so any image set can be measured. Say which network measured what: an
    ``FD-mnist`` of RGB Atari frames is a number, but not a meaningful one.
    """

    def __init__(
        self,
        *,
        name: str,
        metric: str,
        description: str,
        channels: int,
        size: int,
        extract: Callable[[Tensor], Tensor],
        dim: int,
        device: str = "cpu",
        batch_size: int = 256,
        antialias: bool = True,
        record: dict | None = None,
    ) -> None:
        self.name = name
        self.metric = metric
        self.kid_metric = kid_name(metric)
        self.description = description
        self.channels = channels
        self.size = size
        self.dim = dim
        self.device = device
        self.batch_size = batch_size
        self.antialias = antialias
        self.record = dict(record or {})
        self._extract = extract

    def __repr__(self) -> str:
        return f"FeatureNetwork({self.metric}: {self.description})"

    def features(self, images: Tensor | np.ndarray) -> np.ndarray:
        """N×D float32 features, computed in batches without gradients."""
        return self._features(_checked_images(images), Words("gans.what_images"))

    @torch.no_grad()
    def _features(self, images: Tensor, what: Words) -> np.ndarray:
        out = []
        for start in range(0, images.shape[0], self.batch_size):
            batch = _as_float(images[start : start + self.batch_size].to(self.device), what)
            out.append(self._extract(_to_network_input(batch, self.channels, self.size, self.antialias)).float().cpu())
        return torch.cat(out).numpy()


def feature_network(
    channels: int,
    *,
    inception_weights: Path | str | None = None,
    device: str = "cpu",
    name: str | None = None,
    progress: ProgressFn | None = None,
) -> FeatureNetwork:
    """The network to measure images with ``channels`` channels: the FID Inception when its weights
    are given, else the playground's own (``mnist`` for 1 channel, ``atari`` for 3, trained and cached
    on first use). ``name`` picks the playground's network explicitly ("mnist" or "atari"). ``progress``
    hears how a first-use training goes, so that a door can show it rather than wait in silence."""
    from playground.settings import resolve_device

    device = resolve_device(device)
    if inception_weights is not None:
        return _inception_network(Path(inception_weights), device)
    if name is None:
        if channels not in (1, 3):
            raise PlaygroundError("gans.quality_bad_channels", channels=channels)
        name = "mnist" if channels == 1 else "atari"
    if name not in _RECIPES:
        raise PlaygroundError("gans.unknown_feature_network", name=name, choices=", ".join(sorted(_RECIPES)))
    return _own_network(name, device, progress)


def _own_network(name: str, device: str, progress: ProgressFn | None = None) -> FeatureNetwork:
    """The playground's network ``name``: from the cache, or trained now and cached (``_train`` is looked
    up here, so a test can count the trainings)."""
    recipe = _RECIPES[name]
    cached = _load_cached(recipe, device)
    if cached is None:
        net, record = _train(recipe, device, progress=progress)
        record = _save_cached(recipe, net, record)
    else:
        net, record = cached
    description = f"{name} CNN trained here (held-out accuracy {record['held_out_accuracy']:.3f})"
    return FeatureNetwork(
        name=name,
        metric=f"FD-{name}",
        description=description,
        channels=recipe.channels,
        size=recipe.size,
        extract=net.features,
        dim=FEATURE_DIM,
        device=device,
        record=record,
    )


def _inception_network(path: Path, device: str) -> FeatureNetwork:
    """Real FID: the Inception v3 with the weights file the user gave, resized as pytorch-fid does."""
    net = load_fid_inception(Path(path), device)
    return FeatureNetwork(
        name="inception",
        metric="FID",
        description=f"FID Inception v3 ({Path(path).expanduser()})",
        channels=3,
        size=299,
        extract=net.features,
        dim=2048,
        device=device,
        batch_size=32,
        antialias=False,
    )


@dataclass(frozen=True)
class Quality:
    """One measurement. ``metric`` names the network ("FD-mnist", "FD-atari" or "FID"); lower is better."""

    metric: str  # "FD-mnist", "FD-atari" or "FID"
    fd: float
    kid: float
    kid_std: float
    n_real: int
    n_fake: int
    network: str  # e.g. "mnist CNN trained here (held-out accuracy 0.985)"

    @property
    def kid_metric(self) -> str:
        """The KID's name beside ``metric``: "KID-mnist", "KID-atari" or plain "KID" for Inception."""
        return kid_name(self.metric)

    def __str__(self) -> str:
        return (
            f"{self.metric} {self.fd:.2f}, {self.kid_metric} {self.kid:.4f} ± {self.kid_std:.4f} "
            f"({self.n_real} real, {self.n_fake} generated; {self.network})"
        )


def measure(
    real: Tensor,
    fake: Tensor,
    *,
    inception_weights: Path | str | None = None,
    device: str = "cpu",
    network: FeatureNetwork | None = None,
    progress: ProgressFn | None = None,
) -> Quality:
    """FD and KID between real and generated images (N×C×H×W in [-1, 1], the same C on both sides).

    The network is chosen by the channel count (1 → mnist, 3 → atari) unless ``inception_weights``
    is given (then it is real FID) or a ``network`` from ``feature_network`` is passed (to reuse one
    across many measurements). FD and KID both shrink with more images, so compare numbers measured
    on the same counts. ``progress`` is passed to ``feature_network``.
    """
    real = _checked_images(real, Words("gans.what_real_images"), minimum=2)
    fake = _checked_images(fake, Words("gans.what_generated_images"), minimum=2)
    if real.shape[1] != fake.shape[1]:
        raise PlaygroundError("gans.channels_differ", real=real.shape[1], fake=fake.shape[1])
    if network is None:
        network = feature_network(real.shape[1], inception_weights=inception_weights, device=device, progress=progress)
    a = network._features(real, Words("gans.what_real_images"))
    b = network._features(fake, Words("gans.what_generated_images"))
    fd = frechet_distance(a, b)
    kid_mean, kid_std = kernel_inception_distance(a, b)
    return Quality(
        metric=network.metric,
        fd=fd,
        kid=kid_mean,
        kid_std=kid_std,
        n_real=int(real.shape[0]),
        n_fake=int(fake.shape[0]),
        network=network.description,
    )
