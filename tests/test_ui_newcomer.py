"""What a newcomer meets in the web UI (issue 14), headless: a one-click start lands on its run with the
form folded and set to that run; the panel and the Runs page show the trainer's own speed and ETA; a
finished run offers its next steps (watch it, evaluate it, the next challenge); Watch's "best" names one
checkpoint; preset lines and the UI's own error sentences follow the language switch; a PPO run is no
try at a DQN challenge. Streamlit's AppTest runs the real pages against a real store and real jobs."""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from playground import runs
from playground.errors import RunStateError
from playground.store import file_sha256, get_store
from playground.i18n import translate
from playground.ui.game_views import LANDED
from tests.test_ui_home import ok, texts

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "streamlit_app.py")
PAGES = ROOT / "playground" / "ui" / "pages"
AGENT_PAGE = "playground/ui/pages/train_agent.py"
TIMEOUT = 120
JOB_TIMEOUT_S = 240.0


@pytest.fixture(autouse=True)
def _player(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAYGROUND_CHALLENGES", raising=False)
    monkeypatch.setenv("PLAYGROUND_PLAYER", "ada")


def en(key: str, **values: Any) -> str:
    return translate(key, "en", **values)


def open_page(name: str, lang: str = "en", **state: Any) -> AppTest:
    app = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=TIMEOUT)
    app.session_state["ui_lang"] = lang
    for key, value in state.items():
        app.session_state[key] = value
    return app.run()


def metric(app: AppTest, label: str) -> str:
    return next(str(m.value) for m in app.metric if m.label == label)


def button(app: AppTest, key: str) -> Any:
    [found] = [b for b in app.button if b.key == key]
    return found


def wait_for(run_id: str, statuses: tuple[str, ...], seconds: float = JOB_TIMEOUT_S) -> str:
    deadline = time.monotonic() + seconds
    status = runs.get(run_id).status
    while status not in statuses and time.monotonic() < deadline:
        time.sleep(0.5)
        status = runs.get(run_id).status
    return status


def stop_job(run_id: str) -> None:
    status = wait_for(run_id, ("running", "finished", "failed"))
    if status == "running":
        with contextlib.suppress(RunStateError):  # it finished between the two reads
            runs.request_stop(run_id)
    assert wait_for(run_id, ("stopped", "finished", "failed")) in ("stopped", "finished")


def tiny_run(cli: Any, steps: int = 256, every: int = 256) -> str:
    """A real CartPole PPO run of a few hundred steps, with 1-game evaluations every ``every`` steps."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = cli("rl", "train", "ppo", "CartPole-v1", "--steps", str(steps), "--envs", "1", "--eval-episodes",
                     "1", "--eval-every", str(every), "--set", "n_steps=64", "--set", "batch_size=64")
    finally:
        torch.set_num_threads(threads)
    assert result.code == 0, result.err
    return result.out.splitlines()[0].strip()


# -- 2. a one-click start lands on its run --------------------------------------------------------------
def test_train_ppo_lands_on_its_run_with_the_form_folded_and_set_to_it(home: Path) -> None:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    button(app, "home.train_ppo").click().run()
    [run] = runs.list_runs()
    try:
        ok(app)
        assert app.title[0].value == en("nav.train_agent")
        # the first thing under the title: the run started, by its id; then its live panel
        assert run.id in app.success[0].value and "PPO on CartPole-v1" in app.success[0].value
        assert app.header[0].value == en("live.title")
        assert app.subheader[0].value.startswith(run.id)
        assert metric(app, en("live.status")) in (en("live.status.created"), en("live.status.running"))
        # the form is folded below the panel, and holds the settings the run started with
        folded = app.expander[0]
        assert folded.label == en("train_agent.folded") and not folded.proto.expanded
        assert [b.label for b in folded.button] == [en("train_agent.start")]
        assert app.selectbox(key="train_agent.algo").value == "ppo"  # not DQN, the form's first choice
        assert app.selectbox(key="train_agent.env").value == "CartPole-v1"
        assert app.selectbox(key="train_agent.preset.ppo.CartPole-v1").value == run.config["preset"] == "cartpole"
        assert app.number_input(key="train_agent.steps.ppo.cartpole").value == run.total_steps == 100_000
        # the page drawn again (a widget touched, a rerun) keeps the run on top
        app.run()
        assert ok(app).header[0].value == en("live.title") and run.id in app.success[0].value
        # Landing on another run while the form still holds this one's settings (the panel's next challenge
        # started from this very page): the form takes the new run's settings.
        dqn = runs.create(kind="rl", algo="dqn", env="CartPole-v1", game="CartPole", total_steps=100_000,
                          config={"preset": "cartpole", "seed": 3, "device": "cpu", "hyperparameters": {}})
        app.session_state["train_agent.run"] = dqn.id
        app.session_state[LANDED] = {"rl": dqn.id}
        app.run()
        assert dqn.id in ok(app).success[0].value
        assert app.selectbox(key="train_agent.algo").value == "dqn"
        assert app.number_input(key="train_agent.seed").value == 3
        assert app.selectbox(key="train_agent.device").value == "cpu"
    finally:
        stop_job(run.id)


def test_train_dcgan_lands_on_a_form_set_to_mnist_5k(home: Path) -> None:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    button(app, "home.train_dcgan").click().run()
    [run] = runs.list_runs()
    try:
        ok(app)
        assert app.title[0].value == en("nav.train_gan")
        assert run.id in app.success[0].value and "DCGAN on mnist-5k" in app.success[0].value
        assert app.header[0].value == en("live.title")
        assert app.expander[0].label == en("train_gan.folded") and not app.expander[0].proto.expanded
        assert app.selectbox(key="train_gan.model").value == "dcgan"
        assert app.radio(key="train_gan.source").value == "builtin"
        assert app.selectbox(key="train_gan.family.images.False").value == "mnist-5k"  # not `digits`
        assert app.selectbox(key="train_gan.preset.dcgan").value == run.config["preset"]
        assert app.number_input(key="train_gan.iters").value == run.config["iters"] == run.total_steps
        assert app.number_input(key="train_gan.size.dcgan.default").value == run.config["image_size"]
    finally:
        stop_job(run.id)


def test_the_first_steps_say_how_long_they_take(home: Path) -> None:
    app = ok(open_page("home"))
    captions = [c.value for c in app.caption]
    ppo = next(c for c in captions if "CartPole" in c and "26.7 s" in c)
    dcgan = next(c for c in captions if "4.5 minutes" in c)
    for line in (ppo, dcgan):
        assert "GPU: not measured yet" in line
    assert "2-core" in ppo and "2 CPU cores" in dcgan
    zh = [c.value for c in ok(open_page("home", "zh")).caption]
    assert any("26.7 秒" in c and "GPU 上：尚未测量" in c for c in zh)


# -- 1. the trainer's own speed and ETA ---------------------------------------------------------------
def test_the_panel_and_the_runs_page_show_the_trainers_own_speed_and_eta(home: Path) -> None:
    run = runs.create(kind="rl", algo="ppo", env="CartPole-v1", game="CartPole", config={}, total_steps=10_000)
    runs.mark_running(run.id)  # claimed by this (live) test process
    runs.heartbeat(run.id, 2_000, steps_per_s=1234.5, eta_s=90.0)  # what the training session stores
    try:
        app = ok(open_page("train_agent", **{"train_agent.run": run.id}))
        assert metric(app, en("live.speed", unit=en("live.unit.rl"))) == "1,234.5"
        assert metric(app, en("live.eta")) == "0:01:30"
        table = ok(open_page("runs")).dataframe[0]
        row = table.value[table.value["id"] == run.id].iloc[0]
        assert row["speed"] == 1234.5 and row["eta"] == "0:01:30"
    finally:
        runs.end(run.id, "stopped", 2_000)
    stopped = ok(open_page("train_agent", **{"train_agent.run": run.id}))
    assert metric(stopped, en("live.eta")) == "—"  # no time left to a run that is not training


# -- 4. a finished run's next steps ---------------------------------------------------------------------
def test_a_finished_run_offers_watch_evaluate_and_the_next_challenge(cli: Any, home: Path) -> None:
    from playground.game import Game

    run_id = tiny_run(cli)
    app = ok(open_page("train_agent", **{"train_agent.run": run_id}))
    assert en("live.next.title") in texts(app)
    assert button(app, f"live.watch.{run_id}").label == en("live.next.watch.rl")
    evaluate = button(app, f"live.evaluate.{run_id}")
    assert evaluate.label == en("live.next.evaluate") and not evaluate.disabled
    nxt = Game(get_store()).profile("ada")["next_challenge"]
    assert nxt["title"]["en"] in texts(app)
    assert button(app, "start-live-next")  # it is a plain training: one click starts it

    before = len(get_store().evaluations(run_id))
    evaluate.click().run()
    ok(app)
    assert button(app, f"live.evaluate.{run_id}").disabled  # no second child while the first one plays
    assert any(i.value.startswith("Evaluating in the background") for i in app.info)
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while len(get_store().evaluations(run_id)) == before and time.monotonic() < deadline:
        time.sleep(0.5)
    new = get_store().evaluations(run_id)[-1]
    assert new.n_episodes == 10  # `playground rl eval RUN`: ten whole games
    time.sleep(1)  # the child writes its result, then exits
    app.run()
    line = en("live.next.eval_rl", mean=f"{new.mean:.1f}", std=f"{new.std:.1f}", n=10, step=f"{new.step:,}")
    assert line in [s.value for s in ok(app).success]


def test_watch_it_play_opens_the_watch_page_on_that_run(cli: Any, home: Path) -> None:
    run_id = tiny_run(cli)
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()  # Home
    app.session_state["train_agent.run"] = run_id
    app.switch_page(AGENT_PAGE).run()
    button(ok(app), f"live.watch.{run_id}").click().run()
    ok(app)
    assert app.title[0].value == en("nav.watch")
    assert app.selectbox[0].label == en("watch.run") and app.selectbox[0].value == run_id


class _FakeChild:
    """Stands in for the `gan eval` child (a real one trains its feature network first: minutes)."""

    def __init__(self, argv: list[str], **_: Any) -> None:
        self.argv = argv
        self.polls = 0
        _FakeChild.started.append(self)

    def poll(self) -> int | None:
        self.polls += 1
        return None if self.polls < 3 else 0

    started: list[_FakeChild] = []


def test_a_finished_gan_run_evaluates_with_gan_eval(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    run = runs.create(kind="gan", algo="dcgan", env="mnist-5k", game="mnist-5k", config={}, total_steps=10)
    runs.end(run.id, "finished", 10)
    monkeypatch.setattr(subprocess, "Popen", _FakeChild)
    _FakeChild.started.clear()
    app = ok(open_page("train_gan", **{"train_gan.run": run.id}))
    assert button(app, f"live.watch.{run.id}").label == en("live.next.watch.gan")
    button(app, f"live.evaluate.{run.id}").click().run()
    [child] = _FakeChild.started
    assert child.argv[-5:] == ["playground", "gan", "eval", "--", run.id]
    get_store().add_quality(run.id, {"metric": "FD-mnist", "fd": 12.3456, "kid": 0.01234, "n": 1000, "step": 10})
    app.run()
    assert en("live.next.eval_gan", metric="FD-mnist", fd="12.35", kid="0.0123", n=1000, step="10") in [
        s.value for s in ok(app).success]


# -- 5. Watch's "best" is one checkpoint -------------------------------------------------------------------
def _evaluate(run_id: str, step: int, path: Path, score: float) -> None:
    scores = [score] * 10
    get_store().add_evaluation(run_id, step=step, scores=scores, mean=float(np.mean(scores)), std=0.0,
                               checkpoint=str(path), seed=0, checkpoint_sha256=file_sha256(path))


def test_watch_names_as_best_the_checkpoint_the_video_panel_names(cli: Any, home: Path) -> None:
    """Equal means (CartPole's 500, again and again): the one with the fewest steps, as the game ranks them and
    as the viewer's panel says "best … at step N" (its first highest evaluation, by step); a higher mean wins."""
    from playground.ui.live import best_checkpoint

    run_id = tiny_run(cli, steps=512, every=256)
    run = runs.get(run_id)
    (first, first_path), (last, last_path) = runs.checkpoints(run)[:2]
    assert first < last
    _evaluate(run_id, first, first_path, 500.0)
    _evaluate(run_id, last, last_path, 500.0)
    app = ok(open_page("watch"))
    picker = app.selectbox[1]
    assert picker.label == en("watch.checkpoint") and picker.value == "best"
    assert picker.options[0] == en("watch.checkpoint_best_eval", step=f"{first:,}", mean="500")
    curve = [(e.step, e.mean) for e in get_store().evaluations(run_id)]
    assert max(curve, key=lambda p: p[1])[0] == first  # the viewer's panel line: the same checkpoint

    _evaluate(run_id, last, last_path, 500.5)  # a better evaluation of the later checkpoint
    assert best_checkpoint(runs.get(run_id))[0] == last
    assert ok(open_page("watch")).selectbox[1].options[0] == en("watch.checkpoint_best_eval", step=f"{last:,}",
                                                                  mean="500.5")


# -- 5. the game's status and the cards ----------------------------------------------------------------
def test_a_ppo_run_is_no_try_at_the_dqn_challenge(cli: Any, home: Path) -> None:
    tiny_run(cli)  # its evaluation (1 game) counts for nothing, but it is a try at the PPO challenges
    cards = texts(ok(open_page("challenges")))
    assert "🟡 CartPole solved with PPO" in cards
    assert "⬜ CartPole solved with DQN" in cards and "🟡 CartPole solved with DQN" not in cards
    assert "⬜ CartPole solved with A2C" in cards and "⬜ Land on the Moon with PPO" in cards


# -- 5. presets and errors in the chosen language -------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_preset_line_is_one_line_in_the_chosen_language_with_its_source_folded(home: Path, lang: str) -> None:
    from agents import presets

    app = ok(open_page("train_agent", lang))
    app.selectbox(key="train_agent.algo").set_value("ppo").run()
    preset = presets.presets_for("ppo")["cartpole"]
    main = [c.value for c in ok(app).caption]
    assert preset.text(lang) in main
    assert preset.text(lang) == (preset.description_zh if lang == "zh" else preset.description)
    # the benchmark paragraph (its source) is in the page once: folded behind a small expander
    assert [c for c in main if "bench" in c] == [preset.source]
    [source] = [e for e in app.expander if e.label == translate("train_agent.preset_source", lang)]
    assert not source.proto.expanded and [c.value for c in source.caption] == [preset.source]
    gan = ok(open_page("train_gan", lang))
    dcgan = {"en": "The paper's settings at 32x32, a size a CPU trains in minutes.",
             "zh": "论文的设置，32x32，CPU 几分钟就能训练完的尺寸。"}[lang]
    assert dcgan in [c.value for c in gan.caption]


def test_every_preset_has_its_chinese_line() -> None:
    import re

    import yaml

    from agents import presets

    for algo in ("dqn", "sb3-dqn", "ppo", "a2c", "a3c"):
        for preset in (v for p in presets.presets_for(algo).values() for v in p.versions()):
            assert re.search(r"[\u3400-\u9fff]", preset.text("zh")), (algo, preset.name)
            assert preset.text("en") == f"{preset.description} {preset.scale}".strip()
            # each version's scale in both languages: a Chinese line never falls back to English numbers
            assert bool(preset.scale) == bool(preset.scale_zh), (algo, preset.name, preset.envs)
    for path in sorted((ROOT / "gans" / "presets").glob("*.yaml")):
        for name, body in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            assert re.search(r"[\u3400-\u9fff]", body.get("description_zh", "")), (path.name, name)


def test_the_uis_own_error_sentences_follow_the_language(home: Path) -> None:
    from playground.ui import uploads

    with pytest.raises(uploads.UploadError) as caught:
        uploads.extract_zip(b"not a zip at all", "photos.zip", "images")
    assert str(caught.value) == "'photos.zip' is not a zip archive; upload a .zip file."
    assert caught.value.sentence("zh") == "“photos.zip”不是 zip 压缩包；请上传 .zip 文件。"

    def page() -> None:
        from playground.ui import uploads
        from playground.ui.common import shown_errors

        with shown_errors():
            uploads.extract_zip(b"not a zip at all", "photos.zip", "images")

    for lang, sentence in (("en", str(caught.value)), ("zh", caught.value.sentence("zh"))):
        app = AppTest.from_function(page, default_timeout=TIMEOUT)
        app.session_state["ui_lang"] = lang
        app.run()
        assert [e.value for e in app.error] == [sentence]

    def lookup() -> None:  # the platform's own sentences too: a run that is not there
        from playground import runs
        from playground.ui.common import shown_errors

        with shown_errors():
            runs.get("no-such-run")

    app = AppTest.from_function(lookup, default_timeout=TIMEOUT)
    app.session_state["ui_lang"] = "zh"
    app.run()
    [shown] = [e.value for e in app.error]
    assert "no-such-run" in shown and re.search(r"[\u3400-\u9fff]", shown), shown
