"""The one run session every kind of run uses: RL, A3C, GANs (and whatever comes next) differ only in
the loop they drive.

A loop opens a session with :func:`training_session`, tells it how to write its state
(``session.save``), calls ``session.on_step(step)`` as it goes, hands it metrics (``log``, ``episode``,
``add``/``log_means``), and calls ``session.finish(step)`` at the end. The session does the rest:

- metrics go to the store in batches with a heartbeat that also stores the trainer's own speed and
  ETA (every door shows those figures); a non-finite loss ends the run with a sentence, and
  non-finite values never reach the store;
- stop requests from any door (Ctrl-C, SIGTERM, ``runs stop``, the UI's button);
- checkpoints: on the loop's schedule, an early one a minute into a run that has none, written
  atomically with their SHA-256, pruned to the newest ``keep`` plus every evaluated one (the best
  among them);
- the ending: finished, stopped, or failed with one sentence; a second Ctrl-C keeps what it can;
- the process's share of the cores (:mod:`playground.threads`).

Small hooks (``SessionHook``) let a loop add what is its own on the same schedule, in the spirit of
stable-baselines3's callbacks: RL's evaluations, a GAN's sample grids.
"""

from __future__ import annotations

import collections
import logging
import math
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from playground import access, events, runs, settings
from playground.atomic import atomic_output
from playground.errors import CheckpointError, PlaygroundError, RunStateError
from playground.i18n import Words
from playground.store import Evaluation, Run, Store, file_sha256, get_store
from playground.threads import ThreadShare

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 2.0
POLL_STOP_EVERY_S = 1.0
PROGRESS_EVERY_S = 0.5
EARLY_CHECKPOINT_S = 60.0  # a run killed before its first checkpoint loses at most about this much work


class Diverged(PlaygroundError):
    """A loss became infinite or NaN: training cannot go on from here."""


# The words a person reads for a count's unit: a session's (``steps``, ``iters``) as one of them, and a
# kind of run's (``Totals.unit``: ``step``, ``iteration``) as one and as many.
_ONE_OF_UNIT = {"steps": "session.unit_step", "iters": "session.unit_iter"}
_UNIT_WORDS = {"step": ("session.unit_step", "session.unit_steps"),
               "iteration": ("session.unit_iteration", "session.unit_iterations")}


def _one_of(unit: str) -> Words | str:
    """``steps`` → step: the unit of one count, in words."""
    key = _ONE_OF_UNIT.get(unit)
    return Words(key) if key is not None else (unit[:-1] if unit.endswith("s") else unit)


def _unit_words(unit: str, *, many: bool = False) -> Words | str:
    keys = _UNIT_WORDS.get(unit)
    if keys is None:
        return f"{unit}s" if many else unit
    return Words(keys[1] if many else keys[0])


@dataclass
class Progress:
    """What a door shows of a run while it trains (the CLI's bar; the store keeps speed and ETA)."""

    run_id: str
    step: int
    total: int
    steps_per_s: float
    mean_score: float | None  # mean raw score of the last 100 finished games
    eta_s: float | None
    last_eval: Evaluation | None
    status: str = "running"
    unit: str = "steps"  # GANs count iterations
    detail: str | None = None  # a short line of the latest numbers (GANs: losses and D(x))


ProgressFn = Callable[[Progress], None]


class StopFlag:
    """Set by SIGINT/SIGTERM, or by ``runs stop`` from any door; a second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.is_set = False
        self._last_poll = time.monotonic()

    def asked(self, run_id: str, store: Store) -> bool:
        """A signal, or a stop requested in the store (asked at most once a second)."""
        now = time.monotonic()
        if not self.is_set and now - self._last_poll >= POLL_STOP_EVERY_S:
            self._last_poll = now
            if store.stop_requested(run_id):  # never clear a flag a signal set meanwhile
                self.is_set = True
        return self.is_set

    @contextmanager
    def installed(self) -> Iterator[None]:
        def handler(signum: int, _frame: Any) -> None:
            if self.is_set and signum == signal.SIGINT:
                raise KeyboardInterrupt
            log.info("stop asked for by signal %s; finishing the current step", signum)
            self.is_set = True

        try:
            previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread: no signal handling there
            yield
            return
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)


class Speedometer:
    """Steps per second over the last 64 reports: steady, yet quick to follow a change."""

    def __init__(self) -> None:
        self._points: collections.deque[tuple[float, int]] = collections.deque(maxlen=64)

    def __call__(self, step: int) -> float:
        now = time.monotonic()
        self._points.append((now, step))
        t0, s0 = self._points[0]
        return (step - s0) / (now - t0) if now > t0 else 0.0


class SessionHook(Protocol):
    """Something a loop adds to its session: called after every step, before the session's own work."""

    def on_step(self, session: RunSession, step: int) -> None: ...


def is_loss(key: str) -> bool:
    """Metrics whose non-finite value means the model itself is broken (others, such as SB3's explained
    variance of a constant return, may be NaN legitimately)."""
    return "loss" in key.rsplit("/", 1)[-1]


class RunSession:
    """One training session of one run: metrics, heartbeat, stop, checkpoints, progress and the ending."""

    def __init__(self, run: Run, store: Store, *, total: int, start: int, checkpoint_every: int | None,
                 keep: int, unit: str = "steps", progress: ProgressFn | None = None,
                 threads: ThreadShare | None = None) -> None:
        self.run = run
        self.store = store
        self.total = total
        self.unit = unit
        self.progress = progress
        self.threads = threads
        self.stop = StopFlag()
        self.step = start
        self.start_step = start
        self.checkpoint_every = checkpoint_every
        self.keep = keep
        self.hooks: list[SessionHook] = []
        self.save: Callable[[Path], None] | None = None  # how the loop writes its state to a file
        self.stopped = False
        self.last_checkpoint_step = start if start else -1
        self.next_checkpoint = self._next(start, checkpoint_every)
        evaluations = store.evaluations(run.id, played=True)
        self.last_eval: Evaluation | None = evaluations[-1] if evaluations else None
        self.last_eval_step = -1
        self.detail: str | None = None  # the loop's short line of numbers for the progress bar
        self._rows: list[tuple[int, float, str, float]] = []
        self._flushed_step: dict[str, int] = {}  # the newest step written per key this session
        self._sums: dict[str, float] = collections.defaultdict(float)
        self._counts: dict[str, int] = collections.defaultdict(int)
        self.latest_means: dict[str, float] = {}
        self._recent_scores: collections.deque[float] = collections.deque(maxlen=100)
        self._speed = Speedometer()
        self.steps_per_s = 0.0  # the newest measured speed (kept while a pause, such as an evaluation, lasts)
        self._began = time.monotonic()
        self._last_flush = self._last_progress = self._began

    @staticmethod
    def _next(step: int, every: int | None) -> int | None:
        return None if every is None else (step // every + 1) * every

    # -- the loop's calls --------------------------------------------------------------------------
    def on_step(self, step: int) -> bool:
        """After each step (or iteration): hooks, scheduled and early checkpoints, flush, progress.
        False means stop now (asked for from some door); the loop then ends with ``finish``."""
        self.step = step
        for hook in self.hooks:
            hook.on_step(self, step)
        if self.next_checkpoint is not None and step >= self.next_checkpoint and step < self.total:
            self.checkpoint(step)
        now = time.monotonic()
        if now - self._last_flush >= FLUSH_EVERY_S:
            self.flush()
            if self.last_checkpoint_step < 0 and self.save is not None and now - self._began >= EARLY_CHECKPOINT_S:
                self.checkpoint(step)  # nothing saved yet a minute in: keep this much at least
        if now - self._last_progress >= PROGRESS_EVERY_S:
            self._last_progress = now
            self.report()
        if self.stop_asked():
            self.stopped = True
            return False
        return True

    def stop_asked(self) -> bool:
        return self.stop.asked(self.run.id, self.store)

    def log(self, step: int, values: Mapping[str, float]) -> None:
        """Scalars for the run's curves; a non-finite loss ends the run, other non-finite values are dropped."""
        wall = time.time()
        for key, value in values.items():
            value = float(value)
            if not math.isfinite(value):
                if is_loss(key):
                    raise Diverged("session.diverged", unit=_one_of(self.unit), step=step, key=key, value=value)
                continue
            self._rows.append((step, wall, key, value))

    def episode(self, step: int, score: float, length: int) -> None:
        """A whole game finished during training, with its raw score."""
        self._recent_scores.append(float(score))
        self.log(step, {runs.GAME_SCORE: score, "episode/length": float(length)})

    def add(self, values: Mapping[str, float]) -> None:
        """Values to average until the next ``log_means`` (a GAN's per-iteration losses)."""
        for key, value in values.items():
            self._sums[key] += float(value)
            self._counts[key] += 1

    def log_means(self, step: int, extra: Mapping[str, float] | None = None) -> None:
        """One averaged point of what ``add`` collected: smooth curves and a small store."""
        means = {k: self._sums[k] / self._counts[k] for k in self._sums}
        self.latest_means = means
        self._sums.clear()
        self._counts.clear()
        self.log(step, {**means, **(extra or {})})

    @property
    def pending_means(self) -> bool:
        return bool(self._sums)

    @property
    def mean_score(self) -> float | None:
        return sum(self._recent_scores) / len(self._recent_scores) if self._recent_scores else None

    # -- the store ---------------------------------------------------------------------------------
    def flush(self) -> None:
        """Buffered metrics and a heartbeat with the trainer's speed and ETA. A value written again for a
        step already stored (SB3 dumps its last training numbers once more at the end) replaces it."""
        rows, self._rows = self._rows, []
        latest: dict[tuple[int, str], tuple[int, float, str, float]] = {}
        for row in rows:
            latest[(row[0], row[2])] = row  # one value per step and key: the newest
        for (step, key) in latest:
            if self._flushed_step.get(key) == step:
                self.store.delete_metric(self.run.id, step, key)
        self.store.add_metrics(self.run.id, latest.values())
        for (step, key) in latest:
            self._flushed_step[key] = max(step, self._flushed_step.get(key, step))
        self._measure()
        runs.heartbeat(self.run.id, self.step, self.store, steps_per_s=self.steps_per_s or None, eta_s=self.eta_s)
        if self.threads is not None:
            self.threads.check()
        self._last_flush = time.monotonic()

    @property
    def eta_s(self) -> float | None:
        remaining = max(self.total - self.step, 0)
        return remaining / self.steps_per_s if self.steps_per_s > 0 else None

    def _measure(self) -> None:
        speed = self._speed(self.step)
        if speed > 0:
            self.steps_per_s = speed

    def report(self, status: str = "running") -> None:
        self._measure()
        if self.progress is not None:
            self.progress(Progress(
                run_id=self.run.id, step=self.step, total=self.total, steps_per_s=self.steps_per_s,
                mean_score=self.mean_score, eta_s=self.eta_s, last_eval=self.last_eval, status=status,
                unit=self.unit, detail=self.detail,
            ))

    # -- checkpoints -------------------------------------------------------------------------------
    def checkpoint(self, step: int, save: Callable[[Path], None] | None = None) -> Path:
        """Write the loop's state for ``step`` atomically, record it with its hash, and prune."""
        save = save or self.save
        if save is None:
            raise RuntimeError("the loop has not told its session how to save (session.save)")
        path = runs.checkpoint_path(self.run, step)
        atomic_output(path, save)
        # The hash as written: an evaluation of a file swapped in later does not match it (the game checks).
        self.store.add_artifact(self.run.id, "checkpoint", str(path), step=step, meta={"sha256": file_sha256(path)})
        self.last_checkpoint_step = step
        self.next_checkpoint = self._next(step, self.checkpoint_every)
        self.prune()
        return path

    def prune(self) -> None:
        """Keep the newest ``keep`` checkpoints and every one that was evaluated; remove the rest."""
        kept = runs.measured_checkpoints(self.run, self.store)
        available = runs.checkpoints(self.run, self.store)
        for _step, path in available[: -self.keep]:
            if str(path) not in kept:
                path.unlink(missing_ok=True)
                self.store.remove_artifact(self.run.id, str(path))

    def record_evaluation(self, step: int, scores: list[float], mean: float, std: float, seed: int) -> Evaluation:
        """Store an evaluation of the checkpoint written at ``step`` (played games, raw scores)."""
        path = runs.checkpoint_path(self.run, step)
        sha256 = file_sha256(path)
        evaluation = self.store.add_evaluation(
            self.run.id, step=step, scores=scores, mean=mean, std=std,
            checkpoint=str(path) if sha256 is not None else None, seed=seed, checkpoint_sha256=sha256,
        )
        self.log(step, {"eval/mean": mean, "eval/std": std})
        events.record(self.store, events.Evaluated(step=step, mean=mean, std=std, n=len(scores)), self.run.id)
        self.last_eval = evaluation
        self.last_eval_step = step
        self.prune()
        log.info("evaluation at step %d: mean %.2f ± %.2f over %d games", step, mean, std, len(scores))
        return evaluation

    def resumed_at(self, step: int) -> None:
        """The step a resumed session really starts from (its checkpoint's). Curves past it are dropped:
        a killed session may have logged beyond its last checkpoint."""
        self.step = self.start_step = step
        self.last_checkpoint_step = step if step else -1
        self.next_checkpoint = self._next(step, self.checkpoint_every)
        self.store.delete_metrics_after(self.run.id, step)

    # -- the ending --------------------------------------------------------------------------------
    def finish(self, step: int, *, done: bool | None = None) -> str:
        """The last checkpoint (unless this step has one), metrics, and the status: finished (the total reached, or
        ``done``: nothing left to learn) or stopped."""
        self.step = step
        if step != self.last_checkpoint_step and self.save is not None:
            self.checkpoint(step)
        if self.pending_means:
            self.log_means(step)
        self.flush()
        status = "finished" if step >= self.total or done else "stopped"
        runs.end(self.run.id, status, step, store=self.store)
        self.report(status)
        return status

    def save_now(self) -> None:
        """A checkpoint of the current step if it has none yet (interrupted runs)."""
        if self.save is not None and self.step != self.last_checkpoint_step:
            self.checkpoint(self.step)


@contextmanager
def log_to_run_folder(run: Run) -> Iterator[None]:
    handler = logging.FileHandler(Path(run.folder) / "logs" / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()


@contextmanager
def training_session(run_id: str, *, total: int, checkpoint_every: int | None, keep: int, device: str | None,
                     resume: bool = False, unit: str = "steps", progress: ProgressFn | None = None,
                     player: str | None = None, store: Store | None = None,
                     threaded: bool = True) -> Iterator[RunSession]:
    """Claim ``run_id`` for this process and train it inside the block; end it however the block ends.

    A resuming block says which step its checkpoint holds (``session.resumed_at``); a KeyboardInterrupt (a second Ctrl-C) keeps a last checkpoint and leaves the run stopped; any other
    exception fails the run with one sentence (a user's mistake) or its type (a bug) and is raised again.
    ``threaded`` False: the training computes on one thread whatever its share, so the share does not watch the
    other programs' load (ThreadShare's ``watch_load``).
    """
    store = store or get_store()
    run = store.get_run(run_id)
    runs.mark_running(run.id, store, device=device, player=player)
    if resume:
        runs.remove_partial_writes(run)
    session: RunSession | None = None
    try:
        with log_to_run_folder(run), ThreadShare(store, watch_load=threaded) as threads:
            session = RunSession(run, store, total=total, start=run.step if resume else 0,
                                 checkpoint_every=checkpoint_every, keep=keep, unit=unit, progress=progress,
                                 threads=threads)
            with session.stop.installed():
                yield session
    except KeyboardInterrupt:
        step = session.step if session is not None else run.step
        runs.end_interrupted(run.id, step, save=session.save_now if session is not None else None,
                             flush=session.flush if session is not None else None, store=store)
    except BaseException as exc:
        step = max(session.step, session.start_step) if session is not None else run.step
        if session is not None and getattr(exc, "model_intact", False):  # e.g. an A3C worker died
            try:
                session.save_now()
            except Exception:  # noqa: BLE001 - the failure itself matters more
                log.exception("could not keep a checkpoint of the failed run")
        runs.end_failed(run.id, exc, step, flush=session.flush if session is not None else None, store=store)
        raise


# -- resuming ------------------------------------------------------------------------------------------
KIND_NAMES = {"rl": "session.kind_rl", "gan": "session.kind_gan"}  # "an RL" run, "a GAN" run


@dataclass(frozen=True)
class Totals:
    """How a kind of run counts its length: the config field, the unit a person reads, the CLI flag."""

    field: str  # "steps" (RL) or "iters" (GANs)
    unit: str  # "step" or "iteration"
    flag: str  # "--steps" or "--iters"


def prepare_resume(ref: str, *, kind: str, total: int | None, which: str, totals: Totals,
                   probe: Callable[[Run, Path], Any], store: Store | None = None) -> Run:
    """Check that ``ref`` can resume from checkpoint ``which`` (``latest`` or a step) and extend its total to
    ``total``; ``probe(run, path)`` loads the checkpoint and returns the run's typed config (a damaged file is
    one sentence). The store changes only when everything holds."""
    store = store or get_store()
    run = runs.get(ref, store)
    actor = access.door_actor()  # a served app's person resumes only their own runs (a teacher: any)
    access.check_see(actor, run)
    access.check_manage(actor, run)
    if run.kind != kind:
        kind_name = Words(KIND_NAMES[run.kind]) if run.kind in KIND_NAMES else run.kind
        raise RunStateError("session.wrong_kind", run=run.id, kind_name=kind_name, kind=kind, kind_upper=kind.upper())
    if run.status == "running":
        raise RunStateError("runs.still_running", run=run.id)
    runs.folder_here(run)  # trained on another machine of a shared store: it resumes there
    try:
        step, path = runs.pick_checkpoint(run, which, store)
    except CheckpointError:
        if which != "latest":
            raise
        raise CheckpointError("session.no_checkpoint_to_resume", run=run.id) from None
    try:
        config = probe(run, path)  # a damaged checkpoint is reported before anything changes
    except CheckpointError as exc:
        older = [s for s, _p in runs.checkpoints(run, store) if s < step]
        if which != "latest" or not older:
            raise
        raise CheckpointError(
            "session.try_older_checkpoint", error=exc, steps=", ".join(map(str, older[-5:]))
        ) from None
    planned = getattr(config, totals.field)
    if total is not None:
        if total <= 0:
            raise PlaygroundError("config.not_positive", flag=totals.flag, value=total)
        if total <= step:
            raise RunStateError("session.already_at", run=run.id, unit=_unit_words(totals.unit), step=step,
                                flag=totals.flag)
        config = config.model_copy(update={totals.field: total})
    elif step >= planned:
        raise RunStateError("session.already_reached", run=run.id, planned=planned,
                            units=_unit_words(totals.unit, many=True), flag=totals.flag)
    if settings.served():  # a resumed run takes a place among the jobs going, like a new one
        runs.settle_active(store)
        store.check_room(run.player, settings.job_limits(), exclude=run.id)
    if config.model_dump() != run.config:
        runs.write_config(run.id, config.model_dump(), store)
        store.update_run(run.id, total_steps=getattr(config, totals.field))
    return store.get_run(run.id)

