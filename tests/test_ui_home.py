"""The Home, Challenges and Learn pages, headless: Streamlit's AppTest runs the real page scripts
against a real store (empty, and with a real run, real evaluations, human games and awards), and
the first-step buttons start real training jobs that are then stopped."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from playground import runs
from playground.errors import RunStateError
from playground.game import profiles
from playground.store import file_sha256, get_store
from playground.i18n import translate
from tests.test_ui_strings import CARDS, DQN_CARDS, _learn_cards  # the Learn page's cards, read from its source

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "streamlit_app.py")
PAGES = ROOT / "playground" / "ui" / "pages"
TIMEOUT = 60


@pytest.fixture(autouse=True)
def _player(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAYGROUND_CHALLENGES", raising=False)
    monkeypatch.setenv("PLAYGROUND_PLAYER", "ada")


def open_page(name: str, lang: str = "en", **state: Any) -> AppTest:
    app = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=TIMEOUT)
    app.session_state["ui_lang"] = lang
    for key, value in state.items():
        app.session_state[key] = value
    return app.run()


def ok(app: AppTest) -> AppTest:
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    return app


def texts(app: AppTest) -> str:
    """Everything the page wrote, in one string (markdown, captions, headers, alerts, metrics)."""
    parts = [e.value for kind in ("markdown", "caption", "title", "header", "subheader", "info", "success",
                                  "warning") for e in getattr(app, kind)]
    parts += [f"{m.label} {m.value}" for m in app.metric]
    return "\n".join(str(p) for p in parts)


def button(app: AppTest, key: str) -> Any:
    [found] = [b for b in app.button if b.key == key]
    return found


def submit(app: AppTest) -> None:
    """Press the player form's button."""
    [found] = [b for b in app.button if b.label == translate("home.use_player", "en")]
    found.click().run()


def wait_for(run_id: str, statuses: tuple[str, ...], seconds: float = 180) -> str:
    deadline = time.time() + seconds
    while True:
        status = runs.get(run_id).status
        if status in statuses or time.time() > deadline:
            return status
        time.sleep(0.5)


def stop_job(run_id: str) -> str:
    """Let the job claim its run, ask it to stop, and wait until it has (it checkpoints on the way out)."""
    status = wait_for(run_id, ("running", "finished", "failed"))
    assert status in ("running", "finished"), (status, runs.get(run_id).error)
    if status == "running":
        with contextlib.suppress(RunStateError):  # it finished between the two reads
            runs.request_stop(run_id)
    status = wait_for(run_id, ("stopped", "finished", "failed"))
    assert status in ("stopped", "finished"), (status, runs.get(run_id).error)
    return status


# -- an empty store ------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_home_on_an_empty_store_suggests_the_first_challenge(home: Path, lang: str) -> None:
    app = ok(open_page("home", lang))
    assert app.title[0].value == translate("nav.home", lang)
    shown = texts(app)
    assert translate("home.hello", lang, name="ada") in shown
    assert "初次过关：CartPole" in shown if lang == "zh" else "First pass: CartPole" in shown
    assert translate("home.no_runs", lang) in [i.value for i in app.info]
    labels = {b.key: b.label for b in app.button}
    assert labels["home.train_ppo"] == translate("home.train_ppo", lang)
    assert labels["home.train_taxi"] == translate("home.train_taxi", lang)
    assert labels["home.train_dcgan"] == translate("home.train_dcgan", lang)
    assert "start-home-next" in labels  # the suggested challenge is a training: one click starts it
    # the tier bar: at 0 XP on the way to the second tier
    assert app.get("progress")[0].value == 0


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_challenges_and_learn_on_an_empty_store(home: Path, lang: str) -> None:
    app = ok(open_page("challenges", lang))
    assert app.title[0].value == translate("nav.challenges", lang)
    assert len(app.tabs) == 4
    shown = texts(app)
    assert translate("challenges.board_empty", lang) in shown
    assert ("用 PPO 解决 CartPole" if lang == "zh" else "CartPole solved with PPO") in shown
    learn = ok(open_page("learn", lang))
    assert [s.value for s in learn.subheader] == [translate(f"learn.{n}.title", lang) for n in CARDS]
    # tabular RL first, as in the game; the DQN improvements, each with its one equation, under their own heading
    headers = [h.value for h in learn.header]
    assert headers.index(translate("learn.tabular_heading", lang)) == 0
    assert translate("learn.dqn_heading", lang) in headers
    found = _learn_cards()
    tabular = [e for name in found["TABULAR_CARDS"] for e in found["TABULAR_EQUATIONS"][name]]
    dqn = [found["EQUATIONS"][name] for name in DQN_CARDS]
    gan = [e for name in found["GAN_CARDS"] for e in found["GAN_EQUATIONS"].get(name, ())]
    assert [e.value.strip("$\n") for e in learn.latex] == tabular + dqn + gan and "arg\\max" in dqn[0]


@pytest.mark.parametrize("name", ["home", "challenges"])
def test_a_broken_class_catalogue_is_one_sentence_on_the_page(home: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    import yaml

    from playground.game.catalogue import CATALOGUE

    data = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    data["challenges"][0]["metric"] = "reward"
    bad = tmp_path / "class.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("PLAYGROUND_CHALLENGES", str(bad))
    app = open_page(name)
    assert not app.exception
    [error] = app.error
    assert "reward" in error.value and "\n" not in error.value
    if name == "home":  # what does not need the game still works
        assert {b.key for b in app.button} >= {"home.train_ppo", "home.train_dcgan"}


# -- a store with results --------------------------------------------------------------------------------
def _results(cli: Any) -> str:
    """A real tiny CartPole PPO run, a 10-game evaluation of its real checkpoint that meets the
    CartPole challenges, a GAN run that was only created, and two human games of Pong."""
    import torch

    from playground.game.results import record_human_game

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = cli("rl", "train", "ppo", "CartPole-v1", "--steps", "256", "--envs", "1", "--eval-episodes", "1",
                     "--eval-every", "256", "--set", "n_steps=64", "--set", "batch_size=64")
    finally:
        torch.set_num_threads(threads)
    assert result.code == 0, result.err
    run_id = result.out.splitlines()[0].strip()
    step, path = runs.pick_checkpoint(runs.get(run_id), "latest")
    scores = [500.0] * 10
    get_store().add_evaluation(run_id, step=step, scores=scores, mean=float(np.mean(scores)), std=0.0,
                               checkpoint=str(path), seed=0, checkpoint_sha256=file_sha256(path))
    runs.create(kind="gan", algo="dcgan", env="mnist-5k", game="mnist-5k", config={}, label="later")
    record_human_game(player="ada", env="ALE/Pong-v5", game="Pong", score=-18, seed=1, frames=4000)
    record_human_game(player="bob", env="ALE/Pong-v5", game="Pong", score=-19, seed=2, frames=3000)
    return run_id


def test_pages_show_runs_awards_leaderboards_and_badges(cli: Any, home: Path) -> None:
    run_id = _results(cli)

    app = ok(open_page("home"))
    # the page's own read of the store recorded the awards: CartPole first pass and PPO (50 + 75 XP), Pong (+25);
    # -18 at Pong is not yet the -15 of "Score in Pong yourself"
    awarded = {e["payload"]["challenge"] for e in get_store().events("award") if e["payload"]["player"] == "ada"}
    assert {"cartpole-first-pass", "cartpole-ppo", "pong-first-game"} <= awarded
    # Announced once, by the read that recorded it: the two biggest awards, and one line for the rest (one
    # more award and at least one badge) instead of a toast each; bob's award is his news, not ada's.
    toasts = [toast.value for toast in app.toast]
    assert toasts[:2] == ["Challenge met: CartPole solved with PPO (+75 XP)",
                          "Challenge met: First pass: CartPole (+50 XP)"]
    [more] = toasts[2:]
    left = int(more.split()[1])
    assert more == translate("challenges.more_news", "en", n=left) and left >= 2
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["XP"] == "150"
    assert metrics["Challenges met"].startswith("3 /")
    assert app.get("progress")[0].value == 60  # 150 of the 250 XP that "Going deeper" asks
    table = app.dataframe[0].value
    assert list(table["Run"]) == ["dcgan-mnist-5k-1", run_id]  # newest first
    assert "finished" in table["Status"].iloc[1] and table["Last evaluation (mean)"].iloc[1] == 500.0
    assert "First pass: CartPole" in texts(app)  # recently met

    zh = ok(open_page("home", "zh"))
    assert not zh.toast
    assert list(zh.dataframe[0].value.columns)[:2] == ["运行", "状态"]
    assert "已完成" in zh.dataframe[0].value["状态"].iloc[1]

    challenges = ok(open_page("challenges"))
    cards = texts(challenges)
    assert "✅ First pass: CartPole" in cards and "⬜ Land on the Moon with PPO" in cards
    assert challenges.selectbox(key="challenges.board").value == "CartPole"
    agents = challenges.dataframe[0].value
    assert list(agents["Run"]) == [run_id] and list(agents["Player"]) == ["ada"]
    # Pong: people and the published reference
    challenges.selectbox(key="challenges.board").set_value("Pong").run()
    ok(challenges)
    people = [d.value for d in challenges.dataframe if "Best game" in d.value.columns][0]
    assert list(people["Player"]) == ["ada", "bob"] and list(people["Best game"]) == [-18.0, -19.0]
    assert {m.label: m.value for m in challenges.metric}["Human tester"] == "9.3"
    # a challenge's own board
    challenges.selectbox(key="challenges.board").set_value("cartpole-ppo").run()
    entries = ok(challenges).dataframe[0].value
    assert list(entries["Run"]) == [run_id] and list(entries["Meets the bar"]) == [True]
    assert "mean − std of 10 games ≥ 475 on CartPole-v1, with ppo, within 100,000 steps" in texts(challenges)
    # a data set: GAN results only, no people
    challenges.selectbox(key="challenges.board").set_value("mnist-5k").run()
    assert translate("challenges.humans", "en") not in texts(ok(challenges))
    assert translate("challenges.board_empty", "en") in texts(challenges)
    # the tier filter keeps one tier's cards
    challenges.radio(key="challenges.tier").set_value("going-deeper").run()
    shown = texts(ok(challenges))
    assert "LunarLander" in shown and "First pass: CartPole" not in shown
    challenges.selectbox(key="challenges.status").set_value("met").run()
    assert translate("challenges.none_shown", "en") in texts(ok(challenges))
    # badges: the first run's badge is earned
    assert "🚀 Lift-off" in texts(challenges)

    zh_challenges = ok(open_page("challenges", "zh"))
    assert "✅ 初次过关：CartPole" in texts(zh_challenges)


# -- starting real jobs ---------------------------------------------------------------------------------
def test_the_first_page_asks_for_the_forms_choices_before_any_run_starts(home: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A first-step button opens the training page beside the run it started; the form's choices come from
    a child that costs a few CPU seconds, so they are asked for while Home is read, not then."""
    from playground.ui import engine

    monkeypatch.setattr(engine, "_answer", None)  # a server that has asked nothing yet
    ok(AppTest.from_file(APP, default_timeout=TIMEOUT).run())
    asked = engine._answer
    assert asked is not None, "Home was drawn without asking for the form's choices"
    choices = asked.result(timeout=120)
    assert "ppo" in choices["rl"] and "dcgan" in choices["gan"]
    engine.form_choices()["rl"].clear()  # a page that changes what it was given changes nothing kept
    assert "ppo" in engine.algorithms() and asked is engine._answer  # and nothing was asked twice


def test_train_ppo_button_starts_a_job_and_opens_the_training_page(home: Path) -> None:
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    ok(app)
    assert app.title[0].value == translate("nav.home", "en")
    button(app, "home.train_ppo").click().run()
    [run] = runs.list_runs()
    try:
        assert app.session_state["train_agent.run"] == run.id
        assert (run.algo, run.env) == ("ppo", "CartPole-v1")
        assert run.config["preset"] == "cartpole" and run.total_steps == 100_000
        # the app went on to the training page (the button is gone with the home page)
        assert not [b for b in app.button if b.key == "home.train_ppo"]
        assert (Path(run.folder) / "logs" / "job.log").exists()
    finally:
        status = stop_job(run.id)
    assert status in ("stopped", "finished")
    assert runs.get(run.id).step > 0  # it really trained


def test_the_taxi_button_starts_q_learning_with_the_taxi_preset(home: Path) -> None:
    """The first lesson's button: the tabular preset made for Taxi-v4, scored over the course's 100 games."""
    app = ok(open_page("home"))
    button(app, "home.train_taxi").click().run()
    [run] = runs.list_runs()
    try:
        ok(app)
        assert app.session_state["train_agent.run"] == run.id
        assert (run.kind, run.algo, run.env) == ("rl", "qlearning", "Taxi-v4")
        assert run.total_steps == 100_000 and run.config["eval_episodes"] == 100
        assert run.config["hyperparameters"]["learning_rate"] == 0.7
    finally:
        stop_job(run.id)


def test_a_first_step_button_on_the_page_alone_starts_the_job_and_says_where_to_watch(home: Path) -> None:
    app = ok(open_page("home"))
    button(app, "home.train_dcgan").click().run()
    [run] = runs.list_runs()
    try:
        ok(app)
        assert app.session_state["train_gan.run"] == run.id
        assert (run.kind, run.algo, run.env) == ("gan", "dcgan", "mnist-5k")
        assert run.id in app.success[0].value and translate("nav.train_gan", "en") in app.success[0].value
    finally:
        stop_job(run.id)


# -- players ------------------------------------------------------------------------------------------
def test_a_new_player_can_be_created_and_used(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAYGROUND_PLAYER")
    app = ok(open_page("home"))
    app.text_input[0].set_value("grace")
    submit(app)
    ok(app)
    assert profiles.chosen_player() == "grace"
    assert translate("home.hello", "en", name="grace") in texts(app)


def test_a_bad_player_name_is_one_sentence(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAYGROUND_PLAYER")
    app = ok(open_page("home"))
    app.text_input[0].set_value("no/slashes!")
    submit(app)
    assert not app.exception
    assert "player name" in app.error[0].value and profiles.chosen_player() is None


def test_the_environment_player_wins_and_the_page_says_so(home: Path) -> None:
    app = ok(open_page("home"))
    app.text_input[0].set_value("grace")
    submit(app)
    assert "PLAYGROUND_PLAYER" in app.warning[0].value
    assert translate("home.hello", "en", name="ada") in texts(app)


# -- learn ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_learn_shows_the_card_the_session_chose_first(home: Path, lang: str) -> None:
    app = ok(open_page("learn", lang, **{"learn.card": "ppo"}))
    assert [s.value for s in app.subheader] == [translate("learn.ppo.title", lang)]
    body = [m.value for m in app.markdown]
    assert body[0] == translate("learn.ppo.what", lang)
    assert translate("learn.ppo.idea", lang) in body[1]
    assert "`clip_range`" in texts(app) and "lin_0.1" in texts(app)
    assert len(app.expander) == len(CARDS) - 1  # the other cards, closed


def test_learn_takes_the_card_from_the_address(home: Path) -> None:
    app = AppTest.from_file(str(PAGES / "learn.py"), default_timeout=TIMEOUT)
    app.query_params["card"] = "cyclegan"
    ok(app.run())
    assert [s.value for s in app.subheader] == [translate("learn.cyclegan.title", "en")]
    assert "`lambda_identity`" in texts(app)

    unknown = AppTest.from_file(str(PAGES / "learn.py"), default_timeout=TIMEOUT)
    unknown.query_params["card"] = "sac"
    unknown.run()
    assert not unknown.exception and "sac" in unknown.warning[0].value
    assert len(unknown.subheader) == len(CARDS)  # every card

    rainbow = AppTest.from_file(str(PAGES / "learn.py"), default_timeout=TIMEOUT)
    rainbow.query_params["card"] = "rainbow"
    ok(rainbow.run())
    assert [s.value for s in rainbow.subheader] == [translate("learn.rainbow.title", "en")]
    assert "`--preset rainbow`" in rainbow.markdown[-1].value or "`--preset rainbow`" in texts(rainbow)
    assert "Rainbow" in rainbow.subheader[0].value and "\\gamma^{3}" in rainbow.latex[0].value  # its own equation first
    sb3 = AppTest.from_file(str(PAGES / "learn.py"), default_timeout=TIMEOUT)
    sb3.query_params["card"] = "sb3-dqn"  # stable-baselines3's DQN is explained by DQN's card
    ok(sb3.run())
    assert [s.value for s in sb3.subheader] == [translate("learn.dqn.title", "en")]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_tabular_card_shows_its_equations_and_its_next_step(home: Path, lang: str) -> None:
    app = ok(open_page("learn", lang, **{"learn.card": "on-off-policy"}))
    assert [s.value for s in app.subheader] == [translate("learn.on-off-policy.title", lang)]
    body = [m.value for m in app.markdown]
    assert body[0] == translate("learn.on-off-policy.what", lang)
    assert translate("learn.on-off-policy.idea", lang) in body[1]
    equations = [e.value for e in app.latex]  # its own two first, then those of the cards folded below
    assert "Q(S', A')" in equations[0] and "\\max_{a} Q(S', a)" in equations[1]
    code = app.code[0].value  # its own, first; the other cards' are in the folded expanders below
    assert code.splitlines() == ["playground rl train sarsa CliffWalking-v1",
                                 "playground rl train qlearning CliffWalking-v1"]
    qlearning = AppTest.from_file(str(PAGES / "learn.py"), default_timeout=TIMEOUT)
    qlearning.query_params["card"] = "qlearning"  # the link of the training form's algorithm picker
    ok(qlearning.run())
    assert [s.value for s in qlearning.subheader] == [translate("learn.qlearning.title", "en")]
    assert "playground rl train qlearning Taxi-v4" in qlearning.code[0].value


def test_each_tabular_card_has_equations_and_a_next_step_that_starts_a_training() -> None:
    """Every tabular card ends with commands: a first that the one-click parser takes as a training of a registered
    algorithm on an environment that resolves, every other a playground command; its knobs name real settings."""
    import re

    import agents
    from playground import envs
    from playground.ui.game_views import parse_train_command

    found = _learn_cards()
    cards = found["TABULAR_CARDS"]
    steps = _next_steps()
    assert set(found["TABULAR_EQUATIONS"]) == set(cards) and set(cards) <= set(steps)
    methods = [name for name in cards if name in agents.names()]
    assert methods == ["value-iteration", "policy-iteration", "qlearning", "sarsa", "expected-sarsa"]
    settings = {word for name in methods for word in agents.get(name).Hyperparameters.model_fields}
    for name in cards:
        first, *rest = steps[name]
        train = parse_train_command(first)
        assert train is not None and train.kind == "rl" and train.name in agents.names(), (name, first)
        assert envs.resolve(train.target).env_id == train.target, (name, first)
        assert all(line.startswith("playground ") for line in rest), name
        if name in methods:
            assert train.name == name, name
            fields = set(agents.get(name).Hyperparameters.model_fields)
        else:
            fields = settings
        for word in re.findall(r"`([^`]+)`", translate(f"learn.{name}.knobs", "en")):
            assert word in fields, (name, word)


def _next_steps() -> dict[str, tuple[str, ...]]:
    import ast

    tree = ast.parse((PAGES / "learn.py").read_text(encoding="utf-8"))
    [value] = [node.value for node in tree.body if isinstance(node, ast.Assign)
               and getattr(node.targets[0], "id", None) == "NEXT_STEPS"]
    return ast.literal_eval(value)


def test_each_gan_lesson_card_has_equations_and_a_next_step_that_trains_its_model() -> None:
    """The GAN lessons beyond DCGAN (a latent space, InfoGAN, WGAN): equations, a first command the one-click
    parser takes as a GAN training (of the card's own model where it has one), and knobs that name real settings."""
    import re

    import gans
    from playground.ui.game_views import parse_train_command

    found = _learn_cards()
    steps = _next_steps()
    lessons = ("latent-space", "infogan", "wgan")
    assert set(lessons) <= set(found["GAN_CARDS"]) and set(found["GAN_EQUATIONS"]) == set(lessons)
    for name in lessons:
        first, *rest = steps[name]
        train = parse_train_command(first)
        assert train is not None and train.kind == "gan" and train.build().model in gans.names(), (name, first)
        assert all(line.startswith("playground ") for line in rest), name
        if name in gans.names():
            assert train.name == name
            fields = set(gans.get(name).Hyperparameters.model_fields)
            words = re.findall(r"`([^`]+)`", translate(f"learn.{name}.knobs", "en"))
            settings = [w.split(" ")[0] for w in words if re.fullmatch(r"[a-z][a-z_0-9]*", w.split(" ")[0])]
            allowed = fields | {"clip", "gp", "default", "rmsprop", "playground"}  # values, presets, a command
            assert settings and all(w in allowed for w in settings), \
                (name, [w for w in settings if w not in fields])


def test_the_learn_cards_name_real_preset_keys() -> None:
    """Every `key` a knobs list names in backticks is a hyperparameter of that algorithm or model
    (or a CLI flag, a value or a preset name), so a card never teaches a setting that does not exist."""
    import re

    import yaml

    import agents
    import gans
    from playground.config import RLConfig

    allowed_words = {"lin_0.1", "lin_0.2", "lin_2.5e-4", "lin_0.001", "lin_0.002", "lin_0.00083", "lin_7.0e-4", "lin_1.0e-3",
                     "--set key=value", "--envs", "--workers", "--batch-size", "--image-size", "bce", "wgan-gp",
                     "paper-64", "paper", "default", "dcgan", "AtoB", "BtoA", "batch", "instance", "aligned",
                     "unaligned", "rmsprop", "adam", "optimizer: rmsprop_tf_like", "lstm: true", "lin_X", "--preset"}
    from agents import presets

    dqn_cards = ("double", "dueling", "per", "nstep", "noisy", "c51", "rainbow")  # learn.py's DQN_CARDS
    for name in ("dqn", "ppo", "a2c", "a3c", *dqn_cards):
        algo = "dqn" if name in dqn_cards else name
        fields = set(agents.get(algo).Hyperparameters.model_fields) | set(RLConfig.model_fields)
        preset_names = set(presets.presets_for(algo))
        for word in re.findall(r"`([^`]+)`", translate(f"learn.{name}.knobs", "en")):
            flag, _, value = word.partition(" ")
            key, _, _ = word.removeprefix("--set ").partition("=")
            ok = (word in fields or word in allowed_words or word in preset_names or key in fields
                  or flag == "--preset" and value in preset_names)
            assert ok, (name, word)
    for name in ("dcgan", "cdcgan", "pix2pix", "cyclegan"):
        fields = set(gans.get(name).Hyperparameters.model_fields)
        for word in re.findall(r"`([^`]+)`", translate(f"learn.{name}.knobs", "en")):
            assert word in fields or word in allowed_words, (name, word)
    # the numbers a card quotes are the presets' numbers
    ppo = yaml.safe_load((ROOT / "agents" / "presets" / "ppo.yaml").read_text())
    assert ppo["atari"]["hyperparameters"]["clip_range"] == "lin_0.1"
    cartpole = ppo["cartpole"]["hyperparameters"]
    card = translate("learn.ppo.knobs", "en")
    assert f"CartPole: {cartpole['n_steps']} × 8" in card and f"CartPole: 256 and {cartpole['n_epochs']}" in card
    assert f"CartPole `{cartpole['learning_rate']}`" in card and f"CartPole 0.98 and {cartpole['gae_lambda']}" in card
    dqn = yaml.safe_load((ROOT / "agents" / "presets" / "dqn.yaml").read_text())
    nature = dqn["nature"]["hyperparameters"]
    card = translate("learn.dqn.knobs", "en")
    assert f"nature: {nature['target_update_interval']:,}" in card and f"nature: {nature['learning_starts'] // 1000}k" in card
    assert f"down to {nature['exploration_final_eps']}" in card
    assert gans.get("pix2pix").Hyperparameters().lambda_l1 == 100
    cyc = gans.get("cyclegan").Hyperparameters()
    assert (cyc.lambda_a, cyc.lambda_b, cyc.lambda_identity, cyc.pool_size) == (10, 10, 0.5, 50)


# -- the one-click start of a challenge's command --------------------------------------------------------
def test_every_training_command_of_the_catalogue_starts_from_the_ui(home: Path) -> None:
    """A challenge's first command, when it trains, is taken apart into the same config the CLI builds."""
    from playground.game import load_catalogue
    from playground.ui.game_views import parse_train_command

    trainings = 0
    for challenge in load_catalogue().challenges:
        command = challenge.commands[0]
        parsed = parse_train_command(command)
        if " train " not in command:
            assert parsed is None, command
            continue
        trainings += 1
        config = parsed.build()
        words = command.split()
        if parsed.kind == "rl":
            assert (config.algo, config.env) == (words[3], words[4])
            if "--steps" in words:
                steps = words[words.index("--steps") + 1]
                assert config.steps == {"100k": 100_000, "500k": 500_000, "1M": 1_000_000, "2.5M": 2_500_000,
                                        "5M": 5_000_000, "10M": 10_000_000, "20M": 20_000_000}[steps], command
            if "--preset" in words:
                assert config.preset == words[words.index("--preset") + 1]
            if "--seed" in words:
                assert config.seed == int(words[words.index("--seed") + 1])
            if "--workers" in words:
                assert config.n_envs == int(words[words.index("--workers") + 1])
        else:
            assert (config.model, config.data) == (words[3], words[4])
    assert trainings >= 20
    assert parse_train_command("playground rl train ppo CartPole-v1 --device cuda") is None  # not one click
    assert parse_train_command("playground rl train ppo 'CartPole") is None
    assert parse_train_command("playground rl train ppo CartPole-v1 --steps many") is None
