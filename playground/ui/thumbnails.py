"""A picture of the game next to the environment picker: its first screen, rendered once and cached.

Only the chosen game is rendered (about 0.1 s with ale-py, no Gymnasium env, no training code),
and the PNG is kept under ``<home>/thumbnails/`` so the next visit costs a file read.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from playground import settings
from playground.atomic import atomic_output

log = logging.getLogger(__name__)

ATARI_ENTRY_POINT = "ale_py.env:AtariEnv"  # the same test as playground.envs._is_atari
WARMUP_FRAMES = 60  # many games show a black screen for the very first frames


def cache_path(env_id: str) -> Path:
    return settings.home() / "thumbnails" / (re.sub(r"[^A-Za-z0-9_.-]+", "_", env_id) + ".png")


def _atari_frame(rom: str) -> np.ndarray:
    import ale_py
    from ale_py import roms

    path = roms.get_rom_path(rom)
    if path is None:
        raise FileNotFoundError(rom)
    ale = ale_py.ALEInterface()
    ale.setLoggerMode(ale_py.LoggerMode.Error)
    ale.setInt("random_seed", 0)
    ale.loadROM(str(path))
    ale.reset_game()
    for _ in range(WARMUP_FRAMES):
        ale.act(ale_py.Action.NOOP)
    return np.asarray(ale.getScreenRGB())


def _classic_frame(env_id: str) -> np.ndarray | None:
    import gymnasium as gym

    env = gym.make(env_id, render_mode="rgb_array")
    try:
        env.reset(seed=0)
        frame = env.render()
    finally:
        env.close()
    return None if frame is None else np.asarray(frame)


def thumbnail(env_id: str) -> Path | None:
    """The cached PNG of ``env_id``'s first screen; None when it cannot be rendered (never raises)."""
    path = cache_path(env_id)
    if path.is_file():
        return path
    try:
        import ale_py
        import gymnasium as gym

        gym.register_envs(ale_py)  # as playground.envs does, without importing the trainers' stack
        spec = gym.spec(env_id)
        if spec.entry_point == ATARI_ENTRY_POINT:
            frame = _atari_frame(str(spec.kwargs["game"]))
        else:
            frame = _classic_frame(env_id)
        if frame is None:
            return None
        from PIL import Image

        image = Image.fromarray(frame.astype(np.uint8))
        atomic_output(path, lambda tmp: image.save(tmp, format="PNG"))
        return path
    except Exception as exc:  # a missing ROM or render extra only costs the picture
        log.info("no thumbnail for %s: %s", env_id, exc)
        return None
