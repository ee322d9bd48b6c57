"""Tabular methods (agents/tabular.py): the Bellman math on a hand-checked MDP, the lessons' tasks solved within
stated budgets, the textbook paths on CliffWalking, checkpoints that hold exactly the table, and the sentences for
what cannot work.

Budgets are the presets' own and were measured with seeds 0, 1 and 2 (2-core CPU, greedy table scored over 100
games): Q-learning solves the deterministic 4x4 lake in 3,000 steps (0.3 s) and passes Taxi's mark (mean - std
>= 4.5 over 100 games; 5.1 to 5.4) in 100,000 steps (8 to 10 s); on CliffWalking Q-learning's greedy path scores
-13 and SARSA's -17 in 30,000 steps (2 s). Taxi's pass mark is reached in tests/test_game.py, by the challenge's own
command (`playground rl train qlearning Taxi-v4`, seed 0), not twice.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import agents
from agents.tabular import (
    LearningSettings,
    PlanningAgent,
    QLearningAgent,
    TabularAgent,
    TransitionModel,
    ValueIterationAgent,
    bellman_backup,
    epsilon,
    expected_sarsa_target,
    value_iteration_sweep,
)
from playground import envs, training
from playground.bench.ours import BenchHooks
from playground.config import build_rl_config
from playground.errors import CheckpointError, PlaygroundError
from playground.evaluation import play_games
from playground.store import get_store

# A chain a person can solve on paper (gamma 0.9). In state 0, "walk" (action 0) reaches state 1 for nothing, and
# in state 1 "walk" ends the game with 1: worth 0.9 from state 0. "Gamble" (action 1) in state 0 ends with 1 half
# the time and stays put for nothing otherwise: V = 0.5 + 0.5 * 0.9 * V, so V = 0.5 / 0.55 = 10/11 = 0.90909...,
# a little better than walking. In state 1, "gamble" ends with 0.
CHAIN = {
    0: {0: [(1.0, 1, 0.0, False)], 1: [(0.5, 2, 1.0, True), (0.5, 0, 0.0, False)]},
    1: {0: [(1.0, 2, 1.0, True)], 1: [(1.0, 2, 0.0, True)]},
    2: {0: [(1.0, 2, 0.0, True)], 1: [(1.0, 2, 0.0, True)]},  # where games end
}


def _agent(algo: str, env: str, seed: int = 0, **overrides: Any) -> TabularAgent:
    spec = envs.resolve(env)
    config = build_rl_config(algo, env, seed=seed, sets=[f"{k}={v}" for k, v in overrides.items()])
    agent = training.make_agent(config, device="cpu")
    assert isinstance(agent, TabularAgent) and agent.spec == spec
    agent.build()
    return agent


def _trained(algo: str, env: str, seed: int = 0, steps: int | None = None) -> TabularAgent:
    agent = _agent(algo, env, seed)
    config = build_rl_config(algo, env, seed=seed)
    agent.learn(steps or config.steps, BenchHooks())
    return agent


def _score(agent: TabularAgent, games: int = 100) -> tuple[float, float]:
    env = envs.make_eval_env(agent.spec, 8, agent.seed + 10_000)
    try:
        result = play_games(agent, env, games)
    finally:
        env.close()
    return result.mean, result.std


def _greedy_path(agent: TabularAgent, start: int = 36, goal: int = 47) -> list[int]:
    """The cells CliffWalking's greedy policy walks through from the start (4 rows of 12; start 36, goal 47)."""
    moves = {0: -12, 1: 1, 2: 12, 3: -1}  # up, right, down, left
    path, state = [start], start
    for _ in range(48):
        row, col = divmod(state, 12)
        action = int(agent.greedy()[state])
        nxt = state + moves[action]
        if (action == 1 and col == 11) or (action == 3 and col == 0) or not 0 <= nxt < 48:
            nxt = state
        state = nxt
        path.append(state)
        if state == goal:
            break
    return path


# -- the math --------------------------------------------------------------------------------------------------------
def test_value_iteration_finds_the_hand_checked_values_of_a_small_mdp() -> None:
    model = TransitionModel.from_P(CHAIN, 3, 2)
    V = np.zeros(3)
    for _ in range(500):
        V, delta = value_iteration_sweep(model, V, 0.9)
        if delta < 1e-12:
            break
    assert V == pytest.approx([10 / 11, 1.0, 0.0], abs=1e-6)
    assert bellman_backup(model, V, 0, 0.9) == pytest.approx([0.9, 10 / 11], abs=1e-6)  # gambling is best
    assert model.may_never_end()  # gambling for ever in state 0 never ends a game


def test_a_sweep_spreads_values_one_step_from_the_reward_at_a_time() -> None:
    """Synchronous sweeps: after one, only the state next to the reward knows of it; after two, the one before."""
    model = TransitionModel.from_P(CHAIN, 3, 2)
    V1, _ = value_iteration_sweep(model, np.zeros(3), 0.9)
    assert V1 == pytest.approx([0.5, 1.0, 0.0])
    V2, delta = value_iteration_sweep(model, V1, 0.9)
    assert V2[0] == pytest.approx(max(0.9 * 1.0, 0.5 + 0.45 * 0.5)) and delta == pytest.approx(0.4)


def test_the_frozen_lakes_planned_values_are_gymnasiums_optimum_and_policy_iteration_agrees() -> None:
    vi = _trained("value-iteration", "FrozenLake-v1")
    pi = _trained("policy-iteration", "FrozenLake-v1")
    assert vi.converged and pi.converged
    assert vi.step < 10_000  # it stopped by itself, well before the cap of sweeps
    assert vi.state_values()[0] == pytest.approx(0.542, abs=1e-3)  # the start of the slippery 4x4 lake, gamma 0.99
    assert pi.state_values() == pytest.approx(vi.state_values(), abs=1e-6)
    np.testing.assert_array_equal(pi.greedy(), vi.greedy())


def test_the_three_td_targets() -> None:
    q = np.array([[0.0, 0.0], [1.0, 3.0]])
    agent_q = q.copy()
    from agents.tabular import q_learning_target, sarsa_target

    assert q_learning_target(agent_q, 1.0, 1, False, 0.5) == pytest.approx(1 + 0.5 * 3)
    assert sarsa_target(agent_q, 1.0, 1, False, 0.5, next_action=0) == pytest.approx(1 + 0.5 * 1)
    # epsilon 0.2 over 2 actions: the best gets 0.9, the other 0.1
    assert expected_sarsa_target(agent_q, 1.0, 1, False, 0.5, eps=0.2) == pytest.approx(1 + 0.5 * (0.9 * 3 + 0.1 * 1))
    assert q_learning_target(agent_q, 1.0, 1, True, 0.5) == 1.0  # nothing after the end


def test_epsilon_falls_linearly_then_stays() -> None:
    s = LearningSettings(exploration_initial_eps=1.0, exploration_final_eps=0.1, exploration_fraction=0.5)
    assert [round(epsilon(step, s, 1000), 3) for step in (0, 250, 500, 900)] == [1.0, 0.55, 0.1, 0.1]


def test_greedy_choices_break_ties_evenly_and_never_pick_a_worse_action() -> None:
    agent = _agent("qlearning", "FrozenLake-v1")
    agent.q[:] = 0.0
    agent.q[0] = [1.0, 3.0, 3.0, 3.0]  # three best actions tie
    agent.q[1] = [0.0, 0.0, 2.0, 0.0]  # one best action
    states = np.array([0, 1] * 6000)
    choices = agent._behave(states, eps=0.0)
    tied, single = choices[0::2], choices[1::2]
    assert set(single) == {2}
    counts = np.bincount(tied, minlength=4)
    assert counts[0] == 0 and all(1800 < c < 2200 for c in counts[1:]), counts  # 2000 each expected
    fresh = np.bincount(agent._behave(np.full(8000, 5), eps=0.0), minlength=4)  # an all-ties row: every action
    assert all(1800 < c < 2200 for c in fresh), fresh


# -- the lessons, learnt -----------------------------------------------------------------------------------------------
def test_q_learning_solves_the_deterministic_lake_in_its_3000_steps() -> None:
    agent = _trained("qlearning", "FrozenLake-v1,is_slippery=False", seed=0)
    assert agent.step == 3000
    assert _score(agent, 20) == (1.0, 0.0)


def test_sarsa_keeps_off_the_cliff_and_q_learning_walks_its_edge() -> None:
    """Sutton & Barto's Example 6.6: Q-learning learns the shortest path (along row 2, beside the cliff, 13 steps);
    SARSA learns the values of its exploring self and takes the safe path further up (17 steps)."""
    q = _trained("qlearning", "CliffWalking-v1", seed=0)
    sarsa = _trained("sarsa", "CliffWalking-v1", seed=0)
    q_path, sarsa_path = _greedy_path(q), _greedy_path(sarsa)
    assert q_path[-1] == 47 and len(q_path) - 1 == 13
    assert {cell // 12 for cell in q_path[1:-1]} == {2}  # every step beside the cliff
    assert sarsa_path[-1] == 47 and len(sarsa_path) - 1 == 17
    assert min(cell // 12 for cell in sarsa_path) == 0  # up to the top row, far from the edge
    assert _score(q, 10) == (-13.0, 0.0) and _score(sarsa, 10) == (-17.0, 0.0)


# -- checkpoints -------------------------------------------------------------------------------------------------------
def test_a_checkpoint_holds_exactly_the_table_as_plain_arrays(tmp_path: Path) -> None:
    agent = _trained("qlearning", "FrozenLake-v1,is_slippery=False", seed=1)
    path = tmp_path / "table.zip"
    agent.save(path)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["playground.json", "q.npy", "visits.npy"]
        meta = json.loads(archive.read("playground.json"))
        import io

        q = np.load(io.BytesIO(archive.read("q.npy")), allow_pickle=False)
    assert meta["step"] == 3000 and meta["env"] == "FrozenLake-v1,is_slippery=False"
    np.testing.assert_array_equal(q, agent.q)
    assert q.shape == (16, 4) and q.dtype == np.float64

    fresh = _agent("qlearning", "FrozenLake-v1,is_slippery=False", seed=1)
    assert fresh.load(path) == 3000
    np.testing.assert_array_equal(fresh.q, agent.q)
    np.testing.assert_array_equal(fresh.visits, agent.visits)

    other = _agent("qlearning", "FrozenLake-v1")
    with pytest.raises(CheckpointError, match="FrozenLake-v1,is_slippery=False, not for FrozenLake-v1"):
        other.load(path)
    sarsa = _agent("sarsa", "FrozenLake-v1,is_slippery=False")
    with pytest.raises(CheckpointError, match="learnt by qlearning, not by sarsa"):
        sarsa.load(path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError):
        fresh.load(path)


def test_a_planning_checkpoint_holds_values_and_the_policy(tmp_path: Path) -> None:
    agent = _trained("policy-iteration", "CliffWalking-v1")
    agent.save(tmp_path / "plan.zip")
    with zipfile.ZipFile(tmp_path / "plan.zip") as archive:
        assert sorted(archive.namelist()) == ["playground.json", "policy.npy", "q.npy", "v.npy"]
    again = _agent("policy-iteration", "CliffWalking-v1")
    again.load(tmp_path / "plan.zip")
    assert again.converged
    np.testing.assert_array_equal(again.greedy(), agent.greedy())


# -- runs, from the platform ---------------------------------------------------------------------------------------------
def test_a_value_iteration_run_stops_by_itself_when_done_and_counts_as_finished(home: Path) -> None:
    config = build_rl_config("value-iteration", "FrozenLake-v1,is_slippery=False")
    run = training.create_run(config)
    done = training.execute(run.id)
    assert done.status == "finished"
    assert done.step < config.steps  # a few sweeps, not the cap
    evaluations = get_store().evaluations(run.id)
    assert evaluations and evaluations[-1].mean == 1.0


def test_a_q_learning_run_resumes_where_it_stopped(home: Path) -> None:
    config = build_rl_config("qlearning", "FrozenLake-v1,is_slippery=False", steps=2000, checkpoint_every=1000,
                             eval_every=1000)
    run = training.create_run(config)
    training.execute(run.id)
    training.prepare_resume(run.id, steps=3000)
    resumed = training.execute(run.id, resume=True)
    assert resumed.status == "finished" and resumed.step == 3000


# What a first lesson loads: learning and scoring a table needs numpy, not torch nor stable-baselines3 (their start
# took about 3 s of every such command).
_LOADED = ("import atexit, runpy, sys; atexit.register(lambda: print('engines:', *sorted(m for m in "
           "('torch', 'stable_baselines3', 'ale_py') if m in sys.modules), file=sys.stderr)); "
           "sys.argv = ['playground', *sys.argv[1:]]; runpy.run_module('playground', run_name='__main__')")


def test_a_tabular_runs_commands_never_load_torch(home: Path) -> None:
    commands = [("rl", "train", "qlearning", "FrozenLake-v1,is_slippery=False"),
                ("rl", "eval", "qlearning-FrozenLake-1", "--episodes", "5")]
    for args in commands:
        done = subprocess.run([sys.executable, "-c", _LOADED, *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stderr.splitlines()[-1] == "engines:", (args, done.stderr[-2000:])
    evaluations = get_store().evaluations("qlearning-FrozenLake-1")
    assert len(evaluations) >= 2 and evaluations[-1].mean == 1.0  # learnt, and scored by the numpy-only env


# -- what cannot work: one sentence each ------------------------------------------------------------------------------
class _NoModel(gym.Env):
    """Counted states and actions, but no P: something to learn from, nothing to plan with."""

    observation_space = spaces.Discrete(3)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[int, dict]:
        super().reset(seed=seed)
        return 0, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
        return 0, 1.0, True, False, {}


@pytest.fixture
def no_model_env() -> Any:
    gym.register(id="NoModelTest-v0", entry_point=_NoModel, max_episode_steps=10)
    envs.resolve.cache_clear()
    yield "NoModelTest-v0"
    gym.registry.pop("NoModelTest-v0", None)
    envs.resolve.cache_clear()


@pytest.mark.parametrize(("algo", "env", "sets", "says"), [
    ("qlearning", "CartPole-v1", [], "CartPole-v1 observes continuous numbers (Box); try FrozenLake-v1"),
    ("sarsa", "ALE/Pong-v5", [], "ALE/Pong-v5 observes images"),
    ("value-iteration", "FrozenLake-v1", ["gamma=1"], "may never settle"),
    ("qlearning", "Taxi-v4", ["exploration_initial_eps=1.5"], "exploration_initial_eps"),
    ("qlearning", "Taxi-v4", ["exploration_final_eps=-0.1"], "exploration_final_eps"),
    ("sarsa", "Taxi-v4", ["learning_rate=1.2"], "learning_rate"),
    ("expected-sarsa", "Taxi-v4", ["learning_rate=0"], "learning_rate"),
    ("qlearning", "FrozenLake-v1,slippery=False", [], "FrozenLake-v1 has no setting called slippery"),
    ("qlearning", "FrozenLake-v1,map_name=5x5", [], "cannot be made with these settings"),
    ("qlearning", "Taxi-v3", [], "did you mean Taxi-v4"),
    ("dqn", "Taxi-v4", [], "Taxi-v4 gives only a state's number (Discrete); learn it with a table"),
    ("a3c", "FrozenLake-v1", [], "FrozenLake-v1 gives only a state's number"),
])
def test_what_cannot_work_is_one_sentence_before_any_run_exists(algo: str, env: str, sets: list[str], says: str,
                                                                cli: Any, home: Path) -> None:
    result = cli("rl", "train", algo, env, *[arg for s in sets for arg in ("--set", s)])
    assert result.code == 2, result
    assert says in result.err and "Traceback" not in result.err
    assert not (home / "runs").exists() or not any((home / "runs").iterdir())


def test_planning_needs_a_model_and_learning_does_not(no_model_env: str, cli: Any) -> None:
    result = cli("rl", "train", "value-iteration", no_model_env)
    assert result.code == 2 and "does not expose its transition model" in result.err
    assert cli("rl", "train", "qlearning", no_model_env, "--steps", "50").code == 0


def test_every_tabular_method_is_registered_and_planning_knows_it_plans() -> None:
    names = {"value-iteration", "policy-iteration", "qlearning", "sarsa", "expected-sarsa"}
    assert names <= set(agents.names())
    assert {n for n in names if issubclass(agents.get(n), PlanningAgent)} == {"value-iteration", "policy-iteration"}
    assert issubclass(agents.get("qlearning"), QLearningAgent) and ValueIterationAgent.planning


def test_rl_eval_plays_as_many_games_as_the_runs_own_evaluations_and_prints_thirty(cli: Any, home: Path) -> None:
    """Taxi's challenge counts 100 games, so its preset evaluates 100; `rl eval RUN` then plays as many by default."""
    trained = cli("rl", "train", "qlearning", "FrozenLake-v1,is_slippery=False", "--eval-episodes", "40", "--json")
    assert trained.code == 0, trained.err
    run_id = trained.out.split()[0]
    result = cli("rl", "eval", run_id)
    assert result.code == 0, result.err
    assert "over 40 games" in result.out and "… and 10 more" in result.out
    assert build_rl_config("qlearning", "Taxi-v4").eval_episodes == 100
    assert build_rl_config("qlearning", "Taxi-v4", eval_episodes=12).eval_episodes == 12
