"""Atari frames played locally in the ALE: the raw material of every Atari built-in set.

Nothing downloads: a game is played with seeded random actions once, and its frames are cached
under the home folder as a compressed .npz, so only the first use pays for them.
"""

from __future__ import annotations

import difflib
import functools
import logging
import math
import os
import time
import zipfile

import numpy as np

from gans.data.image_files import _resize_all
from playground import settings
from playground.atomic import atomic_write
from playground.errors import DataError
from playground.i18n import Words

logger = logging.getLogger(__name__)

# Atari frames: how many per game, and how they are played. The env var lets tests use ~100.
ATARI_FRAMES = 2000
ATARI_FRAMES_ENV = "PLAYGROUND_ATARI_FRAMES"
ATARI_KEEP_EVERY = 4  # keep every 4th agent step: 16 emulator frames apart with v5's frame skip of 4
ATARI_EPISODES = 5  # frames come from at least this many seeded episodes, for variety
ATARI_CACHE_VERSION = 1  # bump when the way frames are played changes, so old caches are not reused


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
        raise DataError("gans.unknown_atari_game_close", name=name, close=_either(close))
    raise DataError("gans.unknown_atari_game", name=name)


def _either(names: list[str]) -> str | Words:
    """One to three names as "A", "A or B", "A or B or C" (in the sentence's language)."""
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return Words("gans.either_of_two", a=names[0], b=names[1])
    return Words("gans.either_of_three", a=names[0], b=names[1], c=names[2])


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
        raise DataError("gans.bad_atari_frames", name=ATARI_FRAMES_ENV, value=repr(raw))
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
