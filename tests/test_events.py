"""Events have typed payloads defined in one place: what a writer records reads back as the same type,
older payloads with extra or missing keys still parse, and the run lifecycle writes them."""

from __future__ import annotations

from pathlib import Path

from playground import events, runs
from playground.store import get_store


def test_what_is_recorded_reads_back_as_its_type(home: Path) -> None:
    store = get_store()
    run = runs.create(kind="rl", algo="ppo", env="CartPole-v1", game="CartPole", config={}, player="ada")
    runs.mark_running(run.id, store, device="cpu")
    runs.request_stop(run.id, store)
    runs.end(run.id, "stopped", 12, store=store)
    stored = [(e["kind"], events.parse(e["kind"], e["payload"])) for e in store.events(run_id=run.id)]
    started = next(p for k, p in stored if k == "run_started")
    assert isinstance(started, events.RunStarted) and started.player == "ada" and started.device == "cpu"
    assert ("stop_requested", events.StopRequested()) in stored
    assert ("run_stopped", events.RunEnded("stopped", step=12, error=None)) in stored


def test_older_payloads_parse_and_unknown_kinds_are_left_to_their_owners() -> None:
    assert events.parse("run_started", {"pid": 7, "player": "bo", "retired_field": 1}) == events.RunStarted(7, "bo")
    assert events.parse("evaluation", {"step": 5}) == events.Evaluated(step=5, mean=0.0, std=0.0, n=0)
    assert events.parse("run_failed", {"error": "boom"}) == events.RunEnded("failed", error="boom")
    assert events.parse("award", {"xp": 10, "challenge": "c"}) == events.ChallengeMet(challenge="c", xp=10)
    assert events.parse("no_such_kind", {"xp": 10}) is None


def test_every_event_is_written_through_its_type() -> None:
    """No module writes a payload of its own shape: every event goes through ``events.record``."""
    import re

    root = Path(__file__).resolve().parents[1] / "playground"
    raw = [f"{path.relative_to(root)}:{n}" for path in root.rglob("*.py") if path.name not in ("events.py", "store.py")
           for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
           if re.search(r"\.add_event(_once)?\(", line)]
    assert raw == []


def test_the_games_results_read_back_as_their_types(home: Path) -> None:
    from playground.game import results

    store = get_store()
    run = runs.create(kind="rl", algo="ppo", env="ALE/Pong-v5", game="Pong", config={}, player="ada")
    results.record_human_game(player="ada", env="ALE/Pong-v5", game="Pong", score=-3.0, seed=1, frames=900)
    winner = results.record_duel(player="ada", run_id=run.id, checkpoint="best", env="ALE/Pong-v5", game="Pong",
                                 seed=2, human_score=float("nan"), agent_score=1.0)
    played = events.parse("human_game", store.events("human_game")[0]["payload"])
    assert played == events.HumanGamePlayed(player="ada", env="ALE/Pong-v5", game="Pong", score=-3.0, seed=1, frames=900)
    duel = events.parse("duel", store.events("duel")[0]["payload"])
    assert isinstance(duel, events.DuelPlayed) and duel.winner == winner and duel.human_score is None  # NaN: null


def test_record_once_keeps_one_per_key(home: Path) -> None:
    store = get_store()
    first = events.record_once(store, events.ProfileCreated(player="ada"), key=("player",))
    again = events.record_once(store, events.ProfileCreated(player="ada"), key=("player",))
    other = events.record_once(store, events.ProfileCreated(player="bo"), key=("player",))
    assert first is not None and again is None and other is not None
    assert [e["payload"]["player"] for e in store.events("profile")] == ["ada", "bo"]
