"""Classic tasks (toy text, classic control, Box2D) as a vector env that needs neither torch nor stable-baselines3.

The algorithms that compute with numpy alone (the tabular methods) train and are scored on ``NumpyVecEnv``, so a
first lesson's commands never pay torch's start (about 3 s each). It keeps the contract of every backend here,
stable-baselines3's ``VecEnv`` API as its ``DummyVecEnv`` and ``Monitor`` fill it:

* ``reset()`` gives the observations, env ``i`` seeded with ``seed + i`` at its first reset only;
* ``step(actions)`` gives observations, rewards (float32), dones and infos; a game that ended is reset at once, and
  its info holds ``terminal_observation``, ``TimeLimit.truncated`` (cut short by a time limit, not ended) and
  ``episode``: ``r`` the raw score, ``l`` the agent steps, ``t`` the seconds since the env was made.

``step_one`` is that contract for one env; the stable-baselines3 backend's ``ClassicVecEnv`` steps with it too.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np

from playground.envs.specs import EnvSpec, make_gym


def step_one(env: gym.Env, action: Any) -> tuple[Any, float, bool, dict[str, Any], dict[str, Any] | None]:
    """One step of one env under the vector contract: (observation, reward, done, info, reset info or None).

    The info is a new dict (adding keys must not reach back into the env's); a finished game's last observation is
    kept in it (an array copied: an env may reuse it after reset) and the returned observation is the new game's.
    """
    obs, reward, terminated, truncated, info = env.step(action)
    info = dict(info)
    done = bool(terminated or truncated)
    info["TimeLimit.truncated"] = bool(truncated and not terminated)
    reset_info = None
    if done:
        info["terminal_observation"] = obs.copy() if isinstance(obs, np.ndarray) else obs
        obs, reset_info = env.reset()
    return obs, float(reward), done, info, reset_info


class NumpyVecEnv:
    """``n_envs`` copies of one classic env, stepped in turn in this process."""

    def __init__(self, spec: EnvSpec, n_envs: int, seed: int) -> None:
        self.envs = [make_gym(spec) for _ in range(n_envs)]
        self.num_envs = n_envs
        self.observation_space = self.envs[0].observation_space
        self.action_space = self.envs[0].action_space
        self._dtype = self.observation_space.dtype
        self._returns = np.zeros(n_envs, dtype=np.float64)
        self._lengths = np.zeros(n_envs, dtype=np.int64)
        self._made_at = time.time()
        self._seeds: list[int | None] = [None] * n_envs
        self.seed(seed)

    def seed(self, seed: int) -> None:
        """Env ``i`` is seeded with ``seed + i`` at the next reset (its action space at once)."""
        self._seeds = [seed + i for i in range(self.num_envs)]
        for i, env in enumerate(self.envs):
            env.action_space.seed(seed + i)

    def reset(self) -> np.ndarray:
        observations = [env.reset(seed=seed)[0] for env, seed in zip(self.envs, self._seeds)]
        self._seeds = [None] * self.num_envs
        self._returns[:] = 0.0
        self._lengths[:] = 0
        return np.asarray(observations, dtype=self._dtype)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        observations, infos = [], []
        rewards = np.zeros(self.num_envs, dtype=np.float32)
        dones = np.zeros(self.num_envs, dtype=bool)
        for i, env in enumerate(self.envs):
            obs, reward, done, info, _ = step_one(env, actions[i])
            self._returns[i] += reward
            self._lengths[i] += 1
            if done:
                info["episode"] = {"r": round(float(self._returns[i]), 6), "l": int(self._lengths[i]),
                                   "t": round(time.time() - self._made_at, 6)}
                self._returns[i], self._lengths[i] = 0.0, 0
            observations.append(obs)
            rewards[i], dones[i] = reward, done
            infos.append(info)
        return np.asarray(observations, dtype=self._dtype), rewards, dones, infos

    def close(self) -> None:
        for env in self.envs:
            env.close()
