"""Training for real, but tiny: every algorithm on CartPole and on Pong, stop, resume, kill, eval."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from playground import runs
from playground.store import get_store
from tests.conftest import assert_checkpoint_plays, playground_process

TINY_PPO = ["--set", "n_steps=64", "--set", "batch_size=64", "--set", "n_epochs=2"]


def _train_json(cli, *args: str) -> dict:  # type: ignore[no-untyped-def]
    result = cli("rl", "train", *args, "--json")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    record = json.loads("\n".join(lines[1:]))
    assert lines[0] == record["id"], "the run id is printed first"
    return record


def _wait_for(predicate, timeout: float = 90.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _assert_loads(record: dict) -> None:
    """The newest checkpoint is a whole zip of its algorithm's format (SB3's, or our DQN's) at its step, and our
    agent can load and act with it."""
    from agents.dqn import read_dqn_checkpoint
    from agents.sb3 import read_checkpoint

    latest = record["checkpoints"][-1]
    if record["config"]["algo"] == "dqn":
        meta, _states = read_dqn_checkpoint(Path(latest["path"]), for_training=True)
        assert meta["step"] == latest["step"]
    else:
        assert read_checkpoint(Path(latest["path"])).step == latest["step"]
    assert_checkpoint_plays(record["config"], latest["path"], latest["step"])


@pytest.mark.parametrize(
    "algo,extra",
    [
        ("ppo", TINY_PPO),
        ("a2c", []),
        ("dqn", ["--set", "learning_starts=200", "--set", "buffer_size=5000"]),
        ("sb3-dqn", ["--set", "learning_starts=200", "--set", "buffer_size=5000"]),
    ],
)
def test_cartpole_trains_and_records(cli, algo: str, extra: list[str]) -> None:  # type: ignore[no-untyped-def]
    record = _train_json(
        cli, algo, "CartPole-v1", "--steps", "3000", "--envs", "2", "--eval-every", "1000", "--eval-episodes", "3", *extra
    )
    assert record["status"] == "finished"
    assert record["step"] >= 3000
    assert len(record["evaluations"]) >= 3
    for evaluation in record["evaluations"]:
        assert evaluation["n_episodes"] == 3
        assert all(1 <= s <= 500 and float(s).is_integer() for s in evaluation["scores"])
    assert "episode/score" in record["metric_keys"]
    store = get_store()
    scores = store.metrics(record["id"], "episode/score")
    assert len(scores) > 20 and all(s[3] >= 1 for s in scores)
    assert any(k.startswith("train/") for k in record["metric_keys"]), record["metric_keys"]
    folder = Path(record["folder"])
    assert (folder / "config.yaml").is_file() and (folder / "logs" / "train.log").is_file()
    _assert_loads(record)


@pytest.mark.parametrize(
    "algo,extra",
    [
        ("ppo", TINY_PPO),
        ("a2c", []),
        ("dqn", ["--set", "learning_starts=100", "--set", "buffer_size=1000"]),
    ],
)
def test_pong_through_the_fast_vector_env(cli, algo: str, extra: list[str]) -> None:  # type: ignore[no-untyped-def]
    record = _train_json(
        cli, algo, "ALE/Pong-v5", "--steps", "400", "--envs", "2", "--env-backend", "fast",
        "--eval-every", "400", "--eval-episodes", "1", *extra,
    )
    assert record["status"] == "finished" and record["step"] >= 400
    assert record["config"]["env_backend"] == "fast"
    assert any(k.startswith(("train/", "time/")) for k in record["metric_keys"]), record["metric_keys"]
    [evaluation] = record["evaluations"][-1:]
    # A whole game of Pong ends when one side reaches 21: an untrained agent's raw score is far
    # below the -1 that a single clipped point (or one "life") would give.
    [score] = evaluation["scores"]
    assert float(score).is_integer() and -21 <= score <= -10
    _assert_loads(record)


def test_stop_from_another_door_then_resume_continues(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    started = cli("rl", "train", "ppo", "CartPole-v1", "--steps", "1e6", "--envs", "2", *TINY_PPO,
                  "--eval-every", "2000", "--eval-episodes", "1", "--detach")
    assert started.code == 0, started.err
    run_id = started.out.splitlines()[0]
    pid = int(started.err.split("pid ")[1].split(")")[0])
    for command in (f"`playground runs show {run_id}`", f"`playground runs stop {run_id}`"):
        assert command in started.err  # never cut in two, however narrow the terminal
    store = get_store()
    _wait_for(lambda: runs.get(run_id).status == "running" and runs.get(run_id).step >= 2500, what="training")
    assert cli("runs", "stop", run_id).code == 0
    _wait_for(lambda: runs.get(run_id).status == "stopped", timeout=60, what="a clean stop")
    os.waitpid(pid, 0)
    stopped = runs.get(run_id)
    assert stopped.error is None
    step, path = runs.pick_checkpoint(stopped, "latest")
    assert step == stopped.step and path.is_file()
    before = max(s for s, *_ in store.metrics(run_id))
    updates_before = store.metrics(run_id, "train/n_updates")[-1][3]
    lr_before = store.metrics(run_id, "train/learning_rate")[-1][3]

    target = stopped.step + 3000
    resumed = cli("rl", "resume", run_id, "--steps", str(target), "--json")
    assert resumed.code == 0, resumed.err
    record = json.loads("\n".join(resumed.out.splitlines()[1:]))
    assert record["status"] == "finished" and record["step"] >= target
    # Curves continue rather than restart: every step logged after the resume is past the stop.
    totals = [v for s, _, k, v in store.metrics(run_id) if k == "time/total_timesteps"]
    assert totals == sorted(totals) and totals[-1] >= target
    assert max(s for s, *_ in store.metrics(run_id)) > before
    assert record["config"]["steps"] == target
    # The optimizer's counters and the schedules go on: PPO's n_updates keeps counting, and its
    # linear learning rate (from the preset) is below where it stood at the stop.
    assert store.metrics(run_id, "train/n_updates")[-1][3] > updates_before
    lr_after = [v for s, _, _, v in store.metrics(run_id, "train/learning_rate") if s > stopped.step]
    assert lr_after and lr_after[0] < lr_before


def test_sigkill_leaves_a_loadable_checkpoint_and_resume_works(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    """Kill -9 three times at arbitrary moments (checkpoints are written every other rollout)."""
    from agents.sb3 import read_checkpoint

    started = cli("rl", "train", "ppo", "CartPole-v1", "--steps", "1e6", "--envs", "2", *TINY_PPO,
                  "--checkpoint-every", "256", "--eval-every", "100000", "--keep", "3", "--detach")
    run_id = started.out.splitlines()[0]
    rng = np.random.default_rng(7)
    for round_ in range(3):
        pid = int(started.err.split("pid ")[1].split(")")[0])
        newest = runs.checkpoints(runs.get(run_id))[-1][0] if runs.checkpoints(runs.get(run_id)) else -1
        _wait_for(lambda: runs.get(run_id).status == "running" and runs.checkpoints(runs.get(run_id))[-1:]
                  and runs.checkpoints(runs.get(run_id))[-1][0] > newest, what="a checkpoint from this session")
        time.sleep(float(rng.uniform(0.5, 2.0)))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        killed = runs.get(run_id)  # reading it notices the dead process
        assert killed.status == "failed" and "without reporting" in (killed.error or "")
        listed = json.loads(cli("runs", "list", "--json").out)
        assert [r["status"] for r in listed if r["id"] == run_id] == ["failed"]
        record = runs.record(killed, detail=True)
        for checkpoint in record["checkpoints"]:  # every checkpoint the store lists is whole
            assert read_checkpoint(Path(checkpoint["path"])).step == checkpoint["step"]
        _assert_loads(record)
        if round_ < 2:
            started = cli("rl", "resume", run_id, "--detach")
            assert started.code == 0, started.err
    # The newest checkpoint damaged as well (a disk error, a copy cut short): resume says so in one sentence and
    # names the older ones; `--checkpoint STEP` starts from one of them.
    assert len(record["checkpoints"]) >= 2
    newest, older = record["checkpoints"][-1], record["checkpoints"][-2]
    Path(newest["path"]).write_bytes(b"not a checkpoint")
    refused = cli("rl", "resume", run_id)
    assert refused.code == 2 and "--checkpoint" in refused.err and str(older["step"]) in refused.err.replace(",", "")
    assert "Traceback" not in refused.err and len(refused.err.strip().splitlines()) == 1, refused.err
    step = older["step"]
    resumed = cli("rl", "resume", run_id, "--checkpoint", str(step), "--steps", str(step + 1000), "--json")
    assert resumed.code == 0, resumed.err
    after = json.loads("\n".join(resumed.out.splitlines()[1:]))
    assert after["status"] == "finished" and after["step"] >= step + 1000
    totals = [v for s, _, k, v in get_store().metrics(run_id) if k == "time/total_timesteps"]
    assert totals[-1] >= step + 1000
    assert totals == sorted(totals), "rows a killed session logged past its checkpoint are gone"


def test_ctrl_c_saves_a_checkpoint_and_leaves_the_run_stopped(home: Path) -> None:
    proc = playground_process("rl", "train", "ppo", "CartPole-v1", "--steps", "1e6", "--envs", "2", *TINY_PPO,
                              "--eval-every", "100000", home=home)
    try:
        run_id = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert run_id.startswith("ppo-CartPole-")
        _wait_for(lambda: runs.get(run_id).status == "running" and runs.get(run_id).step > 2000, what="training")
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            log = (Path(runs.get(run_id).folder) / "logs" / "train.log").read_text()
            raise AssertionError(f"no clean stop within 120 s after Ctrl-C; stderr: {err[-2000:]}; log: {log[-2000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    run = runs.get(run_id)
    assert run.status == "stopped"
    step, path = runs.pick_checkpoint(run, "latest")
    assert step == run.step and path.is_file()
    assert f"playground rl resume {run_id}" in out


def test_eval_plays_whole_games_and_stores_raw_scores(cli) -> None:  # type: ignore[no-untyped-def]
    record = _train_json(cli, "ppo", "CartPole-v1", "--steps", "1024", "--envs", "2", *TINY_PPO, "--eval-episodes", "2")
    result = cli("rl", "eval", record["id"], "--episodes", "5", "--checkpoint", "latest", "--seed", "3", "--json")
    assert result.code == 0, result.err
    evaluation = json.loads(result.out)
    assert evaluation["episodes"] == 5 and len(evaluation["scores"]) == 5
    assert evaluation["mean"] == pytest.approx(np.mean(evaluation["scores"]))
    assert evaluation["std"] == pytest.approx(np.std(evaluation["scores"]))
    stored = get_store().evaluations(record["id"])[-1]
    assert stored.scores == evaluation["scores"] and stored.seed == 3
    again = json.loads(cli("rl", "eval", record["id"], "--episodes", "5", "--checkpoint", "latest", "--seed", "3",
                           "--json").out)
    assert again["scores"] == evaluation["scores"], "the same seed plays the same games"


def test_import_a_model_made_by_plain_stable_baselines3(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    model = PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=1, seed=1), n_steps=256, batch_size=64, seed=1,
                policy_kwargs={"activation_fn": torch.nn.ReLU, "net_arch": [32, 32]}, device="cpu")
    model.learn(512)
    zip_path = tmp_path / "outside.zip"
    model.save(zip_path)

    result = cli("rl", "import", str(zip_path), "--env", "CartPole-v1", "--algo", "ppo", "--name", "from-outside")
    assert result.code == 0, result.err
    run_id = result.out.splitlines()[0]
    run = runs.get("from-outside")
    assert run.id == run_id and run.status == "finished" and run.step == model.num_timesteps

    from playground.config import RLConfig
    from playground.training import make_agent

    agent = make_agent(RLConfig.model_validate(run.config), device="cpu")
    agent.load(runs.pick_checkpoint(run, "latest")[1])
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    assert np.array_equal(agent.act(obs), model.predict(obs, deterministic=True)[0])
    agent.close()

    evaluation = json.loads(cli("rl", "eval", run_id, "--episodes", "3", "--json").out)
    assert len(evaluation["scores"]) == 3
    refused = cli("rl", "resume", run_id, "--steps", "5000")
    assert refused.code == 2 and "imported" in refused.err


def test_compare_and_delete(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = _train_json(cli, "ppo", "CartPole-v1", "--steps", "1024", "--envs", "2", *TINY_PPO, "--eval-every", "512",
                    "--eval-episodes", "1")
    b = _train_json(cli, "a2c", "CartPole-v1", "--steps", "1000", "--envs", "2", "--eval-every", "500",
                    "--eval-episodes", "1")
    png = tmp_path / "cmp.png"
    assert cli("runs", "compare", a["id"], b["id"], "--out", str(png)).code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = tmp_path / "cmp.html"
    assert cli("runs", "compare", a["id"], b["id"], "--metric", "episode/score", "--out", str(page)).code == 0
    text = page.read_text()
    assert "<svg" in text and a["id"] in text and b["id"] in text
    assert cli("runs", "delete", a["id"], "--yes").code == 0
    assert not Path(a["folder"]).exists()
    ids = [r["id"] for r in json.loads(cli("runs", "list", "--json").out)]
    assert ids == [b["id"]]
    assert get_store().metrics(a["id"]) == []


def test_tensorboard_files_and_names_with_brackets(cli) -> None:  # type: ignore[no-untyped-def]
    record = _train_json(cli, "ppo", "CartPole-v1", "--steps", "256", "--envs", "2", *TINY_PPO, "--tensorboard",
                         "--name", "try [/red] this", "--eval-episodes", "1")
    events = list((Path(record["folder"]) / "tensorboard").rglob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    assert cli("runs", "list").code == 0  # the table renders; rich would choke on the name as markup
    assert [r["name"] for r in json.loads(cli("runs", "list", "--json").out)] == ["try [/red] this"]
    assert cli("runs", "show", "try [/red] this").code == 0


def test_one_run_is_trained_by_one_process_at_a_time(cli) -> None:  # type: ignore[no-untyped-def]
    from playground.errors import RunStateError
    from playground.training import execute

    record = _train_json(cli, "ppo", "CartPole-v1", "--steps", "256", "--envs", "2", *TINY_PPO, "--eval-episodes", "1")
    runs.mark_running(record["id"])  # this process claims it (as a resumed job would)
    with pytest.raises(RunStateError, match="already being trained"):
        execute(record["id"], resume=True)
    assert runs.get(record["id"]).pid == os.getpid()


def test_importing_under_the_wrong_algorithm_is_refused(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from stable_baselines3 import DQN

    model = DQN("MlpPolicy", "CartPole-v1", learning_starts=0, buffer_size=1000, device="cpu")
    zip_path = tmp_path / "dqn.zip"
    model.save(zip_path)
    result = cli("rl", "import", str(zip_path), "--env", "CartPole-v1", "--algo", "ppo")
    assert result.code == 2 and "does not fit ppo" in result.err
    assert json.loads(cli("runs", "list", "--json").out) == []
    assert cli("rl", "import", str(zip_path), "--env", "CartPole-v1", "--algo", "dqn").code == 0


@pytest.mark.parametrize("algo", ["dqn", "sb3-dqn"])
def test_dqn_keeps_its_replay_buffer_across_a_resume_when_asked(cli, algo: str) -> None:  # type: ignore[no-untyped-def]
    from playground.config import RLConfig
    from playground.training import make_agent

    record = _train_json(cli, algo, "CartPole-v1", "--steps", "600", "--envs", "2", "--save-replay-buffer",
                         "--set", "learning_starts=100", "--set", "buffer_size=5000", "--eval-episodes", "1")
    folder = Path(record["folder"]) / "checkpoints"
    assert (folder / "replay_buffer.npz").is_file()
    agent = make_agent(RLConfig.model_validate(record["config"]), device="cpu")
    try:
        agent.load(Path(record["checkpoints"][-1]["path"]), for_training=True)
        assert agent.load_extra(folder) is True  # type: ignore[attr-defined]
        if algo == "dqn":
            memory = agent.memory  # type: ignore[attr-defined]
            # every step of both envs is there: CartPole pays 1 per step, the slots games end on hold 0
            assert memory.rewards.sum() == record["step"] and len(memory) > record["step"] - 20
        else:
            buffer = agent.model.replay_buffer  # type: ignore[attr-defined]
            assert buffer.pos == record["step"] // 2 and buffer.rewards[: buffer.pos].sum() > 0
    finally:
        agent.close()
    resumed = cli("rl", "resume", record["id"], "--steps", "1200", "--json")
    assert resumed.code == 0, resumed.err
    assert json.loads("\n".join(resumed.out.splitlines()[1:]))["step"] >= 1200


def test_resuming_with_a_replay_memory_of_other_settings_is_one_sentence_and_changes_nothing(cli) -> None:  # type: ignore[no-untyped-def]
    """A replay memory beside the checkpoint that another run made (another buffer_size here) is refused
    before the run changes: its total steps, status and files stay as they were."""
    args = ("--steps", "300", "--envs", "2", "--save-replay-buffer", "--set", "learning_starts=100",
            "--eval-episodes", "1")
    first = _train_json(cli, "dqn", "CartPole-v1", *args, "--set", "buffer_size=5000")
    other = _train_json(cli, "dqn", "CartPole-v1", *args, "--set", "buffer_size=4000")
    mine = Path(first["folder"]) / "checkpoints" / "replay_buffer.npz"
    shutil.copyfile(Path(other["folder"]) / "checkpoints" / "replay_buffer.npz", mine)
    before = runs.get(first["id"])

    refused = cli("rl", "resume", first["id"], "--steps", "600")

    assert refused.code == 2 and refused.err.count("\n") == 1 and "Traceback" not in refused.err, refused.err
    assert "capacity=4000" in refused.err and "capacity=5000" in refused.err, refused.err
    after = runs.get(first["id"])
    assert (after.status, after.total_steps, after.step) == (before.status, before.total_steps, before.step)


def test_lunarlander_trains_with_its_preset(cli) -> None:  # type: ignore[no-untyped-def]
    record = _train_json(cli, "ppo", "LunarLander-v3", "--steps", "2048", "--envs", "2", "--set", "n_steps=256",
                         "--eval-episodes", "1")
    assert record["config"]["preset"] == "lunarlander" and record["status"] == "finished"
    [score] = record["evaluations"][-1]["scores"]
    assert -1000 < score < 400  # a whole landing attempt's raw return
