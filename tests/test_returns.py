"""A3C's targets (agents/a3c.py), against numbers worked out by hand, as stable-baselines3's test_gae.py does.

Every rollout here uses gamma = 0.5, so each hand computation is a few exact halvings. The one
rollout with both kinds of ending (``ROLLOUT``) is:

    t            0     1      2     3      4
    reward       1     2      3     4      5
    V(s_t)       0.5   1     -1     2      0
    ends         .     term   .     trunc  .      (step 3's final observation has V = 6)
    V(s_T) = 8 after the last step
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.a3c import gae_advantages, n_step_returns

GAMMA = 0.5
ROLLOUT = {
    "rewards": [1.0, 2.0, 3.0, 4.0, 5.0],
    "terminated": [0.0, 1.0, 0.0, 0.0, 0.0],
    "truncated": [0.0, 0.0, 0.0, 1.0, 0.0],
    "final_values": [0.0, 0.0, 0.0, 6.0, 0.0],
    "last_value": 8.0,
    "gamma": GAMMA,
}
VALUES = [0.5, 1.0, -1.0, 2.0, 0.0]


def _close(actual: torch.Tensor, expected: list[float]) -> None:
    assert isinstance(actual, torch.Tensor)
    np.testing.assert_allclose(actual.numpy(), np.asarray(expected), rtol=0, atol=1e-6)


def test_returns_start_again_after_an_episode_end() -> None:
    # R3 = 4 + 0.5*8 = 8;  R2 = 3 + 0.5*8 = 7;  R1 = 2 (terminal: nothing follows);  R0 = 1 + 0.5*2 = 2.
    # Ignoring the end would give R1 = 2 + 0.5*7 = 5.5 and R0 = 3.75.
    returns = n_step_returns(
        [1.0, 2.0, 3.0, 4.0], terminated=[0, 1, 0, 0], truncated=[0, 0, 0, 0], final_values=[0, 0, 0, 0],
        last_value=8.0, gamma=GAMMA,
    )
    _close(returns, [2.0, 2.0, 7.0, 8.0])


def test_returns_bootstrap_from_the_final_observation_across_a_time_limit_cut_off() -> None:
    # R3 = 8;  R2 = 7;  R1 = 2 + 0.5*V(final obs) = 2 + 0.5*6 = 5;  R0 = 1 + 0.5*5 = 3.5.
    # As a terminal state R1 would be 2; bootstrapping from the next game's R2 it would be 5.5.
    returns = n_step_returns(
        [1.0, 2.0, 3.0, 4.0], terminated=[0, 0, 0, 0], truncated=[0, 1, 0, 0], final_values=[0, 6, 0, 0],
        last_value=8.0, gamma=GAMMA,
    )
    _close(returns, [3.5, 5.0, 7.0, 8.0])


def test_an_end_on_the_last_step_ignores_the_value_of_the_next_game() -> None:
    # V(s_T) = 100 belongs to the game that began after the last step: it must not leak in.
    cut = n_step_returns([1.0, 1.0], terminated=[0, 0], truncated=[0, 1], final_values=[0, 4],
                         last_value=100.0, gamma=GAMMA)
    _close(cut, [2.5, 3.0])  # R1 = 1 + 0.5*4 = 3, R0 = 1 + 0.5*3 = 2.5
    ended = n_step_returns([1.0, 1.0], terminated=[0, 1], truncated=[0, 0], final_values=[0, 0],
                           last_value=100.0, gamma=GAMMA)
    _close(ended, [1.5, 1.0])  # R1 = 1, R0 = 1 + 0.5*1 = 1.5


def test_returns_of_the_rollout_with_both_endings() -> None:
    # R4 = 5 + 0.5*8 = 9;  R3 = 4 + 0.5*6 = 7 (cut off);  R2 = 3 + 0.5*7 = 6.5;  R1 = 2 (terminal);  R0 = 1 + 1 = 2.
    _close(n_step_returns(**ROLLOUT), [2.0, 2.0, 6.5, 7.0, 9.0])


def test_gae_with_lambda_one_is_the_n_step_returns_minus_the_values() -> None:
    # [2, 2, 6.5, 7, 9] - [0.5, 1, -1, 2, 0]
    advantages = gae_advantages(values=VALUES, gae_lambda=1.0, **ROLLOUT)
    _close(advantages, [1.5, 1.0, 7.5, 5.0, 9.0])
    _close(advantages, (n_step_returns(**ROLLOUT) - torch.tensor(VALUES)).tolist())


def test_gae_with_lambda_zero_is_the_one_step_td_error() -> None:
    # delta_t = r_t + 0.5 * V(next) - V(s_t):
    #   t0: 1 + 0.5*1 - 0.5 = 1     t1: 2 + 0 - 1 = 1 (terminal)     t2: 3 + 0.5*2 + 1 = 5
    #   t3: 4 + 0.5*6 - 2 = 5 (V of the cut-off observation, not V(s4) = 0)     t4: 5 + 0.5*8 - 0 = 9
    _close(gae_advantages(values=VALUES, gae_lambda=0.0, **ROLLOUT), [1.0, 1.0, 5.0, 5.0, 9.0])


def test_gae_passes_advantages_back_only_within_a_game() -> None:
    # gamma*lambda = 0.25 with lambda = 0.5, from the TD errors [1, 1, 5, 5, 9]:
    #   A4 = 9;  A3 = 5 (cut off: A4 is another game's);  A2 = 5 + 0.25*5 = 6.25;  A1 = 1 (terminal);  A0 = 1.25
    _close(gae_advantages(values=VALUES, gae_lambda=0.5, **ROLLOUT), [1.25, 1.0, 6.25, 5.0, 9.0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lambda_one_matches_the_returns_on_random_rollouts_with_numpy_inputs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 12
    ends = rng.integers(0, 3, n)  # 0: the game goes on, 1: terminal, 2: cut off
    rollout = {
        "rewards": rng.normal(size=n).astype(np.float32),
        "terminated": (ends == 1).astype(np.float32),
        "truncated": (ends == 2).astype(np.float32),
        "final_values": rng.normal(size=n).astype(np.float32),
        "last_value": float(rng.normal()),
        "gamma": 0.9,
    }
    values = rng.normal(size=n).astype(np.float32)
    returns = n_step_returns(**rollout)
    advantages = gae_advantages(values=values, gae_lambda=1.0, **rollout)
    np.testing.assert_allclose(advantages.numpy(), returns.numpy() - values, rtol=1e-5, atol=1e-5)


class _ScriptedEnv:
    """A one-env VecEnv whose 2nd step is cut off by a time limit and whose 4th ends the game."""

    def __init__(self) -> None:
        self.t = 0

    def reset(self) -> np.ndarray:
        return np.zeros((1, 4), dtype=np.float32)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        self.t += 1
        obs = np.full((1, 4), 0.1 * self.t, dtype=np.float32)
        info: dict = {}
        if self.t in (2, 4):
            info = {"TimeLimit.truncated": self.t == 2, "terminal_observation": FINAL_OBS}
        return obs, np.array([float(self.t)], dtype=np.float32), np.array([self.t in (2, 4)]), [info]

    def close(self) -> None:
        """Nothing to release: the steps above are computed, not played."""


FINAL_OBS = np.array([1.0, -2.0, 0.5, 3.0], dtype=np.float32)


@pytest.mark.parametrize("gae_lambda", [1.0, 0.9])
def test_the_worker_hands_cut_offs_and_game_ends_to_the_math_apart(
    gae_lambda: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One rollout of the real worker loop, in this process: the targets' inputs say which step was cut
    off (bootstrapping from V of the cut-off observation) and which one ended the game."""
    import multiprocessing
    import os
    import queue
    import threading

    from agents import a3c
    from agents.worker_pool import SharedSteps

    hp = a3c.A3CHyperparameters(n_steps=4, gae_lambda=gae_lambda, optimizer="adam", learning_rate=1e-3)
    model_kwargs = {"obs_shape": (4,), "obs_dtype": "float32", "n_actions": 2, "net_arch": [8]}
    torch.manual_seed(0)
    shared = a3c.ActorCritic(**model_kwargs)
    with torch.no_grad():
        expected_final_value = float(shared(torch.as_tensor(FINAL_OBS).unsqueeze(0))[1][0])
    seen: dict = {}
    real = a3c.n_step_returns if gae_lambda == 1.0 else a3c.gae_advantages

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(a3c, "n_step_returns" if gae_lambda == 1.0 else "gae_advantages", spy)
    setup = a3c.WorkerSetup(
        index=0, seed=0, total_steps=4, hyperparameters=hp.model_dump(), model_kwargs=model_kwargs,
        make_env=lambda n_envs, seed: _ScriptedEnv(), parent_pid=os.getppid(),
    )
    steps = SharedSteps(multiprocessing.get_context("spawn"), 1)
    a3c.worker(setup, shared, a3c.make_optimizer(shared, hp), steps, threading.Event(), queue.Queue())
    assert steps.total == 4
    _close(seen["rewards"], [1.0, 2.0, 3.0, 4.0])
    _close(seen["terminated"], [0.0, 0.0, 0.0, 1.0])
    _close(seen["truncated"], [0.0, 1.0, 0.0, 0.0])
    assert float(seen["final_values"][1]) == pytest.approx(expected_final_value, abs=1e-6)
    assert expected_final_value != 0.0
