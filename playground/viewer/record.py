"""Recordings: MP4 through imageio with the ffmpeg that ships inside imageio-ffmpeg (no system ffmpeg),
GIF through pillow. Written to a temporary file beside the target and moved into place only when
complete, so a crash or Ctrl-C never leaves half a video under the name the user asked for.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from playground.atomic import temporary_beside
from playground.i18n import Words
from playground.viewer.errors import RecordingError

log = logging.getLogger(__name__)

FORMATS = (".mp4", ".gif")
GIF_MAX_FPS = 25  # GIF delays are in 1/100 s and browsers slow down anything faster than 50 fps


def check_record_path(path: str | Path, *, create: bool = False) -> Path:
    """The absolute path to record to, or one sentence saying why it cannot be written.

    Checking creates nothing; ``create`` (when recording starts) makes the missing folders.
    """
    path = Path(path).expanduser().absolute()
    suffix = path.suffix.lower()
    if path.is_dir():
        raise RecordingError("viewer.record_is_folder", path=path)
    if suffix not in FORMATS:
        if suffix:
            raise RecordingError("viewer.record_bad_suffix", name=path.name, suffix=suffix)
        raise RecordingError("viewer.record_no_suffix", name=path.name)
    existing = path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    reason: str | Words | None = None
    if not existing.is_dir():
        reason = Words("viewer.record_parent_is_file", folder=existing)
    elif not os.access(existing, os.W_OK | os.X_OK):
        reason = Words("viewer.record_not_writable", folder=existing)
    elif create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".write-test-"):
                pass
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
    if reason is not None:
        raise RecordingError("viewer.record_cannot_write", path=path, reason=reason)
    return path


def default_video_path(folder: Path, run_id: str, step: int, suffix: str = ".mp4") -> Path:
    """``<run folder>/videos/<run>-step-<N>-<time>.mp4``: where ``--headless`` records when no ``--record`` is given."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = folder / "videos" / f"{run_id}-step-{step}-{stamp}"
    path = base.with_suffix(suffix)
    n = 2
    while path.exists():
        path = Path(f"{base}-{n}{suffix}")
        n += 1
    return path


class Recorder:
    """Frames in, one file out. ``close()`` finishes the file and moves it into place; ``abort()`` drops it."""

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = check_record_path(path, create=True)
        self.format = self.path.suffix.lower()
        self.fps = float(fps)
        self.frames = 0  # frames given to add()
        self.written = 0  # frames in the file
        self.size: tuple[int, int] | None = None  # (width, height)
        fd, tmp = temporary_beside(self.path, prefix=f".{self.path.stem}.", suffix=self.format)
        os.close(fd)
        self.tmp = Path(tmp)
        self._writer: Any = None
        self._gif: list[Any] = []
        # A GIF keeps every k-th frame so that it plays at no more than GIF_MAX_FPS, in real time.
        self.gif_every = max(1, math.ceil(self.fps / GIF_MAX_FPS)) if self.format == ".gif" else 1

    @property
    def file_fps(self) -> float:
        return self.fps / self.gif_every

    def add(self, frame: np.ndarray) -> None:
        height, width = frame.shape[:2]
        if self.size is None:
            self.size = (width, height)
        elif self.size != (width, height):
            raise ValueError(f"frame size changed from {self.size} to {(width, height)} within one recording")
        index = self.frames
        self.frames += 1
        if self.format == ".mp4":
            if self._writer is None:
                self._writer = self._open_mp4()
            self._writer.append_data(frame)
            self.written += 1
        elif index % self.gif_every == 0:
            from PIL import Image

            # Palette images now (one byte a pixel) keep a long GIF's memory in check.
            self._gif.append(Image.fromarray(frame, "RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE))
            self.written += 1

    def _open_mp4(self) -> Any:
        import imageio.v2 as imageio

        try:
            return imageio.get_writer(
                str(self.tmp), format="FFMPEG", mode="I", fps=self.fps, codec="libx264", pixelformat="yuv420p",
                macro_block_size=2, ffmpeg_log_level="error", output_params=["-preset", "ultrafast"],
            )
        except (OSError, RuntimeError) as exc:
            raise RecordingError("viewer.record_no_encoder", error=str(exc)) from None

    def close(self) -> Path | None:
        """Finish the file and move it to ``path``; None (and no file) when no frame was recorded."""
        try:
            if self.written == 0:
                self.abort()
                return None
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            if self._gif:
                first, rest = self._gif[0], self._gif[1:]
                duration = max(20, round(1000 / self.file_fps / 10) * 10)  # milliseconds, in GIF's 10 ms steps
                first.save(self.tmp, format="GIF", save_all=True, append_images=rest, duration=duration, loop=0)
                self._gif = []
            with open(self.tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise
        log.info("recorded %d frames to %s", self.written, self.path)
        return self.path

    def abort(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception as exc:  # noqa: BLE001 - the file is being thrown away anyway
                log.debug("closing the encoder of an abandoned recording: %s", exc)
            self._writer = None
        self._gif = []
        self.tmp.unlink(missing_ok=True)
