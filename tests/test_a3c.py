"""A3C (agents/a3c.py) for real: learning, Atari, stop and resume, a killed worker, shared optimizer.

Every test also checks that no process it caused is left behind (see ``no_leftover_processes``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from playground import runs
from playground.store import get_store
from tests.conftest import assert_checkpoint_plays
from tests.test_training import _train_json, _wait_for

# -- processes -----------------------------------------------------------------------------------


def _proc_status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _alive(pid: int) -> bool:
    state = _proc_status(pid).get("State", "")
    return bool(state) and not state.startswith(("Z", "X"))


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _processes_of(home: Path) -> list[tuple[int, str]]:
    """Live processes started for this test's home (jobs, workers, their helpers), this one aside."""
    marker = f"PLAYGROUND_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker not in environ or not _alive(pid):
            continue
        cmd = _cmdline(pid)
        # This pytest process's own multiprocessing resource tracker lives as long as pytest does.
        if "resource_tracker" in cmd and _proc_status(pid).get("PPid") == str(os.getpid()):
            continue
        found.append((pid, cmd))
    return found


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # the thread ended between the listing and the read
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


@pytest.fixture(autouse=True)
def no_leftover_processes(home: Path):  # type: ignore[no-untyped-def]
    yield
    deadline = time.monotonic() + 20
    while _processes_of(home) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _processes_of(home)
    for pid, _ in left:  # do not let one failure leak into the next tests
        with contextlib.suppress(OSError):  # it may have exited since
            os.kill(pid, signal.SIGKILL)
    assert not left, f"processes left behind: {left}"


def _worker_pids(run_id: str) -> dict[int, int]:
    log = (Path(runs.get(run_id).folder) / "logs" / "train.log").read_text()
    return {int(i): int(p) for i, p in re.findall(r"A3C worker (\d+) started \(pid (\d+)\)", log)}


# -- the algorithm -------------------------------------------------------------------------------


@pytest.mark.slow
def test_a3c_learns_cartpole_within_20k_steps(cli) -> None:  # type: ignore[no-untyped-def]
    # One worker: with two, the workers' interleaving changes every run (CI once saw a best mean of 128 where
    # two runs here had reached 472 and 500). A single worker's updates come in one order; its trajectory still
    # moves with the machine's thread count (one thread: 124, 150, 198, 173 at 5k-20k steps, twice; two threads
    # gave other numbers), and A3C on CartPole climbs and falls back (50k steps ended at 465 with two threads and
    # at 118 with one), so the bar is on the best evaluation: five times a random policy's 22. CartPole's
    # classic 195 and the curve to 50k steps are in docs/learning.md.
    record = _train_json(cli, "a3c", "CartPole-v1", "--envs", "1", "--steps", "20000", "--seed", "0",
                         "--eval-every", "5000", "--eval-episodes", "10")
    assert record["config"]["preset"] == "cartpole" and record["config"]["n_envs"] == 1
    assert record["status"] == "finished" and record["step"] == 20_000
    evaluations = record["evaluations"]
    assert len(evaluations) >= 3 and evaluations[-1]["step"] == 20_000
    assert max(e["mean"] for e in evaluations) >= 110, [(e["step"], e["mean"]) for e in evaluations]
    assert {"train/policy_loss", "train/value_loss", "train/entropy", "train/grad_norm"} <= set(record["metric_keys"])


def test_cartpole_records_curves_and_checkpoints_that_load(cli) -> None:  # type: ignore[no-untyped-def]
    record = _train_json(cli, "a3c", "CartPole-v1", "--steps", "3000", "--envs", "2", "--eval-every", "1000",
                         "--eval-episodes", "3")
    assert record["status"] == "finished" and 3000 <= record["step"] <= 3001
    # Workers keep playing while the main process evaluates, so a busy machine can carry the count
    # past the next evaluation point: at least the one at 1,000 (or 2,000) and the final one.
    assert len(record["evaluations"]) >= 2
    assert all(1 <= s <= 500 and float(s).is_integer() for e in record["evaluations"] for s in e["scores"])
    store = get_store()
    scores = store.metrics(record["id"], "episode/score")
    assert len(scores) > 20 and all(row[3] >= 1 for row in scores)
    entropy = store.metrics(record["id"], "train/entropy")
    assert entropy and all(0 < row[3] <= np.log(2) + 1e-6 for row in entropy)
    updates = store.metrics(record["id"], "train/n_updates")[-1][3]
    assert updates >= 3000 / 5 - 2  # one update per 5-step rollout of each worker

    latest = record["checkpoints"][-1]
    assert_checkpoint_plays(record["config"], latest["path"], latest["step"])
    # The checkpoint is a zip of JSON and tensors that torch reads without unpickling objects.
    import zipfile

    with zipfile.ZipFile(latest["path"]) as archive:
        meta = json.loads(archive.read("playground.json"))
        state = torch.load(archive.open("model.pth"), weights_only=True)
    assert meta["algo"] == "a3c" and meta["step"] == latest["step"] and meta["n_updates"] > 0
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_pong_with_two_workers_records_metrics_checkpoint_and_a_whole_game(cli) -> None:  # type: ignore[no-untyped-def]
    from playground.config import RLConfig
    from playground.training import make_agent

    record = _train_json(cli, "a3c", "ALE/Pong-v5", "--steps", "400", "--envs", "2", "--env-backend", "fast",
                         "--eval-every", "400", "--eval-episodes", "1")
    assert record["status"] == "finished" and record["step"] >= 400
    assert record["config"]["preset"] == "atari"
    assert {"train/policy_loss", "train/value_loss", "train/entropy", "time/fps"} <= set(record["metric_keys"])
    [score] = record["evaluations"][-1]["scores"]
    assert float(score).is_integer() and -21 <= score <= -10  # a whole game, raw score (not one clipped point)
    agent = make_agent(RLConfig.model_validate(record["config"]), device="cpu")
    try:
        path = Path(record["checkpoints"][-1]["path"])
        assert agent.load(path, for_training=True) == record["checkpoints"][-1]["step"]
        obs = agent.make_env(1, 0).reset()
        assert obs.dtype == np.uint8 and obs.shape == (1, 4, 84, 84)
        assert agent.act(obs).shape == (1,)
    finally:
        agent.close()


def test_stop_from_another_door_then_resume_continues(cli) -> None:  # type: ignore[no-untyped-def]
    started = cli("rl", "train", "a3c", "CartPole-v1", "--steps", "1e6", "--envs", "2", "--eval-every", "5000",
                  "--eval-episodes", "1", "--detach")
    assert started.code == 0, started.err
    run_id = started.out.splitlines()[0]
    pid = int(started.err.split("pid ")[1].split(")")[0])
    _wait_for(lambda: runs.get(run_id).status == "running" and runs.get(run_id).step >= 6000, what="training")
    workers = _worker_pids(run_id)
    assert sorted(workers) == [0, 1] and set(workers.values()) <= set(_children(pid))
    assert cli("runs", "stop", run_id).code == 0
    _wait_for(lambda: runs.get(run_id).status == "stopped", timeout=60, what="a clean stop")
    os.waitpid(pid, 0)
    assert not any(_alive(p) for p in workers.values())
    stopped = runs.get(run_id)
    assert stopped.error is None
    step, path = runs.pick_checkpoint(stopped, "latest")
    assert step == stopped.step and path.is_file()
    store = get_store()
    updates_before = store.metrics(run_id, "train/n_updates")[-1][3]

    target = stopped.step + 4000
    resumed = cli("rl", "resume", run_id, "--steps", str(target), "--json")
    assert resumed.code == 0, resumed.err
    record = json.loads("\n".join(resumed.out.splitlines()[1:]))
    assert record["status"] == "finished" and target <= record["step"] <= target + 1
    totals = [v for s, _, k, v in store.metrics(run_id) if k == "time/total_timesteps"]
    assert totals == sorted(totals) and totals[-1] >= target
    after = [v for s, _, _, v in store.metrics(run_id, "train/n_updates") if s > stopped.step]
    assert after and after[0] > updates_before, "the update count goes on from the checkpoint"


def test_a_killed_worker_fails_the_run_cleanly_and_leaves_no_process(cli) -> None:  # type: ignore[no-untyped-def]
    started = cli("rl", "train", "a3c", "CartPole-v1", "--steps", "1e6", "--envs", "2", "--eval-every", "100000",
                  "--detach")
    assert started.code == 0, started.err
    run_id = started.out.splitlines()[0]
    pid = int(started.err.split("pid ")[1].split(")")[0])
    _wait_for(lambda: runs.get(run_id).status == "running" and runs.get(run_id).step >= 2000, what="training")
    workers = _worker_pids(run_id)
    assert sorted(workers) == [0, 1] and all(_alive(p) for p in workers.values())
    assert set(workers.values()) <= set(_children(pid)), "the workers are the training process's children"

    os.kill(workers[1], signal.SIGKILL)
    _wait_for(lambda: runs.get(run_id).status == "failed", timeout=60, what="the run to fail")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) != 0
    failed = runs.get(run_id)
    assert "A3C worker 1 died" in (failed.error or "") and "SIGKILL" in (failed.error or ""), failed.error
    assert not _alive(workers[0]), "the other worker was ended too"
    kept = runs.checkpoints(failed)
    assert kept and kept[-1][0] == failed.step >= 2000, "the parent kept the shared model when its worker died"


def test_bad_settings_are_refused_before_any_worker_starts(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("rl", "train", "a3c", "CartPole-v1", "--steps", "2000", "--set", "n_steps=0")
    assert result.code == 2 and "n_steps" in result.err
    result = cli("rl", "train", "a3c", "CartPole-v1", "--steps", "2000", "--set", "lstm_size=0")
    assert result.code == 2 and "lstm_size" in result.err
    result = cli("rl", "train", "a3c", "CartPole-v1", "--steps", "2000", "--set", "gru=true")
    assert result.code == 2 and "unknown hyperparameter 'gru'" in result.err
    result = cli("rl", "train", "a3c", "Pendulum-v1", "--steps", "2000")
    assert result.code == 2 and "discrete actions" in result.err
    assert json.loads(cli("runs", "list", "--json").out) == []


def test_a_crashing_worker_fails_learn_with_its_error() -> None:
    from playground.errors import PlaygroundError

    agent = _agent()
    agent.n_envs = 2
    agent.make_env = _BrokenEnv()  # picklable, so the workers get it as it is
    agent.build()
    try:
        with pytest.raises(PlaygroundError, match=r"A3C worker \d died: RuntimeError: the emulator caught fire"):
            agent.learn(2000, _QuietHooks())
    finally:
        agent.close()


def test_a_silent_worker_counts_as_hung_and_is_ended() -> None:
    from playground.errors import PlaygroundError

    agent = _agent(worker_timeout_s=3)
    agent.n_envs = 2
    agent.make_env = _StuckEnv()
    agent.build()
    started = time.monotonic()
    try:
        with pytest.raises(PlaygroundError, match=r"A3C worker \d sent nothing for \d+ s and counts as hung"):
            agent.learn(2000, _QuietHooks())
    finally:
        agent.close()
    assert time.monotonic() - started < 60


class _StuckEnv:
    def __call__(self, n_envs: int, seed: int):  # type: ignore[no-untyped-def]
        time.sleep(3600)


class _QuietHooks:
    """Hooks that let training go on and keep nothing of what it reports."""

    def on_step(self, step, policy, save):  # type: ignore[no-untyped-def]
        return True

    def log(self, step, values):  # type: ignore[no-untyped-def]
        """Metrics are not what these tests look at."""

    def episode(self, step, score, length):  # type: ignore[no-untyped-def]
        """Nor are episodes."""


class _BrokenEnv:
    def __call__(self, n_envs: int, seed: int):  # type: ignore[no-untyped-def]
        raise RuntimeError("the emulator caught fire")


# -- checkpoints and the shared optimizer ---------------------------------------------------------


def _agent(**hyper):  # type: ignore[no-untyped-def]
    from playground.config import build_rl_config
    from playground.training import make_agent

    sets = [f"{k}={v}" for k, v in hyper.items()]
    return make_agent(build_rl_config("a3c", "CartPole-v1", steps=1000, n_envs=1, sets=sets), device="cpu")


def test_damaged_or_mismatched_checkpoints_are_refused_with_a_sentence(tmp_path: Path) -> None:
    from playground.errors import CheckpointError

    agent = _agent()
    agent.build()
    good = tmp_path / "good.zip"
    agent.save(good)
    assert _agent().load(good, for_training=True) == 0

    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        _agent().load(truncated)
    with pytest.raises(CheckpointError, match="does not fit a3c"):
        _agent(net_arch="[32]").load(good)
    assert _agent().hp.optimizer == "adam"  # the CartPole preset's
    with pytest.raises(CheckpointError, match="holds adam statistics but this run uses rmsprop"):
        _agent(optimizer="rmsprop").load(good, for_training=True)
    with pytest.raises(CheckpointError, match="not an a3c checkpoint"):
        import zipfile

        with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
            archive.writestr("policy.pth", b"")
        _agent().load(tmp_path / "other.zip")


def _one_step_in_a_child(model, optimizer) -> None:  # type: ignore[no-untyped-def]
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    optimizer.step()


@pytest.mark.parametrize("name", ["rmsprop", "adam"])
def test_the_shared_optimizer_is_shared_across_processes(name: str) -> None:
    import torch.multiprocessing as mp

    from agents.a3c import A3CHyperparameters, ActorCritic, make_optimizer

    model = ActorCritic((4,), "float32", 2, [8])
    model.share_memory()
    optimizer = make_optimizer(model, A3CHyperparameters(optimizer=name, learning_rate=0.01))
    before = [p.detach().clone() for p in model.parameters()]
    child = mp.get_context("spawn").Process(target=_one_step_in_a_child, args=(model, optimizer))
    child.start()
    child.join(timeout=120)
    assert child.exitcode == 0
    # The child's update is in this process's weights and optimizer statistics.
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    first = next(iter(model.parameters()))
    state = optimizer.state[first]
    assert float(state["step"]) == 1
    averages = state["square_avg"] if name == "rmsprop" else state["exp_avg_sq"]
    assert torch.all(averages > 0)


# -- the LSTM core -------------------------------------------------------------------------------


def test_lstm_on_cartpole_trains_evaluates_and_loads_only_into_an_lstm(cli) -> None:  # type: ignore[no-untyped-def]
    from playground.config import RLConfig
    from playground.errors import CheckpointError
    from playground.training import make_agent

    record = _train_json(cli, "a3c", "CartPole-v1", "--steps", "2000", "--envs", "2", "--set", "lstm=true",
                         "--set", "lstm_size=32", "--eval-every", "1000", "--eval-episodes", "2")
    assert record["status"] == "finished" and 2000 <= record["step"] <= 2001
    assert record["config"]["hyperparameters"]["lstm"] is True
    assert len(record["evaluations"]) >= 2
    assert all(1 <= s <= 500 and float(s).is_integer() for e in record["evaluations"] for s in e["scores"])
    assert {"train/policy_loss", "train/value_loss", "train/entropy"} <= set(record["metric_keys"])

    latest = record["checkpoints"][-1]
    agent = make_agent(RLConfig.model_validate(record["config"]), device="cpu")
    try:
        assert agent.load(Path(latest["path"]), for_training=True) == latest["step"]
        assert any(k.startswith("lstm.") for k in agent.model.state_dict())
        obs = agent.make_env(1, 0).reset()
        agent.begin_episodes(np.ones(1, bool))
        assert agent.act(obs).shape == (1,)
    finally:
        agent.close()
    with pytest.raises(CheckpointError, match="does not fit a3c"):
        _agent().load(Path(latest["path"]))  # the same env and preset, without the LSTM
    with pytest.raises(CheckpointError, match="does not fit a3c"):
        _agent(lstm="true", lstm_size=16).load(Path(latest["path"]))
    plain = _agent()
    plain.build()
    plain.save(Path(latest["path"]).with_name("plain.zip"))
    with pytest.raises(CheckpointError, match="does not fit a3c"):
        _agent(lstm="true").load(Path(latest["path"]).with_name("plain.zip"))


@pytest.mark.parametrize("shape,dtype", [((4,), "float32"), ((4, 84, 84), "uint8")])
def test_unroll_with_a_reset_equals_step_by_step_from_zeros(shape, dtype) -> None:  # type: ignore[no-untyped-def]
    from agents.a3c import ActorCritic, unroll

    torch.manual_seed(0)
    model = ActorCritic(shape, dtype, 3, [16, 16], lstm=True, lstm_size=8)
    if dtype == "uint8":
        observations = [torch.randint(0, 256, (1, *shape), dtype=torch.uint8) for _ in range(6)]
    else:
        observations = [torch.randn(1, *shape) for _ in range(6)]
    dones = [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]  # the game ends on step 2; step 3 begins a new one
    start = (torch.randn(1, 8), torch.randn(1, 8))  # a state carried over from an earlier rollout
    logits, values, final = unroll(model, observations, dones, start)
    assert logits.shape == (6, 3) and values.shape == (6,)

    with torch.no_grad():
        state = start
        expected = []
        for obs in observations[:3]:
            step_logits, step_value, state = model.step(obs, state)
            expected.append((step_logits, step_value))
        state = model.initial_state(1)  # after the done: a fresh zero start on the rest
        for obs in observations[3:]:
            step_logits, step_value, state = model.step(obs, state)
            expected.append((step_logits, step_value))
    assert torch.allclose(logits.detach(), torch.cat([e[0] for e in expected]), atol=1e-6)
    assert torch.allclose(values.detach(), torch.cat([e[1] for e in expected]), atol=1e-6)
    assert all(torch.allclose(a.detach(), b, atol=1e-6) for a, b in zip(final, state))
    # Gradients flow back through the LSTM over the rollout: the first step's loss reaches the start
    # state, and the last step's reaches the LSTM weights through several steps.
    start = (start[0].clone().requires_grad_(), start[1].clone().requires_grad_())
    logits, values, _ = unroll(model, observations, dones, start)
    values[:3].sum().backward(retain_graph=True)
    assert start[0].grad is not None and start[0].grad.abs().sum() > 0
    start[0].grad = None
    values[3:].sum().backward()
    assert start[0].grad is None or start[0].grad.abs().sum() == 0, "no gradient crosses the reset"
    assert model.lstm.weight_hh.grad.abs().sum() > 0
    with pytest.raises(RuntimeError, match="step"):
        model(observations[0])


def test_act_keeps_a_state_per_env_and_begin_episodes_resets_the_masked_rows() -> None:
    agent = _agent(lstm="true", lstm_size=16)
    agent.build()
    assert agent.model.recurrent
    rng = np.random.default_rng(0)
    games = [rng.normal(size=(3, 4)).astype(np.float32) for _ in range(8)]  # 8 steps, 3 envs

    def play() -> tuple[list[np.ndarray], list[np.ndarray]]:
        actions, hs = [], []
        for obs in games:
            actions.append(agent.act(obs))
            hs.append(agent._act_state[0].clone())
        return actions, hs

    agent.begin_episodes(np.ones(3, bool))
    first_actions, first_h = play()
    agent.begin_episodes(np.ones(3, bool))
    again_actions, again_h = play()
    # The same observations from a reset state: the same states and actions.
    assert all(torch.equal(a, b) for a, b in zip(first_h, again_h))
    assert all(np.array_equal(a, b) for a, b in zip(first_actions, again_actions))
    # Without the reset the state carries over, and the same observations give other states.
    _, carried_h = play()
    assert not torch.allclose(carried_h[0], first_h[0])

    before = tuple(t.clone() for t in agent._act_state)
    mask = np.array([True, False, True])
    agent.begin_episodes(mask)
    h, c = agent._act_state
    assert torch.all(h[[0, 2]] == 0) and torch.all(c[[0, 2]] == 0)
    assert torch.equal(h[1], before[0][1]) and torch.equal(c[1], before[1][1])
    # A batch of another size starts from zeros, whether begin_episodes says so or act() sees it.
    agent.begin_episodes(np.ones(5, bool))
    assert agent._act_state[0].shape == (5, 16) and torch.all(agent._act_state[0] == 0)
    assert agent.act(rng.normal(size=(2, 4)).astype(np.float32)).shape == (2,)
    assert agent._act_state[0].shape == (2, 16)


def test_play_games_tells_a_recurrent_policy_when_games_begin() -> None:
    from playground.evaluation import play_games

    class Recorder:
        def __init__(self) -> None:
            self.masks: list[np.ndarray] = []

        def begin_episodes(self, mask: np.ndarray) -> None:
            self.masks.append(np.array(mask))

        def act(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
            return np.zeros(len(obs), dtype=np.int64)

    agent = _agent()
    env = agent.make_env(2, 0)
    try:
        policy = Recorder()
        scores = play_games(policy, env, 2)
    finally:
        env.close()
    assert len(scores.scores) == 2
    assert policy.masks[0].tolist() == [True, True]  # after the reset
    assert all(m.dtype == bool and m.shape == (2,) for m in policy.masks)
    assert sum(m.sum() for m in policy.masks[1:]) >= 2  # each finished game began a new one
