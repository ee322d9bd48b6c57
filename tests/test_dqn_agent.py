"""Our DQN family as an agent (agents/dqn.py's ``DQNAgent``): the replay ratio it keeps whatever the number of envs,
its checkpoints, a resume that goes on with the very same prioritized memory, playing on the noisy network's means,
the number format it computes in, and the learning tests: the ``nature`` and ``rainbow`` presets each solve CartPole,
and the Atari presets keep the Nature network's convolutions alive on Pong (Adam's epsilon).

The CartPole tests are seeded and stop at the first evaluation that passes; their budget is the presets' own
50,000 steps, evaluated every 2,500 steps over 10 games. Measured with seeds 0, 1 and 2 (2-core AMD EPYC, nothing
else running): nature passed 475 at 40k, 37.5k and 20k steps (43, 59 and 30 s), rainbow at 25k, 10k and 15k steps
(99, 39 and 63 s; noisy C51 heads cost about 8 ms per gradient step on one thread). Every seed passes within the
budget; the tests run the quickest seed of each (2 and 1), to keep the suite short.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from agents.dqn import DQNAgent, DQNSettings, QNetwork, read_dqn_checkpoint
from agents.frames import through
from agents.precision import Precision, cpu_has_bfloat16
from playground import training
from playground.bench.ours import BenchHooks, our_agent
from playground.config import build_rl_config
from playground.errors import CheckpointError

SMALL = ["buffer_size=2000", "learning_starts=64", "batch_size=16", "net_arch=[32]", "train_freq=4", "gradient_steps=1",
         "exploration_fraction=0.5"]  # the CartPole preset, made small and quick


def _agent(preset: str | None = None, sets: list[str] | None = None, *, env: str = "CartPole-v1",
           n_envs: int | None = None, seed: int = 0) -> DQNAgent:
    _config, agent = our_agent("dqn", env, preset=preset, sets=sets or SMALL, n_envs=n_envs, seed=seed)
    assert isinstance(agent, DQNAgent)
    return agent


class Counting(BenchHooks):
    """Hooks that also keep the rows of the run's curves."""

    def __init__(self) -> None:
        super().__init__()
        self.logged: list[tuple[int, dict[str, float]]] = []
        self.games: list[tuple[int, float, int]] = []

    def log(self, step: int, values: Any) -> None:
        self.logged.append((step, dict(values)))

    def episode(self, step: int, score: float, length: int) -> None:
        self.games.append((step, score, length))


# -- the loop ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_envs", [1, 4])
def test_the_replay_ratio_and_target_updates_count_transitions_whatever_the_number_of_envs(
        n_envs: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """train_freq=4, gradient_steps=1: one gradient step per 4 transitions after learning_starts, with 1 env or
    4 (stable-baselines3 would take a quarter as many with 4); with gradient_steps=-1, one per transition."""
    import agents.dqn as dqn_module

    agent = _agent(sets=[*SMALL, "train_freq=4", "gradient_steps=1", "target_update_interval=100"], n_envs=n_envs)
    copies: list[int] = []
    real_update = dqn_module.update_target
    monkeypatch.setattr(dqn_module, "update_target", lambda *a: (copies.append(agent.step), real_update(*a)))
    hooks = Counting()
    try:
        assert agent.learn(1064, hooks) == 1064
    finally:
        agent.close()
    assert agent.n_updates == (1064 - 64) // 4
    assert copies == list(range(100, 1064 + 1, 100))
    [(_, last)] = hooks.logged[-1:]
    assert last["train/n_updates"] == agent.n_updates and last["time/total_timesteps"] == 1064
    assert 0.0 < last["rollout/exploration_rate"] < 1.0 and last["train/loss"] > 0
    assert hooks.games and all(length >= 8 and score == length for _, score, length in hooks.games)

    every = _agent(sets=[*SMALL, "train_freq=2", "gradient_steps=-1"], n_envs=n_envs)
    try:
        every.learn(264, Counting())
    finally:
        every.close()
    assert every.n_updates == 264 - 64


def test_learning_goes_on_where_the_last_call_ended() -> None:
    """``learn`` continues its envs, counters and memory (the benchmarks call it round after round)."""
    agent = _agent(n_envs=2)
    try:
        agent.learn(200, Counting())
        first = (agent.step, len(agent.memory), agent.n_updates)  # type: ignore[arg-type]
        agent.learn(400, Counting())
        assert agent.learn(400, Counting()) == 400  # already there: nothing to do, and no error
    finally:
        agent.close()
    assert first[0] == 200 and agent.step == 400
    assert len(agent.memory) > first[1] and agent.n_updates > first[2]  # type: ignore[arg-type]


# -- checkpoints and resume ----------------------------------------------------------------------------------------
def test_a_checkpoint_plays_as_saved_and_is_refused_elsewhere(tmp_path: Path) -> None:
    agent = _agent(n_envs=1)
    path = tmp_path / "step.zip"
    try:
        agent.learn(300, Counting())
        agent.save(path)
        obs = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
        expected = agent.think(obs).q_values
    finally:
        agent.close()
    meta, _states = read_dqn_checkpoint(path, for_training=True)
    assert (meta["algo"], meta["env"], meta["step"]) == ("dqn", "CartPole-v1", 300)

    player = _agent()
    try:
        assert player.load(path) == 300
        assert player.memory is None  # playing reserves no replay memory
        np.testing.assert_allclose(player.think(obs).q_values, expected, rtol=1e-6)
    finally:
        player.close()

    other = _agent(env="Acrobot-v1")
    with pytest.raises(CheckpointError, match="trained on CartPole-v1"):
        other.load(path)
    sb3 = tmp_path / "sb3.zip"
    _config, theirs = our_agent("sb3-dqn", "CartPole-v1", sets=["buffer_size=100"])
    theirs.save(sb3)
    theirs.close()
    with pytest.raises(CheckpointError, match="loads as sb3-dqn"):
        _agent().load(sb3)


def test_a_resumed_run_goes_on_with_the_same_prioritized_memory(tmp_path: Path) -> None:
    """Save after some prioritized learning; a new agent loads the checkpoint and the memory beside it and holds the
    same transitions with the same priorities, and draws the same next batch with the same importance weights."""
    sets = [*SMALL, "prioritized=true", "alpha=0.6"]
    agent = _agent(sets=sets, n_envs=2)
    try:
        agent.learn(600, Counting())
        agent.save(tmp_path / "step.zip")
        agent.save_extra(tmp_path)
        memory = agent.memory
        assert memory is not None
        leaves = memory.sum_tree.nodes[memory.sum_tree.leaves:][: memory.ready.size]
        assert len(np.unique(leaves[memory.ready])) > 50  # learning has given the transitions their own priorities
        expected = memory.sample(16, beta=0.7)
        resumed = _agent(sets=sets, n_envs=2)
        resumed.load(tmp_path / "step.zip", for_training=True)
        resumed.check_extra(tmp_path)
        assert resumed.load_extra(tmp_path) is True
        again = resumed.memory
        assert again is not None
        # the draw above moved the original's random state on: load again to compare draw for draw
        assert again.n_ready == memory.n_ready and again.max_priority == memory.max_priority
        np.testing.assert_array_equal(again.sum_tree.nodes, memory.sum_tree.nodes)
        np.testing.assert_array_equal(again.min_tree.nodes, memory.min_tree.nodes)
        batch = again.sample(16, beta=0.7)
        np.testing.assert_array_equal(batch.indices, expected.indices)
        np.testing.assert_allclose(batch.weights, expected.weights)
        np.testing.assert_array_equal(batch.observations, expected.observations)
        assert (resumed.step, resumed.n_updates) == (agent.step, agent.n_updates)
        resumed.learn(800, Counting())  # and it learns on from there
        assert resumed.step == 800 and resumed.n_updates > agent.n_updates
        resumed.close()
    finally:
        agent.close()

    smaller = _agent(sets=["buffer_size=1500", *sets[1:]], n_envs=2)  # sets[0] is buffer_size=2000
    with pytest.raises(CheckpointError, match="capacity=2000"):
        smaller.check_extra(tmp_path)


def test_without_a_kept_memory_a_resume_fills_it_again_before_learning(tmp_path: Path) -> None:
    agent = _agent(n_envs=1)
    try:
        agent.learn(300, Counting())
        agent.save(tmp_path / "step.zip")
    finally:
        agent.close()
    resumed = _agent(n_envs=1)
    try:
        resumed.load(tmp_path / "step.zip", for_training=True)
        updates = resumed.n_updates
        assert resumed.load_extra(tmp_path) is False
        resumed.learn(300 + 64, Counting())  # learning_starts=64 more steps of filling: no gradient step yet
        assert resumed.n_updates == updates
        resumed.learn(300 + 64 + 40, Counting())
        assert resumed.n_updates > updates
    finally:
        resumed.close()


# -- playing --------------------------------------------------------------------------------------------------------
def test_noisy_nets_play_on_their_means_and_explore_on_their_noise() -> None:
    agent = _agent(sets=[*SMALL, "noisy=true", "exploration_initial_eps=0", "exploration_final_eps=0"])
    try:
        agent.build()
        obs = np.random.default_rng(1).normal(size=(64, 4)).astype(np.float32)
        greedy = [agent.think(obs).q_values for _ in range(3)]
        explored = [agent.think(obs, deterministic=False).q_values for _ in range(3)]
    finally:
        agent.close()
    np.testing.assert_array_equal(greedy[0], greedy[1])
    np.testing.assert_array_equal(greedy[0], greedy[2])
    assert not np.allclose(explored[0], explored[1]) and not np.allclose(explored[0], greedy[0])


def test_c51_thinks_in_distributions() -> None:
    agent = _agent(sets=[*SMALL, "distributional=true", "atoms=11", "v_min=-5", "v_max=5"])
    try:
        agent.build()
        obs = np.zeros((3, 4), dtype=np.float32)
        thought = agent.think(obs)
    finally:
        agent.close()
    assert thought.distribution is not None and thought.distribution.shape == (3, 11)
    np.testing.assert_allclose(thought.distribution.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(thought.support, np.linspace(-5, 5, 11, dtype=np.float32))
    chosen = thought.q_values.argmax(axis=1)  # type: ignore[union-attr]
    np.testing.assert_allclose((thought.distribution * thought.support).sum(axis=1),
                               thought.q_values[np.arange(3), chosen], rtol=1e-5)  # type: ignore[index]


def test_image_networks_compute_in_bfloat16_where_the_cpu_does_and_float32_when_asked() -> None:
    assert Precision.choose("cpu", images=False).dtype is None  # a small MLP gains nothing
    assert Precision.choose("cpu", wanted=False).dtype is None
    assert Precision.choose("cpu").dtype == (torch.bfloat16 if cpu_has_bfloat16() else None)
    pong = _agent(env="ALE/Pong-v5", sets=["buffer_size=2000", "learning_starts=32"], n_envs=2)
    plain = _agent(env="ALE/Pong-v5", sets=["buffer_size=2000", "learning_starts=32", "mixed_precision=false"],
                   n_envs=2)
    try:
        assert pong.precision.dtype == (torch.bfloat16 if cpu_has_bfloat16() else None)
        assert plain.precision.dtype is None
        obs = np.random.default_rng(2).integers(0, 255, size=(4, 4, 84, 84), dtype=np.uint8)
        plain.online.load_state_dict(pong.online.state_dict())  # type: ignore[union-attr]
        fast, exact = pong.think(obs).q_values, plain.think(obs).q_values
        assert fast.dtype == exact.dtype == np.float32  # type: ignore[union-attr]
        np.testing.assert_allclose(fast, exact, atol=0.02)
        pong.learn(96, Counting())  # a few gradient steps in that format, with finite losses
        assert pong.n_updates == (96 - 32) // 4
    finally:
        pong.close()
        plain.close()


def test_the_output_layer_computes_in_float32_so_small_td_errors_still_teach_in_bfloat16() -> None:
    """Q-values share a large offset (about -0.5 on Pong, where most points are lost) and the TD errors that tell
    states apart are a few thousandths: bfloat16 rounds a -0.5 to steps of 0.002, and with the output layer in
    bfloat16 the gradients were mostly rounding (cosines of -0.1 to 0.7 with float32's over four seeds of this
    test; 0.985 or more with it in float32). Autocast computes bfloat16 on every CPU, natively or not."""
    torch.manual_seed(0)
    net = QNetwork((4, 84, 84), np.uint8, 6, DQNSettings())
    with torch.no_grad():
        net.q[-1].bias -= 0.5
    rng = np.random.default_rng(0)
    frames = torch.as_tensor(rng.integers(0, 255, size=(32, 4, 84, 84), dtype=np.uint8))
    actions = torch.as_tensor(rng.integers(0, 6, size=(32, 1)))
    with torch.no_grad():
        wanted = net(frames).gather(1, actions).squeeze(1) + torch.as_tensor(rng.normal(0, 0.001, 32)).float()

    def gradients(precision: Precision) -> dict[str, torch.Tensor]:
        net.zero_grad()
        with precision.autocast():
            q = net(frames)
            loss = F.smooth_l1_loss(q.gather(1, actions).squeeze(1), wanted)
        assert q.dtype == torch.float32
        loss.backward()
        return {name: p.grad.flatten().clone() for name, p in net.named_parameters() if p.grad is not None}

    exact, fast = gradients(Precision("cpu", None)), gradients(Precision("cpu", torch.bfloat16))
    assert exact.keys() == fast.keys() and len(exact) == 10  # 4 layers' weights and biases, and the head's
    for name, gradient in exact.items():
        assert F.cosine_similarity(gradient, fast[name], dim=0) > 0.95, name


# -- learning: the presets solve CartPole -----------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(("preset", "seed"), [("nature", 2), ("rainbow", 1)])
def test_the_preset_solves_cartpole(preset: str, seed: int) -> None:
    """Evaluation mean >= 475 over 10 deterministic games within the preset's 50,000 steps."""
    config, agent = our_agent("dqn", "CartPole-v1", preset=preset, seed=seed)
    assert config.steps == 50_000 and config.preset == preset

    def evaluate(step: int, policy: Any) -> float:
        return training.evaluate_policy(config, policy, 10, seed=1_000).mean

    hooks = BenchHooks(evaluate=evaluate, eval_every=2_500, target=475)
    try:
        agent.learn(config.steps, hooks)
    finally:
        agent.close()
    assert hooks.reached is not None, f"{preset} did not reach 475 in {config.steps:,} steps: {hooks.evaluations}"


@pytest.mark.parametrize("preset", ["nature", "double", "dueling", "per", "rainbow"])
def test_the_atari_presets_give_adam_rainbows_epsilon(preset: str) -> None:
    """Adam's 1e-8 killed the Nature network's third convolution on Pong (the slow test below says how)."""
    config = build_rl_config("dqn", "ALE/Pong-v5", preset=preset, sets=["buffer_size=1000"])
    assert config.hyperparameters["optimizer_eps"] == 1.5e-4
    if preset == "nature":
        agent = training.make_agent(config, device="cpu")
        agent.build()
        try:
            assert isinstance(agent, DQNAgent) and agent.optimizer is not None
            assert agent.optimizer.param_groups[0]["eps"] == 1.5e-4
        finally:
            agent.close()


# -- learning: the convolutions stay alive on Pong ------------------------------------------------------------------
def _live_channels(agent: DQNAgent) -> int:
    """Channels of the third convolution that fire anywhere on 512 frame stacks of the agent's replay memory."""
    assert agent.online is not None and agent.memory is not None
    frames = torch.as_tensor(agent.memory.sample(512).observations)
    with torch.no_grad():
        features = through(agent.online.torso[0][:5], frames)  # the three convolutions and their ReLUs
    return int((features > 0).flatten(2).any(2).any(0).sum())


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_the_atari_presets_keep_the_convolutions_alive_on_pong(seed: int) -> None:
    """Pong's frames are one grey field with a ball and two paddles on it, and every gradient step of the early
    updates pushes all Q-values the same way. Adam with its usual epsilon (1e-8) takes a full step on every weight
    however small its gradient, and those steps switched the third convolution off for good: with seeds 1 and 2
    every one of its 64 channels was off on every frame by 100k steps of `--preset nature` (float32 and bfloat16
    alike), the Q-values the same for every frame, and learning never started (docs/learning.md). With the Atari
    presets' epsilon (1.5e-4, Rainbow's) small gradients make small steps. Measured with this test's code: the live
    channels went from 48 to 45 (seed 1) and 45 to 42 (seed 2) with the presets' epsilon, and from 48 to 23 and 45
    to 22 with 1e-8."""
    sets = ["buffer_size=20000", "learning_starts=10000"]
    _config, agent = our_agent("dqn", "ALE/Pong-v5", preset="nature", sets=sets, seed=seed)
    try:
        assert isinstance(agent, DQNAgent)
        agent.learn(10_000, Counting())
        before = _live_channels(agent)
        agent.learn(10_000 + 4 * 1_500, Counting())
        assert agent.n_updates == 1_500
        after = _live_channels(agent)
    finally:
        agent.close()
    assert after >= 0.8 * before, f"{before} live channels before learning, {after} after"


# -- learning: the advantage stream stays alive on Pong -------------------------------------------------------------
def _live_units(agent: DQNAgent) -> tuple[int, int]:
    """(value, advantage): the hidden units of each dueling stream that fire on any of the same 512 frame stacks of
    the agent's replay memory, on the network's means (no noise); a unit that fires on none gets no gradient."""
    assert agent.online is not None and agent.memory is not None
    frames = torch.as_tensor(agent.memory.sample(512, 1.0).observations)
    net = agent.online
    net.eval()
    try:
        with torch.no_grad():
            features = through(net.torso[0], frames).flatten(1)
            value, advantage = (int((stream[0](features) > 0).any(0).sum()) for stream in (net.value, net.advantage))
    finally:
        net.train()
    return value, advantage


@pytest.mark.slow
def test_the_rainbow_preset_keeps_the_advantage_stream_alive_on_pong() -> None:
    """Our Rainbow on Pong (1M steps, noisy sigma0 0.5 as in the paper's table 1) never learned: none of the advantage
    stream's 512 hidden units fired on any frame from 100k steps on, so the greedy action no longer depended on the
    frame. The likely reason: while the actions hardly matter (early Pong) the loss wants every action's advantage
    equal, and the noise on the advantages costs loss in proportion to the hidden units' activity, so turning them
    off pays; the larger the noise, the faster they went. Training runs with this test's settings (40k steps,
    learning from 5k, seed 0), live units counted on 512 random-play frames, advantage against value: sigma0 0.5 19
    of 122 (0.16; seed 1: 17 of 145), 0.25 39 of 105 (0.37), the preset's 0.1 54 of 127 (0.43), epsilon-greedy
    without noise 69 of 133 (0.52). This test itself, with 0.5: 20 of 123. With 0.1 the stream still thinned to 20
    live units by 150k steps of a 1M run, then grew back to over 100 (docs/learning.md); this test holds the line
    against the fast death."""
    sets = ["buffer_size=50000", "learning_starts=5000"]
    _config, agent = our_agent("dqn", "ALE/Pong-v5", preset="rainbow", sets=sets, seed=0)
    try:
        assert isinstance(agent, DQNAgent)
        agent.learn(40_000, Counting())
        value, advantage = _live_units(agent)
    finally:
        agent.close()
    assert advantage >= 0.3 * value, f"{advantage} live advantage units against {value} of the value stream's"
