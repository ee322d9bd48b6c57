"""GAN runs from start to end: the platform side of every GAN model.

``execute`` drives a model's ``train_step`` over batches in a fixed order (so a resumed run sees
the data a never-stopped run would have seen), sends averaged losses, D(x), D(G(z)) and learning
rates to the store, saves a sample grid from the run's fixed inputs every ``sample_every``
iterations (the frames of the time-lapse GIF written at the end), and writes atomic checkpoints
holding networks, optimizers, schedulers, the fixed inputs, the iteration and the RNG state.
A stop (Ctrl-C, SIGTERM or ``runs stop``) ends cleanly with a checkpoint, like RL runs.
"""

from __future__ import annotations

import collections
import functools
import logging
import time
from pathlib import Path
from typing import Any

import torch

import gans
from gans import data as gan_data
from gans import grid
from gans.base import GanModel
from playground import runs
from playground.atomic import atomic_output
from playground.config import GanConfig, saved
from playground.errors import CheckpointError, RunStateError
from playground.settings import resolve_device
from playground.store import Run, Store, file_sha256, get_store
from playground.threads import ThreadShare
from playground.training import (
    FLUSH_EVERY_S,
    PROGRESS_EVERY_S,
    Progress,
    ProgressFn,
    Speedometer,
    StopFlag,
    log_to_run_folder,
)

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "playground-gan"
KEEP_CHECKPOINTS = 2  # besides every checkpoint a `gan eval` measured


# -- building blocks shared with sampling, translating and evaluating ---------------------------
def dataset_name(spec: str) -> str:
    """What leaderboards call the data: the built-in's name, or a folder's own name."""
    return Path(spec).expanduser().name if ("/" in spec or spec.startswith((".", "~"))) else spec


def open_data(config: GanConfig) -> Any:
    kind = gans.get(config.model).data_kind
    return gan_data.open_dataset(config.data, kind, config.image_size, flip=config.flip, seed=config.seed)


def data_shape(info: gan_data.DatasetInfo) -> dict[str, Any]:
    """What a model needs to know of its data; kept in checkpoints, so sampling and translating
    work even after the training folder is gone."""
    return {"channels": info.channels, "channels_b": info.channels_b, "classes": list(info.classes or ())}


def build_model(config: GanConfig, shape: dict[str, Any], device: str) -> GanModel:
    cls = gans.get(config.model)
    return cls(
        cls.check_hyperparameters(config.hyperparameters),
        image_size=config.image_size,
        channels=shape["channels"],
        channels_b=shape["channels_b"],
        n_classes=len(shape["classes"]),
        class_names=tuple(shape["classes"]),
        total_iters=config.iters,
        device=device,
    )


def read_checkpoint(path: Path, device: str = "cpu") -> dict[str, Any]:
    """A GAN checkpoint as plain tensors and numbers; anything else is one sentence, never a pickle."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - truncated, corrupt or foreign files all mean the same to a user
        raise CheckpointError(f"the checkpoint {path} cannot be read ({type(exc).__name__}); it is damaged or not ours.") \
            from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a playground GAN checkpoint.")
    return state


def load_into(model: GanModel, state: dict[str, Any], path: Path, *, for_training: bool) -> None:
    try:
        model.load_state_dict(state["model"], for_training=for_training)
    except (KeyError, RuntimeError, ValueError) as exc:
        raise CheckpointError(
            f"the checkpoint {path.name} does not fit this {model.name} model ({str(exc).splitlines()[0][:160]})."
        ) from None


class Batches:
    """Batches in an order fixed by the seed: epoch e shuffles with seed × 100003 + e, so iteration
    i always gets the same images, whether or not the run stopped and resumed in between."""

    def __init__(self, dataset: Any, batch_size: int, seed: int) -> None:
        self.dataset = dataset
        self.batch_size = min(batch_size, len(dataset))
        self.seed = seed
        self.per_epoch = max(1, len(dataset) // self.batch_size)
        self._epoch = -1
        self._order: torch.Tensor | None = None

    def __call__(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, pos = divmod(iteration, self.per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            self._order, self._epoch = torch.randperm(len(self.dataset), generator=g), epoch
            self.dataset.set_epoch(epoch)  # unpaired sets draw new A-B pairings each epoch
        assert self._order is not None
        return collate(self.dataset, self._order[pos * self.batch_size : (pos + 1) * self.batch_size].tolist())


def collate(dataset: Any, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Items of a GAN dataset as one batch: images stacked; labels (images kind) or B images (pairs)."""
    items = [dataset[i] for i in indices]
    first = torch.stack([x for x, _ in items])
    second = [y for _, y in items]
    return first, (torch.stack(second) if isinstance(second[0], torch.Tensor) else torch.tensor(second))


# -- one run ----------------------------------------------------------------------------------------
class _Session:
    """Metrics, heartbeats, stop requests and progress for one training session of a GAN run."""

    def __init__(self, run: Run, config: GanConfig, store: Store, stop: StopFlag, start: int,
                 progress: ProgressFn | None, threads: ThreadShare | None = None) -> None:
        self.run, self.config, self.store, self.stop, self.progress = run, config, store, stop, progress
        self.threads = threads
        self.step = start
        self.rows: list[tuple[int, float, str, float]] = []
        self.sums: dict[str, float] = collections.defaultdict(float)
        self.counts: dict[str, int] = collections.defaultdict(int)
        self.latest: dict[str, float] = {}
        self.speed = Speedometer()
        self.last_flush = self.last_progress = time.monotonic()
        self.log_every = max(1, min(10, config.iters // 200))

    def add(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.sums[key] += value
            self.counts[key] += 1

    def log_means(self, step: int, extra: dict[str, float]) -> None:
        """One averaged point per ``log_every`` iterations keeps curves smooth and the store small."""
        wall = time.time()
        means = {k: self.sums[k] / self.counts[k] for k in self.sums}
        self.latest = means
        self.rows.extend((step, wall, k, v) for k, v in {**means, **extra}.items())
        self.sums.clear()
        self.counts.clear()

    def flush(self) -> None:
        rows, self.rows = self.rows, []
        self.store.add_metrics(self.run.id, rows)
        runs.heartbeat(self.run.id, self.step, self.store)
        if self.threads is not None:
            self.threads.check()
        self.last_flush = time.monotonic()

    def stop_asked(self) -> bool:
        return self.stop.asked(self.run.id, self.store)

    def tick(self) -> None:
        now = time.monotonic()
        if now - self.last_flush >= FLUSH_EVERY_S:
            self.flush()
        if now - self.last_progress >= PROGRESS_EVERY_S:
            self.last_progress = now
            self.report()

    def report(self, status: str = "running") -> None:
        speed = self.speed(self.step)
        remaining = max(self.config.iters - self.step, 0)
        if self.progress is not None:
            self.progress(Progress(
                run_id=self.run.id, step=self.step, total=self.config.iters, steps_per_s=speed, mean_score=None,
                eta_s=remaining / speed if speed > 0 else None, last_eval=None, status=status, unit="iters",
                detail=describe_losses(self.latest),
            ))


def describe_losses(values: dict[str, float]) -> str | None:
    names = {"loss/d": "D", "loss/g": "G", "d/real": "D(x)", "d/fake": "D(G(z))", "loss/cycle": "cycle",
             "loss/g_l1": "L1"}
    parts = [f"{label} {values[key]:.3f}" for key, label in names.items() if key in values]
    return "  ".join(parts) or None


def _samples_dir(run: Run) -> Path:
    return Path(run.folder) / "samples"


def _write_samples(run: Run, model: GanModel, fixed: dict[str, torch.Tensor], step: int, store: Store) -> Path:
    images, columns = model.render(fixed)
    path = grid.save_png(grid.grid(images, columns), _samples_dir(run) / f"iter-{step:010d}.png")
    store.add_artifact(run.id, "samples", str(path), step=step)
    return path


def _checkpoint(run: Run, model: GanModel, fixed: dict[str, torch.Tensor], step: int, config: GanConfig,
                store: Store) -> Path:
    state = {
        "format": CHECKPOINT_FORMAT,
        "version": 1,
        "model_name": config.model,
        "step": int(step),
        "data": {"channels": model.channels, "channels_b": model.channels_b, "classes": list(model.class_names)},
        "model": model.state_dict(),
        "fixed": fixed,
        "rng": {"torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
    }
    path = runs.checkpoint_path(run, step)
    atomic_output(path, lambda tmp: torch.save(state, tmp))
    # The hash as written: the game refuses evidence from a checkpoint swapped in afterwards.
    store.add_artifact(run.id, "checkpoint", str(path), step=step, meta={"sha256": file_sha256(path)})
    _prune(run, store)
    return path


def _prune(run: Run, store: Store) -> None:
    measured = {e["payload"].get("checkpoint") for e in store.events("gan_evaluation", run_id=run.id)}
    available = runs.checkpoints(run, store)
    for _step, path in available[:-KEEP_CHECKPOINTS]:
        if str(path) not in measured:
            path.unlink(missing_ok=True)
            store.remove_artifact(run.id, str(path))


def _timelapse(run: Run, store: Store) -> None:
    paths = [Path(a.path) for a in sorted(store.artifacts(run.id, "samples"), key=lambda a: a.step or 0)]
    out = grid.save_timelapse(paths, _samples_dir(run) / "timelapse.gif")
    if out is not None:
        store.remove_artifact(run.id, str(out))
        store.add_artifact(run.id, "timelapse", str(out), step=run.step)


def create_run(config: GanConfig, label: str | None = None, store: Store | None = None) -> Run:
    run = runs.create(
        kind="gan",
        algo=config.model,
        env=config.data,
        game=dataset_name(config.data),
        config=config.model_dump(),
        label=label,
        seed=config.seed,
        total_steps=config.iters,
        store=store,
    )
    _samples_dir(run).mkdir(exist_ok=True)
    return run


def execute(run_id: str, *, resume: bool = False, progress: ProgressFn | None = None, store: Store | None = None) -> Run:
    """Train ``run_id`` in this process until it finishes, is stopped, or fails; returns the run."""
    store = store or get_store()
    run = store.get_run(run_id)
    config = saved(GanConfig, run.id, run.config)
    stop = StopFlag()
    model: GanModel | None = None
    session: _Session | None = None
    fixed: dict[str, torch.Tensor] = {}
    step = start = run.step if resume else 0
    last_checkpoint = -1
    device = resolve_device(config.device)
    runs.mark_running(run.id, store, device=device)
    try:
        with log_to_run_folder(run), stop.installed(), ThreadShare(store) as threads:
            dataset = open_data(config)
            shape = data_shape(dataset.info)
            torch.manual_seed(config.seed)  # the initial weights, then (new runs) the fixed noise and training
            model = build_model(config, shape, device)
            if resume:
                start, path = runs.pick_checkpoint(run, "latest", store)
                state = read_checkpoint(path, device)
                load_into(model, state, path, for_training=True)
                fixed = {k: v.cpu() for k, v in state["fixed"].items()}
                torch.set_rng_state(state["rng"]["torch"].cpu())
                if state["rng"]["cuda"] and torch.cuda.is_available():
                    torch.cuda.set_rng_state_all([s.cpu() for s in state["rng"]["cuda"]])
                start = int(state["step"])
                store.delete_metrics_after(run.id, start)  # a killed session may have logged past it
                log.info("resuming %s from %s (iteration %d)", run.id, path.name, start)
            else:
                fixed = model.fixed_inputs(dataset, config.n_samples, torch.Generator().manual_seed(config.seed))
                _write_samples(run, model, fixed, 0, store)  # the time-lapse starts from noise
            step = last_checkpoint = start
            batches = Batches(dataset, config.batch_size, config.seed)
            session = _Session(run, config, store, stop, start, progress, threads)
            log.info("%s on %s: %d images, %d iterations of %d, %s", config.model, config.data, len(dataset),
                     config.iters, batches.batch_size, device)
            while step < config.iters and not session.stop_asked():
                session.add(model.train_step(batches(step)))
                model.after_step()
                step += 1
                session.step = step
                if step % session.log_every == 0 or step == config.iters:
                    session.log_means(step, model.learning_rates())
                if step % config.sample_every == 0 or step == config.iters:
                    _write_samples(run, model, fixed, step, store)
                if step % config.checkpoint_every == 0 and step < config.iters:
                    _checkpoint(run, model, fixed, step, config, store)
                    last_checkpoint = step
                session.tick()
            if session.sums:
                session.log_means(step, model.learning_rates())
            if step != last_checkpoint:
                _checkpoint(run, model, fixed, step, config, store)
            session.flush()
            status = "finished" if step >= config.iters else "stopped"
            runs.end(run.id, status, step, store=store)
            _timelapse(store.get_run(run.id), store)
            session.report(status)
    except KeyboardInterrupt:  # a second Ctrl-C: keep what we can
        save = None
        if model is not None and session is not None and step != last_checkpoint:
            save = functools.partial(_checkpoint, run, model, fixed, step, config, store)
        runs.end_interrupted(run.id, step, save=save, flush=session.flush if session is not None else None,
                             store=store)
    except BaseException as exc:
        runs.end_failed(run.id, exc, max(step, start), flush=session.flush if session is not None else None,
                        store=store)
        raise
    return store.get_run(run.id)


def prepare_resume(ref: str, iters: int | None = None, store: Store | None = None) -> Run:
    """Check that ``ref`` can resume (and extend its total); changes the store only when it can."""
    store = store or get_store()
    run = runs.get(ref, store)
    if run.kind != "gan":
        raise RunStateError(f"run {run.id} is an {run.kind} run; `gan resume` continues GAN runs only.")
    if run.status == "running":
        raise RunStateError(f"run {run.id} is still running; stop it first with `playground runs stop {run.id}`.")
    try:
        step, path = runs.pick_checkpoint(run, "latest", store)
    except CheckpointError:
        raise CheckpointError(f"run {run.id} has no checkpoint to resume from; start a new run instead.") from None
    config = saved(GanConfig, run.id, run.config)
    state = read_checkpoint(path)  # a damaged checkpoint is reported before anything changes
    if iters is not None:
        if iters <= step:
            raise RunStateError(f"run {run.id} is already at iteration {step}; ask for a total above that with --iters.")
        config = config.model_copy(update={"iters": iters})
    elif int(state["step"]) >= config.iters:
        raise RunStateError(
            f"run {run.id} already reached its {config.iters} iterations; pass --iters with a larger total to train on."
        )
    if config.model_dump() != run.config:
        runs.write_config(run.id, config.model_dump(), store)
        store.update_run(run.id, total_steps=config.iters)
    return store.get_run(run.id)

