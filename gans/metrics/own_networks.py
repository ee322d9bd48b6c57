"""The playground's own feature networks (``FD-mnist``, ``FD-atari``): a small CNN trained once on
built-in labelled data, deterministically, and cached under the home folder with its record.

No Inception weights can be downloaded here; these numbers rank models trained here against each
other and are never called FID. The held-out accuracy in each record says how well it learned.
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

from gans.metrics.images import _to_network_input
from playground.atomic import atomic_output, atomic_write_text
from playground.errors import DataError
from playground.store import file_sha256

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class NetworkProgress:
    """How far the one-off training of a feature network is (a first ``gan eval`` waits for it), for a door
    to show: the library never prints."""

    network: str  # "mnist" or "atari"
    step: int  # optimizer steps done; 0 while the labelled images are being prepared
    total: int  # optimizer steps in all; 0 until the images are ready
    epoch: int  # the epoch under way, from 1; 0 while preparing
    epochs: int


ProgressFn = Callable[[NetworkProgress], None]


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


def _train(recipe: _Recipe, device: str, progress: ProgressFn | None = None) -> tuple[SmallCNN, dict]:
    """Train the network on its labelled set, deterministically, and report its held-out accuracy.
    ``progress`` hears of every optimizer step: this takes a minute or more on a CPU."""
    from gans.data import labelled_arrays

    def report(step: int, total: int, epoch: int, epochs: int) -> None:
        if progress is not None:
            progress(NetworkProgress(recipe.name, step, total, epoch, epochs))

    started = time.perf_counter()
    report(0, 0, 0, 0)
    images, labels, class_names = labelled_arrays(recipe.dataset)
    if images.ndim == 3:
        images = images[..., None]
    x_all = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)  # uint8 N×C×H×W, converted per batch
    y_all = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    classes = max(len(class_names), int(y_all.max()) + 1)
    n = len(y_all)
    n_test = round(n * recipe.held_out)
    if n - n_test < recipe.batch_size or n_test < 10 or classes < 2:
        raise DataError("gans.feature_data_too_small", dataset=recipe.dataset, n=n, classes=classes,
                        network=recipe.name, needed=recipe.batch_size + 10)

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
        full, rest = divmod(len(train_idx), recipe.batch_size)
        steps, step = epochs * (full + (1 if rest >= 2 else 0)), 0
        report(0, steps, 1, epochs)
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
                step += 1
                report(step, steps, epoch + 1, epochs)
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


def _save_cached(recipe: _Recipe, net: SmallCNN, record: dict) -> dict:
    """Write the weights, then their record naming the weights' hash, so a torn pair or a damaged file
    is caught by ``_load_cached`` and rebuilt next time. Returns the record as written."""
    weights, record_path = _cache_paths(recipe.name)
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    atomic_output(weights, lambda tmp: torch.save(state, tmp))
    record = {**record, "sha256": file_sha256(weights)}
    atomic_write_text(record_path, json.dumps(record, indent=2) + "\n")
    log.info("cached the %s feature network at %s", recipe.name, weights)
    return record
