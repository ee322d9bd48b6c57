"""The fast Atari backend: ale-py's C++ vector env (``AtariVectorEnv``) behind stable-baselines3's ``VecEnv``.

Atari training is dominated by environment stepping, and ale-py's threaded C++ env does the whole
DQN preprocessing (no-op and fire resets, frame skip, max-pool, 84x84 grayscale, frame stack) in
C++. Exposed as an SB3 ``VecEnv`` it serves every algorithm, ours and SB3's alike.

The learning signal and the reported score are different things: agents learn from clipped
rewards with a terminal on every life loss (as RL Baselines3 Zoo does), but ``info["episode"]``
(SB3 Monitor's ``{"r", "l", "t"}``) carries the raw score of a whole game, emitted only when the
real game ends; ``l`` counts agent steps in the game and ``t`` is wall seconds since the env was created.
"""

from __future__ import annotations

import os
import time
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvObs, VecEnvStepReturn

from playground import threads
from playground.envs.specs import (
    ATARI_FRAME_SKIP,
    ATARI_FRAME_STACK,
    ATARI_MAX_FRAMES,
    ATARI_NOOP_MAX,
    ATARI_OBSERVATION_SPACE,
    ATARI_SCREEN,
    EnvSpec,
)


def _num_threads(n_envs: int) -> int:
    """The C++ env's threads: one per env, within this process's share of the cores (playground.threads)."""
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

    # Before waking the games' threads, the acting thread yields its core (sched_yield, about a microsecond), where
    # this process has the cores to itself (its thread share is 2 or more; beside a busy program it is 1, and there
    # a yield would hand that program the core). Right after an acting pass torch's OpenMP thread still spins for
    # its next parallel region, and without the yield the games stepped slower. 2-core Zen 4 EPYC, Linux 6.18, Pong,
    # medians of alternating rounds in one process (docs/benchmarks.md): A2C 1,668-1,739 against 1,430-1,464
    # steps/s, PPO 827-838 against 745-750 (once 901 against 882); with torch's spin off (GOMP_SPINCOUNT=0) no gain,
    # and a plain system call in its place (getppid, stat) none either. Beside a program busy 30% of a core (the
    # share stays 2): A2C 1,017 against 1,020, PPO 526 against 509.
    yields_before_games: bool = hasattr(os, "sched_yield")

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
        if self.yields_before_games and threads.budget() > 1:
            os.sched_yield()
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
