"""Learning that cannot pass by accident: PPO's CartPole preset must actually solve CartPole."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_ppo_cartpole_preset_reaches_475_within_100k_steps(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("rl", "train", "ppo", "CartPole-v1", "--seed", "0", "--eval-every", "10000", "--eval-episodes", "10",
                 "--json")
    assert result.code == 0, result.err
    record = json.loads("\n".join(result.out.splitlines()[1:]))
    assert record["config"]["preset"] == "cartpole"
    assert record["config"]["steps"] == 100_000
    evaluations = record["evaluations"]
    rollout = 8 * 64  # envs × n_steps of the preset: the last rollout may run past the budget
    assert evaluations and all(e["step"] <= 100_000 + rollout for e in evaluations)
    # A random policy averages about 22 on CartPole; 475 takes a policy that balances nearly every game.
    assert max(e["mean"] for e in evaluations) >= 475, [(e["step"], e["mean"]) for e in evaluations]
