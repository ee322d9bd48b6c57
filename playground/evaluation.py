"""Play whole games with a policy and report raw scores, the way published tables count them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from agents.base import Policy

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv


class EvaluationInterrupted(Exception):
    """A stop was asked for in the middle of an evaluation; its partial result is thrown away."""


@dataclass(frozen=True)
class Scores:
    scores: list[float]

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores)) if self.scores else float("nan")

    @property
    def std(self) -> float:
        return float(np.std(self.scores)) if self.scores else float("nan")


def play_games(
    policy: Policy,
    env: VecEnv,
    episodes: int,
    *,
    deterministic: bool = True,
    should_stop: Callable[[], bool] | None = None,
) -> Scores:
    """Exactly ``episodes`` whole games, spread evenly over the env copies.

    Each copy plays a fixed share, so short games do not crowd out long ones (the bias of taking
    the first N games to finish). Scores come from ``info["episode"]``: the raw game score.
    """
    n = env.num_envs
    targets = [(episodes + i) // n for i in range(n)]
    counts = [0] * n
    scores: list[float] = []
    obs = env.reset()
    begin_episodes = getattr(policy, "begin_episodes", None)  # recurrent policies reset their state there
    if begin_episodes is not None:
        begin_episodes(np.ones(n, dtype=bool))
    while len(scores) < episodes:
        actions = policy.act(obs, deterministic=deterministic)
        obs, _rewards, dones, infos = env.step(actions)
        if begin_episodes is not None:
            begin_episodes(np.asarray(dones, dtype=bool))
        for i, info in enumerate(infos):
            episode = info.get("episode")
            if episode is not None and counts[i] < targets[i]:
                counts[i] += 1
                scores.append(float(episode["r"]))
        if should_stop is not None and should_stop():
            raise EvaluationInterrupted
    return Scores(scores)
