"""The games the viewer shows: one Gymnasium env per game, built from small wrappers, each one concern.

Training vector envs never render: the fast backend has no Python env to render from, and an
agent's 84x84 grayscale stack is not what a person wants to see. A watched game is one Gymnasium
env that yields both, from the same emulator: ``RenderCollection`` keeps the colour frame of every
emulator step (so the viewer can show the game at its own 60 Hz), and the wrappers above it make
the observation the agent acts on exactly as the run's training backend made it:

* fast backend (ale-py's C++ env): ``AleGrayscale`` → ``NoopFireReset`` → ``MaxAndSkipObservation``
  → ``ResizeObservation`` → ``FrameStackObservation`` (zeros before the game's first frame);
* sb3 backend: RL Baselines3 Zoo's ``AtariWrapper`` → ``FrameStackObservation``;
* a person at the keyboard: the raw game, one emulator frame per step;
* classic tasks: the task itself, rendered.

``WatchEnv`` is only the viewer's handle on such a stack: it hands back the agent's observation
as a batch of one with the frames the step made (a ``WatchStep``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.wrappers import (
    FrameStackObservation,
    MaxAndSkipObservation,
    RenderCollection,
    ReshapeObservation,
    ResizeObservation,
)

from playground.envs.specs import (
    ATARI_FPS,
    ATARI_FRAME_SKIP,
    ATARI_FRAME_STACK,
    ATARI_MAX_FRAMES,
    ATARI_NOOP_MAX,
    ATARI_SCREEN,
    EnvSpec,
    action_names,
    check_env_args,
    make_gym,
    register_envs,
)
from playground.errors import MissingDependency


# --------------------------------------------------------------------------------------------
# wrappers


class AleGrayscale(gym.ObservationWrapper):
    """The observation is the emulator's own grayscale screen (as ale-py's C++ env reads it), not a
    conversion of the colour frame, so the agent sees the luminance it trained on."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.ale = env.unwrapped.ale
        height, width = self.ale.getScreenDims()
        self.observation_space = spaces.Box(0, 255, (height, width), dtype=np.uint8)

    def observation(self, observation: Any) -> np.ndarray:
        return self.ale.getScreenGrayscale()


class NoopFireReset(gym.Wrapper):
    """A game starts as ale-py's C++ env starts it: 1 to ``noop_max`` no-ops (none when 0), then one
    frame of FIRE where the game has it. Wrap an env that steps single emulator frames."""

    def __init__(self, env: gym.Env, noop_max: int, fire: int | None) -> None:
        super().__init__(env)
        self.noop_max = noop_max
        self.fire = fire

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        noops = int(self.env.unwrapped.np_random.integers(1, self.noop_max + 1)) if self.noop_max > 0 else 0
        for action in [0] * noops + ([self.fire] if self.fire is not None else []):
            obs, _reward, terminated, truncated, info = self.env.step(action)
            if terminated or truncated:
                obs, info = self.env.reset()
        return obs, info


# --------------------------------------------------------------------------------------------
# the viewer's handle


@dataclass
class WatchStep:
    """What one reset or one agent step produced."""

    obs: np.ndarray  # a batch of one observation, as the agent's training env shapes it
    frames: list[np.ndarray]  # the RGB frames (H, W, 3) the emulator made during this step, oldest first
    reward: float = 0.0  # raw (unclipped)
    game_over: bool = False  # the real game ended (or hit its time limit); never a lost life
    lives: int | None = None


class WatchEnv:
    """One wrapped game for watching or playing: ``reset`` and ``step`` return a ``WatchStep``.

    ``env`` is the whole Gymnasium stack and ``tap`` its ``RenderCollection``, drained after every
    reset (its last frame: the picture the game starts on) and every step (all of them).
    """

    def __init__(self, spec: EnvSpec, env: gym.Env, tap: RenderCollection, *, native_fps: float,
                 frames_per_step: int) -> None:
        self.spec = spec
        self.env = env
        self.tap = tap
        self.native_fps = native_fps  # frames per second at the game's normal speed
        self.frames_per_step = frames_per_step  # emulator frames per agent step
        self.action_names = action_names(spec)
        self.discrete = isinstance(spec.action_space, spaces.Discrete)

    def _step(self, obs: Any, frames: list[Any], info: dict[str, Any], reward: float = 0.0,
              game_over: bool = False) -> WatchStep:
        lives = info.get("lives")
        pictures = [np.asarray(f, dtype=np.uint8) for f in frames]
        return WatchStep(np.asarray(obs)[None], pictures, reward, game_over, None if lives is None else int(lives))

    def reset(self, seed: int | None = None) -> WatchStep:
        obs, info = self.env.reset(seed=seed)
        return self._step(obs, self.tap.render()[-1:], info)

    def step(self, action: Any) -> WatchStep:
        if self.discrete:
            action = int(np.asarray(action).reshape(-1)[0])
        else:
            action = np.asarray(action, dtype=np.float32).reshape(self.spec.action_space.shape)
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._step(obs, self.tap.render(), info, float(reward), bool(terminated or truncated))

    def keys_to_action(self) -> dict[tuple[Any, ...], int] | None:
        """The game's own keyboard mapping for human play, or None when it has none."""
        get = getattr(self.env.unwrapped, "get_keys_to_action", None)
        if get is None:
            return None
        try:
            return dict(get())
        except (AttributeError, NotImplementedError):
            return None

    def close(self) -> None:
        self.env.close()


# --------------------------------------------------------------------------------------------
# the games


def _atari_game(spec: EnvSpec, max_frames: int) -> RenderCollection:
    """The raw game one emulator frame per step, with the id's sticky actions, every colour frame kept."""
    register_envs()
    return RenderCollection(gym.make(
        spec.env_id,
        render_mode="rgb_array",
        frameskip=1,
        repeat_action_probability=spec.repeat_action_probability,
        max_num_frames_per_episode=max_frames,
    ))


def _classic_game(spec: EnvSpec) -> RenderCollection:
    try:
        return RenderCollection(make_gym(spec, render_mode="rgb_array"))
    except (gym.error.Error, ValueError) as exc:
        raise MissingDependency("envs.cannot_render", env=spec.env_id, reason=str(exc)) from None


def _classic(spec: EnvSpec) -> WatchEnv:
    game = _classic_game(spec)
    return WatchEnv(spec, game, game, native_fps=float(game.metadata.get("render_fps") or 30), frames_per_step=1)


def _fast_agent_view(game: gym.Env, spec: EnvSpec, noop_max: int) -> gym.Env:
    """What ale-py's C++ vector env (our "fast" backend) does, in Python, on one game.

    With no-ops and sticky actions off, the observations equal the C++ env's bit for bit (checked
    in tests/test_viewer.py), so the agent sees here what it saw while training.
    """
    meanings = list(spec.action_meanings or ())
    fire = meanings.index("FIRE") if "FIRE" in meanings else None
    env: gym.Env = NoopFireReset(AleGrayscale(game), noop_max, fire)
    env = MaxAndSkipObservation(env, skip=ATARI_FRAME_SKIP)  # the max of the last two screens
    env = ResizeObservation(env, (ATARI_SCREEN, ATARI_SCREEN))  # area interpolation, as in C++
    return FrameStackObservation(env, ATARI_FRAME_STACK, padding_type="zero")


def _sb3_agent_view(game: gym.Env, noop_max: int) -> gym.Env:
    """The "sb3" backend's wrappers: RL Baselines3 Zoo's AtariWrapper, then a stack of four, channels first."""
    from stable_baselines3.common.atari_wrappers import AtariWrapper

    env: gym.Env = AtariWrapper(
        game, noop_max=noop_max, frame_skip=ATARI_FRAME_SKIP, screen_size=ATARI_SCREEN,
        terminal_on_life_loss=False, clip_reward=False,
    )
    env = ReshapeObservation(env, (ATARI_SCREEN, ATARI_SCREEN))
    return FrameStackObservation(env, ATARI_FRAME_STACK, padding_type="zero")


def make_watch_env(
    spec: EnvSpec,
    backend: str = "auto",
    *,
    max_frames: int = ATARI_MAX_FRAMES,
    noop_max: int = ATARI_NOOP_MAX,
) -> WatchEnv:
    """One game to watch an agent play: colour frames for people, the training observation for the agent.

    ``backend`` is the run's ``env_backend``: Atari observations are made as that backend made them
    (``auto`` trains on the fast backend). Whole games, raw rewards, no life-loss terminals.
    """
    check_env_args(1, backend)
    if not spec.is_atari:
        return _classic(spec)
    game = _atari_game(spec, max_frames)
    agent_view = _sb3_agent_view(game, noop_max) if backend == "sb3" else _fast_agent_view(game, spec, noop_max)
    return WatchEnv(spec, agent_view, game, native_fps=ATARI_FPS, frames_per_step=ATARI_FRAME_SKIP)


def make_play_env(spec: EnvSpec, *, max_frames: int = ATARI_MAX_FRAMES) -> WatchEnv:
    """One game for a person: every emulator frame is a step (Atari); the id's sticky actions stay,
    so people and agents play the same game."""
    if not spec.is_atari:
        return _classic(spec)
    game = _atari_game(spec, max_frames)
    return WatchEnv(spec, game, game, native_fps=ATARI_FPS, frames_per_step=1)


def first_screen(spec: EnvSpec, *, warmup_frames: int = 60) -> np.ndarray:
    """The colour picture a game shows after ``warmup_frames`` emulator frames of no-op (many games
    start on a black screen), from seed 0: what a person would recognise the game by."""
    env = make_play_env(spec)
    try:
        frame = env.reset(seed=0).frames[-1]
        if spec.is_atari:
            for _ in range(warmup_frames):
                frame = env.step(0).frames[-1]
        return frame
    finally:
        env.close()
