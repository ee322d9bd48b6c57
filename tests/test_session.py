"""The one run session, driven by a toy loop that counts (no engine): the trainer's speed and ETA reach
the store, a non-finite loss fails the run with a sentence and never reaches the store, a value
written twice for one step is stored once, an early checkpoint comes a minute in, checkpoints are
pruned to the newest N plus every evaluated one, a resume cleans what a kill left and can start from
an older checkpoint, and a run whose process dies before it begins is noticed."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from playground import runs, session as session_mod
from playground.errors import CheckpointError, PlaygroundError
from playground.session import Diverged, Totals, prepare_resume, training_session
from playground.store import get_store

COUNT = Totals(field="steps", unit="step", flag="--steps")


class ToyConfig:
    """What ``prepare_resume`` needs of a typed config: the total, a copy with a new one, and a dump."""

    def __init__(self, data: dict) -> None:
        self.data = dict(data)
        self.steps = data["steps"]

    def model_copy(self, update: dict) -> ToyConfig:
        return ToyConfig({**self.data, **update})

    def model_dump(self) -> dict:
        return dict(self.data)


def new_run(steps: int = 100) -> str:
    return runs.create(kind="rl", algo="toy", env="Count-v0", game="Count", config={"steps": steps}, seed=0).id


def count(run_id: str, total: int, *, values: Callable[[int], Mapping[str, float]] = lambda s: {"train/loss": 1.0},
          resume: bool = False, which: str = "latest", every: int | None = None, keep: int = 1,
          sleep: float = 0.0, evaluate_at: set[int] = frozenset()) -> None:  # type: ignore[assignment]
    """A loop of the simplest kind: its state is the step it reached, saved as text."""
    store = get_store()
    with training_session(run_id, total=total, checkpoint_every=every, keep=keep, device="cpu",
                          resume=resume, store=store) as session:
        if resume:
            _step, path = runs.pick_checkpoint(store.get_run(run_id), which, store)
            session.resumed_at(int(path.read_text()))
            runs.forget_checkpoints_after(session.run, session.start_step, store)
        session.save = lambda tmp: tmp.write_text(str(session.step))
        step = session.start_step
        while step < total:
            step += 1
            session.log(step, values(step))
            if step in evaluate_at:
                session.checkpoint(step)
                session.record_evaluation(step, [float(step)], float(step), 0.0, seed=0)
            time.sleep(sleep)
            if not session.on_step(step):
                break
        session.finish(step)


def test_speed_and_eta_are_the_trainers_own_and_stored(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_mod, "FLUSH_EVERY_S", 0.0)
    seen: list[tuple[float | None, float | None]] = []
    real = runs.heartbeat

    def heartbeat(run_id: str, step: int, store, **kw):  # type: ignore[no-untyped-def]
        real(run_id, step, store, **kw)
        row = store.get_run(run_id)
        seen.append((row.steps_per_s, row.eta_s))

    monkeypatch.setattr(runs, "heartbeat", heartbeat)
    run_id = new_run()
    count(run_id, 20, sleep=0.01)
    moving = [(s, e) for s, e in seen if s]
    assert moving, "the heartbeat stores the speed"
    speed, eta = moving[len(moving) // 2]
    assert 20 < speed < 150, f"about 100 steps/s, measured by the trainer: {speed}"
    assert eta is not None and 0 < eta < 1.0
    finished = get_store().get_run(run_id)
    assert finished.status == "finished" and finished.eta_s is None and finished.steps_per_s is not None


def test_a_nan_loss_fails_the_run_with_a_sentence_and_never_reaches_the_store(home: Path) -> None:
    run_id = new_run()

    def values(step: int) -> dict[str, float]:
        return {"train/loss": math.nan if step == 7 else 1.0, "train/explained_variance": math.nan}

    with pytest.raises(Diverged):
        count(run_id, 20, values=values)
    run = get_store().get_run(run_id)
    assert run.status == "failed" and run.step >= 6
    assert "diverged at step 7" in run.error and "train/loss became nan" in run.error and "learning rate" in run.error
    stored = get_store().metrics(run_id)
    assert stored and all(math.isfinite(v) for *_rest, v in stored)
    assert {k for _s, _w, k, _v in stored} == {"train/loss"}, "the NaN explained variance was dropped, not stored"


def test_a_value_written_twice_for_one_step_is_stored_once_the_newest(home: Path) -> None:
    run_id = new_run()
    store = get_store()
    with training_session(run_id, total=2, checkpoint_every=None, keep=1, device="cpu", store=store) as session:
        session.save = lambda tmp: tmp.write_text("x")
        session.log(2, {"train/loss": 0.5})
        session.flush()
        session.log(2, {"train/loss": 0.25})  # SB3 dumps its last training numbers once more at the end
        session.log(2, {"train/loss": 0.125})
        session.finish(2)
    assert store.metrics(run_id, "train/loss") == [(2, pytest.approx(time.time(), abs=60), "train/loss", 0.125)]


def test_an_early_checkpoint_comes_a_minute_into_a_run_that_has_none(home: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_mod, "EARLY_CHECKPOINT_S", 0.2)
    monkeypatch.setattr(session_mod, "FLUSH_EVERY_S", 0.05)
    run_id = new_run()
    count(run_id, 30, sleep=0.02, keep=2)
    steps = [a.step for a in get_store().artifacts(run_id, "checkpoint")]
    assert len(steps) == 2 and 0 < steps[0] < 30 and steps[1] == 30, steps


def test_checkpoints_keep_the_newest_n_and_every_evaluated_one(home: Path) -> None:
    run_id = new_run()
    count(run_id, 100, every=10, keep=3, evaluate_at={25, 55})
    kept = [s for s, _p in runs.checkpoints(get_store().get_run(run_id))]
    assert kept == [25, 55, 80, 90, 100]
    on_disk = sorted(p.name for p in (Path(get_store().get_run(run_id).folder) / "checkpoints").iterdir())
    assert on_disk == [runs.checkpoint_path(get_store().get_run(run_id), s).name for s in kept]


def test_resume_cleans_partial_writes_and_can_start_from_an_older_checkpoint(home: Path) -> None:
    store = get_store()
    run_id = new_run(40)
    count(run_id, 40, every=10, keep=5)
    run = store.get_run(run_id)
    folder = Path(run.folder) / "checkpoints"
    leftover = folder / ".step-0000000050.zip.abc123.tmp"  # a kill in the middle of a write
    leftover.write_text("half")
    runs.checkpoint_path(run, 40).write_text("damaged")  # the newest no longer reads

    def probe(run, path):  # type: ignore[no-untyped-def]
        text = path.read_text()
        if not text.isdigit():
            raise CheckpointError("agents.checkpoint_corrupt", name=path.name, reason="not a number")
        return ToyConfig(run.config)

    with pytest.raises(CheckpointError) as refused:
        prepare_resume(run_id, kind="rl", total=60, which="latest", totals=COUNT, probe=probe, store=store)
    assert "--checkpoint STEP" in str(refused.value) and "10, 20, 30" in str(refused.value)
    prepared = prepare_resume(run_id, kind="rl", total=60, which="30", totals=COUNT, probe=probe, store=store)
    assert prepared.total_steps == 60 and prepared.config["steps"] == 60
    count(run_id, 60, resume=True, which="30", every=10, keep=5)
    assert not leftover.exists(), "the .tmp a kill left is removed on resume"
    run = store.get_run(run_id)
    assert run.status == "finished" and run.step == 60
    assert [s for s, _p in runs.checkpoints(run)][-3:] == [40, 50, 60]
    assert runs.checkpoint_path(run, 40).read_text() == "40", "the damaged step-40 file was replaced by the new one"
    curve = [s for s, *_ in store.metrics(run_id, "train/loss")]
    assert curve == list(range(1, 61)), "one curve: the resumed part starts right after step 30"


def test_bad_totals_are_one_sentence_and_change_nothing(home: Path) -> None:
    store = get_store()
    run_id = new_run(20)
    count(run_id, 20, every=10)
    probe = lambda run, path: ToyConfig(run.config)  # noqa: E731
    for total, words in ((0, "positive"), (15, "already at step 20"), (None, "already reached its 20 steps")):
        with pytest.raises(PlaygroundError, match=words):
            prepare_resume(run_id, kind="rl", total=total, which="latest", totals=COUNT, probe=probe, store=store)
    with pytest.raises(PlaygroundError, match="continues GAN runs only"):
        prepare_resume(run_id, kind="gan", total=40, which="latest", totals=COUNT, probe=probe, store=store)
    assert store.get_run(run_id).config == {"steps": 20}


def test_a_run_whose_process_dies_before_it_begins_is_noticed(home: Path) -> None:
    code = ("from playground import runs; import os, sys; "
            "run = runs.create(kind='rl', algo='toy', env='Count-v0', game='Count', config={}); "
            "print(run.id, flush=True); os.kill(os.getpid(), 9)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PLAYGROUND_HOME": str(home)})
    assert done.returncode == -9
    run = runs.get(done.stdout.strip())
    assert run.status == "failed" and "ended before training began" in run.error
