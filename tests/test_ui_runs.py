"""The Runs and compare page, headless: Streamlit's AppTest runs the page script against a real store.

Runs are made with ``runs.create`` and filled through the store (curves, evaluations), so every number
the page shows is known in advance.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from playground import runs
from playground.store import Run, get_store
from playground.ui import charts

PAGE = str(Path(__file__).resolve().parents[1] / "playground" / "ui" / "pages" / "runs.py")


def _page(lang: str | None = None) -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=60)
    if lang:
        app.session_state["ui_lang"] = lang
    return app.run()


def _rl(seed: int = 0, lr: float = 3e-4, *, label: str | None = None, env: str = "CartPole-v1",
        curve: list[float] | None = None, evals: list[float] = (), status: str = "finished") -> Run:
    config = {"kind": "rl", "algo": "ppo", "env": env, "steps": 3000, "seed": seed,
              "hyperparameters": {"learning_rate": lr, "n_steps": 64}}
    run = runs.create(kind="rl", algo="ppo", env=env, game=env.split("/")[-1].split("-")[0], config=config,
                      label=label, seed=seed, total_steps=3000)
    store = get_store()
    if curve is not None:
        store.add_metrics(run.id, [(100 * i, 0.0, "rollout/ep_rew_mean", v) for i, v in enumerate(curve)])
    for i, mean in enumerate(evals, 1):
        store.add_evaluation(run.id, step=1000 * i, scores=[mean - 1, mean + 1, mean], mean=mean, std=1.0,
                             checkpoint=None, seed=0)
    if status != "created":
        runs.end(run.id, status, 3000)
    return run


def _gan(fd: float | None = 40.0) -> Run:
    config = {"kind": "gan", "model": "dcgan", "data": "digits", "iters": 10, "seed": 0}
    run = runs.create(kind="gan", algo="dcgan", env="digits", game="digits", config=config, total_steps=10)
    store = get_store()
    store.add_metrics(run.id, [(i, 0.0, "loss/g", 2.0 - i / 10) for i in range(10)])
    if fd is not None:
        store.add_metrics(run.id, [(10, 0.0, "eval/fd", fd), (10, 0.0, "eval/kid", 0.05)])
        store.add_quality(run.id, {"fd": fd, "kid": 0.05, "step": 10})
    runs.end(run.id, "finished", 10)
    return run


def _table(app: AppTest, index: int = 0) -> Any:
    return app.dataframe[index].value


def _chart_rows(app: AppTest) -> list[dict[str, Any]]:
    """The points of the chart's lines (the Arrow dataset its line layer draws)."""
    import pyarrow as pa

    found = app.get("vega_lite_chart") + app.get("arrow_vega_lite_chart")
    assert found, "no chart on the page"
    proto = found[0].proto
    spec = json.loads(proto.spec)
    name = (spec["layer"][-1] if "layer" in spec else spec)["data"]["name"]
    data = next(d.data.data for d in proto.datasets if d.name == name)
    return pa.ipc.open_stream(data).read_all().to_pylist()


# -- the table --------------------------------------------------------------------------------------
def test_runs_page_says_what_to_do_when_empty(home: Path) -> None:
    app = _page()
    assert not app.exception
    assert "playground rl train" in app.info[0].value
    assert app.title[0].value == "Runs and compare"


def test_runs_page_lists_rl_and_gan_runs_with_statuses_and_evaluations(home: Path) -> None:
    first = _rl(label="first try", evals=[-20.0, -18.0, -19.0])
    _rl(seed=1, status="created")
    gan = _gan(fd=33.5)
    app = _page()
    assert not app.exception
    table = _table(app)
    assert list(table["id"]) == [gan.id, "ppo-CartPole-2", first.id]  # newest first
    assert list(table["status"]) == ["finished", "created", "finished"]
    assert list(table["kind"]) == ["gan", "rl", "rl"]
    row = table[table["id"] == first.id].iloc[0]
    assert row["name"] == "first try"
    assert row["last_eval"] == -19.0 and row["best_eval"] == -18.0
    assert table[table["id"] == gan.id].iloc[0]["fd"] == 33.5
    assert "3 of 3" in " ".join(app.caption.values)


def test_filters_narrow_the_table(home: Path) -> None:
    _rl(label="alpha")
    _rl(seed=1, label="beta", status="failed")
    _gan()
    app = _page()
    app.text_input[0].set_value("BETA").run()
    assert list(_table(app)["name"]) == ["beta"]
    app.text_input[0].set_value("").run()
    app.multiselect[1].set_value(["gan"]).run()  # kind
    assert list(_table(app)["kind"]) == ["gan"]
    app.multiselect[1].set_value([]).run()
    app.multiselect[0].set_value(["failed"]).run()  # status
    assert list(_table(app)["name"]) == ["beta"]
    app.text_input[0].set_value("no such thing").run()
    assert not app.exception
    assert app.info  # nothing matches: said, not an empty table


# -- comparing ----------------------------------------------------------------------------------------
def test_two_runs_overlay_their_curves_with_differing_settings_and_evaluations(home: Path) -> None:
    slow = _rl(lr=3e-4, curve=[10, 20, 30, 40], evals=[50.0, 80.0])
    fast = _rl(lr=1e-3, curve=[15, 35, 55, 75], evals=[120.0])
    app = _page()
    app.multiselect(key="compare_runs").set_value([slow.id, fast.id]).run()
    assert not app.exception
    points = _chart_rows(app)
    by_series = {}
    for p in points:
        by_series.setdefault(p["series"], []).append(p["value"])
    assert by_series == {slow.id: [10, 20, 30, 40], fast.id: [15, 35, 55, 75]}  # no smoothing by default here

    params, evals = _table(app, 1), _table(app, 2)
    assert list(params["Setting"]) == ["hyperparameters.learning_rate"]
    assert params.iloc[0][slow.id] == "0.0003" and params.iloc[0][fast.id] == "0.001"
    assert list(evals["Run"]) == [slow.id, fast.id]
    assert list(evals["Latest (mean ± std)"]) == ["80.00 ± 1.00", "120.00 ± 1.00"]
    assert list(evals["Best (mean ± std)"]) == ["80.00 ± 1.00", "120.00 ± 1.00"]
    assert list(evals["Games"]) == [3, 3]
    assert list(evals["Best checkpoint step"]) == [2000, 1000]

    # the comparison counts for the game once, however often the page redraws it
    app.run()
    events = get_store().events("runs_compared")
    assert len(events) == 1
    assert events[0]["payload"]["runs"] == [slow.id, fast.id]
    assert events[0]["payload"]["metric"] == "rollout/ep_rew_mean"

    # the smoothing slider smooths: a window of 2 averages neighbours
    app.slider[0].set_value(2).run()
    smoothed = [p["value"] for p in _chart_rows(app) if p["series"] == slow.id]
    assert smoothed == [10, 15, 25, 35]


def test_gan_runs_compare_their_eval_metrics(home: Path) -> None:
    a, b = _gan(fd=40.0), _gan(fd=25.0)
    app = _page()
    app.multiselect(key="compare_runs").set_value([a.id, b.id]).run()
    assert not app.exception
    assert "These runs have the same settings." in app.caption.values
    evals = _table(app, -1)
    assert list(evals["eval/fd"]) == [40.0, 25.0]
    assert list(evals["eval/kid"]) == [0.05, 0.05]
    assert app.selectbox[0].value == "eval/fd"  # compare's usual order: a GAN's distance first


def test_runs_that_differ_only_in_seed_are_one_line_with_a_band(home: Path) -> None:
    s0 = _rl(seed=0, curve=[0, 10, 20, 30])
    s1 = _rl(seed=1, curve=[10, 30, 50, 70])
    other = _rl(seed=0, lr=1e-3, curve=[5, 5, 5, 5])
    app = _page()
    app.multiselect(key="compare_runs").set_value([s0.id, s1.id, other.id]).run()
    assert not app.exception
    points = _chart_rows(app)
    series = sorted({p["series"] for p in points})
    grouped = [s for s in series if s != other.id]
    assert len(grouped) == 1 and "2 seeds" in grouped[0]
    mean = [p for p in points if p["series"] == grouped[0]]
    assert [p["value"] for p in mean] == [5, 20, 35, 50]
    assert [p["low"] for p in mean] == [0, 10, 20, 30] and [p["high"] for p in mean] == [10, 30, 50, 70]
    assert any(s0.id in c and s1.id in c for c in app.caption.values)

    app.radio[0].set_value("std").run()  # ± one standard deviation instead of min–max
    mean = [p for p in _chart_rows(app) if p["series"] == grouped[0]]
    assert [p["high"] - p["value"] for p in mean] == [5, 10, 15, 20]

    app.checkbox[0].uncheck().run()  # every run its own line again
    assert {p["series"] for p in _chart_rows(app)} == {s0.id, s1.id, other.id}


def test_seed_grouping_follows_the_configs() -> None:
    def run(seed: int, config: dict[str, Any]) -> Run:
        return Run(id=f"r{seed}{len(config)}", kind="rl", algo="ppo", env="CartPole-v1", game="CartPole", number=1,
                   label=None, status="finished", seed=seed, total_steps=1, step=1, folder="", config=config,
                   created_at=0.0, started_at=None, ended_at=None, heartbeat_at=None, pid=None, pid_start=None,
                   host=None, error=None, stop_requested=False)

    a = run(0, {"seed": 0, "hyperparameters": {"lr": 1}})
    b = run(1, {"seed": 1, "hyperparameters": {"lr": 1}})
    c = run(2, {"seed": 2, "hyperparameters": {"lr": 2}})
    assert [[r.config["seed"] for r in g] for g in charts.group_by_setup([a, b, c])] == [[0, 1], [2]]
    assert charts.differing([a, b]) == {"seed": {a.id: "0", b.id: "1"}}
    assert charts.differing([a, b, c])["hyperparameters.lr"] == {a.id: "1", b.id: "1", c.id: "2"}
    assert np.allclose(charts.smooth(np.array([1.0, 3.0, 5.0]), 2), [1, 2, 4])  # compare's math, reused


def test_the_page_renders_in_chinese(home: Path) -> None:
    a = _rl(curve=[1, 2, 3])
    b = _rl(seed=1, curve=[2, 3, 4])
    app = _page("zh")
    assert not app.exception
    assert app.title[0].value == "运行与对比"
    assert "运行中" not in list(_table(app)["status"]) and list(_table(app)["status"]) == ["已完成", "已完成"]
    app.multiselect(key="compare_runs").set_value([a.id, b.id]).run()
    assert not app.exception
    assert app.header[0].value == "对比"
    assert [s.value for s in app.subheader] == ["不同的设置", "评估结果"]
    assert "种子" in _chart_rows(app)[0]["series"]


def test_empty_page_in_chinese(home: Path) -> None:
    app = _page("zh")
    assert not app.exception
    assert "还没有运行记录" in app.info[0].value


# -- actions ------------------------------------------------------------------------------------------
def test_delete_asks_for_confirmation_and_removes_run_and_folder(home: Path) -> None:
    keep = _rl(label="keep")
    doomed = _rl(seed=1, label="doomed")
    app = _page()
    app.multiselect(key="compare_runs").set_value([keep.id, doomed.id]).run()
    app.selectbox(key="manage_run").set_value(doomed.id).run()
    delete = next(b for b in app.button if b.label == "Delete this run")
    assert delete.disabled  # not before the box is ticked
    app.checkbox(key=f"delete_sure_{doomed.id}").check().run()
    next(b for b in app.button if b.label == "Delete this run").click().run()
    assert not app.exception
    assert f"Deleted {doomed.id}." in app.success.values
    assert [r.id for r in runs.list_runs()] == [keep.id]
    assert not Path(doomed.folder).exists()
    assert list(_table(app)["id"]) == [keep.id]
    assert app.multiselect(key="compare_runs").value == [keep.id]


def test_a_running_run_can_be_asked_to_stop(home: Path) -> None:
    run = _rl(status="created")
    runs.mark_running(run.id)  # this process claims it, so it is alive
    app = _page()
    app.selectbox(key="manage_run").set_value(run.id).run()
    assert not any(b.label == "Delete this run" for b in app.button)
    next(b for b in app.button if b.label == "Stop this run").click().run()
    assert not app.exception
    assert get_store().stop_requested(run.id)
    assert any(run.id in s for s in app.success.values)
    runs.end(run.id, "stopped", 0)


# -- the batch read behind the table ----------------------------------------------------------------------
def test_records_reads_many_runs_as_record_reads_one(home: Path) -> None:
    made = [_rl(evals=[1.0, 3.0, 2.0]), _rl(seed=1), _gan(fd=12.0), _gan(fd=None)]
    store = get_store()
    store.add_quality(made[2].id, {"fd": 9.0})  # the latest result counts
    listed = runs.list_runs()
    assert runs.records(listed) == [runs.record(r) for r in listed]
    assert runs.records(listed)[2]["last_quality"]["fd"] == 9.0
    assert runs.records([]) == []


@pytest.mark.skipif(os.environ.get("PLAYGROUND_DB") is not None, reason="counts SQLite statements")
def test_records_takes_a_fixed_number_of_queries(home: Path) -> None:
    from sqlalchemy import event

    for seed in range(6):
        _rl(seed=seed, evals=[1.0])
    _gan()
    store = get_store()
    listed = runs.list_runs()
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        runs.records(listed)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert len(seen) == 1  # every evaluation, games and GAN quality alike, in one read
