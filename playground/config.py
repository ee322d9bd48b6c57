"""One validated config per kind of run, shared by the CLI, the UI form and the presets.

``build_rl_config`` is the single place where a user's choices (algorithm, environment, preset,
``--set`` overrides, steps) are checked; every check fails with one clear sentence before
anything is written to the store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import agents
from agents import presets
from playground import envs
from playground.errors import BadConfig

EnvBackend = Literal["auto", "fast", "sb3"]


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
            raise BadConfig(f"--set expects KEY=VALUE, got '{pair}'.")
        out[key] = _read_value(raw)
    return out


def _describe_validation_error(algo: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "value"
    if err["type"] == "extra_forbidden":
        return f"unknown hyperparameter '{key}' for {algo}"
    return f"hyperparameter '{key}' for {algo} is invalid ({err['msg'].lower()}, got {err.get('input')!r})"


def validate_hyperparameters(algo: str, values: Mapping[str, Any]) -> dict[str, Any]:
    model = agents.get(algo).Hyperparameters
    try:
        checked = model.model_validate(dict(values))
    except ValidationError as exc:
        known = ", ".join(sorted(model.model_fields))
        raise BadConfig(f"{_describe_validation_error(algo, exc)}; known keys: {known}.") from None
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
    eval_episodes: int = 10,
    checkpoint_every: int | None = None,
    tensorboard: bool = False,
    save_replay_buffer: bool = False,
    env_backend: EnvBackend = "auto",
) -> RLConfig:
    """Check every choice and fill the gaps from the preset; raises before anything is created."""
    agent_cls = agents.get(algo)
    algo = agent_cls.name
    spec = envs.resolve(env)
    agent_cls.check_env(spec)
    chosen = presets.pick(algo, spec, preset)
    hyper = validate_hyperparameters(algo, {**chosen.hyperparameters, **parse_sets(sets)})
    for flag, value in (("--steps", steps), ("--envs", n_envs), ("--eval-every", eval_every),
                        ("--checkpoint-every", checkpoint_every), ("--eval-episodes", eval_episodes)):
        if value is not None and value <= 0:
            raise BadConfig(f"{flag} must be a positive whole number, got {value}.")
    if seed < 0:
        raise BadConfig(f"--seed must be zero or a positive whole number, got {seed}.")
    total = steps or chosen.steps
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
    )
