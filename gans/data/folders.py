"""A user's folders in the three layouts: a plain image folder (class subfolders give labels),
``aligned`` A|B files (pix2pix) and ``unaligned`` trainA/ and trainB/ (CycleGAN).

Bad data must become one sentence before training starts, not a traceback an hour in: every file
is checked up front with a cheap header read and ``verify()``; pixels are decoded lazily.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import torch

from gans.data.datasets import (
    DatasetInfo,
    GanDataset,
    ImageDataset,
    PairedDataset,
    UnpairedDataset,
    _load_one,
    _load_pair,
    _OnDisk,
)
from gans.data.image_files import IMAGE_EXTENSIONS, _inspect, list_images
from playground.errors import DataError

@dataclass(frozen=True)
class _Folder:
    """What checking a user folder found: the files per side (one list, or A and B) and the labels."""

    info: DatasetInfo
    sides: tuple[list[Path], ...]
    labels: list[int] | None = None


def _existing_folder(spec: str) -> Path:
    path = Path(spec).expanduser()
    if not path.exists():
        raise DataError("gans.folder_missing", path=path)
    if not path.is_dir():
        raise DataError("gans.folder_is_file", path=path)
    return path


def _checked_images(folder: Path) -> tuple[list[Path], int, list[tuple[int, int]]]:
    """Every image under ``folder``, each proved readable; 1 channel only when every file is grayscale."""
    paths = list_images(folder)
    if not paths:
        kinds = ", ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
        raise DataError("gans.folder_no_images", folder=folder, kinds=kinds)
    checked = [_inspect(p) for p in paths]
    channels = 1 if all(c == 1 for c, _ in checked) else 3
    return paths, channels, [size for _, size in checked]


def _image_folder(spec: str, folder: Path) -> _Folder:
    """Images directly in the folder: unlabelled (subfolders' images count too). Only subfolders:
    each one is a class, named and numbered in sorted order, as torchvision's ImageFolder does."""
    paths, channels, _ = _checked_images(folder)
    if any(p.parent == folder for p in paths):
        description = f"A folder of {len(paths):,} unlabelled images at {folder}."
        return _Folder(DatasetInfo(spec, "images", description, len(paths), channels), (paths,))
    class_of = [p.relative_to(folder).parts[0] for p in paths]
    classes = tuple(sorted(set(class_of)))
    index = {name: k for k, name in enumerate(classes)}
    description = f"A folder of {len(paths):,} images in {len(classes)} classes (its subfolders) at {folder}."
    info = DatasetInfo(spec, "images", description, len(paths), channels, classes=classes)
    return _Folder(info, (paths,), [index[c] for c in class_of])


def _aligned_folder(spec: str, folder: Path) -> _Folder:
    """pix2pix's ``aligned`` layout; its datasets ship train/ val/ test/, and training wants train/."""
    root = folder / "train" if (folder / "train").is_dir() else folder
    paths, channels, sizes = _checked_images(root)
    for path, (w, h) in zip(paths, sizes):
        if w % 2 or w != 2 * h:
            raise DataError("gans.aligned_bad_size", path=path, width=w, height=h)
    description = f"An aligned (pix2pix) folder of {len(paths):,} A|B image pairs at {root}."
    return _Folder(DatasetInfo(spec, "paired", description, len(paths), channels, channels_b=channels), (paths,))


def _unaligned_folder(spec: str, folder: Path) -> _Folder:
    """CycleGAN's ``unaligned`` layout: two domains, trainA/ and trainB/, any number of images each."""
    for side in ("trainA", "trainB"):
        if not (folder / side).is_dir():
            raise DataError("gans.unaligned_missing_side", folder=folder, side=side)
    paths_a, channels_a, _ = _checked_images(folder / "trainA")
    paths_b, channels_b, _ = _checked_images(folder / "trainB")
    description = (
        f"An unaligned (CycleGAN) folder with {len(paths_a):,} images in trainA/ and {len(paths_b):,} in trainB/ "
        f"at {folder}."
    )
    info = DatasetInfo(spec, "unpaired", description, len(paths_a), channels_a, len(paths_b), channels_b)
    return _Folder(info, (paths_a, paths_b))


_FOLDER_READERS = {"images": _image_folder, "paired": _aligned_folder, "unpaired": _unaligned_folder}


def _build_folder(found: _Folder, size: int, flip: bool, seed: int) -> GanDataset:
    info = found.info
    if info.kind == "images":
        source = _OnDisk(found.sides[0], functools.partial(_load_one, channels=info.channels, size=size))
        labels = torch.tensor(found.labels, dtype=torch.int64) if found.labels is not None else None
        return ImageDataset(info, source, labels, size, flip, seed)
    if info.kind == "paired":
        source = _OnDisk(found.sides[0], functools.partial(_load_pair, channels=info.channels, size=size))
        return PairedDataset(info, source, size, flip, seed)
    a = _OnDisk(found.sides[0], functools.partial(_load_one, channels=info.channels, size=size))
    b = _OnDisk(found.sides[1], functools.partial(_load_one, channels=info.channels_b or info.channels, size=size))
    return UnpairedDataset(info, a, b, size, flip, seed)
