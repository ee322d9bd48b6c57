"""`playground runs show RUN --every N`: an RL run's training games summed up per window of N steps, the shape in
which published learning curves are given (Dopamine's baselines: the training games of each 250,000 steps), so
that docs/learning.md's comparisons can be made again from a run's store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playground import runs
from playground.store import Run, get_store
from tests.test_bad_input import assert_one_sentence

# (step the game ended at, its raw score); the run stopped at step 1,000
GAMES = [(100, -3.0), (250, 5.0), (251, 7.0), (600, 1.0), (1000, 2.0)]


def _run_with_games() -> Run:
    config = {"kind": "rl", "algo": "dqn", "env": "ALE/Pong-v5", "steps": 1000, "seed": 0}
    run = runs.create(kind="rl", algo="dqn", env="ALE/Pong-v5", game="Pong", config=config, seed=0, total_steps=1000)
    store = get_store()
    store.add_metrics(run.id, [(step, 0.0, runs.GAME_SCORE, score) for step, score in GAMES])
    store.add_metrics(run.id, [(500, 0.0, "train/loss", 99.0)])  # other curves are not games
    runs.end(run.id, "finished", 1000)
    return runs.get(run.id)


def _window(start: int, end: int, *scores: float) -> dict[str, Any]:
    return {"start": start, "end": end, "games": len(scores), "mean": sum(scores) / len(scores) if scores else None,
            "min": min(scores, default=None), "max": max(scores, default=None)}


def test_a_game_counts_in_the_window_of_the_step_it_ended_at_and_empty_windows_are_listed(home: Path) -> None:
    run = _run_with_games()
    # A game that ends at step 250 was played in steps 1..250: the first window of 250, not the second.
    assert runs.training_windows(run, 250) == [
        _window(0, 250, -3.0, 5.0), _window(250, 500, 7.0), _window(500, 750, 1.0), _window(750, 1000, 2.0)]
    assert runs.training_windows(run, 200) == [
        _window(0, 200, -3.0), _window(200, 400, 5.0, 7.0), _window(400, 600, 1.0), _window(600, 800),
        _window(800, 1000, 2.0)]
    assert runs.training_windows(run, 5000) == [_window(0, 5000, -3.0, 5.0, 7.0, 1.0, 2.0)]


def test_runs_show_every_prints_the_windows_and_puts_them_in_its_json(cli: Any, home: Path) -> None:
    run = _run_with_games()
    shown = cli("runs", "show", run.id, "--every", "250")
    assert shown.code == 0, shown.err
    assert "training games per 250 steps" in shown.out
    rows = [line for line in shown.out.splitlines() if "–" in line]
    assert [row.split("│")[1:6] for row in rows] == [
        [" 0–250     ", " 2     ", " 1.00 ", " -3  ", " 5   "],
        [" 250–500   ", " 1     ", " 7.00 ", " 7   ", " 7   "],
        [" 500–750   ", " 1     ", " 1.00 ", " 1   ", " 1   "],
        [" 750–1,000 ", " 1     ", " 2.00 ", " 2   ", " 2   "],
    ]
    record = json.loads(cli("runs", "show", run.id, "--every", "250", "--json").out)
    assert record["training_windows"] == runs.training_windows(run, 250)
    assert "training_windows" not in json.loads(cli("runs", "show", run.id, "--json").out)
    assert "training games" not in cli("runs", "show", run.id).out


def test_every_below_one_and_a_gan_run_are_one_sentence_each(cli: Any, home: Path) -> None:
    run = _run_with_games()
    for every in ("0", "-250"):
        result = cli("runs", "show", run.id, "--every", every)
        assert_one_sentence(result)
        assert f"--every must be a number of steps, 1 or more, not '{every}'" in result.err
    gan = runs.create(kind="gan", algo="dcgan", env="digits", game="digits",
                      config={"kind": "gan", "model": "dcgan", "data": "digits", "seed": 0}, total_steps=10)
    result = cli("runs", "show", gan.id, "--every", "5")
    assert_one_sentence(result)
    assert "plays no games" in result.err
