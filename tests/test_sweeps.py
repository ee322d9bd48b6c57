"""Hyperparameter sweeps: the search-space syntax and its files, the checks before anything is created, the best
trial exported as a preset of one's own, the Sweeps page, and real sweeps on a real two-node Ray cluster on loopback
(tests/raycluster.py): trials on both nodes, ASHA stopping one early, stop and resume, and a node lost mid-sweep.

Nothing is mocked: the page's store rows are made with the store's own calls, and the Ray tests drive real sweeps of
real PPO runs on CartPole through the CLI, as a person would (small budgets: a few thousand steps each).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from playground import events, runs, sweeps
from playground.config import build_rl_config
from playground.errors import BadConfig
from playground.store import get_store
from tests.test_ui_runs import _chart_rows  # the chart reader the Runs page's tests use

# Every test here in one test process: one loopback Ray cluster for all of them, not one per process (2 cores).
pytestmark = pytest.mark.xdist_group("ray")


ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "playground" / "ui" / "pages" / "sweeps.py")


# -- the search space ------------------------------------------------------------------------------------------------
def test_the_space_syntax_reads_each_form_and_writes_it_back() -> None:
    space = sweeps.parse_space(["learning_rate=loguniform(1e-5, 1e-3)", "gae_lambda = uniform(0.8,1)",
                                "n_epochs=int(3,10)", "batch_size=randint(32,64)",
                                "n_steps=choice(64, 128,256)", 'activation_fn=choice(tanh, "relu")',
                                "normalize_advantage=choice(true,false)"])
    assert space["learning_rate"] == sweeps.Range("learning_rate", "loguniform", 1e-5, 1e-3)
    assert space["gae_lambda"] == sweeps.Range("gae_lambda", "uniform", 0.8, 1.0)
    assert space["n_epochs"] == sweeps.Range("n_epochs", "int", 3, 10)
    assert space["batch_size"].form == "int", "randint is int's other name"
    assert space["n_steps"].values == (64, 128, 256) and all(type(v) is int for v in space["n_steps"].values)
    assert space["activation_fn"].values == ("tanh", "relu")
    assert space["normalize_advantage"].values == (True, False)
    again = sweeps.parse_space(r.text() for r in space.values())
    assert again == space, "the stored lines read back to the same ranges"
    # Optuna's own distributions, what OptunaSearch samples from
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    assert space["learning_rate"].distribution() == FloatDistribution(1e-5, 1e-3, log=True)
    assert space["n_epochs"].distribution() == IntDistribution(3, 10)
    assert space["n_steps"].distribution() == CategoricalDistribution([64, 128, 256])
    # where a value lies on its parallel-coordinates axis: log scale for loguniform
    assert space["learning_rate"].position(1e-4) == pytest.approx(0.5)
    assert space["n_steps"].position(256) == 1.0 and space["n_steps"].position(999) is None


@pytest.mark.parametrize(("line", "words"), [
    ("learning_rate", "is not KEY=RANGE"),
    ("learning-rate=uniform(0,1)", "is not a hyperparameter name"),
    ("learning_rate=lognormal(1,2)", "learning_rate: `lognormal(1,2)` is not a search range"),
    ("learning_rate=1e-3", "learning_rate: `1e-3` is not a search range"),
    ("gamma=uniform(0.9)", "gamma: uniform(…) takes two numbers"),
    ("gamma=uniform(a,b)", "gamma: uniform(…) takes two numbers"),
    ("gamma=uniform(0.99,0.9)", "gamma: the low end 0.99 must be below the high end 0.9"),
    ("learning_rate=loguniform(0,1e-3)", "learning_rate: loguniform needs a low end above 0"),
    ("n_epochs=int(1.5,10)", "n_epochs: int(…) takes two whole numbers"),
    ("n_steps=choice(64)", "n_steps: choice(…) needs two values or more"),
    ("n_steps=choice(64,,128)", "n_steps: choice(…) needs two values or more"),
    ("n_steps=choice(64,64)", "n_steps: choice(…) names 64 twice"),
    ("gamma=uniform(0.9,inf)", "gamma: `inf` is not a finite number"),
    ("net_arch=choice([64],[128])", "net_arch: `[64]` is not a number, true/false or a word"),
])
def test_a_bad_range_is_one_sentence_naming_its_key(line: str, words: str) -> None:
    with pytest.raises(BadConfig) as caught:
        sweeps.parse_space([line])
    sentence = str(caught.value)
    assert words in sentence, sentence
    assert "\n" not in sentence and sentence.count(". ") == 0, sentence


def test_a_key_given_twice_is_refused() -> None:
    with pytest.raises(BadConfig, match="gamma is given twice"):
        sweeps.parse_space(["gamma=uniform(0.9,0.99)", "gamma=choice(0.9,0.99)"])


def test_every_shipped_space_reads_names_real_settings_and_says_why() -> None:
    import agents
    from agents import presets

    files = sorted(sweeps.SPACE_DIR.glob("*.yaml"))
    assert files, "spaces ship beside the presets"
    for path in files:
        algo = path.stem
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        fields = set(agents.get(algo).Hyperparameters.model_fields)
        for name, space in sweeps.spaces_for(algo).items():
            assert space.ranges and set(space.ranges) <= fields, (algo, name)
            for key in space.ranges:
                assert len(space.why[key].split()) >= 8, f"{algo}/{name}/{key}: say where the range comes from"
            if space.preset:
                assert space.preset in presets.presets_for(algo), (algo, name, space.preset)
            assert raw[name]["description"]
    cartpole = sweeps.default_space("ppo", "CartPole-v1")
    assert cartpole is not None and cartpole.name == "cartpole" and "learning_rate" in cartpole.ranges
    assert sweeps.default_space("ppo", "Acrobot-v1").name == "default"


def test_a_sweep_is_planned_from_the_space_file_and_every_end_is_checked(home: Path) -> None:
    config = sweeps.plan("ppo", "CartPole-v1", trials=4)
    assert config.space_from == "agents/presets/spaces/ppo.yaml: cartpole"
    assert config.budget_steps == sweeps.default_space("ppo", "CartPole-v1").budget_steps
    assert config.base["preset"] == "cartpole" and config.grace_steps == config.base["eval_every"]
    assert set(config.ranges()) == {"learning_rate", "n_steps", "n_epochs", "gae_lambda"}
    given = sweeps.plan("ppo", "CartPole-v1", trials=2, space=["gamma=uniform(0.9,0.99)"], budget_steps=5000,
                        sets=["n_steps=32"], seeds=3, metric="score")
    assert given.space == ["gamma=uniform(0.9, 0.99)"] and given.base["hyperparameters"]["n_steps"] == 32
    assert given.budget_steps == 5000 and given.seeds == 3 and given.metric == "score"
    with pytest.raises(BadConfig, match=r"batch_size=1, an end of its search range, would be refused"):
        sweeps.plan("ppo", "CartPole-v1", space=["batch_size=choice(1,64)"])
    with pytest.raises(BadConfig, match="gamma is both searched"):
        sweeps.plan("ppo", "CartPole-v1", space=["gamma=uniform(0.9,0.99)"], sets=["gamma=0.95"])
    with pytest.raises(BadConfig, match="--grace-steps 5000 is not below the budget of 4000"):
        sweeps.plan("ppo", "CartPole-v1", budget_steps=4000, grace_steps=5000)
    with pytest.raises(BadConfig, match="there is nothing to search for qlearning"):
        sweeps.plan("qlearning", "FrozenLake-v1")
    for kwargs, words in (({"trials": 0}, "--trials must be a whole number from 1"),
                          ({"seeds": 50}, "--seeds must be a whole number from 1 to 20"),
                          ({"metric": "best"}, "--metric must be eval"),
                          ({"cpus": 0}, "--cpus must be above 0"),
                          ({"reduction_factor": 1}, "--reduction-factor must be 2 or more")):
        with pytest.raises(BadConfig, match=re.escape(words)):
            sweeps.plan("ppo", "CartPole-v1", **kwargs)
    assert get_store().sweeps() == [] and get_store().find_runs() == []


def test_bad_input_at_the_cli_exits_2_and_creates_nothing(cli: Any) -> None:
    cases = [
        (["sweep", "FrozenLake-v1"], "value iteration one sweep at a time is `playground bellman FrozenLake-v1`"),
        (["sweep", "ppo"], "name the environment too"),
        (["sweep", "ppo", "CartPole-v1", "--space", "learning_rate=lognormal(1,2)"], "is not a search range"),
        (["sweep", "ppo", "CartPole-v1", "--space", "n_steps=choice(64,0)"], "n_steps=0, an end of its search range"),
        (["sweep", "ppo", "CartPole-v1", "--metric", "best"], "--metric must be eval"),
        (["sweep", "ppo", "CartPole-v1", "--budget-steps", "lots"], "--budget-steps"),
        (["sweep", "ppo", "Nope-v0"], "Nope-v0"),
        (["sweep", "ppo", "CartPole-v1", "--on", "ray://nowhere:99999"], "nowhere:99999"),
        (["sweep", "show", "sweep-ppo-CartPole-9"], "there is no sweep 'sweep-ppo-CartPole-9'"),
        (["sweep", "stop", "sweep-ppo-CartPole-9"], "there is no sweep"),
        (["sweep", "resume", "sweep-ppo-CartPole-9"], "there is no sweep"),
        (["sweep", "export", "sweep-ppo-CartPole-9", "--preset", "mine"], "there is no sweep"),
    ]
    for args, words in cases:
        result = cli(*args)
        assert result.code == 2, (args, result)
        assert result.err.startswith("error: ") and words in result.err, (args, result.err)
        assert "Traceback" not in result.err
    assert get_store().sweeps() == [] and get_store().find_runs() == []
    assert not (sweeps.sweeps_dir()).exists() or not any(sweeps.sweeps_dir().iterdir())
    listed = cli("sweep", "list", "--json")
    assert listed.code == 0 and json.loads(listed.out) == []


# -- a sweep's record, made with the store's own calls ---------------------------------------------------------------
def made_sweep(*, status: str = "finished", values: tuple[float | None, ...] = (480.0, 95.5, 21.0),
               player: str | None = None) -> dict[str, Any]:
    """A sweep of PPO on CartPole with one run per trial, as a driver leaves it: runs in the store with their
    hyperparameters, and the events its trials and Tune's callback write (nodes, settings, reports, endings)."""
    store = get_store()
    config = sweeps.plan("ppo", "CartPole-v1", trials=len(values), budget_steps=4000,
                         space=["learning_rate=loguniform(1e-4,1e-2)", "n_steps=choice(32,64,128)"])
    row = sweeps.create(config, player=player)
    settings = [{"learning_rate": 2e-3, "n_steps": 64}, {"learning_rate": 1e-4, "n_steps": 32},
                {"learning_rate": 8e-3, "n_steps": 128}]
    for i, value in enumerate(values):
        hyper = {**config.base["hyperparameters"], **settings[i]}
        run = runs.create(kind="rl", algo="ppo", env="CartPole-v1", game="CartPole",
                          config={**config.base, "hyperparameters": hyper}, seed=0, total_steps=4000,
                          sweep_id=row["id"], label=f"{row['id']} t{i + 1}")
        trial_id = f"t{i:04d}"
        events.record(store, sweeps.TrialStarted(sweep=row["id"], trial_id=trial_id, trial=i + 1,
                                                 settings=settings[i], node_id=f"{'ab'[i % 2] * 40}",
                                                 node_ip="127.0.0.1", node_resources=[f"node_{'ab'[i % 2]}"],
                                                 host="here", pid=1), run.id)
        if value is None:
            store.update_run(run.id, status="running", step=1000)
            continue
        early = i == 2
        step = 2000 if early else 4000
        events.record(store, sweeps.TrialReported(sweep=row["id"], trial_id=trial_id, trial=i + 1, steps=step,
                                                  value=value, eval=value, runs=[run.id]))
        events.record(store, sweeps.TrialEnded(sweep=row["id"], trial_id=trial_id, trial=i + 1, steps=step,
                                               how="early" if early else "finished"))
        runs.end(run.id, "stopped" if early else "finished", step)
    best = max((v for v in values if v is not None), default=None)
    alive = ({"pid": os.getpid(), "host": socket.gethostname(), "heartbeat_at": time.time()}
             if status == "running" else {})
    store.update_sweep(row["id"], status=status, best_value=best,
                       best_run=store.find_runs(sweep_id=row["id"])[0].id if best is not None else None, **alive)
    return sweeps.get(row["id"])


def test_trials_are_read_back_from_the_store_best_first(home: Path) -> None:
    row = made_sweep()
    views = sweeps.trials(row["id"])
    assert [v.trial for v in views] == [1, 2, 3]
    assert [v.status for v in views] == ["finished", "finished", "early"]
    assert [v.node for v in views] == ["node_a", "node_b", "node_a"]
    assert views[2].steps == 2000 and views[2].run_statuses == ["stopped"]
    best = sweeps.best_trials(row["id"])
    assert [v.value for v in best] == [480.0, 95.5, 21.0] and best[0].settings == {"learning_rate": 2e-3, "n_steps": 64}
    record = sweeps.record(row, detail=True)
    assert record["trials_done"] == 3 and record["trials_started"] == 3 and record["best_value"] == 480.0
    assert [t["trial"] for t in record["trial_list"]] == [1, 2, 3]


def test_show_prints_the_best_trial_first(cli: Any) -> None:
    row = made_sweep()
    shown = cli("sweep", "show", row["id"])
    assert shown.code == 0, shown
    lines = [ln for ln in shown.out.splitlines() if re.match(r"^\s+\d\s", ln)]
    first_run = get_store().find_runs(sweep_id=row["id"])[0].id
    assert lines[0].split()[:3] == ["1", first_run, "node_a"] and "480.0" in lines[0], shown.out
    assert lines[-1].split()[0] == "3" and "21.0" in lines[-1]
    assert re.search(r"early\s+\(ASHA\)", shown.out), "ASHA's stop, by name"
    as_json = json.loads(cli("sweep", "show", row["id"], "--json", "--top", "1").out)
    assert [t["value"] for t in as_json["trial_list"]] == [480.0] and as_json["status"] == "finished"


def test_the_best_trial_becomes_a_preset_of_ones_own_that_preset_finds(cli: Any, home: Path) -> None:
    row = made_sweep()
    result = cli("sweep", "export", row["id"], "--preset", "swept")
    assert result.code == 0, result
    path = home / "presets" / "ppo.yaml"
    text = path.read_text()
    assert f"# playground sweep {row['id']}" in text, "a comment names the sweep"
    preset = yaml.safe_load(text)["swept"]
    assert preset["envs"] == ["CartPole-v1"] and preset["hyperparameters"]["learning_rate"] == 2e-3
    config = build_rl_config("ppo", "CartPole-v1", preset="swept")
    assert config.preset == "swept" and config.hyperparameters["learning_rate"] == 2e-3
    assert config.hyperparameters["n_steps"] == 64 and config.steps == 100_000, "the preset's full-length training"
    assert build_rl_config("ppo", "CartPole-v1").preset == "cartpole", "the shipped default stays the default"
    listed = cli("rl", "presets", "ppo")
    assert listed.code == 0 and "swept" in listed.out
    # names: a shipped one, one already taken (replaced only with --force), one that cannot name a preset
    assert "ships a preset named 'cartpole'" in cli("sweep", "export", row["id"], "--preset", "cartpole").err
    again = cli("sweep", "export", row["id"], "--preset", "swept")
    assert again.code == 2 and "--force" in again.err
    assert cli("sweep", "export", row["id"], "--preset", "swept", "--force").code == 0
    assert cli("sweep", "export", row["id"], "--preset", "../evil").code == 2
    assert list(yaml.safe_load(path.read_text())) == ["swept"]
    path.write_text("swept: [not, a, preset]\n")
    with pytest.raises(BadConfig, match="your presets file .* cannot be read"):
        build_rl_config("ppo", "CartPole-v1", preset="swept")


def test_a_sweep_without_results_has_nothing_to_export(cli: Any) -> None:
    row = made_sweep(values=(None,), status="running")
    result = cli("sweep", "export", row["id"], "--preset", "early")
    assert result.code == 2 and "no trial with a result yet" in result.err


def test_a_sweep_whose_driver_died_is_failed_with_a_sentence(home: Path) -> None:
    row = made_sweep(values=(None,), status="running")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    get_store().update_sweep(row["id"], pid=dead.pid, host=socket.gethostname())
    found = sweeps.get(row["id"])
    assert found["status"] == "failed" and "sweep resume" in found["error"]


def test_importances_come_from_optuna_over_the_stored_trials(home: Path) -> None:
    row = made_sweep()
    found = sweeps.importances(row["id"])
    assert set(found) == {"learning_rate", "n_steps"} and sum(found.values()) == pytest.approx(1.0)
    assert sweeps.importances(made_sweep(values=(300.0,))["id"]) == {}, "one trial tells nothing apart"


# -- the Sweeps page (AppTest, store rows made directly) --------------------------------------------------------------
def _page(lang: str | None = None) -> Any:
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(PAGE, default_timeout=120)
    if lang:
        app.session_state["ui_lang"] = lang
    return app.run()


def test_the_page_lists_sweeps_and_shows_a_sweeps_trials(home: Path) -> None:
    empty = _page()
    assert not empty.exception and any("No sweeps yet" in i.value for i in empty.info)
    space = empty.text_area(key="sweeps.space").value
    assert "learning_rate=loguniform(0.0001, 0.01)" in space, "the form is prefilled from the space file"
    row = made_sweep()
    app = _page()
    assert not app.exception, app.exception
    trials = app.dataframe[1].value
    assert list(trials["trial"]) == [1, 2, 3] and list(trials["node"]) == ["node_a", "node_b", "node_a"]
    assert list(trials["status"]) == ["finished", "finished", "stopped early (ASHA)"]
    assert list(trials["eval"]) == [480.0, 95.5, 21.0] and list(trials["n_steps"]) == [64, 32, 128]
    assert any(m.label == "best eval" and m.value == "480.0" for m in app.metric)
    lines = _chart_rows(app)
    assert {r["trial"] for r in lines} == {1, 2, 3}, "the parallel-coordinates plot: a line per trial"
    assert {r["axis"] for r in lines} == {"learning_rate", "n_steps", "eval"}
    best = {r["axis"]: r["position"] for r in lines if r["trial"] == 1}
    assert best["eval"] == 1.0 and best["n_steps"] == 0.5 and 0 < best["learning_rate"] < 1
    assert any(b.label == "Train the best settings with 3 seeds" for b in app.button)
    assert any(b.label == "Resume the sweep" for b in app.button) is False, "a finished sweep has nothing to resume"
    chinese = _page("zh")
    assert not chinese.exception and any("提前停止" in str(v) for v in chinese.dataframe[1].value["状态"])
    assert row["id"] in list(app.dataframe[0].value["sweep"])


def test_the_page_stops_a_running_sweep_and_refuses_a_bad_space_in_one_sentence(home: Path) -> None:
    row = made_sweep(values=(480.0, None), status="running")
    app = _page()
    stop = next(b for b in app.button if b.label == "Stop the sweep")
    app = stop.click().run()
    assert not app.exception and get_store().sweep(row["id"])["stop_requested"] is True
    assert any("Asked the sweep to stop" in i.value for i in [*app.info, *app.success])
    app.text_area(key="sweeps.space").set_value("learning_rate=lognormal(1,2)")
    app = app.button(key="FormSubmitter:sweeps.form-Start the sweep").click().run()
    assert [e.value for e in app.error] and "is not a search range" in app.error[0].value
    assert len(get_store().sweeps()) == 1, "nothing created"


def test_the_page_resumes_through_a_child_that_says_why_it_cannot(home: Path) -> None:
    row = made_sweep(status="stopped")
    app = _page()
    app = next(b for b in app.button if b.label == "Resume the sweep").click().run()
    assert not app.exception
    assert [e.value for e in app.error] == [f"sweep {row['id']} has no Ray Tune experiment in {row['folder']} to "
                                            "resume from (it never began); start a new sweep."]
    assert sweeps.get(row["id"])["status"] == "stopped"


def test_the_page_trains_the_best_settings_with_three_seeds(home: Path) -> None:
    row = made_sweep()
    app = _page()
    app.text_input(key=f"sweeps.preset.{row['id']}").set_value("best-of-1")
    app = next(b for b in app.button if b.label == "Train the best settings with 3 seeds").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    store = get_store()
    started = [r for r in store.find_runs() if r.sweep_id is None]
    try:
        assert len(started) == 3 and len({r.group_id for r in started}) == 1 and started[0].group_id
        assert sorted(r.seed for r in started) == [0, 1, 2]
        assert all(r.config["preset"] == "best-of-1" and r.config["hyperparameters"]["learning_rate"] == 2e-3
                   for r in started), "the best trial's settings, through the exported preset"
        assert all(r.id in app.success[0].value for r in started)
    finally:  # three trainings on a 2-core machine: stop them (each keeps a checkpoint)
        for run in started:
            _wait_for(f"{run.id} to start", lambda run=run: store.get_run(run.id).status != "created", timeout=120)
            if store.get_run(run.id).status == "running":
                runs.request_stop(run.id)
        for run in started:
            _wait_for(f"{run.id} to stop", lambda run=run: store.get_run(run.id).status != "running", timeout=120)


def test_the_page_loads_no_engine_ray_or_optuna(home: Path) -> None:
    made_sweep()
    script = ("import json, sys\nfrom streamlit.testing.v1 import AppTest\n"
              f"app = AppTest.from_file({PAGE!r}, default_timeout=120).run()\n"
              "print(json.dumps({'exceptions': [e.value for e in app.exception], 'loaded': [m for m in "
              "('torch', 'stable_baselines3', 'ale_py', 'ray', 'optuna') if m in sys.modules]}))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PLAYGROUND_HOME": str(home)}, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    shown = json.loads(proc.stdout.strip().splitlines()[-1])
    assert shown == {"exceptions": [], "loaded": []}


def test_a_stop_asked_stops_the_runs_first_and_interrupts_tune_only_after_them(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tune gives its trials a few seconds to end before it kills them, so the driver's watcher asks the sweep's
    runs to stop through the store and waits for them (``STOP_WAIT_S`` at most) before it signals Tune."""
    import signal

    monkeypatch.setattr(sweeps, "HEARTBEAT_S", 0.05)
    store = get_store()
    signalled: list[float] = []
    previous = signal.signal(signal.SIGUSR1, lambda *_: signalled.append(time.monotonic()))
    try:
        for wait, run_ends in ((60.0, True), (0.5, False)):
            signalled.clear()
            row = made_sweep(status="running", values=(480.0, None))
            [training] = [r for r in store.find_runs(sweep_id=row["id"]) if r.status == "running"]
            monkeypatch.setattr(sweeps._Watcher, "STOP_WAIT_S", wait)
            sweeps.request_stop(row["id"])
            with sweeps._Watcher(row["id"], store) as watcher:
                _wait_for("the run to be asked to stop", lambda: store.get_run(training.id).stop_requested, timeout=10)
                assert watcher.stop_asked
                asked = store.events(kind=events.StopRequested.KIND, run_id=training.id)
                assert len(asked) == 1, "asked once, not at every beat"
                if run_ends:
                    time.sleep(0.5)
                    assert signalled == [], "Tune is not interrupted while a run is still training"
                    ended = time.monotonic()
                    runs.end(training.id, "stopped", 1500)
                    _wait_for("Tune to be interrupted", lambda: signalled, timeout=10)
                    assert signalled[0] >= ended
                else:  # a run that never ends holds the sweep's stop up for STOP_WAIT_S, no longer
                    _wait_for("Tune to be interrupted anyway", lambda: signalled, timeout=10)
                    assert store.get_run(training.id).status == "running"
                time.sleep(0.3)
                assert len(signalled) == 1, "interrupted once"
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_an_evaluation_reported_after_the_sweep_stopped_its_run_leaves_the_trial_to_resume(home: Path) -> None:
    """The watcher stops a sweep's runs before it interrupts Tune; an evaluation the trial had not reported yet then
    reaches Tune after its run ended. Marked done, Tune would keep the trial as terminated and ``sweep resume`` would
    leave its run stopped short of the budget; so it is reported as not done, and then nothing more is."""
    row = made_sweep(status="running", values=(480.0, None))
    trial = object.__new__(sweeps._trial_class())  # Tune's trial, without the setup that starts training
    trial.store, trial.sweep_id, trial.reported, trial.last = get_store(), row["id"], 0, {}
    stopped = sweeps._Collected()
    stopped.points, stopped.done, stopped.status = [(21_000, 50.0, 40.0)], True, "stopped"
    trial.run_ids, trial.collected = ["r"], {"r": stopped}
    assert trial._ready()["done"] is True  # no stop asked: a run that ended is the trial's end
    trial.reported = 0
    sweeps.request_stop(row["id"])
    result = trial._ready()
    assert result["steps"] == 21_000 and result["done"] is False and result["finished"] == 0.0
    assert trial._ready() is None  # Tune's interrupt comes next; the resumed trial goes on from the checkpoint


# -- real sweeps on a real two-node Ray cluster on loopback -----------------------------------------------------------
from raycluster import RayCluster  # noqa: E402 - the cluster's fixtures come from conftest's plugin

# Tiny budgets: a few thousand CartPole steps per trial, an evaluation of 3 games every 500 steps.
TINY = ["--eval-every", "500", "--eval-episodes", "3"]


def _playground(home: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``playground ARGS`` as a person runs it (its own process, so Ray's driver is its own)."""
    env = {**os.environ, "PLAYGROUND_HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    return subprocess.run([sys.executable, "-m", "playground", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=timeout)


def _wait_for(what: str, check: Any, timeout: float = 180.0, sweep_id: str | None = None) -> Any:
    """Until ``check()`` holds; with ``sweep_id``, fail at once if the sweep ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if sweep_id is not None and sweeps.get(sweep_id)["status"] not in ("created", "running"):
            break
        time.sleep(0.5)
    store = get_store()
    seen = [(r.id, r.status, r.step, len(store.evaluations(r.id))) for r in store.find_runs()]
    sweep = sweeps.get(sweep_id) if sweep_id else None
    log = Path(sweep["folder"], sweeps.DRIVER_LOG) if sweep else None
    raise AssertionError(f"waited for {what}; runs {seen}; sweep {sweep and sweep['status']}\n"
                         + (log.read_text()[-3000:] if log and log.exists() else ""))


def _nodes_of(sweep_id: str) -> dict[str, str]:
    """run id -> the node's own resource name, as each trial recorded where it ran."""
    return {e["run_id"]: ",".join(e["payload"]["node_resources"]) for e in get_store().events(kind="sweep_trial")
            if e["payload"]["sweep"] == sweep_id}


def test_a_sweep_lands_on_both_nodes_asha_stops_one_and_the_best_becomes_a_preset(
        ray_cluster: RayCluster, home: Path, cli: Any) -> None:
    started = time.monotonic()
    # ASHA's rungs at 500, 2,000 and 8,000 steps. The budget leaves a trial that ASHA stops at 2,000 steps some
    # 10,000 more to train while the stop reaches its run: with a budget of 4,000 an idle machine trained CartPole
    # so fast (about 1,500 steps/s a trial) that the runs had finished before their stop came.
    budget = 12_000
    proc = _playground(home, "sweep", "ppo", "CartPole-v1", "--trials", "4", "--space",
                       "learning_rate=loguniform(1e-5,1e-2)", "--budget-steps", str(budget), *TINY, "--seed", "1",
                       "--reduction-factor", "4", "--on", ray_cluster.address, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep_id, record = proc.stdout.splitlines()[0], json.loads(proc.stdout.split("\n", 1)[1])
    assert record["id"] == sweep_id and record["status"] == "finished", record
    assert record["trials_started"] == 4 and record["trials_done"] == 4
    store = get_store()
    trial_runs = store.find_runs(sweep_id=sweep_id)
    assert len(trial_runs) == 4 and all(r.sweep_id == sweep_id and r.kind == "rl" for r in trial_runs)
    # every trial is a real run: its own settings, evaluations, a checkpoint at its last step
    views = {v.runs[0]: v for v in sweeps.trials(sweep_id)}
    for run in trial_runs:
        assert run.config["hyperparameters"]["learning_rate"] == views[run.id].settings["learning_rate"]
        assert store.evaluations(run.id) and runs.checkpoints(run, store)[-1][0] == run.step
        assert run.host, "the run says where it trained"
    # where each ran: both nodes of the cluster took trials
    nodes = _nodes_of(sweep_id)
    assert set(nodes) == {r.id for r in trial_runs} and set(nodes.values()) == {"node_a", "node_b"}, nodes
    # ASHA stopped at least one trial early: its run stopped short of the budget, with a checkpoint there
    early = [v for v in views.values() if v.status == "early"]
    assert early, [(v.trial, v.status, v.steps, v.value) for v in views.values()]
    for view in early:
        run = store.get_run(view.runs[0])
        assert run.status == "stopped" and run.step < budget and runs.checkpoints(run, store)[-1][0] == run.step
    finished = [v for v in views.values() if v.status == "finished"]
    assert finished and all(store.get_run(v.runs[0]).step >= budget for v in finished)
    # the best trial, exported as a preset of one's own, is what --preset NAME then trains with
    best = sweeps.best_trials(sweep_id)[0]
    assert record["best_value"] == pytest.approx(best.value) and record["best_run"] == best.runs[0]
    exported = cli("sweep", "export", sweep_id, "--preset", "cartpole-swept", "--json")
    assert exported.code == 0, exported
    assert json.loads(exported.out)["runs"] == best.runs
    config = build_rl_config("ppo", "CartPole-v1", preset="cartpole-swept")
    assert config.hyperparameters["learning_rate"] == pytest.approx(best.settings["learning_rate"])
    assert f"playground sweep {sweep_id}" in (home / "presets" / "ppo.yaml").read_text()
    # Optuna's importances, stored by the driver at the end
    assert set(sweeps.stored_importances(sweep_id) or {}) == {"learning_rate"}
    print(f"4-trial sweep on 2 nodes: {time.monotonic() - started:.1f} s")


def test_stopping_a_sweep_stops_its_trials_with_checkpoints_and_resume_goes_on(
        ray_cluster: RayCluster, home: Path, cli: Any) -> None:
    # Trials long enough that none can finish between the test seeing two of them train and the stop reaching
    # their runs. A trial trains CartPole at about 9,000 steps/s on one core (3,000 steps and an evaluation in 0.3 s),
    # the second starts about 1 s after the first (4 s on a loaded machine), and the stop reaches the runs up to
    # about 3.5 s after the test sees both train (its 0.5 s poll, the driver's 2 s beat, the run's 1 s poll): with
    # 30,000 steps both trials had sometimes finished by then.
    budget = 90_000
    proc = _playground(home, "sweep", "ppo", "CartPole-v1", "--trials", "2", "--space",
                       "learning_rate=loguniform(5e-4,5e-3)", "--budget-steps", str(budget), "--eval-every", "3000",
                       "--eval-episodes", "3", "--seed", "2", "--grace-steps", str(budget - 1), "--on",
                       ray_cluster.address, "--detach", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep_id = proc.stdout.splitlines()[0]
    store = get_store()
    _wait_for("two trials training past their first evaluation", lambda: len(
        [r for r in store.find_runs(sweep_id=sweep_id) if r.status == "running" and store.evaluations(r.id)]) >= 2,
        sweep_id=sweep_id)
    stopped = cli("sweep", "stop", sweep_id)
    assert stopped.code == 0 and "asked sweep" in stopped.out
    _wait_for("the sweep to stop", lambda: sweeps.get(sweep_id)["status"] == "stopped", timeout=120)
    at_stop = {r.id: r for r in store.find_runs(sweep_id=sweep_id)}
    assert at_stop and all(r.status in ("stopped", "finished") for r in at_stop.values()), at_stop
    interrupted = [r for r in at_stop.values() if r.status == "stopped"]
    assert interrupted, f"the sweep stopped trials that were training: {[(r.id, r.step) for r in at_stop.values()]}"
    for run in interrupted:
        assert run.step < budget and runs.checkpoints(run, store)[-1][0] == run.step, "stopped with a checkpoint"
    assert len({v.trial_id for v in sweeps.trials(sweep_id) if v.status in ("finished", "early")}) < 2
    # ASHA's only rung is the budget's end here: every trial, stopped by the sweep, has its whole budget to go on
    resumed = _playground(home, "sweep", "resume", sweep_id, "--json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    record = json.loads(resumed.stdout.split("\n", 1)[1])
    assert record["status"] == "finished" and record["trials_done"] == 2, record
    after = {r.id: r for r in store.find_runs(sweep_id=sweep_id)}
    assert len(after) == 2, "resumed trials went on with their own runs"
    for run in interrupted:
        now = after[run.id]
        assert now.status == "finished" and now.step >= budget, (run.id, now.status, now.step)
        starts = store.events(kind="run_started", run_id=run.id)
        assert len(starts) == 2, "trained once, then resumed from its checkpoint"


def test_a_node_lost_mid_sweep_fails_its_trial_with_a_sentence_and_the_sweep_goes_on(
        ray_cluster: RayCluster, home: Path) -> None:
    proc = _playground(home, "sweep", "ppo", "CartPole-v1", "--trials", "3", "--space",
                       "learning_rate=loguniform(5e-4,5e-3)", "--budget-steps", "12000", "--eval-every", "1000",
                       "--eval-episodes", "3", "--seed", "3", "--grace-steps", "10000", "--on", ray_cluster.address,
                       "--detach", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep_id = proc.stdout.splitlines()[0]
    store = get_store()

    def on_b() -> list[str]:
        nodes = _nodes_of(sweep_id)
        return [run_id for run_id, node in nodes.items() if node == "node_b"
                and store.get_run(run_id).status == "running" and store.evaluations(run_id)]

    [lost] = _wait_for("a trial training on node_b", on_b, sweep_id=sweep_id)[:1]
    ray_cluster.kill_second_node()
    run = _wait_for("the lost trial's run to fail", lambda: (r := store.get_run(lost)).status == "failed" and r,
                    timeout=180)
    assert "node_b" in run.error and "was lost" in run.error and "\n" not in run.error, run.error
    ended = _wait_for("the sweep to end", lambda: (row := sweeps.get(sweep_id))["status"] != "running" and row,
                      timeout=300)
    assert ended["status"] == "finished", ended
    views = sweeps.trials(sweep_id)
    assert len(views) == 3 and [v.status for v in views].count("failed") == 1
    assert all(v.status in ("finished", "early") for v in views if lost not in v.runs)
    assert {_nodes_of(sweep_id)[r] for v in views if lost not in v.runs for r in v.runs} <= {"node_a", "node_b"}
