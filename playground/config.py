"""One validated config per kind of run, shared by the CLI, the UI form and the presets.

``build_rl_config`` is the single place where a user's choices (algorithm, environment, preset,
``--set`` overrides, steps) are checked; every check fails with one clear sentence before
anything is written to the store.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import agents
from agents import presets
from playground import envs
from playground.checks import MAX_ENVS, MAX_EPISODES, MAX_ITERS, MAX_STEPS, check_hyperparameter_values, check_limit
from playground.errors import BadConfig
from playground.i18n import Words

ConfigT = TypeVar("ConfigT", bound=BaseModel)

EnvBackend = Literal["auto", "fast", "sb3"]
DEFAULT_EVAL_EPISODES = 10  # whole games per evaluation, unless the preset or the user says otherwise


class RLConfig(BaseModel):
    """Everything needed to start (or resume) an RL run; saved as the run's ``config.yaml``."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["rl"] = "rl"
    algo: str
    env: str
    steps: int = Field(gt=0)
    seed: int = Field(default=0, ge=0)
    n_envs: int = Field(gt=0)
    device: str = "auto"
    preset: str
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    eval_every: int = Field(gt=0)
    eval_episodes: int = Field(gt=0)
    checkpoint_every: int = Field(gt=0)
    tensorboard: bool = False
    save_replay_buffer: bool = False
    env_backend: EnvBackend = "auto"
    keep_checkpoints: int = Field(default=1, gt=0)  # the newest N; every evaluated one is kept as well


def _read_value(raw: str) -> Any:
    """Numbers as numbers (YAML alone reads ``3e-4`` as a string), the rest as YAML."""
    text = raw.strip()
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    try:
        return yaml.safe_load(text) if text else raw
    except yaml.YAMLError:
        return raw


def parse_sets(pairs: Iterable[str]) -> dict[str, Any]:
    """``key=value`` strings into a dict; values are read as YAML (numbers, lists, booleans)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadConfig("config.bad_set", pair=pair)
        out[key] = _read_value(raw)
    return out


def _either(names: list[str]) -> Words | str:
    """``a or b or c``, with the ``or`` in the sentence's language."""
    if len(names) == 1:
        return names[0]
    return Words("config.or", left=_either(names[:-1]), right=names[-1])


def _validation_error(algo: str, exc: ValidationError, known: list[str]) -> BadConfig:
    """One sentence: a value that does not fit names its key; an unknown key names the closest known ones."""
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "value"
    if err["type"] == "extra_forbidden":
        close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
        if close:
            return BadConfig("config.unknown_hyperparameter_close", key=key, algo=algo, close=_either(close))
        return BadConfig("config.unknown_hyperparameter", key=key, algo=algo, known=", ".join(known))
    return BadConfig("config.invalid_hyperparameter", key=key, algo=algo, reason=err["msg"].lower(),
                     got=repr(err.get("input")))


def validate_hyperparameters(algo: str, values: Mapping[str, Any]) -> dict[str, Any]:
    model = agents.get(algo).Hyperparameters
    check_hyperparameter_values(algo, values)
    try:
        checked = model.model_validate(dict(values))
    except ValidationError as exc:
        raise _validation_error(algo, exc, sorted(model.model_fields)) from None
    return checked.model_dump(exclude_unset=True)


def build_rl_config(
    algo: str,
    env: str,
    *,
    steps: int | None = None,
    seed: int = 0,
    n_envs: int | None = None,
    device: str = "auto",
    preset: str | None = None,
    sets: Iterable[str] = (),
    eval_every: int | None = None,
    eval_episodes: int | None = None,
    checkpoint_every: int | None = None,
    tensorboard: bool = False,
    save_replay_buffer: bool = False,
    env_backend: EnvBackend = "auto",
    keep_checkpoints: int = 1,
) -> RLConfig:
    """Check every choice and fill the gaps from the preset; raises before anything is created."""
    agent_cls = agents.get(algo)
    algo = agent_cls.name
    spec = envs.resolve(env)
    agent_cls.check_env(spec)
    chosen = presets.pick(algo, spec, preset)
    hyper = validate_hyperparameters(algo, {**chosen.hyperparameters, **parse_sets(sets)})
    for flag, value in (("--steps", steps), ("--envs", n_envs), ("--eval-every", eval_every),
                        ("--checkpoint-every", checkpoint_every), ("--eval-episodes", eval_episodes),
                        ("--keep", keep_checkpoints)):
        if value is not None and value <= 0:
            raise BadConfig("config.not_positive", flag=flag, value=value)
    if seed < 0:
        raise BadConfig("config.bad_seed", seed=seed)
    for flag, value, maximum in (("--steps", steps, MAX_STEPS), ("--envs", n_envs, MAX_ENVS),
                                 ("--eval-episodes", eval_episodes, MAX_EPISODES)):
        check_limit(flag, value, maximum)
    total = steps or chosen.steps
    eval_episodes = eval_episodes or chosen.eval_episodes or DEFAULT_EVAL_EPISODES
    # About ten evaluations per run, but none closer than 1,000 steps (tiny runs: one at the end).
    every = eval_every or max(total // 10, min(total, 1000))
    return RLConfig(
        algo=algo,
        env=spec.env_id,
        steps=total,
        seed=seed,
        n_envs=n_envs or agent_cls.default_n_envs(chosen.n_envs),
        device=device,
        preset=chosen.name,
        hyperparameters=hyper,
        eval_every=every,
        eval_episodes=eval_episodes,
        checkpoint_every=checkpoint_every or every,
        tensorboard=tensorboard,
        save_replay_buffer=save_replay_buffer,
        env_backend=env_backend,
        keep_checkpoints=keep_checkpoints,
    )


# -- GANs ------------------------------------------------------------------------------------------
class GanConfig(BaseModel):
    """Everything needed to start (or resume) a GAN run; saved as the run's ``config.yaml``."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["gan"] = "gan"
    model: str
    data: str
    image_size: int = Field(gt=0)
    batch_size: int = Field(gt=0)
    iters: int = Field(gt=0)
    seed: int = Field(default=0, ge=0)
    device: str = "auto"
    preset: str
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    sample_every: int = Field(gt=0)
    checkpoint_every: int = Field(gt=0)
    n_samples: int = Field(default=64, gt=0, le=256)
    flip: bool = False
    keep_checkpoints: int = Field(default=2, gt=0)  # the newest N; every measured one is kept as well


def build_gan_config(
    model: str,
    data: str,
    *,
    epochs: int | None = None,
    iters: int | None = None,
    batch_size: int | None = None,
    image_size: int | None = None,
    seed: int = 0,
    device: str = "auto",
    preset: str | None = None,
    sets: Iterable[str] = (),
    sample_every: int | None = None,
    checkpoint_every: int | None = None,
    keep_checkpoints: int = 2,
) -> GanConfig:
    """Check the model, the data and every setting; raises one sentence before anything is created."""
    import gans
    from gans import data as gan_data
    from gans import presets as gan_presets

    model_cls = gans.get(model)
    chosen = gan_presets.pick(model_cls.name, preset)
    if epochs is not None and iters is not None:
        raise BadConfig("config.epochs_and_iters")
    for flag, value in (("--epochs", epochs), ("--iters", iters), ("--batch-size", batch_size),
                        ("--image-size", image_size), ("--sample-every", sample_every),
                        ("--checkpoint-every", checkpoint_every), ("--keep", keep_checkpoints)):
        if value is not None and value <= 0:
            raise BadConfig("config.not_positive", flag=flag, value=value)
    if seed < 0:
        raise BadConfig("config.bad_seed", seed=seed)
    size = image_size or chosen.image_size
    model_cls.check_image_size(size)
    check_limit("--iters", iters, MAX_ITERS)
    values = {**chosen.hyperparameters, **parse_sets(sets)}
    check_hyperparameter_values(model_cls.name, values)
    hyper = model_cls.check_hyperparameters(values)
    info = gan_data.describe(data, model_cls.data_kind)
    if model_cls.needs_labels and not info.classes:
        raise BadConfig("config.needs_labels", model=model_cls.name, data=info.name)
    largest = max(info.size, info.size_b or 0)
    if batch_size is not None and batch_size > largest:
        raise BadConfig("config.batch_too_large", batch_size=batch_size, largest=largest, data=info.name)
    batch = batch_size or chosen.batch_size
    per_epoch = max(1, largest // batch)
    total = iters or (epochs or chosen.epochs) * per_epoch
    check_limit(Words("config.epochs_times_iters"), total, MAX_ITERS)
    return GanConfig(
        model=model_cls.name,
        data=data,
        image_size=size,
        batch_size=batch,
        iters=total,
        seed=seed,
        device=device,
        preset=chosen.name,
        hyperparameters=hyper.model_dump(exclude_unset=True),
        sample_every=sample_every or max(1, total // 40),  # about 40 grids: a smooth time-lapse
        checkpoint_every=checkpoint_every or max(1, total // 10),
        flip=model_cls.data_kind != "images",  # pix2pix and CycleGAN flip at random, as their code does
        keep_checkpoints=keep_checkpoints,
    )


def gan_warnings(config: GanConfig) -> list[Words]:
    """What the model's paper says against the chosen settings (allowed all the same), one sentence each."""
    import gans

    model_cls = gans.get(config.model)
    return list(model_cls.warnings(model_cls.check_hyperparameters(config.hyperparameters)))


def _plain(value: Any) -> Any:
    """A value as JSON can hold it (numbers, text, lists, mappings); anything else as its text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def _defaults(model: type[BaseModel]) -> dict[str, Any]:
    """Each setting's default (None when it has none): what a form shows before anyone types."""
    return {name: None if info.is_required() else _plain(info.get_default(call_default_factory=True))
            for name, info in model.model_fields.items()}


def form_choices() -> dict[str, Any]:
    """What the training forms offer and prefill, as plain data: each algorithm's hyperparameters with
    their defaults; each GAN model with its data kind, labels and presets; the built-in datasets; the games.

    It needs the engine (the registries import torch), so the web app asks a child process for it
    (``playground _ui form``) once and keeps the answer.
    """
    import gans
    from gans import data as gan_data
    from gans import presets as gan_presets

    models = {}
    for name in gans.names():
        cls = gans.get(name)
        models[name] = {
            "title": cls.title,
            "data_kind": cls.data_kind,
            "needs_labels": bool(cls.needs_labels),
            "presets": {p.name: _plain({"description": p.description, "source": p.source,
                                        "image_size": p.image_size, "batch_size": p.batch_size, "epochs": p.epochs})
                        for p in gan_presets.presets_for(name).values()},
        }
    return {
        "rl": {name: {"hyperparameters": _defaults(agents.get(name).Hyperparameters)} for name in agents.names()},
        "gan": models,
        "datasets": [{"name": info.name, "kind": info.kind, "labelled": bool(info.classes)}
                     for info in gan_data.builtin_datasets()],
        "ale_games": list(gan_data.ale_games()),
    }


def saved(model: type[ConfigT], run_id: str, stored: Mapping[str, Any]) -> ConfigT:
    """A run's saved config, validated again: one sentence when it no longer fits (edited by hand, or
    written by an older version of the playground), never a validation traceback."""
    try:
        return model.model_validate(stored)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise BadConfig("config.saved_no_longer_fits", run=run_id, where=where, reason=first["msg"]) from None


def of_run(run: Any) -> RLConfig | GanConfig:
    """A run's saved config parsed by its kind into its model: the one way every door reads it, so a
    config that no longer fits is the same sentence everywhere."""
    models: dict[str, type[RLConfig] | type[GanConfig]] = {"rl": RLConfig, "gan": GanConfig}
    model = models.get(run.kind)
    if model is None:
        raise BadConfig("config.unknown_kind", run=run.id, kind=run.kind)
    return saved(model, run.id, run.config)

