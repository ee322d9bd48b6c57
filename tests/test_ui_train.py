"""The two training pages, headless: AppTest runs each page script against a real store, and the
forms start real background jobs (tiny ones) that the live panel then follows."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground import runs
from playground.store import get_store
from playground.i18n import translate

ROOT = Path(__file__).resolve().parents[1]
AGENT_PAGE = str(ROOT / "playground/ui/pages/train_agent.py")
GAN_PAGE = str(ROOT / "playground/ui/pages/train_gan.py")
JOB_TIMEOUT_S = 180.0


def open_page(path: str, lang: str | None = None, **state: object) -> AppTest:
    app = AppTest.from_file(path, default_timeout=90)
    if lang:
        app.session_state["ui_lang"] = lang
    for key, value in state.items():
        app.session_state[key] = value
    return app.run()


def wait_for(run_id: str, statuses: tuple[str, ...], timeout: float = JOB_TIMEOUT_S) -> str:
    deadline = time.monotonic() + timeout
    status = runs.get(run_id).status
    while status not in statuses and time.monotonic() < deadline:
        time.sleep(0.5)
        status = runs.get(run_id).status
    return status


def metric(app: AppTest, label: str) -> str:
    return next(str(m.value) for m in app.metric if m.label == label)


def run_picker(app: AppTest):  # type: ignore[no-untyped-def]
    return next(s for s in app.selectbox if s.label in ("Run", "运行"))


def button(app: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in app.button if b.label == label)


def job_log(run_id: str) -> str:
    path = Path(runs.get(run_id).folder) / "logs" / "job.log"
    return path.read_text() if path.exists() else "(no log)"


@pytest.mark.parametrize("path", [AGENT_PAGE, GAN_PAGE])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_pages_render_on_an_empty_store(home: Path, path: str, lang: str) -> None:
    app = open_page(path, lang)
    assert not app.exception
    assert not app.error
    title = app.title[0].value
    assert title == ({"en": "Train an agent", "zh": "训练智能体"} if path == AGENT_PAGE else
                     {"en": "Train a GAN", "zh": "训练 GAN"})[lang]
    assert len(app.info) == 1  # the panel says there is nothing to follow yet
    assert ("还没有" in app.info[0].value) == (lang == "zh")
    assert get_store().find_runs() == []


def test_agent_form_starts_a_real_job_that_the_panel_follows(home: Path) -> None:
    app = open_page(AGENT_PAGE)
    app.selectbox(key="train_agent.algo").set_value("ppo").run()
    assert app.selectbox(key="train_agent.env").value == "CartPole-v1"
    assert app.selectbox(key="train_agent.preset.ppo.CartPole-v1").value == "cartpole"  # the one made for it
    from agents import presets

    n_steps = presets.presets_for("ppo")["cartpole"].hyperparameters["n_steps"]
    assert app.text_input(key="train_agent.hp.ppo.cartpole.n_steps").value == str(n_steps)  # from the preset
    app.number_input(key="train_agent.steps.ppo.cartpole").set_value(2000)
    app.text_input(key="train_agent.label").set_value("ui smoke")
    button(app, "Start training").click().run()
    assert not app.exception and not app.error
    run_id = app.session_state["train_agent.run"]
    assert run_id == "ppo-CartPole-1"

    assert wait_for(run_id, ("finished", "failed")) == "finished", job_log(run_id)
    run = runs.get(run_id)
    assert run.label == "ui smoke" and run.step >= 2000
    assert run.config["hyperparameters"]["n_steps"] == n_steps

    # A fresh browser session (a refresh) finds the run on its own and shows it finished.
    again = open_page(AGENT_PAGE)
    assert not again.exception
    assert run_picker(again).value == run_id
    assert metric(again, "Status") == "finished"
    assert again.get("progress")[0].proto.value == 100
    assert len(again.get("vega_lite_chart")) == 1  # the episode-return curve
    assert "Latest evaluation (mean score)" in [m.label for m in again.metric]
    assert not {"Stop", "Resume"} & {b.label for b in again.button}  # a finished run has neither


def test_gan_form_starts_a_real_job_and_the_panel_shows_its_samples(home: Path) -> None:
    app = open_page(GAN_PAGE)
    assert app.selectbox(key="train_gan.model").value == "dcgan"
    assert app.selectbox(key="train_gan.family.images.False").value == "digits"
    app.number_input(key="train_gan.iters").set_value(6)
    app.number_input(key="train_gan.batch.dcgan.default").set_value(16)
    app.number_input(key="train_gan.seeds").set_value(2)  # two seeds: a group of two runs, the panel on the first
    assert app.radio(key="train_gan.on").value == "this machine"
    button(app, "Start training").click().run()
    assert not app.exception and not app.error
    run_id = app.session_state["train_gan.run"]
    group = get_store().get_run(run_id).group_id
    members = get_store().find_runs(group_id=group)
    assert group and [(r.seed, r.kind) for r in members] == [(0, "gan"), (1, "gan")]

    for member in members:
        assert wait_for(member.id, ("finished", "failed")) == "finished", job_log(member.id)
    again = open_page(GAN_PAGE)
    assert not again.exception
    assert metric(again, "Status") == "finished"
    images = again.get("image")
    assert len(images) == 1
    assert "iter-0000000006" in images[0].proto.imgs[0].caption  # the newest grid
    assert get_store().metric_keys(run_id)  # losses were written for the curve


@pytest.mark.parametrize(("widget", "value", "said"), [
    ("train_agent.hp.ppo.cartpole.batch_size", "lots", "batch_size"),
    ("train_agent.hp.ppo.cartpole.ent_coef", "inf", "finite"),  # infinite or NaN floats, for every float setting
    ("train_agent.hp.ppo.cartpole.learning_rate", "nan", "finite"),
    ("train_agent.label", "bad\x1b[31mname", "control characters"),  # a terminal escape in a run name
], ids=["not-a-number", "inf", "nan", "escape-in-name"])
def test_bad_override_is_one_sentence_and_creates_no_run(home: Path, widget: str, value: str, said: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from playground import jobs

    children: list[object] = []
    if said != "batch_size":  # what needs no engine is refused in the page, before any CLI child is started
        monkeypatch.setattr(jobs, "launch_detached", lambda *a, **k: children.append(a) or ("", 0))
    app = open_page(AGENT_PAGE)
    app.selectbox(key="train_agent.algo").set_value("ppo").run()
    app.text_input(key=widget).set_value(value)
    button(app, "Start training").click().run()
    assert not app.exception
    assert len(app.error) == 1
    assert said in app.error[0].value and "\n" not in app.error[0].value.strip(), app.error[0].value
    assert "\x1b" not in app.error[0].value  # an escape is shown escaped, never sent to the screen
    assert get_store().find_runs() == []
    assert "train_agent.run" not in app.session_state
    assert children == []


@pytest.mark.parametrize(("widget", "value", "said"), [
    ("train_gan.size.dcgan.default", 48, "48"),  # DCGAN builds 32 or 64
    ("train_gan.batch.dcgan.default", 10**12, "images"),  # more images than the data set holds
    ("train_gan.label", "bad\x07name", "control characters"),
], ids=["image-size", "absurd-batch", "bell-in-name"])
def test_bad_gan_settings_are_one_sentence_and_create_no_run(home: Path, widget: str, value: object, said: str) -> None:
    app = open_page(GAN_PAGE)
    if isinstance(value, str):
        app.text_input(key=widget).set_value(value)
    else:
        app.number_input(key=widget).set_value(value)
    button(app, "Start training").click().run()
    assert not app.exception
    assert len(app.error) == 1
    assert said in app.error[0].value, app.error[0].value
    assert get_store().find_runs() == []


def test_stop_and_resume_from_the_panel(home: Path) -> None:
    app = open_page(AGENT_PAGE)
    app.selectbox(key="train_agent.algo").set_value("ppo").run()
    app.number_input(key="train_agent.steps.ppo.cartpole").set_value(5_000_000)
    button(app, "Start training").click().run()
    run_id = app.session_state["train_agent.run"]
    assert wait_for(run_id, ("running", "failed", "finished")) == "running", job_log(run_id)

    app.run()
    assert metric(app, "Status") == "running"
    button(app, "Stop").click().run()
    assert not app.exception
    assert runs.get(run_id).stop_requested
    assert wait_for(run_id, ("stopped", "failed")) == "stopped", job_log(run_id)

    app.run()
    assert metric(app, "Status") == "stopped"
    button(app, "Resume").click().run()
    assert not app.exception and not app.error
    if runs.get(run_id).status == "stopped":  # the new job has not claimed the run yet: the panel says so
        assert not [b for b in app.button if b.label == "Resume"]  # no second job from a second click
        assert any("Resuming" in i.value for i in app.info)
    assert wait_for(run_id, ("running", "failed", "finished")) == "running", job_log(run_id)
    runs.request_stop(run_id)
    assert wait_for(run_id, ("stopped", "failed")) == "stopped", job_log(run_id)


def test_a_job_that_dies_before_it_begins_shows_as_failed(home: Path) -> None:
    run = runs.create(kind="rl", algo="ppo", env="CartPole-v1", game="CartPole", config={}, total_steps=1000)
    gone = subprocess.Popen(["sleep", "0"])
    gone.wait()
    runs.note_job(run, gone.pid)  # as jobs.start does; the job then died before claiming the run
    app = open_page(AGENT_PAGE)
    assert not app.exception
    assert metric(app, "Status") == "failed"
    assert "before training began" in app.error[0].value


def test_a_failed_run_shows_its_error_and_log(home: Path) -> None:
    run = runs.create(kind="rl", algo="ppo", env="CartPole-v1", game="CartPole", config={}, total_steps=1000)
    (Path(run.folder) / "logs" / "job.log").write_text("line one\nTraceback: something broke here\n")
    runs.end(run.id, "failed", 0, error="the environment crashed")
    app = open_page(AGENT_PAGE, lang="zh")
    assert not app.exception
    assert metric(app, "状态") == "失败"
    assert "the environment crashed" in app.error[0].value
    assert "something broke here" in app.code[0].value
    assert [b.label for b in app.button if b.label == "继续训练"]


def test_panel_prefers_the_newest_running_run_of_its_kind(home: Path) -> None:
    running = runs.create(kind="rl", algo="ppo", env="CartPole-v1", game="CartPole", config={}, total_steps=1000)
    runs.mark_running(running.id)  # claimed by this (live) test process
    newer = runs.create(kind="rl", algo="dqn", env="CartPole-v1", game="CartPole", config={}, total_steps=1000)
    runs.end(newer.id, "finished", 1000)
    gan = runs.create(kind="gan", algo="dcgan", env="digits", game="digits", config={}, total_steps=10)
    runs.end(gan.id, "stopped", 5)
    try:
        app = open_page(AGENT_PAGE)
        assert not app.exception
        assert run_picker(app).value == running.id
        assert gan.id not in " ".join(run_picker(app).options)
        # This session's own run wins over the running one.
        own = open_page(AGENT_PAGE, **{"train_agent.run": newer.id})
        assert run_picker(own).value == newer.id
        assert metric(own, "Status") == "finished"
        gan_app = open_page(GAN_PAGE)
        assert run_picker(gan_app).value == gan.id
    finally:
        runs.end(running.id, "stopped", 0)


@pytest.mark.parametrize(("page_file", "key", "name"), [(AGENT_PAGE, "train_agent.algo", "a3c"),
                                                      (GAN_PAGE, "train_gan.model", "cyclegan")])
def test_learn_more_links_to_the_chosen_card(home: Path, page_file: Path, key: str, name: str) -> None:
    app = open_page(page_file)
    app.selectbox(key=key).set_value(name).run()
    assert not app.exception
    links = [(e.proto.label, e.proto.url) for e in app.get("link_button")]
    assert links == [("Learn more", f"learn?card={name}")]  # a new tab: the form keeps what was typed
    assert translate(f"learn.{name}.idea", "en") in [c.value for c in app.caption]


@pytest.mark.parametrize("algo", ["dqn", "sb3-dqn", "ppo", "a2c", "a3c"])
def test_each_algorithm_prefills_its_key_knobs_from_the_preset(home: Path, algo: str) -> None:
    from agents import presets

    app = open_page(AGENT_PAGE)
    app.selectbox(key="train_agent.algo").set_value(algo).run()
    assert not app.exception and not app.error
    preset = app.selectbox(key=f"train_agent.preset.{algo}.CartPole-v1").value
    tuned = presets.presets_for(algo)[preset].for_env("CartPole-v1", False).hyperparameters
    knobs = {w.label: w for w in app.text_input if w.key and w.key.startswith(f"train_agent.hp.{algo}.")}
    assert len(knobs) >= 6
    assert all(w.help for w in knobs.values())  # each says what it does
    for name, value in tuned.items():
        if name in knobs:
            assert knobs[name].value == str(value)
    steps = app.number_input(key=f"train_agent.steps.{algo}.{preset}").value
    assert steps == presets.presets_for(algo)[preset].for_env("CartPole-v1", False).steps


@pytest.mark.parametrize(
    ("model", "families"),
    [("dcgan", {"digits", "mnist-5k", "atari"}), ("cdcgan", {"digits", "mnist-5k"}),
     ("pix2pix", {"edges2atari", "gray2color"}), ("cyclegan", {"games", "textures"})],
)
def test_each_gan_offers_the_built_in_sets_that_fit_it(home: Path, model: str, families: set[str]) -> None:
    from gans import presets as gan_presets

    app = open_page(GAN_PAGE)
    app.selectbox(key="train_gan.model").set_value(model).run()
    assert not app.exception and not app.error
    picker = next(s for s in app.selectbox if s.key and s.key.startswith("train_gan.family."))
    assert {o.split(" — ")[0] for o in picker.options} == families
    default = gan_presets.presets_for(model)["default"]
    assert app.number_input(key=f"train_gan.size.{model}.default").value == default.image_size
    assert app.number_input(key=f"train_gan.epochs.{model}.default").value == default.epochs
    if model == "cyclegan":
        picker.set_value("games").run()
        games = [s.value for s in app.selectbox if s.key and s.key.startswith("train_gan.game.games.")]
        assert games == ["Pong", "Breakout"]


def test_a_missing_gan_folder_is_one_sentence(home: Path) -> None:
    app = open_page(GAN_PAGE)
    app.radio(key="train_gan.source").set_value("folder").run()
    app.text_input(key="train_gan.folder").set_value(str(home / "nowhere")).run()
    button(app, "Start training").click().run()
    assert not app.exception
    assert "does not exist" in app.error[0].value
    assert get_store().find_runs() == []


def test_the_chosen_game_gets_a_cached_thumbnail(home: Path) -> None:
    app = open_page(AGENT_PAGE)
    app.selectbox(key="train_agent.env").set_value("ALE/Breakout-v5").run()
    assert not app.exception
    cached = home / "thumbnails" / "ALE_Breakout-v5.png"
    assert cached.is_file()
    from PIL import Image

    with Image.open(cached) as img:
        assert img.size == (160, 210)
        assert len(img.convert("RGB").getcolors(maxcolors=4096) or ()) > 2  # a real screen, not a blank frame
    assert not (home / "thumbnails" / "ALE_Pong-v5.png").exists()  # only the chosen game
    assert len(app.get("image")) == 1


# -- the grid worlds and the tabular methods (issue 16) ---------------------------------------------------
GRID_IDS = ["FrozenLake-v1,is_slippery=False", "FrozenLake-v1", "FrozenLake-v1,is_slippery=False,map_name=8x8",
            "FrozenLake8x8-v1", "Taxi-v4", "CliffWalking-v1"]
TABULAR = ["value-iteration", "policy-iteration", "qlearning", "sarsa", "expected-sarsa"]


def algo_values(app: AppTest) -> list[str]:
    """The algorithm picker's choices as the registry names them (the picker shows their labels)."""
    names = {translate(f"train_agent.algo_name.{a}", lang): a for a in TABULAR for lang in ("en", "zh")}
    return [names.get(label, label.lower()) for label in app.selectbox(key="train_agent.algo").options]


class ImageSpy:
    """Every picture a page hands ``st.image`` (the arrays themselves, which AppTest keeps only as URLs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import streamlit as st

        self.shown: list[tuple[object, str | None]] = []
        original = st.image

        def spy(image, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.shown.append((image, kwargs.get("caption")))
            return original(image, *args, **kwargs)

        monkeypatch.setattr(st, "image", spy)

    def arrays(self):  # type: ignore[no-untyped-def]
        import numpy as np

        return [(np.asarray(img), caption) for img, caption in self.shown if not isinstance(img, str)]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_grid_worlds_come_first_and_only_they_offer_the_tabular_methods(home: Path, lang: str) -> None:
    app = open_page(AGENT_PAGE, lang)
    assert not app.exception and not app.error
    env = app.selectbox(key="train_agent.env")
    assert env.value == "CartPole-v1"  # the default stays the classic first task
    labels = env.options[:len(GRID_IDS)]
    assert [label.rsplit(" · ", 1)[1] for label in labels] == GRID_IDS  # the id as the CLI takes it, after its name
    assert labels[0].startswith(translate("train_agent.task.frozenlake_4x4", lang))
    assert ("冰面不打滑" in labels[0]) == (lang == "zh")
    assert env.options[len(GRID_IDS)] == "CartPole-v1"
    on_cartpole = algo_values(app)
    assert on_cartpole == ["dqn", "sb3-dqn", "ppo", "a2c", "a3c"]  # no table fits CartPole's measured state
    assert translate("train_agent.tables_need_grid", lang) in [c.value for c in app.caption]

    if lang == "zh":  # AppTest formats a choice outside the session, in English: pick Taxi as a landing would
        app = open_page(AGENT_PAGE, lang, **{"train_agent.env": "Taxi-v4"})
    else:
        app.selectbox(key="train_agent.env").set_value("Taxi-v4").run()
    assert not app.exception and not app.error
    on_taxi = algo_values(app)
    assert on_taxi[:5] == TABULAR and "qlearning" in on_taxi
    assert {"dqn", "a3c"}.isdisjoint(on_taxi) and {"ppo", "a2c", "sb3-dqn"} <= set(on_taxi)  # SB3 one-hots a state
    assert app.selectbox(key="train_agent.algo").value == "value-iteration"  # DQN does not fit: the first that does
    assert translate("train_agent.grid_left_out", lang, algos="DQN, A3C") in [c.value for c in app.caption]
    assert len(app.get("image")) == 1  # the thumbnail of the grid world (its id carries no keyword here)

    if lang == "en":
        app.selectbox(key="train_agent.env").set_value("CartPole-v1").run()
        assert app.selectbox(key="train_agent.algo").value == "dqn"  # value iteration does not fit CartPole


@pytest.mark.parametrize("algo", TABULAR)
def test_each_tabular_method_shows_its_knobs_from_the_preset_with_help(home: Path, algo: str) -> None:
    from agents import presets

    env_id = "Taxi-v4"
    app = open_page(AGENT_PAGE, **{"train_agent.env": env_id})
    app.selectbox(key="train_agent.algo").set_value(algo).run()
    assert not app.exception and not app.error
    preset = presets.presets_for(algo)["default"].for_env(env_id, False)
    assert app.selectbox(key=f"train_agent.preset.{algo}.{env_id}").value == "default"
    captions = [c.value for c in app.caption]
    assert preset.text("en") in captions  # the preset's line, at Taxi's scale where it has one
    knobs = {w.label: w for w in app.text_input if w.key and w.key.startswith(f"train_agent.hp.{algo}.")}
    planning = algo.endswith("iteration")
    assert set(knobs) == ({"gamma", "theta"} if planning else
                          {"gamma", "learning_rate", "learning_rate_final", "exploration_initial_eps",
                           "exploration_final_eps", "exploration_fraction", "initial_q"})
    assert all(w.help for w in knobs.values())
    assert knobs["gamma"].value == str(preset.hyperparameters.get("gamma", 0.99))
    if planning:
        assert knobs["theta"].value == "1e-08"
    else:
        assert knobs["learning_rate"].value == str(preset.hyperparameters["learning_rate"])
        final = preset.hyperparameters.get("learning_rate_final")  # SARSA's Taxi preset lets alpha fall
        assert knobs["learning_rate_final"].value == ("" if final is None else str(final))  # unset: alpha stays put
        assert "Alpha" in knobs["learning_rate"].help and "lin_" not in knobs["learning_rate"].help
    steps = app.number_input(key=f"train_agent.steps.{algo}.default")
    assert steps.value == preset.steps
    assert ("sweeps" in steps.help) == planning


def test_a_tabular_run_started_from_the_form_draws_its_table(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from playground.ui.game_views import LANDED

    env_id = "FrozenLake-v1,is_slippery=False"
    app = open_page(AGENT_PAGE, **{"train_agent.env": env_id})
    app.selectbox(key="train_agent.algo").set_value("qlearning").run()
    app.text_input(key="train_agent.hp.qlearning.default.exploration_fraction").set_value("0.6")
    assert (home / "thumbnails" / "FrozenLake-v1_is_slippery_False.png").is_file()  # drawn with its keyword
    button(app, "Start training").click().run()
    assert not app.exception and not app.error
    run_id = app.session_state["train_agent.run"]
    assert wait_for(run_id, ("finished", "failed")) == "finished", job_log(run_id)
    run = runs.get(run_id)
    assert run.env == env_id and run.step == 3000  # the preset's steps for the lake that does not slip
    assert run.config["hyperparameters"]["exploration_fraction"] == 0.6

    spy = ImageSpy(monkeypatch)
    again = open_page(AGENT_PAGE)
    assert not again.exception and not again.error
    assert run_picker(again).value == run_id and metric(again, "Status") == "finished"
    [(picture, caption)] = spy.arrays()  # the table of the newest checkpoint, drawn on the lake
    assert "step 3,000" in caption
    assert picture.ndim == 3 and picture.shape[2] == 3 and picture.shape[0] > 200 and picture.shape[1] > 300
    assert len({tuple(p) for p in picture.reshape(-1, 3)[::7]}) > 20  # colours, arrows and bars, not one blank

    # A one-click start of this run lands on it with the form set to it, the comma id and all.
    landed = open_page(AGENT_PAGE, **{"train_agent.run": run_id, LANDED: {"rl": run_id}})
    assert not landed.exception and not landed.error
    assert run_id in landed.success[0].value
    assert landed.selectbox(key="train_agent.env").value == env_id
    assert landed.selectbox(key="train_agent.algo").value == "qlearning"
    assert landed.text_input(key="train_agent.hp.qlearning.default.exploration_fraction").value == "0.6"
