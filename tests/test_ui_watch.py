"""The Watch page, headless: AppTest runs the page script; recordings are real (the viewer in a child process).

One module-scoped home holds a tiny PPO CartPole run with a checkpoint and a tiny DCGAN (two iterations
on digits), both trained for real, a run that has no checkpoint yet, and two tabular runs (Q-learning on the
lake that does not slip, value iteration on Taxi), whose tables the page draws.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from playground import gan_training, runs, training
from playground.config import build_gan_config, build_rl_config
from playground.store import get_store
from playground.ui.live import best_checkpoint

PAGE = str(Path(__file__).resolve().parents[1] / "playground" / "ui" / "pages" / "watch.py")


@dataclass
class Lab:
    home: Path
    rl: str
    gan: str
    bare: str  # no checkpoint
    table: str  # qlearning on FrozenLake-v1,is_slippery=False
    taxi: str  # value-iteration on Taxi-v4


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("ui-watch") / "home"
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_HOME", str(home))
        mp.delenv("PLAYGROUND_DB", raising=False)
        cfg = build_rl_config("ppo", "CartPole-v1", steps=256, n_envs=1, sets=["n_steps=64", "batch_size=64"],
                              eval_every=256, eval_episodes=1)
        rl = training.create_run(cfg, label="tiny")
        assert training.execute(rl.id).status == "finished"
        gcfg = build_gan_config("dcgan", "digits", iters=2, batch_size=4, sets=["ngf=8", "ndf=8"], device="cpu")
        gan = gan_training.create_run(gcfg)
        assert gan_training.execute(gan.id).status == "finished"
        bare = training.create_run(build_rl_config("ppo", "CartPole-v1", steps=1000, n_envs=1))
        table = training.create_run(build_rl_config("qlearning", "FrozenLake-v1,is_slippery=False"))
        assert training.execute(table.id).status == "finished"
        taxi = training.create_run(build_rl_config("value-iteration", "Taxi-v4", eval_episodes=1))
        assert training.execute(taxi.id).status == "finished"
        yield Lab(home, rl.id, gan.id, bare.id, table.id, taxi.id)
    torch.set_num_threads(previous)


@pytest.fixture
def in_lab(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> Lab:
    monkeypatch.setenv("PLAYGROUND_HOME", str(lab.home))
    monkeypatch.delenv("PLAYGROUND_DB", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return lab


def _page(run_id: str | None = None, lang: str | None = None) -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=120)
    if run_id:
        app.query_params["run"] = run_id
    if lang:
        app.session_state["ui_lang"] = lang
    return app.run()


def _button(app: AppTest, label: str) -> Any:
    return next(b for b in app.button if b.label == label)


def test_watch_page_on_an_empty_store(home: Path) -> None:
    app = _page()
    assert not app.exception
    assert "No runs yet" in app.info[0].value


def test_recording_plays_in_the_page_with_the_score(in_lab: Lab) -> None:
    app = _page(in_lab.rl)
    assert not app.exception
    assert app.selectbox[0].value == in_lab.rl
    assert app.selectbox[1].value == "best"
    assert not app.get("video")  # nothing recorded yet
    app.slider[0].set_value(10).run()  # at most 10 s of game: 600 frames
    _button(app, "Record").click().run()
    assert not app.exception and not app.error

    videos = [a for a in get_store().artifacts(in_lab.rl, "video") if Path(a.path).name != "follow.mp4"]
    assert len(videos) == 1
    path = Path(videos[0].path)
    assert path.parent == Path(runs.get(in_lab.rl).folder) / "videos"
    assert path.suffix == ".mp4" and path.stat().st_size > 1000
    [score] = videos[0].meta["scores"]
    assert len(app.get("video")) >= 1
    assert any(str(path) in s for s in app.success.values)
    assert app.metric[0].label == "Score" and float(app.metric[0].value) == score

    again = _page(in_lab.rl)  # a new session lists it among the earlier recordings
    assert any(path.name in o for o in again.selectbox[2].options)
    assert again.get("video")


def test_the_window_button_needs_a_display(in_lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _page(in_lab.rl)
    assert _button(app, "Open in a window").disabled
    assert any("without a display" in c for c in app.caption.values)

    started: list[tuple[list[str], dict[str, Any]]] = []

    class Window:  # what the page starts: the viewer's process, which the server collects when it closes
        pid = 4242

        def __init__(self, args: list[str], **kw: Any) -> None:
            started.append((args, kw))

        def wait(self) -> int:
            return 0

    monkeypatch.setattr(subprocess, "Popen", Window)
    monkeypatch.setenv("DISPLAY", ":99")
    app = _page(in_lab.rl)
    button = _button(app, "Open in a window")
    assert not button.disabled
    button.click().run()
    assert not app.exception
    [(args, kw)] = started
    # "best" goes to the viewer as the step the page names best, so the window plays what the picker says
    from playground.ui.live import best_checkpoint

    step, _ = best_checkpoint(runs.get(in_lab.rl))
    assert args == [sys.executable, "-m", "playground", "watch", in_lab.rl, "--checkpoint", str(step)]
    assert kw["start_new_session"] is True


def test_a_gan_run_shows_its_grid_time_lapse_and_a_new_grid(in_lab: Lab) -> None:
    app = _page(in_lab.gan)
    assert not app.exception
    run = runs.get(in_lab.gan)
    images = app.get("image")
    captions = [img.proto.imgs[0].caption for img in images]
    assert any("iteration 2" in c for c in captions)  # the fixed-noise grid of the chosen checkpoint
    assert (Path(run.folder) / "samples" / "timelapse.gif").is_file()
    assert any("during training" in c for c in captions)  # the time-lapse GIF

    _button(app, "Draw a new grid").click().run()
    assert not app.exception and not app.error
    drawn = Path(run.folder) / "samples" / "sample-step2-seed1.png"
    assert drawn.is_file()
    assert any(img.proto.imgs[0].caption == drawn.name for img in app.get("image"))


def test_a_run_without_a_checkpoint_says_so(in_lab: Lab) -> None:
    app = _page(in_lab.bare)
    assert not app.exception
    assert "no checkpoint yet" in app.info[0].value
    assert not app.button


def test_the_watch_page_renders_in_chinese(in_lab: Lab) -> None:
    for run_id in (in_lab.rl, in_lab.gan):
        app = _page(run_id, lang="zh")
        assert not app.exception
        assert app.title[0].value == "观看"
        assert "已完成" in app.caption[0].value


def test_follow_shows_a_clip_of_the_newest_checkpoint(in_lab: Lab) -> None:
    app = _page(in_lab.rl)
    app.toggle[0].set_value(True).run()
    assert not app.exception and not app.error
    run = runs.get(in_lab.rl)
    clip = Path(run.folder) / "videos" / "follow.mp4"
    assert clip.is_file() and clip.stat().st_size > 1000
    assert app.get("video")
    latest = runs.checkpoints(run)[-1][0]
    assert any(f"step {latest:,}" in c for c in app.caption.values)
    assert [a.path for a in get_store().artifacts(in_lab.rl, "video")].count(str(clip)) == 1
    app.run()  # no newer checkpoint: the same clip, not recorded again
    assert [a.path for a in get_store().artifacts(in_lab.rl, "video")].count(str(clip)) == 1


def test_follow_shows_a_gans_newest_grid(in_lab: Lab) -> None:
    app = _page(in_lab.gan)
    next(w for w in app.toggle if w.label == "Follow").set_value(True).run()
    assert not app.exception
    newest = get_store().artifacts(in_lab.gan, "samples")[-1].step
    assert sum(f"iteration {newest}" in img.proto.imgs[0].caption for img in app.get("image")) >= 2


# -- tabular runs: the table drawn on its grid world ----------------------------------------------------
class ImageSpy:
    """The arrays a page hands ``st.image`` (AppTest keeps only their URLs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import streamlit as st

        self.shown: list[tuple[Any, str | None]] = []
        original = st.image

        def spy(image: Any, *args: Any, **kwargs: Any) -> Any:
            self.shown.append((image, kwargs.get("caption")))
            return original(image, *args, **kwargs)

        monkeypatch.setattr(st, "image", spy)

    def arrays(self) -> list[tuple[np.ndarray, str | None]]:
        return [(np.asarray(img), caption) for img, caption in self.shown if not isinstance(img, str)]


def test_a_tabular_run_opens_on_its_table(in_lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = ImageSpy(monkeypatch)
    app = _page(in_lab.table)
    assert not app.exception and not app.error
    assert [tab.label for tab in app.tabs][0] == "Table"
    run = runs.get(in_lab.table)
    best = best_checkpoint(run)
    assert best is not None
    [(picture, caption)] = spy.arrays()
    assert f"step {best[0]:,}" in caption  # the checkpoint the picker names ("best")
    assert picture.ndim == 3 and picture.shape[2] == 3
    assert len({tuple(p) for p in picture.reshape(-1, 3)[::7]}) > 20  # values in colour, arrows, bars: not blank
    state = app.number_input(key=f"watch.table_state.{in_lab.table}")
    assert state.value == 0  # where a game on the lake starts
    state.set_value(14).run()  # the cell left of the goal
    assert not app.exception
    moved, _ = spy.arrays()[-1]
    assert moved.shape == picture.shape and (moved != picture).any()  # the agent and its bars moved
    # Another checkpoint: another table (Q-learning's values grow as it learns).
    steps = [s for s, _ in runs.checkpoints(run)]
    assert len(steps) >= 2
    app.selectbox[1].set_value(str(steps[0])).run()
    first, caption = spy.arrays()[-1]
    assert f"step {steps[0]:,}" in caption
    # the window tab offers the step-by-step planner of the same world (no display here: disabled)
    sweep = _button(app, "Step through value iteration")
    assert sweep.disabled
    assert any("playground bellman FrozenLake-v1,is_slippery=False --gamma 0.95" in c for c in app.caption.values)


def test_a_taxi_table_says_what_its_state_holds(in_lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    from playground.envs.grids import taxi_decode

    spy = ImageSpy(monkeypatch)
    app = _page(in_lab.taxi)
    assert not app.exception and not app.error
    start = app.number_input(key=f"watch.table_state.{in_lab.taxi}").value
    taxi = taxi_decode(start)
    line = next(c for c in app.caption.values if c.startswith(f"State {start}:"))
    assert f"row {taxi.row}, column {taxi.col}" in line
    [(picture, _)] = spy.arrays()
    assert len({tuple(p) for p in picture.reshape(-1, 3)[::7]}) > 20
    chinese = _page(in_lab.taxi, lang="zh")
    assert not chinese.exception
    assert any(c.startswith(f"状态 {start}：出租车在第 {taxi.row} 行") for c in chinese.caption.values)


def test_following_a_tabular_run_redraws_its_newest_table(in_lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = ImageSpy(monkeypatch)
    app = _page(in_lab.table)
    app.toggle[0].set_value(True).run()
    assert not app.exception and not app.error
    newest = runs.checkpoints(runs.get(in_lab.table))[-1][0]
    assert any(f"step {newest:,}" in (caption or "") for _, caption in spy.arrays())
    assert not (Path(runs.get(in_lab.table).folder) / "videos" / "follow.mp4").exists()  # nothing recorded


def test_a_tabular_table_is_drawn_without_the_engine(in_lab: Lab) -> None:
    """The Watch page of a tabular run, in a fresh interpreter: the table drawn, torch never loaded."""
    script = (
        "import json, sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"app = AppTest.from_file({PAGE!r}, default_timeout=120)\n"
        f"app.query_params['run'] = {in_lab.table!r}\n"
        "app.run()\n"
        "print(json.dumps({'images': len(app.get('image')), 'errors': [e.value for e in app.exception],\n"
        "                  'loaded': [m for m in ('torch', 'stable_baselines3', 'ale_py') if m in sys.modules]}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ}, capture_output=True, text=True,
                          timeout=300, cwd=Path(PAGE).parents[3])
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"images": 1, "errors": [], "loaded": []}
