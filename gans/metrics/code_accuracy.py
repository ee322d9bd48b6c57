"""Did an InfoGAN's categorical code learn the digit? Its code accuracy.

Chen et al. 2016 (arXiv:1606.03657, section 7.2) report that their 10-way code, used as a classifier,
gets MNIST digits wrong 5% of the time. We measure it so: generate images for each value of the code,
classify them, and count how often the code value and the digit agree under the best one-to-one
pairing of values with digits (the code is never told which digit is which, so its value 0 may well
draw sevens). The pairing is the assignment problem on the value × digit count matrix (scipy's
``linear_sum_assignment``), as clustering accuracy is usually scored.

Chance is about 1/10 for a 10-way code: a generator that ignores its code gives every value the same
mix of digits, and any pairing then collects one tenth of the images (a little more on few images,
as the best pairing also fits the noise).

The pure parts (``count_matrix``, ``best_matching``) take arrays; ``digit_classifier`` is the
playground's own MNIST network (``own_networks``: trained once on 5,000 MNIST digits and cached), its
classifier head this time rather than its features.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from gans.metrics.images import _as_float, _checked_images, _to_network_input
from gans.metrics.own_networks import _RECIPES, ProgressFn, _load_cached, _save_cached, _train
from playground.i18n import Words


@dataclass(frozen=True)
class Matching:
    """The best one-to-one pairing of code values with classes, and how many images it gets right."""

    accuracy: float  # the paired cells' share of all images (0 when there are none)
    pairs: tuple[int, ...]  # pairs[v]: the class paired with code value v; -1 when more values than classes
    counts: np.ndarray  # the value × class count matrix it was found in


def count_matrix(values: np.ndarray | Tensor, predicted: np.ndarray | Tensor, n_values: int,
                 n_classes: int) -> np.ndarray:
    """``counts[v, d]``: how many images made with code value v were classified as d."""
    values, predicted = np.asarray(values, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    if values.shape != predicted.shape:
        raise ValueError(f"{values.shape[0]} code values but {predicted.shape[0]} predictions")
    counts = np.zeros((n_values, n_classes), dtype=np.int64)
    np.add.at(counts, (values, predicted), 1)
    return counts


def best_matching(counts: np.ndarray) -> Matching:
    """The pairing of rows (code values) with columns (classes), each used at most once, that covers the
    most images; its accuracy is the covered share of all images."""
    counts = np.asarray(counts)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    pairs = [-1] * counts.shape[0]
    for r, c in zip(rows, cols):
        pairs[int(r)] = int(c)
    total = counts.sum()
    accuracy = float(counts[rows, cols].sum() / total) if total else 0.0
    return Matching(accuracy, tuple(pairs), counts)


def digit_classifier(device: str = "cpu", progress: ProgressFn | None = None) -> Callable[[Tensor], np.ndarray]:
    """The playground's MNIST network as a classifier: images (N×1×H×W in [-1, 1], any size) → predicted
    digits. Trained and cached on first use, like the ``FD-mnist`` features (``progress`` hears of it)."""
    recipe = _RECIPES["mnist"]
    cached = _load_cached(recipe, device)
    if cached is None:
        net, record = _train(recipe, device, progress=progress)
        _save_cached(recipe, net, record)
    else:
        net, _record = cached
    net.eval()
    what = Words("gans.what_generated_images")

    @torch.no_grad()
    def classify(images: Tensor) -> np.ndarray:
        images = _checked_images(images, what)
        out = []
        for start in range(0, images.shape[0], 256):
            batch = _as_float(images[start:start + 256].to(device), what)
            out.append(net(_to_network_input(batch, recipe.channels, recipe.size)).argmax(1).cpu())
        return torch.cat(out).numpy()

    return classify


def code_accuracy(images: Tensor, values: Tensor, n_values: int, classify: Callable[[Tensor], np.ndarray],
                  n_classes: int = 10) -> Matching:
    """Classify images made with known code values and pair values with classes as well as possible."""
    return best_matching(count_matrix(values, classify(images), n_values, n_classes))
