"""A picture of the game next to the environment picker: its first screen, rendered once and cached.

Rendering opens the game (ale-py for Atari), which the web app's process never loads: the page asks
a short child process (``playground _ui thumbnail ENV``, which calls ``render``) for the chosen game
only, and the PNG is kept under ``<home>/thumbnails/`` so the next visit costs a file read.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from playground import settings
from playground.atomic import atomic_output
from playground.errors import PlaygroundError

log = logging.getLogger(__name__)

WARMUP_FRAMES = 60  # many games show a black screen for the very first frames
RENDER_TIMEOUT_S = 60.0


def cache_path(env_id: str) -> Path:
    return settings.home() / "thumbnails" / (re.sub(r"[^A-Za-z0-9_.-]+", "_", env_id) + ".png")


_NONE: set[Path] = set()  # pictures that could not be rendered: not asked for again by this process


def thumbnail(env_id: str) -> Path | None:
    """The cached PNG of ``env_id``'s first screen, rendered by a child process the first time;
    None when it cannot be rendered (never raises)."""
    path = cache_path(env_id)
    if not path.is_file() and path not in _NONE:
        from playground import jobs

        try:
            jobs.run_cli(["_ui", "thumbnail", "--", env_id], timeout=RENDER_TIMEOUT_S)
        except PlaygroundError as exc:
            log.info("no thumbnail for %s: %s", env_id, exc)
        if not path.is_file():
            _NONE.add(path)
    return path if path.is_file() else None


def render(env_id: str) -> Path | None:
    """Render ``env_id``'s first screen into the cache (in the child: it opens the game); None when it
    cannot be rendered, a missing ROM or render extra only costs the picture."""
    path = cache_path(env_id)
    try:
        from PIL import Image

        from playground.envs import resolve
        from playground.envs.watch import first_screen

        frame = first_screen(resolve(env_id), warmup_frames=WARMUP_FRAMES)
        image = Image.fromarray(frame)
        atomic_output(path, lambda tmp: image.save(tmp, format="PNG"))
        return path
    except Exception as exc:
        log.info("no thumbnail for %s: %s", env_id, exc)
        return None
