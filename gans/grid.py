"""Sample grids and time-lapses: what the viewer, the UI and the run folder show of a GAN learning."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from playground.atomic import atomic_write_bytes


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """N×C×H×W in [-1, 1] → N×H×W×3 uint8 (grayscale repeated to RGB)."""
    images = images.detach().float().cpu().clamp(-1, 1)
    if images.size(1) == 1:
        images = images.repeat(1, 3, 1, 1)
    return ((images + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def grid(images: torch.Tensor, columns: int, pad: int = 2) -> np.ndarray:
    """Tile images into one H×W×3 uint8 picture, ``columns`` per row, with a dark border."""
    tiles = to_uint8(images)
    n, h, w, _ = tiles.shape
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    out = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, 3), 24, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y : y + h, x : x + w] = tile
    return out


def save_png(picture: np.ndarray, path: Path) -> Path:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())


def save_timelapse(paths: Sequence[Path], out: Path, *, max_frames: int = 80, frame_ms: int = 200) -> Path | None:
    """A looping GIF of the sample grids in order (evenly thinned to ``max_frames``), the last one held."""
    from PIL import Image

    paths = [p for p in paths if p.is_file()]
    if not paths:
        return None
    if len(paths) > max_frames:
        keep = np.linspace(0, len(paths) - 1, max_frames).round().astype(int)
        paths = [paths[i] for i in sorted(set(keep.tolist()))]
    frames = []
    for p in paths:
        with Image.open(p) as im:
            frames.append(im.convert("RGB").quantize(colors=255))
    durations = [frame_ms] * (len(frames) - 1) + [frame_ms * 8]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return atomic_write_bytes(out, buffer.getvalue())
