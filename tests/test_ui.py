"""The web door, headless: Streamlit's AppTest runs the real script against a real store."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from playground import runs
from playground.store import get_store

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")


def test_runs_page_lists_runs_from_the_store(home: Path) -> None:
    run = runs.create(kind="rl", algo="ppo", env="ALE/Pong-v5", game="Pong", config={}, label="first try")
    get_store().add_evaluation(run.id, step=1000, scores=[-21, -19], mean=-20.0, std=1.0, checkpoint=None, seed=0)
    runs.end(run.id, "stopped", 1000)

    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["run"]) == ["ppo-Pong-1"]
    assert list(table["status"]) == ["stopped"]
    assert list(table["last eval (mean)"]) == [-20.0]


def test_runs_page_says_what_to_do_when_empty(home: Path) -> None:
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    assert "playground rl train" in app.info[0].value
