"""Games that cost nothing: a vector env's steps, recorded once, handed back in a loop.

PPO's and A2C's learner figures (``playground.bench.rl``) collect their rollouts with SB3's own
``collect_rollouts`` on these, so that everything training does besides stepping the games is in the figure, and
only that: acting, the rollout buffer (ours keeps acting's frames and, for A2C, its layers' outputs, which the update
then takes instead of a forward pass), the returns and the update.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv


class ReplayedGames(VecEnv):
    """``steps`` of a vector env (observations after the step, rewards, dones), from ``first`` observations on,
    given back in a loop whatever the actions; nothing else of an env (no render mode, wrappers or infos)."""

    def __init__(self, like: VecEnv, first: np.ndarray, steps: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]):
        super().__init__(like.num_envs, like.observation_space, like.action_space)
        if not steps:
            raise ValueError("no steps to replay")
        self.first, self.steps, self.at = first, list(steps), 0

    def reset(self) -> np.ndarray:
        self.at = 0
        return self.first

    def step_async(self, actions: np.ndarray) -> None:
        pass

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        obs, rewards, dones = self.steps[self.at % len(self.steps)]
        self.at += 1
        return obs, rewards.copy(), dones, [{} for _ in range(self.num_envs)]

    def close(self) -> None:
        pass

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        if attr_name == "render_mode":  # what SB3's VecEnv asks of every env: these draw nothing
            return [None] * self.num_envs
        raise AttributeError(f"replayed games have no attribute {attr_name!r}")

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        raise AttributeError(f"replayed games have no attribute {attr_name!r}")

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
        raise AttributeError(f"replayed games have no method {method_name!r}")

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * self.num_envs


def random_actions(env: VecEnv, rng: np.random.Generator) -> np.ndarray:
    """One random action per env of ``env`` (a discrete action space, as Atari's)."""
    return rng.integers(0, int(env.action_space.n), env.num_envs)


def record(env: VecEnv, steps: int, seed: int = 0) -> ReplayedGames:
    """``steps`` of ``env``'s own games under random actions, from a reset, copied (an env may reuse its arrays)."""
    rng = np.random.default_rng(seed)
    first = np.array(env.reset())
    recorded = []
    for _ in range(steps):
        obs, rewards, dones, _infos = env.step(random_actions(env, rng))
        recorded.append((np.array(obs), np.array(rewards), np.array(dones)))
    return ReplayedGames(env, first, recorded)


@contextmanager
def playing(model: Any, games: ReplayedGames) -> Iterator[Any]:
    """While inside: ``model`` (an SB3 on-policy algorithm) starts its rollouts on ``games``' first observations;
    yields a callback that does nothing, for ``collect_rollouts``. Its own observations, episode starts and step
    count come back afterwards."""
    from stable_baselines3.common.callbacks import CallbackList

    kept = model._last_obs, model._last_episode_starts, model.num_timesteps
    model._last_obs, model._last_episode_starts = games.reset(), np.ones(games.num_envs, dtype=bool)
    callback = CallbackList([])
    callback.init_callback(model)
    try:
        yield callback
    finally:
        model._last_obs, model._last_episode_starts, model.num_timesteps = kept
