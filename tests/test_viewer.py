"""The pygame viewer, headless (SDL's dummy driver): watch records real videos with the HUD, the HUD
shows the model's own numbers, Atari frames are the game's colour screen, follow mode switches
checkpoints between games, keys do what the help says, play and duel store their results, and
every mistake a user can make is one sentence with exit status 2.

The runs come from one module-scoped home: a real PPO run trained for 256 steps, and one run per
algorithm whose checkpoint is a freshly built network with known outputs (its last layer's
weights zeroed and its bias set), so the expected probabilities and Q-values are exact.
"""

from __future__ import annotations

import dataclasses
import json
import math
import selectors
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pygame
import pytest
import torch

from playground import envs, runs, training
from playground.atomic import atomic_output
from playground.config import RLConfig, build_rl_config
from playground.game.results import DUEL, HUMAN_GAME
from playground.store import get_store
from playground.viewer.display import Screen
from playground.viewer.follow import Follower
from playground.viewer.hud import PANEL_WIDTH, HudState
from playground.viewer.keyboard import KeyMap, ScriptedInput
from playground.viewer.session import WatchSession
from playground.viewer.watch import WatchApp
from tests.conftest import playground_process

TINY_PPO = ["n_steps=64", "batch_size=64"]
PPO_PROBS = [0.8, 0.2]  # the known PPO network: LEFT with 0.8, whatever it sees; V(s) = 1.25
A3C_PROBS = [0.3, 0.7]  # the known A3C network: RIGHT with 0.7; V(s) = -0.5
DQN_Q = [0.5, 2.0]  # the known DQN network: Q(LEFT) = 0.5, Q(RIGHT) = 2.0
C51_SETS = ["distributional=true", "atoms=5", "v_min=-2", "v_max=2", "buffer_size=100"]
C51_LEFT, C51_RIGHT = [0.0, 1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.5, 0.5]  # on the returns -2, -1, 0, +1, +2


@dataclass
class Lab:
    home: Path
    trained: str  # a real PPO run on CartPole (256 steps, one evaluation)
    known: dict[str, str]  # algo -> run whose checkpoint has known outputs (CartPole)
    pong: str  # an untrained PPO on ALE/Pong-v5 (fast backend)


def _run_with_checkpoint(cfg: RLConfig, shape: Any = None, step: int = 0, label: str | None = None) -> str:
    """A run whose only checkpoint is a freshly built network, optionally reshaped by ``shape(agent)``."""
    run = training.create_run(cfg, label=label)
    agent = training.make_agent(cfg, device="cpu")
    try:
        agent.build()
        if shape is not None:
            with torch.no_grad():
                shape(agent)
        path = runs.checkpoint_path(run, step)
        atomic_output(path, agent.save)
    finally:
        agent.close()
    get_store().add_artifact(run.id, "checkpoint", str(path), step=step)
    return run.id


def _set_linear(layer: torch.nn.Linear, bias: list[float]) -> None:
    layer.weight.zero_()
    layer.bias.copy_(torch.tensor(bias))


def _known_ppo(agent: Any) -> None:
    policy = agent.model.policy
    _set_linear(policy.action_net, [math.log(p) for p in PPO_PROBS])
    _set_linear(policy.value_net, [1.25])


def _known_a3c(agent: Any) -> None:
    _set_linear(agent.model.actor[-1], [math.log(p) for p in A3C_PROBS])
    _set_linear(agent.model.critic[-1], [-0.5])


def _known_dqn(agent: Any) -> None:
    for net in (agent.online, agent.target):
        _set_linear(net.q[-1], DQN_Q)


def _known_sb3_dqn(agent: Any) -> None:
    for net in (agent.model.q_net, agent.model.q_net_target):
        _set_linear(net.q_net[-1], DQN_Q)


def _known_c51(agent: Any) -> None:
    """LEFT: every bit of probability on the return -1; RIGHT: half on +1, half on +2 (support -2..2, 5 atoms)."""
    logits = [math.log(max(p, 1e-12)) for p in C51_LEFT + C51_RIGHT]
    for net in (agent.online, agent.target):
        _set_linear(net.q[-1], logits)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("viewer") / "home"
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: a thread pool only spins on a busy 2-core machine
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_HOME", str(home))
        mp.delenv("PLAYGROUND_DB", raising=False)
        cfg = build_rl_config("ppo", "CartPole-v1", steps=256, n_envs=1, sets=TINY_PPO, eval_every=256,
                              eval_episodes=1)
        trained = training.create_run(cfg, label="trained")
        assert training.execute(trained.id).status == "finished"
        known = {
            "ppo": _run_with_checkpoint(cfg, _known_ppo),
            "a2c": _run_with_checkpoint(build_rl_config("a2c", "CartPole-v1", steps=1000, n_envs=1), _known_ppo),
            "dqn": _run_with_checkpoint(build_rl_config("dqn", "CartPole-v1", steps=1000, n_envs=1,
                                                        sets=["buffer_size=100"]), _known_dqn),
            "sb3-dqn": _run_with_checkpoint(build_rl_config("sb3-dqn", "CartPole-v1", steps=1000, n_envs=1,
                                                            sets=["buffer_size=100"]), _known_sb3_dqn),
            "c51": _run_with_checkpoint(build_rl_config("dqn", "CartPole-v1", steps=1000, n_envs=1, sets=C51_SETS),
                                        _known_c51),
            "a3c": _run_with_checkpoint(build_rl_config("a3c", "CartPole-v1", steps=1000, n_envs=1), _known_a3c),
        }
        pong = _run_with_checkpoint(build_rl_config("ppo", "ALE/Pong-v5", steps=1000, n_envs=1, sets=TINY_PPO,
                                                    env_backend="fast"), label="pong")
        yield Lab(home, trained.id, known, pong)
    torch.set_num_threads(previous)


@pytest.fixture
def in_lab(lab: Lab, cli: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The ``cli`` runner, pointed at the lab's home."""
    monkeypatch.setenv("PLAYGROUND_HOME", str(lab.home))
    return cli


def _json(result: Any) -> dict[str, Any]:
    assert result.code == 0, result.err
    return json.loads(result.out)


def _mp4_frames(path: Path) -> list[np.ndarray]:
    import imageio.v2 as imageio

    reader = imageio.get_reader(str(path), format="FFMPEG")
    try:
        return [frame for frame in reader]
    finally:
        reader.close()


def _gif_frames(path: Path) -> list[np.ndarray]:
    from PIL import Image, ImageSequence

    with Image.open(path) as image:
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)]


def assert_one_sentence(result: Any, *words: str) -> None:
    assert result.code == 2, f"exit {result.code}; out={result.out!r} err={result.err!r}"
    text = result.err.strip()
    assert text.startswith("error:") and "\n" not in text and "Traceback" not in text, result.err
    for word in words:
        assert word in text, f"{word!r} not in {text!r}"


# -- recording ------------------------------------------------------------------------------------------
def test_headless_watch_records_mp4_and_gif_with_the_hud(lab: Lab, in_lab: Any, tmp_path: Path) -> None:
    mp4 = tmp_path / "two games.mp4"
    done = _json(in_lab("watch", lab.trained, "--headless", "--record", str(mp4), "--episodes", "2", "--seed", "3",
                        "--json"))
    assert Path(done["path"]) == mp4 and mp4.stat().st_size > 0
    assert [g["seed"] for g in done["games"]] == [3, None]
    # One frame after each reset, then one per step: the video holds both whole games, nothing else.
    assert done["frames"] == sum(g["frames"] for g in done["games"]) == sum(1 + g["steps"] for g in done["games"])
    assert all(g["score"] == g["steps"] > 0 for g in done["games"])  # CartPole pays 1 per step
    frames = _mp4_frames(mp4)
    assert len(frames) == done["frames"]
    height, width = frames[0].shape[:2]
    assert (width, height) == (done["width"], done["height"]) == (600 + PANEL_WIDTH, max(400, height))
    assert frames[0][:, 600:].mean() < frames[0][:, :600].mean()  # the dark panel beside the white CartPole scene
    [video] = get_store().artifacts(lab.trained, "video")[-1:]
    assert video.path == str(mp4) and video.step == 256 and video.meta["games"] == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary file is left behind"

    gif = tmp_path / "game.gif"
    done = _json(in_lab("watch", lab.trained, "--headless", "--record", str(gif), "--seed", "4", "--json"))
    gif_frames = _gif_frames(gif)
    assert len(gif_frames) == math.ceil(done["frames"] / 2)  # 50 fps game, GIF at 25 fps: every other frame
    assert gif_frames[0].shape == (done["height"], done["width"], 3)


def test_headless_without_record_goes_to_the_run_folder(lab: Lab, in_lab: Any) -> None:
    result = in_lab("watch", lab.trained, "--headless", "--max-frames", "5", "--checkpoint", "latest")
    assert result.code == 0, result.err
    path = Path(result.out.strip().splitlines()[-1].split(" to ", 1)[1])
    assert path.parent == Path(runs.get(lab.trained).folder) / "videos" and "step-256" in path.name
    assert len(_mp4_frames(path)) == 5
    assert str(path) in [a.path for a in get_store().artifacts(lab.trained, "video")]


@pytest.mark.parametrize("algo", ["ppo", "a2c", "dqn", "a3c", "sb3-dqn"])
def test_every_algorithm_plays_a_whole_game_into_a_video(lab: Lab, in_lab: Any, tmp_path: Path, algo: str) -> None:
    out = tmp_path / f"{algo}.mp4"
    done = _json(in_lab("watch", lab.known[algo], "--headless", "--record", str(out), "--json"))
    [game] = done["games"]
    assert game["steps"] >= 5 and game["frames"] == game["steps"] + 1
    frames = _mp4_frames(out)
    assert len(frames) == done["frames"] == game["frames"]
    assert frames[-1].shape == (done["height"], 600 + PANEL_WIDTH, 3)


# -- what the agent thinks ------------------------------------------------------------------------------
def _session(lab: Lab, run_id: str, seed: int = 0) -> tuple[WatchSession, RLConfig]:
    run = runs.get(run_id)
    cfg = RLConfig.model_validate(run.config)
    step, path = runs.pick_checkpoint(run, "latest")
    agent = training.make_agent(cfg, device="cpu")
    agent.load(path)
    env = envs.make_watch_env(envs.resolve(cfg.env), cfg.env_backend)
    hud = HudState(run_id=run.id, algo=cfg.algo, env_id=cfg.env)
    return WatchSession(env, agent, hud, seed=seed, checkpoint_step=step), cfg


@pytest.mark.parametrize(
    ("algo", "kind", "numbers", "action", "value"),
    [
        ("ppo", "probabilities", PPO_PROBS, "LEFT", 1.25),
        ("a2c", "probabilities", PPO_PROBS, "LEFT", 1.25),
        ("a3c", "probabilities", A3C_PROBS, "RIGHT", -0.5),
        ("dqn", "q_values", DQN_Q, "RIGHT", 2.0),
        ("sb3-dqn", "q_values", DQN_Q, "RIGHT", 2.0),
        ("c51", "q_values", [-1.0, 1.5], "RIGHT", 1.5),
    ],
)
def test_the_hud_shows_the_models_own_numbers(lab: Lab, monkeypatch: pytest.MonkeyPatch, algo: str, kind: str,
                                              numbers: list[float], action: str, value: float) -> None:
    monkeypatch.setenv("PLAYGROUND_HOME", str(lab.home))
    session, _ = _session(lab, lab.known[algo])
    screen = Screen((900, 496), title="t", headless=True, fps=50)
    app = WatchApp(session, screen, zoom=1, fps=50)
    try:
        for _ in range(3):
            app.tick()
        hud = session.hud
        assert hud.action_name == action and hud.action_names == ["LEFT", "RIGHT"]
        assert getattr(hud, kind) == pytest.approx(numbers, abs=1e-5)
        other = "q_values" if kind == "probabilities" else "probabilities"
        assert getattr(hud, other) is None
        assert hud.value == pytest.approx(value, abs=1e-5) and len(hud.values) == 2
        # The bars drawn are the model's numbers: lengths in proportion for probabilities, ordered for Q-values.
        assert app.drawn["bar_kind"] == kind
        left, right = app.drawn["bars"]
        if kind == "probabilities":
            assert left / right == pytest.approx(numbers[0] / numbers[1], rel=0.05)
        else:
            assert right > left
        assert f"action: {action}" in app.drawn["lines"]
        if algo == "c51":  # the chosen action's return distribution, atom by atom, on its support
            assert hud.distribution == pytest.approx(C51_RIGHT, abs=1e-5) and hud.support == (-2.0, 2.0)
            heights = app.drawn["distribution"]
            assert heights[:3] == [0, 0, 0] and heights[3] == heights[4] > 20
            assert "return distribution of RIGHT" in app.drawn["lines"]
        else:
            assert hud.distribution is None and "distribution" not in app.drawn
    finally:
        session.close()


# -- Atari -----------------------------------------------------------------------------------------------
def test_atari_watch_shows_the_colour_screen_scaled_with_the_agents_view(lab: Lab, in_lab: Any,
                                                                           tmp_path: Path) -> None:
    session, _ = _session(lab, lab.pong)
    try:
        first = session.step()
        assert first.shape == (210, 160, 3) and session.obs.shape == (1, 4, 84, 84)
        for _ in range(8):
            session.step()
        assert session.steps == 2 and session.frames == 9  # the agent decides every 4th emulator frame
        assert len(set(session.hud.action_names)) == 6 and "FIRE" in session.hud.action_names
        screen = Screen((640, 560), title="t", headless=True, fps=60)
        app = WatchApp(session, screen, zoom=2, fps=60)
        app.controls.view.show_inset = True
        app.tick()
        assert app.drawn["inset"] == "4x84x84 frames" and app.drawn["game_size"] == (320, 420)
    finally:
        session.close()

    out = tmp_path / "pong.mp4"
    done = _json(in_lab("watch", lab.pong, "--headless", "--zoom", "2", "--max-frames", "40", "--record", str(out),
                        "--json"))
    frames = _mp4_frames(out)
    assert len(frames) == done["frames"] == 40
    assert frames[-1].shape == (done["height"], 320 + PANEL_WIDTH, 3) and done["height"] >= 420
    game = frames[-1][:420, :320].astype(int)
    assert np.abs(game[..., 0] - game[..., 2]).mean() > 40, "Pong's brown court: colour, not grayscale"


def test_the_fast_watch_env_sees_what_the_fast_training_env_sees() -> None:
    """Without no-op starts and sticky actions, the viewer's Python preprocessing equals ale-py's C++ env."""
    from ale_py.vector_env import AtariVectorEnv

    spec = dataclasses.replace(envs.resolve("ALE/Pong-v5"), repeat_action_probability=0.0)
    ours = envs.make_watch_env(spec, "fast", noop_max=0)
    theirs = AtariVectorEnv("pong", 1, repeat_action_probability=0.0, noop_max=0, reward_clipping=False,
                            autoreset_mode="SameStep", img_height=84, img_width=84, grayscale=True, stack_num=4,
                            frameskip=4, maxpool=True, episodic_life=False, use_fire_reset=True)
    try:
        start = ours.reset(seed=5)
        obs, _ = theirs.reset(seed=5)
        np.testing.assert_array_equal(start.obs, obs)
        for action in np.random.default_rng(0).integers(0, 6, size=150):
            step = ours.step(action)
            obs, reward, *_ = theirs.step(np.array([action]))
            np.testing.assert_array_equal(step.obs, obs)
            assert step.reward == float(reward[0]) and len(step.frames) == 4
    finally:
        ours.close()
        theirs.close()


def test_the_sb3_watch_env_sees_what_the_sb3_backend_sees() -> None:
    spec = envs.resolve("ALE/Pong-v5")
    ours = envs.make_watch_env(spec, "sb3")
    theirs = envs.make_eval_env(spec, 1, seed=7, backend="sb3")
    try:
        np.testing.assert_array_equal(ours.reset(seed=7).obs, theirs.reset())
        for action in np.random.default_rng(1).integers(0, 6, size=100):
            step = ours.step(action)
            obs, *_ = theirs.step(np.array([action]))
            np.testing.assert_array_equal(step.obs, obs)
            assert all(f.shape == (210, 160, 3) for f in step.frames)
    finally:
        ours.close()
        theirs.close()


# -- follow ----------------------------------------------------------------------------------------------
def _copy_checkpoint(run_id: str, source: Path, step: int) -> Path:
    run = runs.get(run_id)
    path = runs.checkpoint_path(run, step)
    atomic_output(path, lambda tmp: shutil.copyfile(source, tmp))
    get_store().add_artifact(run.id, "checkpoint", str(path), step=step)
    return path


def test_follow_switches_to_newer_checkpoints_between_games_then_plays_the_best(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYGROUND_HOME", str(lab.home))
    store = get_store()
    trained = runs.get(lab.trained)
    known = runs.pick_checkpoint(runs.get(lab.known["ppo"]), "latest")[1]
    run = training.create_run(RLConfig.model_validate(trained.config), label="followed")
    follower = Follower(run.id, store)
    messages: list[str] = []

    def trainer_writes_first_checkpoint(message: str) -> bool:  # the training process, played by this test
        messages.append(message)
        first = _copy_checkpoint(run.id, runs.pick_checkpoint(trained, "latest")[1], 100)
        store.add_evaluation(run.id, step=100, scores=[50.0], mean=50.0, std=0.0, checkpoint=str(first), seed=0)
        return True

    step, path, status = follower.first(trainer_writes_first_checkpoint)
    assert (step, status) == (100, "created")
    assert messages == [f"waiting for the first checkpoint of {run.id} (the run is created)"]
    runs.mark_running(run.id, store)

    cfg = RLConfig.model_validate(run.config)
    agent = training.make_agent(cfg, device="cpu")
    agent.load(path)
    hud = HudState(run_id=run.id, following=True, run_status=status)
    session = WatchSession(envs.make_watch_env(envs.resolve(cfg.env)), agent, hud, seed=1, checkpoint_step=step)
    app = WatchApp(session, Screen((900, 496), title="t", headless=True, fps=50), zoom=1, fps=50,
                   follower=follower)
    try:
        while not session.game_over:
            assert app.tick()
        assert hud.probabilities != pytest.approx(PPO_PROBS, abs=1e-3)
        _copy_checkpoint(run.id, known, 200)  # a newer checkpoint appears mid-game
        store.add_evaluation(run.id, step=200, scores=[9.0], mean=9.0, std=0.0,
                             checkpoint=str(runs.checkpoint_path(run, 200)), seed=0)
        assert app.tick()
        assert hud.checkpoint_step == 200 and hud.message == "new checkpoint: step 200"
        assert app.tick()  # the new game's first decision
        assert hud.probabilities == pytest.approx(PPO_PROBS, abs=1e-5), "the new weights play"
        assert hud.eval_curve == [(100, 50.0), (200, 9.0)] and hud.run_status == "running"

        runs.end(run.id, "finished", 200, store=store)
        while not session.game_over:
            assert app.tick()
        assert app.tick()
        assert hud.checkpoint_step == 100, "a finished run plays its best checkpoint"
        assert hud.message == "run finished; playing its best checkpoint (step 100)"
        assert app.checkpoint_steps == [100, 200, 100]
        assert [r.checkpoint_step for r in session.results] == [100, 200]
        app.controls.quit = True
        assert not app.tick()
    finally:
        session.close()


def test_follow_waits_for_a_checkpoint_and_ctrl_c_stops_cleanly(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYGROUND_HOME", str(lab.home))
    run = training.create_run(RLConfig.model_validate(runs.get(lab.trained).config), label="waiting")
    monkeypatch.setenv("PYTHONFAULTHANDLER", "1")  # a hang below ends with every thread's stack in stderr
    proc = playground_process("watch", run.id, "--follow", "--headless", home=lab.home)
    try:
        selector = selectors.DefaultSelector()
        selector.register(proc.stderr, selectors.EVENT_READ)  # type: ignore[arg-type]
        deadline = time.monotonic() + 60
        line = ""
        while "waiting" not in line and time.monotonic() < deadline:
            if selector.select(timeout=1):
                line = proc.stderr.readline()  # type: ignore[union-attr]
        assert f"waiting for the first checkpoint of {run.id}" in line, line
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # faulthandler prints where it hung
            _out, err = proc.communicate(timeout=30)
            pytest.fail(f"watch --follow did not stop 30 s after Ctrl-C; where it was:\n{err[-4000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


# -- keys --------------------------------------------------------------------------------------------------
def test_keys_pause_step_speed_restart_screenshot_help_and_quit(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYGROUND_HOME", str(lab.home))
    session, _ = _session(lab, lab.trained, seed=2)
    shots = Path(runs.get(lab.trained).folder) / "screenshots"
    screen = Screen((900, 496), title="keys", headless=False, fps=1000)  # a window, on SDL's dummy driver
    app = WatchApp(session, screen, zoom=1, fps=50, screenshot_dir=shots)

    def press(*keys: int) -> bool:
        for key in keys:
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode=""))
        return app.tick()

    try:
        assert press() and press() and session.frames == 2
        assert press(pygame.K_SPACE) and app.controls.view.paused
        assert press() and press() and session.frames == 2, "paused: the game stands still"
        steps = session.steps
        assert press(pygame.K_RIGHT) and session.steps == steps + 1 and session.frames == 3
        assert press(pygame.K_SPACE) and not app.controls.view.paused and session.frames == 4
        assert press(pygame.K_PLUS) and app.controls.view.speed == 2 and session.frames == 6
        assert press(pygame.K_MINUS) and press(pygame.K_MINUS) and app.controls.view.speed == 0.5
        before = session.frames
        assert press() and press() and session.frames == before + 1, "half speed: a new frame every other tick"
        assert press(pygame.K_EQUALS) and app.controls.view.speed == 1
        assert press(pygame.K_r) and session.frames == 1 and session.results == [], "restart drops the game"
        assert press(pygame.K_h) and app.drawn.get("help") is True
        assert press(pygame.K_v) and app.drawn["inset"] == "4 numbers"
        assert press(pygame.K_s) and len(app.screenshots) == 1
        assert pygame.image.load(str(app.screenshots[0])).get_size() == (900, 496)
        assert "screenshot" in session.hud.message
        assert not press(pygame.K_q)
        app.controls.quit = False
        pygame.event.post(pygame.event.Event(pygame.QUIT))
        assert not app.tick(), "closing the window quits"
    finally:
        screen.close()
        session.close()


# -- play and duel ---------------------------------------------------------------------------------------------
def test_keymap_uses_the_games_own_keys_with_arrows_and_fallbacks() -> None:
    env = envs.make_play_env(envs.resolve("ALE/Pong-v5"))
    try:
        keymap = KeyMap(env.keys_to_action() or {}, env.action_names)
    finally:
        env.close()
    names = env.action_names
    assert names[keymap.action(set())] == "NOOP"
    assert names[keymap.action({ord("d")})] == names[keymap.action({pygame.K_RIGHT})] == "RIGHT"
    assert names[keymap.action({pygame.K_UP, pygame.K_RIGHT, pygame.K_SPACE})] == "RIGHTFIRE"  # no UP in Pong
    assert ("d/Right", "RIGHT") in keymap.legend() and ("a/Left + space", "LEFTFIRE") in keymap.legend()


def test_play_with_scripted_keys_stores_a_human_game(home: Path) -> None:
    from playground.viewer.play import play

    summary = play("ALE/Pong-v5", player="tester", seed=11, keys=ScriptedInput([["d"]] * 100), headless=True, zoom=1)
    [game] = summary.games
    assert summary.actions["RIGHT"] == 100 and summary.actions["NOOP"] == game.frames - 100
    [event] = get_store().events(HUMAN_GAME)
    payload = event["payload"]
    assert payload == {"player": "tester", "env": "ALE/Pong-v5", "game": "Pong", "score": game.score,
                       "seed": 11, "frames": game.frames}
    assert -21 <= game.score < 0 and game.score.is_integer(), "a whole game of Pong the player barely moved in"


def test_duel_stores_a_result_with_a_winner(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    from playground.viewer.duel import duel

    monkeypatch.setenv("PLAYGROUND_HOME", str(lab.home))
    summary = duel(lab.pong, player="tester", seed=5, keys=ScriptedInput([]), headless=True, zoom=1,
                   max_frames_per_game=900)
    assert summary.winner in ("human", "agent", "draw")
    expected = "human" if summary.human_score > summary.agent_score else (
        "agent" if summary.agent_score > summary.human_score else "draw")
    assert summary.winner == expected
    [event] = [e for e in get_store().events(DUEL) if e["payload"]["seed"] == 5]
    payload = event["payload"]
    assert event["run_id"] == lab.pong and payload["player"] == "tester" and payload["winner"] == summary.winner
    assert (payload["human_score"], payload["agent_score"]) == (summary.human_score, summary.agent_score)
    assert payload["checkpoint"] == str(runs.pick_checkpoint(runs.get(lab.pong), "best")[1])


# -- bad input --------------------------------------------------------------------------------------------------
def test_watch_bad_input_is_one_sentence(cli: Any, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_one_sentence(cli("watch", "no-such-run", "--headless"), "no-such-run")
    cfg = build_rl_config("ppo", "CartPole-v1", steps=1000, n_envs=1)
    empty = training.create_run(cfg)
    assert_one_sentence(cli("watch", empty.id, "--headless"), "no checkpoint yet")
    get_store().update_run(empty.id, status="stopped")
    assert_one_sentence(cli("watch", empty.id, "--headless", "--follow"), "stopped", "no checkpoint", "rl resume")
    assert_one_sentence(cli("watch", empty.id, "--follow", "--checkpoint", "latest"), "--follow")
    assert_one_sentence(cli("watch", empty.id, "--headless", "--record", str(tmp_path / "x.avi")), ".mp4 or .gif")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert_one_sentence(cli("watch", empty.id, "--headless", "--record", str(blocker / "x.mp4")), "cannot write")
    assert_one_sentence(cli("watch", empty.id, "--record", str(tmp_path)), "folder")
    for flag in ("--zoom", "--fps", "--episodes", "--max-frames"):
        assert_one_sentence(cli("watch", empty.id, "--headless", flag, "0"), flag)
    monkeypatch.setenv("SDL_VIDEODRIVER", "x11")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert_one_sentence(cli("watch", empty.id), "no display", "--headless --record")
    assert_one_sentence(cli("play", "ALE/Pong-v5"), "no display", "desktop")
    assert not list(Path(empty.folder).rglob("*.mp4")), "nothing was recorded"


def test_play_and_duel_bad_input_is_one_sentence(lab: Lab, in_lab: Any) -> None:
    assert_one_sentence(in_lab("play", "Pendulum-v1"), "continuous actions", "ALE/Pong-v5")
    assert_one_sentence(in_lab("play", "CartPole-v1"), "no keyboard controls")
    assert_one_sentence(in_lab("play", "ALE/Pongg-v5"), "ALE/Pong-v5")
    assert_one_sentence(in_lab("play", "ALE/Pong-v5", "--name", "!!"), "player name")
    assert_one_sentence(in_lab("duel", lab.trained), lab.trained, "CartPole-v1", "no keyboard controls")
    assert_one_sentence(in_lab("duel", lab.pong, "--checkpoint", "soon"), "--checkpoint")
