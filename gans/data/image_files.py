"""Image files as the GANs see them: found, checked, decoded, squared and scaled to [-1, 1].

One resize rule (shorter side to S, then the centre square) and one value range keep the models free
of data plumbing, whatever the source; a file that cannot be read is named in one sentence.
"""

from __future__ import annotations

import logging
import numbers
import os
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from playground.atomic import atomic_output
from playground.checks import folders_once
from playground.errors import DataError

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pnm"}
)
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 8, 1024

_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


MAX_FOLDERS = 20_000  # a dataset with more folders than this is a disk, not a dataset
_SYSTEM_FOLDERS = re.compile(r"^/(proc|sys|dev)(/|$)")  # kernel files: endless, and never images


def list_images(folder: Path) -> list[Path]:
    """Image files under ``folder``, recursively and sorted, so class folders and nested sets work.

    Hidden files and folders (``.DS_Store``, macOS ``._x.png``, ``.ipynb_checkpoints``) are skipped:
    they are never part of a dataset and are often not readable images.
    """
    found: list[Path] = []
    if _SYSTEM_FOLDERS.match(os.path.realpath(folder)):
        raise DataError("gans.system_folder", folder=folder)
    for count, (root, dirs, files) in enumerate(folders_once(folder), 1):  # links followed, loops not
        if count > MAX_FOLDERS:
            raise DataError("gans.too_many_folders", folder=folder, limit=MAX_FOLDERS)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(
            Path(root) / f for f in files if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_EXTENSIONS
        )
    return sorted(found)


def _unreadable(path: Path) -> DataError:
    return DataError("gans.unreadable_image", path=path)


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
        raise DataError("gans.bad_image_size", size=repr(image_size), low=MIN_IMAGE_SIZE, high=MAX_IMAGE_SIZE)
    return int(image_size)  # type: ignore[call-overload]


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
