"""GAN runs from start to end: the platform side of every GAN model.

``execute`` drives a model's ``train_step`` over batches in a fixed order (so a resumed run sees
the data a never-stopped run would have seen), sends averaged losses, D(x), D(G(z)) and learning
rates to the store, saves a sample grid from the run's fixed inputs every ``sample_every``
iterations (the frames of the time-lapse GIF written at the end), and writes atomic checkpoints
holding networks, optimizers, schedulers, the fixed inputs, the iteration and the RNG state.
A stop (Ctrl-C, SIGTERM or ``runs stop``) ends cleanly with a checkpoint, like RL runs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

import gans
from gans import data as gan_data
from gans import grid
from gans.base import GanModel
from playground import runs
from playground.config import GanConfig, of_run
from playground.errors import CheckpointError
from playground.i18n import say
from playground.session import ProgressFn, RunSession, Totals, training_session
from playground.session import prepare_resume as prepare_resume_run
from playground.settings import resolve_device
from playground.store import Run, Store, get_store

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "playground-gan"


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
    except PermissionError as exc:
        raise CheckpointError("gan_training.no_permission", path=path, reason=exc.strerror) from None
    except Exception as exc:  # noqa: BLE001 - truncated, corrupt or foreign files all mean the same to a user
        raise CheckpointError("gan_training.damaged", path=path, reason=type(exc).__name__) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError("gan_training.not_ours", path=path)
    return state


def load_into(model: GanModel, state: dict[str, Any], path: Path, *, for_training: bool) -> None:
    try:
        model.load_state_dict(state["model"], for_training=for_training)
    except (KeyError, RuntimeError, ValueError) as exc:
        raise CheckpointError(
            "gan_training.does_not_fit", name=path.name, model=model.name, reason=str(exc).splitlines()[0][:160]
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
def describe_losses(values: dict[str, float]) -> str | None:
    names = {"loss/d": "D", "loss/g": "G", "d/real": "D(x)", "d/fake": "D(G(z))",
             "loss/cycle": say("gan_training.loss_cycle"), "loss/g_l1": "L1"}
    parts = [f"{label} {values[key]:.3f}" for key, label in names.items() if key in values]
    return "  ".join(parts) or None


def _samples_dir(run: Run) -> Path:
    return Path(run.folder) / "samples"


def _write_samples(run: Run, model: GanModel, fixed: dict[str, torch.Tensor], step: int, store: Store) -> Path:
    images, columns = model.render(fixed)
    path = grid.save_png(grid.grid(images, columns), _samples_dir(run) / f"iter-{step:010d}.png")
    store.add_artifact(run.id, "samples", str(path), step=step)
    return path


def _state(model: GanModel, fixed: dict[str, torch.Tensor], step: int, config: GanConfig) -> dict[str, Any]:
    """Everything a resumed run needs, as plain tensors and numbers (loaded with ``weights_only``)."""
    return {
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


class SampleGrids:
    """A session hook: the grid from the run's fixed inputs every ``sample_every`` iterations (and at the
    end), the frames of the time-lapse."""

    def __init__(self, model: GanModel, fixed: dict[str, torch.Tensor], config: GanConfig) -> None:
        self.model, self.fixed, self.config = model, fixed, config

    def on_step(self, session: RunSession, step: int) -> None:
        if step % self.config.sample_every == 0 or step == self.config.iters:
            _write_samples(session.run, self.model, self.fixed, step, session.store)


def _timelapse(run: Run, store: Store) -> None:
    paths = [Path(a.path) for a in sorted(store.artifacts(run.id, "samples"), key=lambda a: a.step or 0)]
    out = grid.save_timelapse(paths, _samples_dir(run) / "timelapse.gif")
    if out is not None:
        store.remove_artifact(run.id, str(out))
        store.add_artifact(run.id, "timelapse", str(out), step=run.step)


def create_run(config: GanConfig, label: str | None = None, store: Store | None = None,
               player: str | None = None) -> Run:
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
        player=player,
    )
    _samples_dir(run).mkdir(exist_ok=True)
    return run


def execute(run_id: str, *, resume: bool = False, progress: ProgressFn | None = None, store: Store | None = None,
            player: str | None = None, checkpoint: str = "latest") -> Run:
    """Train ``run_id`` in this process until it finishes, is stopped, or fails; returns the run.

    ``checkpoint`` (resuming): which checkpoint to continue from, ``latest`` or an iteration number.
    """
    store = store or get_store()
    run = store.get_run(run_id)
    config = of_run(run)
    device = resolve_device(config.device)
    with training_session(run.id, total=config.iters, checkpoint_every=config.checkpoint_every,
                          keep=config.keep_checkpoints, device=device, resume=resume, unit="iters",
                          progress=progress, player=player, store=store) as session:
        dataset = open_data(config)
        shape = data_shape(dataset.info)
        torch.manual_seed(config.seed)  # the initial weights, then (new runs) the fixed noise and training
        model = build_model(config, shape, device)
        if resume:
            _start, path = runs.pick_checkpoint(run, checkpoint, store)
            state = read_checkpoint(path, device)
            load_into(model, state, path, for_training=True)
            fixed = {k: v.cpu() for k, v in state["fixed"].items()}
            torch.set_rng_state(state["rng"]["torch"].cpu())
            if state["rng"]["cuda"] and torch.cuda.is_available():
                # one state per GPU the training machine saw; this one may see fewer (or more)
                for index, saved in enumerate(state["rng"]["cuda"][: torch.cuda.device_count()]):
                    torch.cuda.set_rng_state(saved.cpu(), index)
            session.resumed_at(int(state["step"]))
            runs.forget_checkpoints_after(run, session.start_step, store)
            log.info("resuming %s from %s (iteration %d)", run.id, path.name, session.start_step)
        else:
            fixed = model.fixed_inputs(dataset, config.n_samples, torch.Generator().manual_seed(config.seed))
            _write_samples(run, model, fixed, 0, store)  # the time-lapse starts from noise
        step = session.start_step
        session.save = lambda tmp: torch.save(_state(model, fixed, session.step, config), tmp)
        session.hooks.append(SampleGrids(model, fixed, config))
        batches = Batches(dataset, config.batch_size, config.seed)
        log_every = max(1, min(10, config.iters // 200))  # one averaged point per few iterations
        log.info("%s on %s: %d images, %d iterations of %d, %s", config.model, config.data, len(dataset),
                 config.iters, batches.batch_size, device)
        while step < config.iters and not session.stop_asked():
            session.add(model.train_step(batches(step)))
            model.after_step()
            step += 1
            if step % log_every == 0 or step == config.iters:
                session.log_means(step, model.learning_rates())
                session.detail = describe_losses(session.latest_means)
            if not session.on_step(step):
                break
        if session.pending_means:
            session.log_means(step, model.learning_rates())
        session.finish(step)
        _timelapse(store.get_run(run.id), store)
    return store.get_run(run.id)


ITERS = Totals(field="iters", unit="iteration", flag="--iters")


def prepare_resume(ref: str, iters: int | None = None, store: Store | None = None, *,
                   checkpoint: str = "latest") -> Run:
    """Check that ``ref`` can resume from ``checkpoint`` (and extend its total); changes the store only when it can."""

    def probe(run: Run, path: Path) -> GanConfig:
        config = of_run(run)
        read_checkpoint(path)
        return config

    return prepare_resume_run(ref, kind="gan", total=iters, which=checkpoint, totals=ITERS, probe=probe, store=store)
