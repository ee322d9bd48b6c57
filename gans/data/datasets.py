"""The torch Datasets every GAN trains on, and ``DatasetInfo``, what a dataset is without loading it.

Three kinds, after the layouts pix2pix and CycleGAN made common: ``images`` (labelled or not),
``paired`` (A and B of one scene) and ``unpaired`` (two domains). Items are float32 in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import torch
from torch.utils.data import Dataset

from gans.data.image_files import _chw, _read, _square, _to_float

DataKind = Literal["images", "paired", "unpaired"]
KINDS: tuple[str, ...] = get_args(DataKind)

FOLDER_CACHE_BYTES = 512 * 2**20  # decoded images of a user folder kept in memory up to this size


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is, without loading it: for listings, forms and run configs."""

    name: str  # "mnist-5k", "atari:Pong", or the folder path as given
    kind: DataKind
    description: str  # one sentence: what it is, where it comes from
    size: int  # images (images kind), pairs (paired), images in A (unpaired)
    channels: int  # channels of the images (images kind) or of A
    size_b: int | None = None  # unpaired: images in B
    channels_b: int | None = None  # paired/unpaired: channels of B
    classes: tuple[str, ...] | None = None  # class names when labelled (images kind only)


class _InMemory:
    """Built-ins: decoded and resized once to uint8 N×C×S×S, so an epoch costs no decoding."""

    def __init__(self, *images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        return tuple(images[i] for images in self.images)


class _OnDisk:
    """A user's files, decoded when first asked for and kept while they fit in ``FOLDER_CACHE_BYTES``:
    small folders end up in memory, 100,000 photos do not exhaust it."""

    def __init__(self, paths: Sequence[Path], load: Callable[[Path], tuple[torch.Tensor, ...]]) -> None:
        self.paths = list(paths)
        self.load = load
        self.cache: dict[int, tuple[torch.Tensor, ...]] = {}
        self.cached_bytes = 0

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        hit = self.cache.get(i)
        if hit is None:
            hit = self.load(self.paths[i])
            nbytes = sum(t.numel() for t in hit)
            if self.cached_bytes + nbytes <= FOLDER_CACHE_BYTES:
                self.cache[i] = hit
                self.cached_bytes += nbytes
        return hit


_Source = _InMemory | _OnDisk


def _load_one(path: Path, channels: int, size: int) -> tuple[torch.Tensor]:
    return (_chw(_square(_read(path, channels), size)),)


def _load_pair(path: Path, channels: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An ``aligned`` file: A is the left half, B the right half, each squared on its own."""
    img = _read(path, channels)
    w, h = img.size
    half = w // 2
    a, b = img.crop((0, 0, half, h)), img.crop((half, 0, w, h))
    return _chw(_square(a, size)), _chw(_square(b, size))


class GanDataset(Dataset):
    """What every GAN trains on: ``info`` says what it is, items are float32 in [-1, 1] at ``image_size``.

    ``flip`` draws from torch's global generator, so the training loop's seed decides it.
    ``set_epoch`` changes the random parts that depend on the epoch (unpaired B sampling), like
    ``DistributedSampler.set_epoch``: call it each epoch for new pairings that still repeat per seed.
    """

    labelled: bool = False
    n_classes: int = 0

    def __init__(self, info: DatasetInfo, image_size: int, flip: bool, seed: int) -> None:
        self.info = info
        self.image_size = image_size
        self.flip = flip
        self.seed = seed % 2**63  # numpy seeds must not be negative
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _flip_now(self) -> bool:
        return self.flip and bool(torch.rand(()) < 0.5)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.info.name!r}, kind={self.info.kind}, n={len(self)}, size={self.image_size})"
        )


class ImageDataset(GanDataset):
    """``images`` kind: ``ds[i] -> (x, label)``, label −1 when unlabelled (DCGAN ignores it, cDCGAN uses it)."""

    def __init__(
        self, info: DatasetInfo, source: _Source, labels: torch.Tensor | None, image_size: int, flip: bool, seed: int
    ) -> None:
        super().__init__(info, image_size, flip, seed)
        self.source = source
        self.labels = labels
        self.labelled = labels is not None
        self.n_classes = len(info.classes or ()) if self.labelled else 0

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        (x,) = self.source[i]
        x = _to_float(x)
        if self._flip_now():
            x = x.flip(-1)
        return x, int(self.labels[i]) if self.labels is not None else -1


class PairedDataset(GanDataset):
    """``paired`` kind: ``ds[i] -> (a, b)``; one flip for both, or pix2pix would learn to mirror."""

    def __init__(self, info: DatasetInfo, source: _Source, image_size: int, flip: bool, seed: int) -> None:
        super().__init__(info, image_size, flip, seed)
        self.source = source

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = (_to_float(t) for t in self.source[i])
        if self._flip_now():
            a, b = a.flip(-1), b.flip(-1)
        return a, b


class UnpairedDataset(GanDataset):
    """``unpaired`` kind: ``ds[i] -> (a, b)`` with a = A[i % nA] and b drawn from B by (seed, epoch, i),
    so every A image is seen each epoch and two runs with one seed see the same pairs."""

    def __init__(self, info: DatasetInfo, a: _Source, b: _Source, image_size: int, flip: bool, seed: int) -> None:
        super().__init__(info, image_size, flip, seed)
        self.a, self.b = a, b

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self)
        if not -n <= i < n:  # plain iteration over a Dataset stops on IndexError; i % nA never raises one
            raise IndexError(f"index {i} out of range for {n} items")
        i %= n
        j = int(np.random.default_rng((self.seed, self.epoch, i)).integers(len(self.b)))
        (a,) = self.a[i % len(self.a)]
        (b,) = self.b[j]
        a, b = _to_float(a), _to_float(b)
        if self._flip_now():
            a = a.flip(-1)
        if self._flip_now():
            b = b.flip(-1)
        return a, b
