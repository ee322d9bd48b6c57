"""Training runs from start to end: the platform side of every algorithm.

``start`` and ``resume`` drive an agent's ``learn`` and hand it ``RunHooks``: metrics and finished
games go to the store in batches, checkpoints are written atomically on schedule, evaluations
play whole games with raw scores, and a stop (Ctrl-C, SIGTERM or ``runs stop``) ends training
cleanly with a checkpoint. The same code serves the CLI in the foreground and jobs in the
background.
"""

from __future__ import annotations

import collections
import functools
import logging
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import agents
from agents.base import Agent, Policy
from playground import envs, runs
from playground.atomic import atomic_output
from playground.config import RLConfig, saved
from playground.errors import CheckpointError, PlaygroundError, RunStateError
from playground.evaluation import EvaluationInterrupted, Scores, play_games
from playground.settings import resolve_device
from playground.store import Evaluation, Run, Store, file_sha256, get_store
from playground.threads import ThreadShare

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 2.0
POLL_STOP_EVERY_S = 1.0
PROGRESS_EVERY_S = 0.5
MAX_EVAL_ENVS = 8


@dataclass
class Progress:
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


def make_agent(config: RLConfig, *, device: str | None = None) -> Agent:
    spec = envs.resolve(config.env)
    cls = agents.get(config.algo)
    return cls(
        spec,
        config.hyperparameters,
        make_env=envs.TrainEnvFactory(config.env, config.env_backend),
        n_envs=config.n_envs,
        seed=config.seed,
        device=device or resolve_device(config.device),
    )


def check_buildable(config: RLConfig) -> None:
    """Build the model once, small, so that settings SB3 itself refuses fail before a run exists."""
    agent = make_agent(config, device="cpu")
    try:
        agent.check_build()
    finally:
        agent.close()


def evaluate_policy(config: RLConfig, policy: Policy, episodes: int, seed: int, **kwargs: Any) -> Scores:
    spec = envs.resolve(config.env)
    env = envs.make_eval_env(spec, min(episodes, MAX_EVAL_ENVS), seed, backend=config.env_backend)
    try:
        return play_games(policy, env, episodes, **kwargs)
    finally:
        env.close()


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
    """Steps per second over the last 64 progress reports: steady, yet quick to follow a change."""

    def __init__(self) -> None:
        self._points: collections.deque[tuple[float, int]] = collections.deque(maxlen=64)

    def __call__(self, step: int) -> float:
        now = time.monotonic()
        self._points.append((now, step))
        t0, s0 = self._points[0]
        return (step - s0) / (now - t0) if now > t0 else 0.0


class RunHooks:
    """The platform's side of ``agents.base.TrainingHooks`` for one run."""

    def __init__(
        self,
        run: Run,
        config: RLConfig,
        store: Store,
        stop: StopFlag,
        start_step: int,
        progress: ProgressFn | None = None,
        threads: ThreadShare | None = None,
    ) -> None:
        self.run = run
        self.threads = threads
        self.config = config
        self.store = store
        self.stop = stop
        self.progress = progress
        self.start_step = start_step
        self.step = start_step
        self.stopped = False
        self._rows: list[tuple[int, float, str, float]] = []
        self._recent_scores: collections.deque[float] = collections.deque(maxlen=100)
        self._speed = Speedometer()
        self._last_flush = self._last_progress = time.monotonic()
        self.last_checkpoint_step = start_step if start_step else -1
        self.last_eval_step = -1
        self.last_eval: Evaluation | None = None
        evals = store.evaluations(run.id)
        if evals:
            self.last_eval = evals[-1]
        self.next_checkpoint = self._next(start_step, config.checkpoint_every)
        self.next_eval = self._next(start_step, config.eval_every)

    @staticmethod
    def _next(step: int, every: int) -> int:
        return (step // every + 1) * every

    # TrainingHooks -------------------------------------------------------------------------
    def on_step(self, step: int, policy: Policy, save: Callable[[Path], None]) -> bool:
        self.step = step
        if self.next_eval <= step < self.config.steps:  # the last evaluation comes after learn() returns
            self.next_eval = self._next(step, self.config.eval_every)
            self.checkpoint(step, save)
            self.evaluate(step, policy)
        elif step >= self.next_checkpoint:
            self.checkpoint(step, save)
        now = time.monotonic()
        if now - self._last_flush >= FLUSH_EVERY_S:
            self.flush()
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
        wall = time.time()
        self._rows.extend((step, wall, key, value) for key, value in values.items())

    def episode(self, step: int, score: float, length: int) -> None:
        wall = time.time()
        self._recent_scores.append(score)
        self._rows.append((step, wall, "episode/score", score))
        self._rows.append((step, wall, "episode/length", float(length)))

    # the platform's own work ---------------------------------------------------------------
    def flush(self) -> None:
        rows, self._rows = self._rows, []
        self.store.add_metrics(self.run.id, rows)
        runs.heartbeat(self.run.id, self.step, self.store)
        if self.threads is not None:
            self.threads.check()
        self._last_flush = time.monotonic()

    def checkpoint(self, step: int, save: Callable[[Path], None], extra: Agent | None = None) -> Path:
        path = runs.checkpoint_path(self.run, step)
        atomic_output(path, save)
        # The hash as written: an evaluation of a file swapped in later does not match it (the game checks).
        self.store.add_artifact(self.run.id, "checkpoint", str(path), step=step, meta={"sha256": file_sha256(path)})
        if extra is not None and self.config.save_replay_buffer:
            for produced in extra.save_extra(path.parent):
                self.store.add_artifact(self.run.id, "replay_buffer", str(produced), step=step)
        self.last_checkpoint_step = step
        self.next_checkpoint = self._next(step, self.config.checkpoint_every)
        self._prune()
        return path

    def _prune(self) -> None:
        """Keep the newest checkpoint and every one that was evaluated; drop the rest."""
        kept = {e.checkpoint for e in self.store.evaluations(self.run.id)}
        available = runs.checkpoints(self.run, self.store)
        for _step, path in available[:-1]:
            if str(path) not in kept:
                path.unlink(missing_ok=True)
                self.store.remove_artifact(self.run.id, str(path))

    def evaluate(self, step: int, policy: Policy) -> Evaluation | None:
        path = runs.checkpoint_path(self.run, step)
        try:
            result = evaluate_policy(
                self.config,
                policy,
                self.config.eval_episodes,
                seed=self.config.seed + 10_000,
                should_stop=self.stop_asked,
            )
        except EvaluationInterrupted:
            return None
        sha256 = file_sha256(path)
        evaluation = self.store.add_evaluation(
            self.run.id,
            step=step,
            scores=result.scores,
            mean=result.mean,
            std=result.std,
            checkpoint=str(path) if sha256 is not None else None,
            seed=self.config.seed + 10_000,
            checkpoint_sha256=sha256,
        )
        self.log(step, {"eval/mean": result.mean, "eval/std": result.std})
        self.store.add_event(
            "evaluation", {"step": step, "mean": result.mean, "std": result.std, "n": len(result.scores)}, self.run.id
        )
        self.last_eval = evaluation
        self.last_eval_step = step
        self._prune()
        log.info("evaluation at step %d: mean %.2f ± %.2f over %d games", step, result.mean, result.std, len(result.scores))
        return evaluation

    def report(self, status: str = "running") -> None:
        speed = self._speed(self.step)
        remaining = max(self.config.steps - self.step, 0)
        if self.progress is not None:
            self.progress(
                Progress(
                    run_id=self.run.id,
                    step=self.step,
                    total=self.config.steps,
                    steps_per_s=speed,
                    mean_score=(sum(self._recent_scores) / len(self._recent_scores)) if self._recent_scores else None,
                    eta_s=remaining / speed if speed > 0 else None,
                    last_eval=self.last_eval,
                    status=status,
                )
            )


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


def create_run(config: RLConfig, label: str | None = None, store: Store | None = None) -> Run:
    spec = envs.resolve(config.env)
    return runs.create(
        kind="rl",
        algo=config.algo,
        env=config.env,
        game=spec.game,
        config=config.model_dump(),
        label=label,
        seed=config.seed,
        total_steps=config.steps,
        store=store,
    )


def execute(run_id: str, *, resume: bool = False, progress: ProgressFn | None = None, store: Store | None = None) -> Run:
    """Train ``run_id`` in this process until it finishes, is stopped, or fails; returns the run."""
    store = store or get_store()
    run = store.get_run(run_id)
    config = saved(RLConfig, run.id, run.config)
    folder = Path(run.folder)
    tensorboard_dir = folder / "tensorboard" if config.tensorboard else None
    start_step = 0
    stop = StopFlag()
    agent: Agent | None = None
    hooks: RunHooks | None = None
    try:
        device: str | None = resolve_device(config.device)
    except PlaygroundError:  # make_agent says so below, with the run marked failed
        device = None
    runs.mark_running(run.id, store, device=device)
    try:
        with log_to_run_folder(run), stop.installed(), ThreadShare(store) as threads:
            agent = make_agent(config)
            if resume:
                step, path = runs.pick_checkpoint(run, "latest", store)
                start_step = agent.load(path, for_training=True, tensorboard_dir=tensorboard_dir)
                # A killed session may have logged past its last checkpoint; the curve goes on from here.
                store.delete_metrics_after(run.id, start_step)
                load_extra = getattr(agent, "load_extra", None)
                if load_extra is not None:
                    load_extra(path.parent)
                log.info("resuming %s from %s (step %d)", run.id, path.name, start_step)
            else:
                agent.build(tensorboard_dir)
            hooks = RunHooks(run, config, store, stop, start_step, progress, threads)
            agent.learn(config.steps, hooks)
            step = agent.step
            hooks.step = step
            if step != hooks.last_checkpoint_step or config.save_replay_buffer:
                # The replay buffer (when asked for) is saved here, at the end of each session.
                hooks.checkpoint(step, agent.save, extra=agent)
            finished = step >= config.steps
            if finished and hooks.last_eval_step != step:
                hooks.evaluate(step, agent)
            hooks.flush()
            status = "finished" if finished else "stopped"
            runs.end(run.id, status, step, store=store)
            hooks.report(status)
    except KeyboardInterrupt:
        # A second Ctrl-C: keep what we can, then stop.
        step = agent.step if agent is not None else start_step
        save = None
        if agent is not None and hooks is not None and step != hooks.last_checkpoint_step:
            save = functools.partial(hooks.checkpoint, step, agent.save)
        runs.end_interrupted(run.id, step, save=save, flush=hooks.flush if hooks is not None else None, store=store)
    except BaseException as exc:
        runs.end_failed(run.id, exc, agent.step if agent is not None else max(start_step, run.step),
                        flush=hooks.flush if hooks is not None else None, store=store)
        raise
    finally:
        if agent is not None:
            agent.close()
    return store.get_run(run.id)


def prepare_resume(ref: str, steps: int | None = None, store: Store | None = None) -> Run:
    """Check that ``ref`` can resume (and extend its total); changes the store only when it can."""
    store = store or get_store()
    run = runs.get(ref, store)
    if run.kind != "rl":
        raise RunStateError(f"run {run.id} is a {run.kind} run; `rl resume` continues RL runs only.")
    if run.status == "running":
        raise RunStateError(f"run {run.id} is still running; stop it first with `playground runs stop {run.id}`.")
    if run.config.get("preset") == "imported":
        raise RunStateError(
            f"run {run.id} was imported without its training settings; evaluate it, or train a new run instead."
        )
    try:
        step, path = runs.pick_checkpoint(run, "latest", store)
    except CheckpointError:
        raise CheckpointError(f"run {run.id} has no checkpoint to resume from; start a new run instead.") from None
    config = saved(RLConfig, run.id, run.config)
    probe = make_agent(config, device="cpu")  # a damaged checkpoint is reported before anything changes
    try:
        probe.load(path, for_training=True)
    finally:
        probe.close()
    if steps is not None:
        if steps <= 0:
            raise PlaygroundError(f"--steps must be a positive whole number, got {steps}.")
        if steps <= step:
            raise RunStateError(f"run {run.id} is already at step {step}; ask for a total above that with --steps.")
        config = config.model_copy(update={"steps": steps})
    elif step >= config.steps:
        raise RunStateError(
            f"run {run.id} already reached its {config.steps} steps; pass --steps with a larger total to train on."
        )
    if config.model_dump() != run.config:
        runs.write_config(run.id, config.model_dump(), store)
        store.update_run(run.id, total_steps=config.steps)
    return store.get_run(run.id)


def evaluate_run(
    ref: str,
    *,
    episodes: int = 10,
    which: str = "best",
    seed: int | None = None,
    device: str = "auto",
    store: Store | None = None,
) -> Evaluation:
    """Play ``episodes`` whole games with a checkpoint of a run and store the raw scores."""
    store = store or get_store()
    if episodes <= 0:
        raise PlaygroundError(f"--episodes must be a positive whole number, got {episodes}.")
    if seed is not None and seed < 0:
        raise PlaygroundError(f"--seed must be zero or a positive whole number, got {seed}.")
    run = runs.get(ref, store)
    if run.kind != "rl":
        raise RunStateError(f"run {run.id} is a {run.kind} run; `rl eval` evaluates RL runs.")
    step, path = runs.pick_checkpoint(run, which, store)
    config = saved(RLConfig, run.id, run.config)
    sha256 = file_sha256(path)  # before playing: the hash of the very file that is loaded
    agent = make_agent(config, device=resolve_device(device))
    try:
        agent.load(path, for_training=False)
        seed = config.seed + 20_000 if seed is None else seed
        result = evaluate_policy(config, agent, episodes, seed=seed)
    finally:
        agent.close()
    evaluation = store.add_evaluation(
        run.id, step=step, scores=result.scores, mean=result.mean, std=result.std, checkpoint=str(path), seed=seed,
        checkpoint_sha256=sha256,
    )
    store.add_event("evaluation", {"step": step, "mean": result.mean, "std": result.std, "n": episodes}, run.id)
    return evaluation
