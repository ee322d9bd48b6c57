"""Environment factory: one place that turns an id into training and evaluation vector envs.

Why this module exists:

* Users type Gymnasium ids (``ALE/Pong-v5``, ``CartPole-v1``); a typo or a missing extra must
  become one clear sentence, not a traceback from deep inside Gymnasium.
* Atari training is dominated by environment stepping. ale-py ships a C++ threaded vector env
  (``AtariVectorEnv``) that does the whole DQN preprocessing in C++; we expose it as a
  stable-baselines3 ``VecEnv`` so every algorithm can use it ("fast" backend). SB3's own
  ``make_atari_env`` path is kept ("sb3" backend) as the reference and the fallback.
* The learning signal and the reported score are different things. Agents learn from clipped
  rewards with a terminal on every life loss (as RL Baselines3 Zoo does), but every score we
  show, store or rank is the raw score of a whole game. Both backends emit SB3 Monitor-style
  ``info["episode"] = {"r", "l", "t"}`` only when the real game ends, so SB3's
  ``ep_info_buffer`` and ``rollout/ep_rew_mean`` are raw whole-game scores. As in Monitor,
  ``l`` counts agent steps in the game and ``t`` is wall seconds since the env was created.
"""

from __future__ import annotations

import difflib
import functools
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.env_util import make_atari_env, make_vec_env
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import (
    DummyVecEnv,
    VecEnv,
    VecEnvWrapper,
    VecFrameStack,
    VecTransposeImage,
)
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvObs, VecEnvStepReturn

from playground.errors import BadConfig, MissingDependency, UnknownEnvironment

logger = logging.getLogger(__name__)

ATARI_ENTRY_POINT = "ale_py.env:AtariEnv"
BACKENDS = ("auto", "fast", "sb3")

# The observation every Atari agent sees, whichever backend produced it.
ATARI_FRAME_STACK = 4
ATARI_SCREEN = 84
ATARI_FRAME_SKIP = 4
ATARI_NOOP_MAX = 30
ATARI_MAX_FRAMES = 108_000  # 30 minutes of play, the v5 default
ATARI_OBSERVATION_SPACE = spaces.Box(
    low=0, high=255, shape=(ATARI_FRAME_STACK, ATARI_SCREEN, ATARI_SCREEN), dtype=np.uint8
)

# Readable names for the extras Gymnasium asks for in its DependencyNotInstalled messages.
_EXTRA_NAMES = {
    "box2d": "Box2D",
    "mujoco": "MuJoCo",
    "classic-control": "pygame",
    "classic_control": "pygame",
    "toy-text": "pygame",
    "toy_text": "pygame",
    "atari": "ale-py",
    "other": "extra packages",
}


def register_envs() -> None:
    """Make the ALE ids (``ALE/Pong-v5``, ``PongNoFrameskip-v4``) visible in Gymnasium's registry.

    Idempotent: ``gym.register_envs`` only imports ale_py, whose import registers the ids once.
    """
    import ale_py

    gym.register_envs(ale_py)


@dataclass(frozen=True)
class EnvSpec:
    """What the rest of the platform needs to know about an environment, without opening one.

    Equality and hashing use the id-derived fields; the spaces are descriptive only.
    """

    env_id: str
    game: str
    is_atari: bool
    rom: str | None
    observation_space: gym.Space = field(compare=False)
    action_space: gym.Space = field(compare=False)
    action_meanings: tuple[str, ...] | None
    repeat_action_probability: float


# --------------------------------------------------------------------------------------------
# resolve


def _suggestions(env_id: str) -> list[str]:
    """Close registered ids, matched case-insensitively so 'cartpole-v1' finds CartPole-v1."""
    by_lower: dict[str, str] = {}
    for registered in gym.registry:
        by_lower.setdefault(registered.lower(), registered)
    matches = difflib.get_close_matches(env_id.lower(), list(by_lower), n=1, cutoff=0.6)
    return [by_lower[m] for m in matches]


def _unknown(env_id: str) -> UnknownEnvironment:
    close = _suggestions(env_id)
    if close:
        return UnknownEnvironment(
            f"unknown environment '{env_id}'; did you mean {close[0]}?"
        )
    return UnknownEnvironment(
        f"unknown environment '{env_id}'; use a registered Gymnasium id such as "
        "CartPole-v1 or ALE/Pong-v5."
    )


def _missing_dependency(env_id: str, exc: BaseException) -> MissingDependency:
    """Turn Gymnasium's install hint into one sentence that names the pip command."""
    message = str(exc)
    extra = re.search(r"gymnasium\[([\w-]+)\]", message)
    if extra:
        name = extra.group(1)
        what = _EXTRA_NAMES.get(name, name)
        return MissingDependency(f"{env_id} needs {what}: pip install 'gymnasium[{name}]'")
    if "gymnasium-robotics" in message:  # MuJoCo v2/v3 ids left Gymnasium
        return MissingDependency(
            f"{env_id} needs gymnasium-robotics: pip install gymnasium-robotics, or use the -v5 id."
        )
    command = re.search(r"pip install [`'\"]?([\w.\-]+(?:\[[\w.,\-]+\])?)", message)
    if command and command.group(1) != "swig":
        package = command.group(1)
        return MissingDependency(f"{env_id} needs {package}: pip install '{package}'")
    module = getattr(exc, "name", None)
    if module:
        return MissingDependency(f"{env_id} needs the Python module '{module}': pip install {module}")
    first_line = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    return MissingDependency(
        f"{env_id} needs a package that is not installed ({first_line.rstrip('.')}); "
        "install it and try again."
    )


def _is_atari(spec: gym.envs.registration.EnvSpec) -> bool:
    return spec.entry_point == ATARI_ENTRY_POINT


@functools.lru_cache(maxsize=256)
def resolve(env_id: str) -> EnvSpec:
    """Validate an id and describe the env the trainers will get, so errors surface before a run.

    Opens one probe env (closed before returning) because action meanings and classic-control
    spaces are only known after construction. Cached per id: probing costs an env construction.
    """
    register_envs()
    if not isinstance(env_id, str) or env_id not in gym.registry:
        raise _unknown(str(env_id))
    gspec = gym.spec(env_id)
    atari = _is_atari(gspec)
    try:
        probe = gym.make(env_id)
    except gym.error.DependencyNotInstalled as exc:
        raise _missing_dependency(env_id, exc) from exc
    except ImportError as exc:  # entry points that import optional packages
        raise _missing_dependency(env_id, exc) from exc
    try:
        if atari:
            rom = str(gspec.kwargs["game"])
            game = rom.title().replace("_", "")  # ale_py's own rom id -> name rule
            meanings: tuple[str, ...] | None = tuple(probe.unwrapped.get_action_meanings())
            observation_space: gym.Space = ATARI_OBSERVATION_SPACE
            sticky = float(gspec.kwargs.get("repeat_action_probability", 0.25))
        else:
            rom = None
            game = gspec.name
            meanings = None
            observation_space = probe.observation_space
            sticky = 0.0
        action_space = probe.action_space
    finally:
        probe.close()
    return EnvSpec(
        env_id=env_id,
        game=game,
        is_atari=atari,
        rom=rom,
        observation_space=observation_space,
        action_space=action_space,
        action_meanings=meanings,
        repeat_action_probability=sticky,
    )


# --------------------------------------------------------------------------------------------
# fast Atari backend: ale_py's C++ vector env as an SB3 VecEnv


def _num_threads(n_envs: int) -> int:
    """The C++ env's threads: one per env, within this process's share of the cores (playground.threads)."""
    from playground import threads

    return max(1, min(n_envs, threads.budget()))


class AleVecEnv(VecEnv):
    """ale_py's ``AtariVectorEnv`` behind SB3's ``VecEnv`` API.

    The C++ side does noop-reset, fire-reset, frame skip, max-pool, 84x84 grayscale and the frame
    stack, and resets finished games in the same step (``SameStep``). It runs with neither
    reward clipping nor life-loss terminals so that this class sees the raw game: clipping and
    life-loss terminals are applied here for learning (``terminal_on_life_loss``,
    ``clip_rewards``), while ``info["episode"]`` always carries the raw whole-game score.

    A life loss is detected from the ``lives`` counter dropping (as SB3's ``EpisodicLifeEnv``
    does). The game is not reset then: the observation is the continuing game's, and only
    ``done`` tells the learner that a life ended. A real game end is ALE's own
    terminated/truncated flag, so the game boundary never has to be guessed.
    """

    def __init__(
        self,
        spec: EnvSpec,
        n_envs: int,
        *,
        terminal_on_life_loss: bool,
        clip_rewards: bool,
        max_frames_per_game: int = ATARI_MAX_FRAMES,
    ) -> None:
        from ale_py.vector_env import AtariVectorEnv

        assert spec.rom is not None
        self.spec = spec
        self.terminal_on_life_loss = terminal_on_life_loss
        self.clip_rewards = clip_rewards
        self._env = AtariVectorEnv(
            spec.rom,
            n_envs,
            num_threads=_num_threads(n_envs),
            max_num_frames_per_episode=max_frames_per_game,  # emulator frames, not agent steps
            repeat_action_probability=spec.repeat_action_probability,
            full_action_space=False,
            autoreset_mode="SameStep",
            img_height=ATARI_SCREEN,
            img_width=ATARI_SCREEN,
            grayscale=True,
            stack_num=ATARI_FRAME_STACK,
            frameskip=ATARI_FRAME_SKIP,
            maxpool=True,
            noop_max=ATARI_NOOP_MAX,
            episodic_life=False,
            life_loss_info=False,
            reward_clipping=False,
            use_fire_reset=True,
        )
        n_actions = int(self._env.single_action_space.n)
        self._n_actions = n_actions
        action_space = spaces.Discrete(n_actions)
        self._user_attrs: list[dict[str, Any]] = [{} for _ in range(n_envs)]
        self._lives = np.zeros(n_envs, dtype=np.int32)
        super().__init__(n_envs, ATARI_OBSERVATION_SPACE, action_space)
        self._game_return = np.zeros(n_envs, dtype=np.float64)
        self._game_steps = np.zeros(n_envs, dtype=np.int64)
        self._t_start = time.time()
        self._closed = False

    # -- core API --------------------------------------------------------------------------

    def reset(self) -> VecEnvObs:
        """Start fresh games everywhere, with the seeds set by ``seed()`` if any."""
        if all(s is not None for s in self._seeds):
            seed: int | np.ndarray | None = np.asarray(self._seeds, dtype=np.int64)
        else:
            seed = None
        obs, info = self._env.reset(seed=seed)
        self._reset_seeds()
        self._reset_options()
        self._lives = np.asarray(info["lives"], dtype=np.int32).copy()
        self._game_return[:] = 0.0
        self._game_steps[:] = 0
        self.reset_infos = [{"lives": int(lv)} for lv in self._lives]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        actions = np.asarray(actions).reshape(self.num_envs)
        if actions.dtype not in (np.int32, np.int64):
            actions = actions.astype(np.int64)
        # An out-of-range index would reach C++ unchecked.
        if actions.min() < 0 or actions.max() >= self._n_actions:
            raise ValueError(
                f"actions must be in [0, {self._n_actions}), got {actions.tolist()}"
            )
        self._env.send(actions)

    def step_wait(self) -> VecEnvStepReturn:
        obs, raw, terminated, truncated, info = self._env.recv()
        game_over = terminated | truncated
        raw = np.asarray(raw)
        self._game_return += raw
        self._game_steps += 1
        rewards = np.sign(raw).astype(np.float32) if self.clip_rewards else raw.astype(np.float32)
        lives = np.asarray(info["lives"])
        if self.terminal_on_life_loss:
            # For finished games `lives` already belongs to the next game (SameStep), hence the mask.
            dones = game_over | (lives < self._lives)
        else:
            dones = game_over.copy()
        self._lives = lives.astype(np.int32, copy=True)

        infos: list[dict[str, Any]] = [{"lives": int(lv)} for lv in lives]
        if dones.any():
            final_obs = info.get("final_obs")
            elapsed = round(time.time() - self._t_start, 6)
            for i in np.flatnonzero(dones):
                env_info = infos[i]
                env_info["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
                if game_over[i]:
                    # final_obs is only meaningful for the envs ALE actually reset.
                    env_info["terminal_observation"] = final_obs[i]
                    env_info["episode"] = {
                        "r": float(self._game_return[i]),
                        "l": int(self._game_steps[i]),
                        "t": elapsed,
                    }
                    self._game_return[i] = 0.0
                    self._game_steps[i] = 0
                else:
                    # Life lost, game goes on: the last observation is the current one.
                    env_info["terminal_observation"] = obs[i]
        return obs, rewards, dones, infos

    def close(self) -> None:
        if not self._closed:
            self._env.close()
            self._closed = True

    # -- the per-env attribute API (there are no per-env Python objects here) ---------------

    def _indices(self, indices: VecEnvIndices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return list(indices)

    def _env_attr(self, i: int, name: str) -> Any:
        if name in self._user_attrs[i]:
            return self._user_attrs[i][name]
        builtin = {
            "render_mode": None,
            "observation_space": self.observation_space,
            "action_space": self.action_space,
            "spec": self.spec,
            "lives": int(self._lives[i]),
        }
        if name in builtin:
            return builtin[name]
        raise AttributeError(f"AleVecEnv sub-environments have no attribute '{name}'")

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return [self._env_attr(i, attr_name) for i in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        for i in self._indices(indices):
            self._user_attrs[i][attr_name] = value

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        if method_name == "get_action_meanings":
            return [list(self.spec.action_meanings or ()) for _ in self._indices(indices)]
        raise AttributeError(f"AleVecEnv sub-environments have no method '{method_name}'")

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        # We emit Monitor's episode info, so SB3's evaluate_policy should trust it.
        wrapped = issubclass(wrapper_class, Monitor)
        return [wrapped for _ in self._indices(indices)]

    def get_images(self) -> list[np.ndarray | None]:
        raise NotImplementedError("the fast Atari backend does not render; use a single gym env to watch")


# --------------------------------------------------------------------------------------------
# sb3 Atari backend


class _GameLength(VecEnvWrapper):
    """Count agent steps per game in the SB3 backend.

    SB3's Monitor sits under the frame-skip wrapper, so its ``l`` counts emulator frames
    (noops included); we replace it with agent steps so both backends report the same thing.
    """

    def __init__(self, venv: VecEnv) -> None:
        super().__init__(venv)
        self._steps = np.zeros(self.num_envs, dtype=np.int64)

    def reset(self) -> VecEnvObs:
        self._steps[:] = 0
        return self.venv.reset()

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        self._steps += 1
        for i, env_info in enumerate(infos):
            episode = env_info.get("episode")
            if episode is not None:
                episode["l"] = int(self._steps[i])
                self._steps[i] = 0
        return obs, rewards, dones, infos


def _make_sb3_atari(spec: EnvSpec, n_envs: int, seed: int, *, train: bool) -> VecEnv:
    """The RL Baselines3 Zoo path: AtariWrapper + frame stack + channels-first."""
    wrapper_kwargs = {
        "noop_max": ATARI_NOOP_MAX,
        "frame_skip": ATARI_FRAME_SKIP,
        "screen_size": ATARI_SCREEN,
        "terminal_on_life_loss": train,
        "clip_reward": train,
    }
    # AtariWrapper does the frame skipping, so the ALE env underneath must step single frames;
    # the id's own repeat_action_probability stays (it is not overridden).
    env_kwargs = {
        "frameskip": 1,
        "repeat_action_probability": spec.repeat_action_probability,
        "max_num_frames_per_episode": ATARI_MAX_FRAMES,
    }
    venv = make_atari_env(
        spec.env_id,
        n_envs=n_envs,
        seed=seed,
        wrapper_kwargs=wrapper_kwargs,
        env_kwargs=env_kwargs,
        vec_env_cls=DummyVecEnv,
    )
    venv = VecFrameStack(venv, n_stack=ATARI_FRAME_STACK)
    venv = VecTransposeImage(venv)
    return _GameLength(venv)


# --------------------------------------------------------------------------------------------
# public factories


def _check_args(n_envs: int, backend: str) -> None:
    if backend not in BACKENDS:
        raise BadConfig(f"unknown env backend '{backend}'; choose one of {', '.join(BACKENDS)}.")
    if not isinstance(n_envs, int) or n_envs < 1:
        raise BadConfig(f"n_envs must be a whole number of at least 1, got {n_envs!r}.")


def _make_atari(spec: EnvSpec, n_envs: int, seed: int, backend: str, *, train: bool) -> VecEnv:
    if backend in ("auto", "fast"):
        try:
            venv: VecEnv = AleVecEnv(
                spec, n_envs, terminal_on_life_loss=train, clip_rewards=train
            )
        except Exception as exc:
            if backend == "fast":
                raise MissingDependency(
                    f"the fast Atari backend could not start for {spec.env_id} ({exc}); "
                    "reinstall ale-py or choose backend 'sb3'."
                ) from exc
            logger.warning(
                "fast Atari backend unavailable for %s (%s); falling back to the sb3 backend",
                spec.env_id,
                exc,
            )
        else:
            venv.seed(seed)
            return venv
    return _make_sb3_atari(spec, n_envs, seed, train=train)


def _make_classic(spec: EnvSpec, n_envs: int, seed: int) -> VecEnv:
    """DummyVecEnv of Monitor-wrapped envs, env i seeded with seed + i at its first reset."""
    return make_vec_env(spec.env_id, n_envs=n_envs, seed=seed, vec_env_cls=DummyVecEnv)


def make_train_env(spec: EnvSpec, n_envs: int, seed: int, backend: str = "auto") -> VecEnv:
    """Vector env that agents learn from.

    Atari: clipped rewards and a terminal on every life loss (the Zoo's AtariWrapper signal);
    ``info["episode"]`` still reports raw whole-game scores. Classic envs: raw rewards.
    """
    _check_args(n_envs, backend)
    if spec.is_atari:
        return _make_atari(spec, n_envs, seed, backend, train=True)
    return _make_classic(spec, n_envs, seed)


def make_eval_env(spec: EnvSpec, n_envs: int, seed: int, backend: str = "auto") -> VecEnv:
    """Vector env that scores agents: whole games, raw rewards, done only when the game ends.

    Observations are preprocessed exactly as in training so the policy sees what it learned on.
    """
    _check_args(n_envs, backend)
    if spec.is_atari:
        return _make_atari(spec, n_envs, seed, backend, train=False)
    return _make_classic(spec, n_envs, seed)


def list_ids(atari_only: bool = False) -> list[str]:
    """Registered ids, sorted; with ``atari_only`` just the ``ALE/…-v5`` games."""
    register_envs()
    ids = sorted(gym.registry)
    if atari_only:
        return [i for i in ids if i.startswith("ALE/") and i.endswith("-v5")]
    return ids


@dataclass(frozen=True)
class TrainEnvFactory:
    """``make_env(n_envs, seed)`` for an agent, by id and backend, so it pickles into worker processes."""

    env_id: str
    backend: str = "auto"

    def __call__(self, n_envs: int, seed: int) -> VecEnv:
        return make_train_env(resolve(self.env_id), n_envs, seed, backend=self.backend)


# --------------------------------------------------------------------------------------------
# environments for watching and playing (the pygame viewer)
#
# Training vector envs never render: the fast backend has no Python env to render from, and an
# agent's 84x84 grayscale stack is not what a person wants to see. A watch env is one Python
# game that yields both, from the same emulator: the colour frame of every emulator step (so the
# viewer can show the game at its own 60 Hz) and the observation the agent acts on, made exactly
# as the run's training backend made it.

# Readable action names for classic tasks, from the Gymnasium documentation of each environment.
CLASSIC_ACTION_NAMES: dict[str, tuple[str, ...]] = {
    "CartPole": ("LEFT", "RIGHT"),
    "MountainCar": ("LEFT", "NONE", "RIGHT"),
    "Acrobot": ("TORQUE -1", "TORQUE 0", "TORQUE +1"),
    "LunarLander": ("NOOP", "LEFT ENGINE", "MAIN ENGINE", "RIGHT ENGINE"),
}
ATARI_FPS = 60  # the emulator's frame rate: the game's normal speed


def action_names(spec: EnvSpec) -> list[str]:
    """A name per discrete action (Atari: the ROM's own meanings); continuous actions get a0, a1, …"""
    if spec.action_meanings is not None:
        return list(spec.action_meanings)
    space = spec.action_space
    if isinstance(space, spaces.Discrete):
        known = CLASSIC_ACTION_NAMES.get(spec.game)
        if known is not None and len(known) == int(space.n):
            return list(known)
        return [f"action {i}" for i in range(int(space.n))]
    shape = getattr(space, "shape", None) or (1,)
    return [f"a{i}" for i in range(int(np.prod(shape)))]


@dataclass
class WatchStep:
    """What one reset or one agent step produced."""

    obs: np.ndarray  # a batch of one observation, as the agent's training env shapes it
    frames: list[np.ndarray]  # the RGB frames (H, W, 3) the emulator made during this step, oldest first
    reward: float = 0.0  # raw (unclipped)
    game_over: bool = False  # the real game ended (or hit its time limit); never a lost life
    lives: int | None = None


class WatchEnv:
    """One game for watching or playing: ``reset`` and ``step`` return a ``WatchStep``."""

    native_fps: float = 30.0  # frames per second at the game's normal speed
    frames_per_step: int = 1  # emulator frames per agent step

    def __init__(self, spec: EnvSpec) -> None:
        self.spec = spec
        self.action_names = action_names(spec)

    def reset(self, seed: int | None = None) -> WatchStep:
        raise NotImplementedError

    def step(self, action: Any) -> WatchStep:
        raise NotImplementedError

    def keys_to_action(self) -> dict[tuple[Any, ...], int] | None:
        """The game's own keyboard mapping for human play, or None when it has none."""
        get = getattr(self._gym.unwrapped, "get_keys_to_action", None)
        if get is None:
            return None
        try:
            return dict(get())
        except (AttributeError, NotImplementedError):
            return None

    def close(self) -> None:
        self._gym.close()

    _gym: gym.Env


def _atari_base(spec: EnvSpec, max_frames: int) -> gym.Env:
    """The raw v5 game one emulator frame per step, with the id's sticky actions; observations are RGB."""
    register_envs()
    return gym.make(
        spec.env_id,
        frameskip=1,
        repeat_action_probability=spec.repeat_action_probability,
        max_num_frames_per_episode=max_frames,
    )


class _AtariFastWatch(WatchEnv):
    """What ale-py's C++ vector env (our "fast" backend) does, in Python, on one game.

    No-op starts (1 to ``noop_max``), then one emulator frame of FIRE where the game has it, then
    per agent step ``frame_skip`` frames with the max of the last two grayscale screens, resized
    to 84x84 (area interpolation) and stacked four deep with zeros before the game's first frame.
    With no-ops and sticky actions off, the observations equal the C++ env's bit for bit (checked
    in tests/test_viewer.py), so the agent sees here what it saw while training.
    """

    native_fps = ATARI_FPS
    frames_per_step = ATARI_FRAME_SKIP

    def __init__(self, spec: EnvSpec, max_frames: int, noop_max: int) -> None:
        super().__init__(spec)
        self._gym = _atari_base(spec, max_frames)
        self.ale = self._gym.unwrapped.ale
        self.noop_max = noop_max
        meanings = list(spec.action_meanings or ())
        self.fire = meanings.index("FIRE") if "FIRE" in meanings else None
        self.stack = np.zeros((ATARI_FRAME_STACK, ATARI_SCREEN, ATARI_SCREEN), dtype=np.uint8)
        self._pool = np.zeros((2, 210, 160), dtype=np.uint8)
        self.lives = 0

    def _screen(self, pooled: np.ndarray) -> np.ndarray:
        import cv2

        return cv2.resize(pooled, (ATARI_SCREEN, ATARI_SCREEN), interpolation=cv2.INTER_AREA)

    def _push(self, screen: np.ndarray) -> np.ndarray:
        self.stack = np.roll(self.stack, -1, axis=0)
        self.stack[-1] = screen
        return self.stack[None].copy()

    def reset(self, seed: int | None = None) -> WatchStep:
        rgb, info = self._gym.reset(seed=seed)
        noops = int(self._gym.unwrapped.np_random.integers(1, self.noop_max + 1)) if self.noop_max > 0 else 0
        for _ in range(noops):
            rgb, _r, terminated, truncated, info = self._gym.step(0)
            if terminated or truncated:
                rgb, info = self._gym.reset()
        if self.fire is not None:
            rgb, _r, terminated, truncated, info = self._gym.step(self.fire)
            if terminated or truncated:
                rgb, info = self._gym.reset()
        self.stack[:] = 0
        self.lives = int(info.get("lives", 0))
        return WatchStep(self._push(self._screen(self.ale.getScreenGrayscale())), [rgb], lives=self.lives)

    def step(self, action: Any) -> WatchStep:
        action = int(np.asarray(action).reshape(-1)[0])
        frames: list[np.ndarray] = []
        total = 0.0
        over = False
        info: dict[str, Any] = {}
        for i in range(ATARI_FRAME_SKIP):
            rgb, reward, terminated, truncated, info = self._gym.step(action)
            frames.append(rgb)
            total += float(reward)
            if i >= ATARI_FRAME_SKIP - 2:
                self._pool[ATARI_FRAME_SKIP - 1 - i] = self.ale.getScreenGrayscale()
            if terminated or truncated:
                over = True
                break
        self.lives = int(info.get("lives", self.lives))
        obs = self._push(self._screen(self._pool.max(axis=0)))
        return WatchStep(obs, frames, total, over, self.lives)


class _FrameTap(gym.Wrapper):
    """Keeps every RGB frame that passes through, for the wrappers above that skip frames."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.frames: list[np.ndarray] = []

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self.frames.append(obs)
        return obs, info

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.frames.append(obs)
        return obs, reward, terminated, truncated, info


class _AtariSb3Watch(WatchEnv):
    """The "sb3" backend's wrappers (RL Baselines3 Zoo's AtariWrapper, frame stack, channels first)
    over one game whose every frame is tapped for the screen."""

    native_fps = ATARI_FPS
    frames_per_step = ATARI_FRAME_SKIP

    def __init__(self, spec: EnvSpec, max_frames: int, noop_max: int) -> None:
        from stable_baselines3.common.atari_wrappers import AtariWrapper

        super().__init__(spec)
        self.tap = _FrameTap(_atari_base(spec, max_frames))
        self._gym = AtariWrapper(
            self.tap, noop_max=noop_max, frame_skip=ATARI_FRAME_SKIP, screen_size=ATARI_SCREEN,
            terminal_on_life_loss=False, clip_reward=False,
        )
        self.stack = np.zeros((ATARI_FRAME_STACK, ATARI_SCREEN, ATARI_SCREEN), dtype=np.uint8)
        self.lives = 0

    def _push(self, obs: np.ndarray) -> np.ndarray:
        self.stack = np.roll(self.stack, -1, axis=0)
        self.stack[-1] = obs[..., 0]
        return self.stack[None].copy()

    def reset(self, seed: int | None = None) -> WatchStep:
        obs, info = self._gym.reset(seed=seed)
        last = self.tap.frames[-1]
        self.tap.frames.clear()
        self.stack[:] = 0
        self.lives = int(info.get("lives", 0))
        return WatchStep(self._push(obs), [last], lives=self.lives)

    def step(self, action: Any) -> WatchStep:
        action = int(np.asarray(action).reshape(-1)[0])
        obs, reward, terminated, truncated, info = self._gym.step(action)
        frames = list(self.tap.frames)
        self.tap.frames.clear()
        self.lives = int(info.get("lives", self.lives))
        return WatchStep(self._push(obs), frames, float(reward), bool(terminated or truncated), self.lives)


class _ClassicWatch(WatchEnv):
    """A classic task (CartPole, LunarLander, …) rendered as RGB; observations as in training."""

    frames_per_step = 1

    def __init__(self, spec: EnvSpec) -> None:
        super().__init__(spec)
        try:
            self._gym = gym.make(spec.env_id, render_mode="rgb_array")
        except gym.error.Error as exc:
            raise MissingDependency(f"{spec.env_id} cannot render pictures to watch ({exc}).") from None
        self.native_fps = float(self._gym.metadata.get("render_fps") or 30)
        self.discrete = isinstance(spec.action_space, spaces.Discrete)

    def _frame(self) -> np.ndarray:
        return np.asarray(self._gym.render(), dtype=np.uint8)

    def reset(self, seed: int | None = None) -> WatchStep:
        obs, _info = self._gym.reset(seed=seed)
        return WatchStep(np.asarray(obs)[None], [self._frame()])

    def step(self, action: Any) -> WatchStep:
        if self.discrete:
            action = int(np.asarray(action).reshape(-1)[0])
        else:
            action = np.asarray(action, dtype=np.float32).reshape(self.spec.action_space.shape)
        obs, reward, terminated, truncated, _info = self._gym.step(action)
        return WatchStep(np.asarray(obs)[None], [self._frame()], float(reward), bool(terminated or truncated))


class _HumanAtari(WatchEnv):
    """An Atari game one emulator frame per step, for a person at the keyboard (60 Hz is its normal speed)."""

    native_fps = ATARI_FPS
    frames_per_step = 1

    def __init__(self, spec: EnvSpec, max_frames: int) -> None:
        super().__init__(spec)
        self._gym = _atari_base(spec, max_frames)
        self.lives = 0

    def reset(self, seed: int | None = None) -> WatchStep:
        rgb, info = self._gym.reset(seed=seed)
        self.lives = int(info.get("lives", 0))
        return WatchStep(rgb[None], [rgb], lives=self.lives)

    def step(self, action: Any) -> WatchStep:
        rgb, reward, terminated, truncated, info = self._gym.step(int(action))
        self.lives = int(info.get("lives", self.lives))
        return WatchStep(rgb[None], [rgb], float(reward), bool(terminated or truncated), self.lives)


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
    _check_args(1, backend)
    if spec.is_atari:
        if backend == "sb3":
            return _AtariSb3Watch(spec, max_frames, noop_max)
        return _AtariFastWatch(spec, max_frames, noop_max)
    return _ClassicWatch(spec)


def make_play_env(spec: EnvSpec, *, max_frames: int = ATARI_MAX_FRAMES) -> WatchEnv:
    """One game for a person: every emulator frame is a step (Atari); the id's sticky actions stay,
    so people and agents play the same game."""
    if spec.is_atari:
        return _HumanAtari(spec, max_frames)
    return _ClassicWatch(spec)
