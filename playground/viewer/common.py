"""Pieces every viewer loop shares (``watch``, ``gan watch``, ``play``, ``duel``): option checks, one
torch thread, waiting for a run's first checkpoint, screenshots, and the line that says what was recorded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pygame

from playground.atomic import atomic_write
from playground.errors import PlaygroundError
from playground.viewer.controls import WatchControls
from playground.viewer.display import Screen, canvas_array
from playground.viewer.follow import POLL_S, sleep_responsively
from playground.viewer.hud import draw_message

Notify = Callable[[str], None]


def check_view_options(*, zoom: int | None = None, fps: int | None = None, episodes: int | None = None,
                       max_frames: int | None = None, seed: int | None = None) -> None:
    """One sentence for each out-of-range number, before anything is opened."""
    if zoom is not None and not 1 <= zoom <= 8:
        raise PlaygroundError(f"--zoom must be a whole number from 1 to 8, not {zoom}.")
    if fps is not None and not 1 <= fps <= 240:
        raise PlaygroundError(f"--fps must be a whole number from 1 to 240, not {fps}.")
    if episodes is not None and episodes < 1:
        raise PlaygroundError(f"--episodes must be a positive whole number, not {episodes}.")
    if max_frames is not None and max_frames < 1:
        raise PlaygroundError(f"--max-frames must be a positive whole number, not {max_frames}.")
    if seed is not None and seed < 0:
        raise PlaygroundError(f"--seed must be zero or a positive whole number, not {seed}.")


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """One observation at a time needs no thread pool, and a run training beside us wants the cores."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def checkpoint_waiter(screen: Screen, notify: Notify | None) -> Callable[[str], bool]:
    """Follow mode before the first checkpoint: say so (on screen, and once to the CLI), poll, stay responsive."""
    told: set[str] = set()
    quit_asked = False

    def keep_going() -> bool:
        nonlocal quit_asked
        controls = WatchControls()
        for event in screen.events():
            controls.handle(event)
        quit_asked = quit_asked or controls.quit
        return not quit_asked

    def wait(message: str) -> bool:
        if notify is not None and message not in told:
            told.add(message)
            notify(message + "; Ctrl-C stops.")
        if screen.window is not None:
            draw_message(screen.canvas, [message, "the viewer starts when the training writes one", "q quits"])
            screen.present()
        return sleep_responsively(POLL_S, keep_going)

    return wait


def save_screenshot(canvas: pygame.Surface, path: Path) -> Path:
    """The whole picture as a PNG, written atomically; raises OSError when it cannot be written."""
    from PIL import Image

    image = Image.fromarray(canvas_array(canvas), "RGB")
    return atomic_write(path, lambda fh: image.save(fh, format="PNG"))


def recorded_line(path: Path, frames: int, size: tuple[int, int], fps: float, elapsed_s: float) -> str:
    rate = frames / elapsed_s if elapsed_s > 0 else 0.0
    return (f"recorded {frames:,} frames ({size[0]}x{size[1]}, {fps:g} fps) "
            f"in {elapsed_s:.1f} s ({rate:.0f} frames/s) to {path}")
