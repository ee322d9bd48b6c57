"""The Watch page, headless: AppTest runs the page script; recordings are real (the viewer in a child process).

One module-scoped home holds a tiny PPO CartPole run with a checkpoint and a tiny DCGAN (two iterations
on digits), both trained for real, and a run that has no checkpoint yet.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from streamlit.testing.v1 import AppTest

from playground import gan_training, runs, training
from playground.config import build_gan_config, build_rl_config
from playground.store import get_store

PAGE = str(Path(__file__).resolve().parents[1] / "playground" / "ui" / "pages" / "watch.py")


@dataclass
class Lab:
    home: Path
    rl: str
    gan: str
    bare: str  # no checkpoint


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
        yield Lab(home, rl.id, gan.id, bare.id)
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
    app.toggle[0].set_value(True).run()
    assert not app.exception
    newest = get_store().artifacts(in_lab.gan, "samples")[-1].step
    assert sum(f"iteration {newest}" in img.proto.imgs[0].caption for img in app.get("image")) >= 2
