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

Typical use::

    quality = measure(real, fake)              # N×C×H×W tensors in [-1, 1]
    print(quality.metric, quality.fd, quality.kid)
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from playground.atomic import atomic_output, atomic_write_text
from playground.errors import CheckpointError, DataError, PlaygroundError
from playground.store import file_sha256

log = logging.getLogger(__name__)

__all__ = [
    "FeatureNetwork",
    "Quality",
    "feature_network",
    "frechet_distance",
    "frechet_distance_from_stats",
    "kernel_inception_distance",
    "kid",
    "measure",
    "statistics",
]


# --------------------------------------------------------------------------------------------------
# The two distances
# --------------------------------------------------------------------------------------------------


def _check_features(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    for x in (a, b):
        if x.ndim != 2:
            raise PlaygroundError(f"features must be a 2-D array (images × dimensions), not shape {x.shape}.")
        if x.shape[0] < 2:
            raise PlaygroundError(
                f"a distance between image sets needs at least 2 images on each side, got {x.shape[0]}; "
                "measure more images."
            )
        if not np.isfinite(x).all():
            raise PlaygroundError(
                "the features contain NaN or infinity; the images are probably broken (a diverged GAN?)."
            )
    if a.shape[1] != b.shape[1]:
        raise PlaygroundError(f"the two feature sets differ in dimension ({a.shape[1]} and {b.shape[1]}).")
    return a, b


def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (float64) of N×D features: all that FD needs, so real-data stats can be kept."""
    x = np.asarray(features, dtype=np.float64)
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix; rounding's tiny negative eigenvalues become 0."""
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance_from_stats(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||² + Tr(S1 + S2 - 2 (S1 S2)^½): the Fréchet (2-Wasserstein) distance of two Gaussians.

    Tr((S1 S2)^½) is computed as the sum of the square roots of the eigenvalues of the symmetric
    matrix S1^½ S2 S1^½, which has the same eigenvalues as S1 S2. Unlike ``scipy.linalg.sqrtm`` of the
    non-symmetric product, this never yields complex parts and stays exact for singular
    (rank-deficient) covariances, such as fewer images than feature dimensions; no eps offset is needed.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise PlaygroundError("the two feature statistics differ in shape; they come from different networks.")
    root1 = _psd_sqrt(s1)
    middle = root1 @ s2 @ root1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    diff = mu1 - mu2
    fd = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt)
    # The true value is >= 0; what is left below zero is rounding (identical sets give about -1e-12).
    return max(fd, 0.0)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between two sets of feature vectors (N×D and M×D)."""
    a, b = _check_features(a, b)
    return frechet_distance_from_stats(*statistics(a), *statistics(b))


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    m, n = x.shape[0], y.shape[0]
    k_xx = (x @ x.T / d + 1.0) ** 3
    k_yy = (y @ y.T / d + 1.0) ** 3
    k_xy = (x @ y.T / d + 1.0) ** 3
    sum_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    sum_yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(sum_xx + sum_yy - 2.0 * k_xy.mean())


def kernel_inception_distance(
    a: np.ndarray, b: np.ndarray, *, subsets: int = 20, subset_size: int = 500, seed: int = 0
) -> tuple[float, float]:
    """KID: the unbiased MMD² with the kernel k(x, y) = (x·y/d + 1)³, as mean and std over random subsets.

    Each subset draws ``subset_size`` vectors without replacement from each side; when a side has no
    more than that, subsets take half of the smaller side instead, so that the std still measures
    something (subsets of everything would all be equal). The estimate is unbiased at any subset
    size, so it can dip slightly below zero when both sets come from one distribution. The name is
    the literature's; the features need not come from Inception (see ``measure``).
    """
    a, b = _check_features(a, b)
    if subsets < 1 or subset_size < 2:
        raise PlaygroundError("KID needs at least 1 subset of at least 2 images.")
    smaller = min(a.shape[0], b.shape[0])
    m = subset_size if smaller > subset_size else max(2, smaller // 2)
    rng = np.random.default_rng(seed)
    values = [
        _mmd2_unbiased(a[rng.choice(a.shape[0], m, replace=False)], b[rng.choice(b.shape[0], m, replace=False)])
        for _ in range(subsets)
    ]
    return float(np.mean(values)), float(np.std(values))


kid = kernel_inception_distance


# --------------------------------------------------------------------------------------------------
# Getting images into a network
# --------------------------------------------------------------------------------------------------

_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, what PIL's convert("L") uses


def _checked_images(images: Tensor | np.ndarray, what: str = "images", minimum: int = 1) -> Tensor:
    """Check the shape and type of an image batch (values are checked batch by batch, in ``_as_float``)."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    if not isinstance(images, Tensor):
        raise PlaygroundError(f"the {what} must be a tensor of shape N×C×H×W, not {type(images).__name__}.")
    if images.ndim != 4:
        raise PlaygroundError(f"the {what} must have shape N×C×H×W, not {tuple(images.shape)}.")
    if images.shape[0] < minimum:
        raise PlaygroundError(
            f"measuring quality needs at least {minimum} {what}, got {images.shape[0]}; generate or load more images."
        )
    if images.shape[1] not in (1, 3):
        raise PlaygroundError(
            f"the {what} have {images.shape[1]} channels; quality can be measured on 1-channel (grayscale) "
            "or 3-channel (RGB) images, given as N×C×H×W."
        )
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise PlaygroundError(f"the {what} must be floats in [-1, 1] or uint8, not {images.dtype}.")
    return images


def _as_float(batch: Tensor, what: str = "images") -> Tensor:
    """Floats in [-1, 1]: uint8 (0..255) is converted; NaN or a wrong scale gets a sentence."""
    if batch.dtype == torch.uint8:
        return batch.float() / 127.5 - 1.0
    batch = batch.float()
    if not torch.isfinite(batch).all():
        raise PlaygroundError(f"the {what} contain NaN or infinity; the generator has probably diverged.")
    lo, hi = float(batch.min()), float(batch.max())
    if lo < -1.05 or hi > 1.05:
        raise PlaygroundError(
            f"the {what} range from {lo:.3g} to {hi:.3g}; scale them to [-1, 1] (x / 127.5 - 1 for 0..255 pixels)."
        )
    return batch.clamp(-1.0, 1.0)


def _to_network_input(x: Tensor, channels: int, size: int, antialias: bool = True) -> Tensor:
    """Match the network's channels and size: gray→RGB by repeating, RGB→gray by luma; bilinear resize.

    FID resizes without antialiasing (as pytorch-fid does), so its numbers stay comparable; our own
    networks antialias, which only matters when shrinking large images."""
    if x.shape[1] != channels:
        if channels == 3:
            x = x.expand(-1, 3, -1, -1)
        else:
            weights = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
            x = (x * weights).sum(dim=1, keepdim=True)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=antialias)
    return x


# --------------------------------------------------------------------------------------------------
# The playground's own feature networks
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Recipe:
    """How one of the playground's feature networks is made; change ``version`` to retrain every cache."""

    name: str
    dataset: str  # the gans.data.labelled_arrays name
    channels: int
    size: int
    epochs: int
    min_steps: int = 150  # small sets (a few Atari frames per game) get more epochs: BatchNorm needs the steps
    batch_size: int = 64
    lr: float = 1e-3
    held_out: float = 0.2
    seed: int = 0
    version: int = 1


_RECIPES = {
    "mnist": _Recipe("mnist", dataset="mnist", channels=1, size=32, epochs=3),
    "atari": _Recipe("atari", dataset="atari", channels=3, size=64, epochs=2),
}
FEATURE_DIM = 128


class SmallCNN(nn.Module):
    """A plain classifier whose 128-d penultimate layer serves as the feature space.

    Conv-BN-ReLU-MaxPool stages halve the image down to 4×4 (images larger than 32×32 first pass a
    cheap strided stem), then a 128-unit layer (the features), then the class logits. BatchNorm
    makes training quick and stable; it runs in eval mode when measuring.
    """

    def __init__(self, channels: int, size: int, classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c, s, widths = channels, size, iter([32, 64, 128])
        while s > 32:  # the stem: one strided conv per halving, so 64×64 frames cost little more than 32×32
            layers += [nn.Conv2d(c, 32, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True)]
            c, s = 32, s // 2
        while s > 4:
            w = next(widths, 128)
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            layers.append(nn.MaxPool2d(2))
            c, s = w, s // 2
        self.body = nn.Sequential(*layers)
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(c * s * s, FEATURE_DIM), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(FEATURE_DIM, classes))

    def features(self, x: Tensor) -> Tensor:
        return self.embed(self.body(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def _cache_paths(name: str) -> tuple[Path, Path]:
    from playground.settings import home

    folder = home() / "feature-nets"
    return folder / f"{name}.pt", folder / f"{name}.json"


def _load_cached(recipe: _Recipe, device: str) -> tuple[SmallCNN, dict] | None:
    """The cached network and its record, or None when there is none or it is damaged (then we retrain)."""
    weights, record_path = _cache_paths(recipe.name)
    if not weights.exists() and not record_path.exists():
        return None
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if record.get("version") != recipe.version or record.get("sha256") != file_sha256(weights):
            raise ValueError("the weights do not match their record (a different version, or a damaged file)")
        state = torch.load(weights, map_location=device, weights_only=True)
        net = SmallCNN(recipe.channels, recipe.size, int(record["classes"]))
        net.load_state_dict(state, strict=True)
    except Exception as exc:  # noqa: BLE001 - a damaged cache is never fatal: it is rebuilt
        log.warning(
            "the cached %s feature network in %s cannot be used (%s); training it again",
            recipe.name,
            weights.parent,
            exc,
        )
        return None
    return net.to(device).eval(), record


def _batches(n: int, batch_size: int, order: Tensor | None = None) -> Iterator[Tensor]:
    index = order if order is not None else torch.arange(n)
    for start in range(0, n, batch_size):
        yield index[start : start + batch_size]


def _train(recipe: _Recipe, device: str) -> tuple[SmallCNN, dict]:
    """Train the network on its labelled set, deterministically, and report its held-out accuracy."""
    from gans.data import labelled_arrays

    started = time.perf_counter()
    images, labels, class_names = labelled_arrays(recipe.dataset)
    if images.ndim == 3:
        images = images[..., None]
    x_all = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)  # uint8 N×C×H×W, converted per batch
    y_all = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    classes = max(len(class_names), int(y_all.max()) + 1)
    n = len(y_all)
    n_test = round(n * recipe.held_out)
    if n - n_test < recipe.batch_size or n_test < 10 or classes < 2:
        raise DataError(
            f"the '{recipe.dataset}' set has {n} images in {classes} classes, too few to train the "
            f"{recipe.name} feature network; it needs at least {recipe.batch_size + 10} images in 2 or more classes."
        )

    def prepare(index: Tensor) -> Tensor:
        return _to_network_input(x_all[index].float().div_(127.5).sub_(1.0).to(device), recipe.channels, recipe.size)

    on_cuda = torch.device(device).type == "cuda"
    cuda_devices = [torch.device(device).index or 0] if on_cuda else []
    with torch.random.fork_rng(devices=cuda_devices):  # a fixed seed that leaves the caller's random streams alone
        torch.manual_seed(recipe.seed)
        generator = torch.Generator().manual_seed(recipe.seed)
        split = torch.randperm(n, generator=generator)
        test_idx, train_idx = split[:n_test], split[n_test:]
        net = SmallCNN(recipe.channels, recipe.size, classes).to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=recipe.lr)
        epochs = max(recipe.epochs, math.ceil(recipe.min_steps / math.ceil(len(train_idx) / recipe.batch_size)))
        log.info(
            "training the %s feature network on %d images (%d held out), %d epochs",
            recipe.name,
            len(train_idx),
            n_test,
            epochs,
        )
        for epoch in range(epochs):
            net.train()
            order = train_idx[torch.randperm(len(train_idx), generator=generator)]
            total = 0.0
            for batch in _batches(len(order), recipe.batch_size, order):
                if len(batch) < 2:  # BatchNorm cannot train on a single image
                    continue
                loss = F.cross_entropy(net(prepare(batch)), y_all[batch].to(device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            log.info("%s feature network: epoch %d/%d, loss %.4f", recipe.name, epoch + 1, epochs, total / len(order))
    net.eval()
    correct = 0
    with torch.no_grad():
        for batch in _batches(n_test, 256, test_idx):
            correct += int((net(prepare(batch)).argmax(1).cpu() == y_all[batch]).sum())
    accuracy = correct / n_test
    seconds = time.perf_counter() - started
    log.info(
        "%s feature network: held-out accuracy %.4f on %d images, trained in %.1f s",
        recipe.name,
        accuracy,
        n_test,
        seconds,
    )
    if accuracy < 0.8:
        log.warning(
            "the %s feature network reached only %.2f held-out accuracy; its distances will be coarse",
            recipe.name,
            accuracy,
        )
    record = {
        "name": recipe.name,
        "version": recipe.version,
        "dataset": recipe.dataset,
        "classes": classes,
        "class_names": list(class_names),
        "images": n,
        "held_out_images": n_test,
        "held_out_accuracy": accuracy,
        "epochs": epochs,
        "train_seconds": round(seconds, 2),
        "input": f"{recipe.channels}x{recipe.size}x{recipe.size}",
        "feature_dim": FEATURE_DIM,
    }
    return net, record


def _own_network(name: str, device: str) -> FeatureNetwork:
    recipe = _RECIPES[name]
    cached = _load_cached(recipe, device)
    if cached is None:
        net, record = _train(recipe, device)
        weights, record_path = _cache_paths(name)
        state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
        atomic_output(weights, lambda tmp: torch.save(state, tmp))
        # The record names the weights' hash: a torn pair or a damaged file is caught and rebuilt next time.
        record["sha256"] = file_sha256(weights)
        atomic_write_text(record_path, json.dumps(record, indent=2) + "\n")
        log.info("cached the %s feature network at %s", name, weights)
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


# --------------------------------------------------------------------------------------------------
# The FID Inception v3 (architecture only: the weights are a file the user gives)
# --------------------------------------------------------------------------------------------------
#
# The layout and parameter names follow torchvision's Inception3, which is what pytorch-fid's
# weights file was saved from, with the FID variant's differences from torchvision's ImageNet model:
# 1008 classes, the branch average pools of the A, C and E blocks ignore padding
# (count_include_pad=False), and the last E block (Mixed_7c) max-pools its pool branch.


class _ConvBN(nn.Module):
    def __init__(
        self, cin: int, cout: int, kernel: int | tuple[int, int], stride: int = 1, padding: int | tuple[int, int] = 0
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool(x: Tensor) -> Tensor:
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class _InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = _ConvBN(cin, 64, 1)
        self.branch5x5_1 = _ConvBN(cin, 48, 1)
        self.branch5x5_2 = _ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = _ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = _ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _ConvBN(96, 96, 3, padding=1)
        self.branch_pool = _ConvBN(cin, pool_features, 1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                self.branch_pool(_avg_pool(x)),
            ],
            1,
        )


class _InceptionB(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = _ConvBN(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = _ConvBN(cin, 64, 1)
        self.branch3x3dbl_2 = _ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = _ConvBN(96, 96, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch3x3(x),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                F.max_pool2d(x, kernel_size=3, stride=2),
            ],
            1,
        )


class _InceptionC(nn.Module):
    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = _ConvBN(cin, 192, 1)
        self.branch7x7_1 = _ConvBN(cin, c7, 1)
        self.branch7x7_2 = _ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = _ConvBN(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = _ConvBN(cin, c7, 1)
        self.branch7x7dbl_2 = _ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = _ConvBN(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = _ConvBN(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = _ConvBN(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = _ConvBN(cin, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            d = layer(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg_pool(x))], 1)


class _InceptionD(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = _ConvBN(cin, 192, 1)
        self.branch3x3_2 = _ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = _ConvBN(cin, 192, 1)
        self.branch7x7x3_2 = _ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = _ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = _ConvBN(192, 192, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b7 = self.branch7x7x3_1(x)
        for layer in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = layer(b7)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class _InceptionE(nn.Module):
    def __init__(self, cin: int, *, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = _ConvBN(cin, 320, 1)
        self.branch3x3_1 = _ConvBN(cin, 384, 1)
        self.branch3x3_2a = _ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = _ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = _ConvBN(cin, 448, 1)
        self.branch3x3dbl_2 = _ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = _ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = _ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = _ConvBN(cin, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1) if self.max_pool else _avg_pool(x)
        return torch.cat([self.branch1x1(x), b3, d, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """Inception v3 as the FID weights expect it; ``features`` gives the 2048-d pool3 vector."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = _ConvBN(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = _ConvBN(32, 32, 3)
        self.Conv2d_2b_3x3 = _ConvBN(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = _ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = _ConvBN(80, 192, 3)
        self.Mixed_5b = _InceptionA(192, pool_features=32)
        self.Mixed_5c = _InceptionA(256, pool_features=64)
        self.Mixed_5d = _InceptionA(288, pool_features=64)
        self.Mixed_6a = _InceptionB(288)
        self.Mixed_6b = _InceptionC(768, c7=128)
        self.Mixed_6c = _InceptionC(768, c7=160)
        self.Mixed_6d = _InceptionC(768, c7=160)
        self.Mixed_6e = _InceptionC(768, c7=192)
        self.Mixed_7a = _InceptionD(768)
        self.Mixed_7b = _InceptionE(1280, max_pool=False)
        self.Mixed_7c = _InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)  # unused for features; part of the weights file

    def features(self, x: Tensor) -> Tensor:
        """x: N×3×299×299 in [-1, 1] → N×2048 (the pool3 layer FID uses)."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (
            self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
            self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c,
        ):  # fmt: skip
            x = block(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.features(x))


def _inception_network(path: Path, device: str) -> FeatureNetwork:
    path = Path(path).expanduser()
    hint = "pass pytorch-fid's pt_inception-2015-12-05-6726825d.pth, the FID Inception weights as a state dict"
    if not path.is_file():
        raise CheckpointError(f"the Inception weights file {path} does not exist; {hint}.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated, corrupt or foreign files all mean the same to a user
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path} cannot be read as PyTorch weights ({reason}); {hint}.") from None
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(f"{path} is not a state dict of tensors; {hint}.")
    net = FIDInceptionV3()
    expected = net.state_dict()
    # Tolerated differences: BatchNorm's step counters (absent from files saved by older PyTorch)
    # and an auxiliary classifier head, which FID never uses.
    state = {k: v for k, v in state.items() if not k.startswith("AuxLogits.")}
    for key, value in expected.items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = value
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        if wrong:
            k = wrong[0]
            detail = f"{k} has shape {tuple(state[k].shape)} where FID Inception v3 has {tuple(expected[k].shape)}"
        elif missing:
            detail = f"{len(missing)} of FID Inception v3's {len(expected)} tensors are missing, such as {missing[0]}"
        else:
            detail = f"it holds {len(unexpected)} tensors FID Inception v3 does not have, such as {unexpected[0]}"
        raise CheckpointError(f"{path} does not match the FID Inception v3 network ({detail}); {hint}.")
    net.load_state_dict(state, strict=True)
    net.to(device).eval()
    return FeatureNetwork(
        name="inception",
        metric="FID",
        description=f"FID Inception v3 ({path})",
        channels=3,
        size=299,
        extract=net.features,
        dim=2048,
        device=device,
        batch_size=32,
        antialias=False,
    )


# --------------------------------------------------------------------------------------------------
# The public face
# --------------------------------------------------------------------------------------------------


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
        return self._features(_checked_images(images), "images")

    @torch.no_grad()
    def _features(self, images: Tensor, what: str) -> np.ndarray:
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
) -> FeatureNetwork:
    """The network to measure images with ``channels`` channels: the FID Inception when its weights
    are given, else the playground's own (``mnist`` for 1 channel, ``atari`` for 3, trained and cached
    on first use). ``name`` picks the playground's network explicitly ("mnist" or "atari")."""
    from playground.settings import resolve_device

    device = resolve_device(device)
    if inception_weights is not None:
        return _inception_network(Path(inception_weights), device)
    if name is None:
        if channels not in (1, 3):
            raise PlaygroundError(
                f"quality can be measured on 1-channel or 3-channel images, not {channels}-channel ones."
            )
        name = "mnist" if channels == 1 else "atari"
    if name not in _RECIPES:
        raise PlaygroundError(f"unknown feature network '{name}'; choose one of {', '.join(sorted(_RECIPES))}.")
    return _own_network(name, device)


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
) -> Quality:
    """FD and KID between real and generated images (N×C×H×W in [-1, 1], the same C on both sides).

    The network is chosen by the channel count (1 → mnist, 3 → atari) unless ``inception_weights``
    is given (then it is real FID) or a ``network`` from ``feature_network`` is passed (to reuse one
    across many measurements). FD and KID both shrink with more images, so compare numbers measured
    on the same counts.
    """
    real = _checked_images(real, "real images", minimum=2)
    fake = _checked_images(fake, "generated images", minimum=2)
    if real.shape[1] != fake.shape[1]:
        raise PlaygroundError(
            f"the real images have {real.shape[1]} channels and the generated ones {fake.shape[1]}; "
            "compare images of the same kind."
        )
    if network is None:
        network = feature_network(real.shape[1], inception_weights=inception_weights, device=device)
    a, b = network._features(real, "real images"), network._features(fake, "generated images")
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
