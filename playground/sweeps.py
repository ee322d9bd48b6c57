"""Hyperparameter sweeps (``playground sweep``): Ray Tune drives Optuna's TPE sampler and ASHA's early stopping over a
search space, and every trial is a real run of the store, tagged with its sweep.

This module is the platform's side only; which settings to try next is Optuna's (``OptunaSearch`` with a seeded
``TPESampler``), which trials to stop is ASHA's (``ASHAScheduler``), and placing trials on a cluster is Ray's.

- The search space: ``KEY=RANGE`` lines (``learning_rate=loguniform(1e-5,1e-3)``, ``n_steps=choice(64,128,256)``,
  ``uniform(a,b)``, ``int(a,b)``), typed on the command line or kept in ``agents/presets/spaces/<algo>.yaml`` beside
  the presets, each range with where it comes from and why. Every end of every range is checked against the
  algorithm's own settings before anything is created.
- A sweep: a row of the store's ``sweeps`` table (its plan as ``SweepConfig``) and a folder,
  ``$PLAYGROUND_HOME/sweeps/<id>/``, holding Tune's experiment (``tune/``, what ``sweep resume`` restores) and the
  background driver's log.
- The driver (``drive``) runs ``Tuner.fit`` in its own process (the CLI, or ``sweep … --detach``'s job). A Tune
  callback writes what Tune sees into the store as it happens (each trial's reports, its end, the best so far), and
  a watcher thread beats the sweep's heartbeat and answers ``sweep stop``: it interrupts Tune the way Tune documents
  for a manual stop (a signal to the process running ``fit``), which saves the experiment for ``Tuner.restore``.
- A trial (``_trial_class``) creates its runs in the Ray worker that Tune placed it in (``--seeds K``: K runs of the
  same settings, one seeds group, reported as their mean), trains each with ``training.execute`` in a thread, and
  reports to Tune as evaluations arrive; the time ASHA counts is environment steps. When Tune stops the trial (ASHA,
  or the whole sweep stopping), its runs are asked to stop through the store, so each ends ``stopped`` with a
  checkpoint; a restored trial finds its runs again and resumes them from those checkpoints.
- A node lost mid-sweep takes its trials' workers with it: Tune marks those trials failed and goes on with the
  others, and the driver gives each of their runs one sentence saying so.

Nothing here imports Ray, Optuna or the engine at module level: the web app reads sweeps through this module.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from agents.presets import PRESET_DIR
from playground import events, runs, settings
from playground.atomic import atomic_write_text
from playground.checks import shown
from playground.config import RLConfig, build_rl_config, parse_sets, validate_hyperparameters
from playground.errors import BadConfig, MissingDependency, PlaygroundError, RunNotFound, RunStateError
from playground.i18n import language, translate
from playground.store import Store, get_store

log = logging.getLogger(__name__)

METRICS = ("eval", "score")  # the last evaluation's mean, or the mean score of the last 100 training games
STATUSES = ("created", "running", "stopped", "finished", "failed")
MAX_TRIALS = 10_000
MAX_SEEDS = 20
DEFAULT_TRIALS = 8
DEFAULT_REDUCTION = 3  # ASHA keeps the best third at each rung (Hyperband's eta = 3, Li et al. 2017)
STALE_AFTER_S = 300.0  # a sweep driven on another machine whose heartbeat is older than this is taken for dead
HEARTBEAT_S = 2.0
SPACE_DIR = PRESET_DIR / "spaces"  # the search spaces live beside the presets
TUNE_DIR = "tune"  # Tune's experiment, inside the sweep's folder
DRIVER_LOG = "driver.log"


# -- the search space ----------------------------------------------------------------------------------------------
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CALL = re.compile(r"^([A-Za-z_]+)\s*\((.*)\)$", re.S)
_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.+\-]*$")
FORMS = {"uniform": "uniform", "loguniform": "loguniform", "int": "int", "randint": "int", "choice": "choice"}


@dataclass(frozen=True)
class Range:
    """One searched setting: ``uniform`` or ``loguniform`` floats from low to high, ``int`` whole numbers from low
    to high (both included, as Optuna's ``IntDistribution``), or a ``choice`` among values."""

    key: str
    form: str
    low: float | int | None = None
    high: float | int | None = None
    values: tuple[Any, ...] = ()

    def text(self) -> str:
        """The range as ``--space`` takes it (what the sweep stores and the UI prefills)."""
        if self.form == "choice":
            return f"{self.key}=choice({', '.join(_written(v) for v in self.values)})"
        return f"{self.key}={self.form}({_written(self.low)}, {_written(self.high)})"

    def ends(self) -> list[Any]:
        """The values a trial may draw at the edges: both ends of a range, every value of a choice."""
        return list(self.values) if self.form == "choice" else [self.low, self.high]

    def distribution(self) -> Any:
        """The range as Optuna's distribution (what ``OptunaSearch`` samples from)."""
        from optuna import distributions

        if self.form == "choice":
            return distributions.CategoricalDistribution(list(self.values))
        if self.form == "int":
            return distributions.IntDistribution(int(self.low), int(self.high))  # type: ignore[arg-type]
        return distributions.FloatDistribution(float(self.low), float(self.high),  # type: ignore[arg-type]
                                               log=self.form == "loguniform")

    def position(self, value: Any) -> float | None:
        """Where ``value`` lies in the range, from 0 to 1 (log scale for loguniform): the parallel-coordinates axes."""
        try:
            if self.form == "choice":
                index = [_written(v) for v in self.values].index(_written(value))
                return index / max(1, len(self.values) - 1)
            low, high, x = float(self.low), float(self.high), float(value)  # type: ignore[arg-type]
            if self.form == "loguniform":
                low, high, x = math.log(low), math.log(high), math.log(x)
            return min(1.0, max(0.0, (x - low) / (high - low)))
        except (ValueError, TypeError):
            return None


def _written(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        bare = _WORD.match(value) and value.lower() not in ("true", "false") and not _number(value)
        return value if bare else json.dumps(value)  # a word as it is; other text quoted
    return repr(value) if isinstance(value, float) else str(value)


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _split(args: str) -> list[str]:
    """``a, "b, c", d`` → three parts: commas inside quotes belong to the text."""
    parts, current, quote = [], [], ""
    for ch in args:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            current.append(ch)
        elif ch == ",":
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return [] if parts == [""] else parts


def _value(key: str, raw: str) -> Any:
    """One value of a range: a quoted text, true/false, a whole number, a finite number, or a bare word."""
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        if not math.isfinite(number):
            raise BadConfig("sweeps.space_not_finite", key=key, value=shown(text))
        return number
    if _WORD.match(text):
        return text
    raise BadConfig("sweeps.space_bad_value", key=key, value=shown(text))


def parse_range(line: str) -> Range:
    """``KEY=RANGE`` → a Range; anything else is one sentence naming the key."""
    key, sep, rest = line.partition("=")
    key, rest = key.strip(), rest.strip()
    if not sep or not key:
        raise BadConfig("sweeps.space_no_equals", text=shown(line))
    if not _KEY.match(key):
        raise BadConfig("sweeps.space_bad_key", key=shown(key))
    match = _CALL.match(rest)
    if match is None or match.group(1).lower() not in FORMS:
        raise BadConfig("sweeps.space_unknown_form", key=key, text=shown(rest))
    form = FORMS[match.group(1).lower()]
    args = _split(match.group(2))
    if form == "choice":
        if any(not a for a in args) or len(args) < 2:
            raise BadConfig("sweeps.space_choice_few", key=key, text=shown(rest))
        values = tuple(_value(key, a) for a in args)
        seen: list[str] = []
        for v in values:
            if _written(v) in seen:
                raise BadConfig("sweeps.space_choice_twice", key=key, value=_written(v))
            seen.append(_written(v))
        return Range(key, form, values=values)
    if len(args) != 2 or not all(args):
        raise BadConfig("sweeps.space_two_ends", key=key, form=match.group(1).lower(), text=shown(rest))
    low, high = (_value(key, a) for a in args)
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high))
    if form == "int":
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)):
            raise BadConfig("sweeps.space_whole_ends", key=key, text=shown(rest))
    elif not numbers:
        raise BadConfig("sweeps.space_two_ends", key=key, form=match.group(1).lower(), text=shown(rest))
    else:
        low, high = float(low), float(high)
    if not low < high:
        raise BadConfig("sweeps.space_low_high", key=key, low=_written(low), high=_written(high))
    if form == "loguniform" and low <= 0:
        raise BadConfig("sweeps.space_log_positive", key=key, low=_written(low))
    return Range(key, form, low, high)


def parse_space(lines: Iterable[str]) -> dict[str, Range]:
    """Several ``KEY=RANGE`` lines → key → Range, each key once."""
    space: dict[str, Range] = {}
    for line in lines:
        found = parse_range(line)
        if found.key in space:
            raise BadConfig("sweeps.space_twice", key=found.key)
        space[found.key] = found
    return space


@dataclass(frozen=True)
class NamedSpace:
    """A search space kept in ``agents/presets/spaces/<algo>.yaml``: its ranges, why each is what it is, the envs
    it is made for, the preset its trials start from, and the steps of one trial."""

    name: str
    algo: str
    description: str
    envs: Any  # "atari" | "any" | a list of ids, as a preset's
    ranges: dict[str, Range]
    why: dict[str, str] = field(default_factory=dict)
    preset: str | None = None
    budget_steps: int | None = None

    @property
    def source(self) -> str:
        return f"agents/presets/spaces/{self.algo}.yaml: {self.name}"

    def lines(self) -> list[str]:
        return [r.text() for r in self.ranges.values()]


@lru_cache(maxsize=None)
def spaces_for(algo: str) -> dict[str, NamedSpace]:
    """The search spaces shipped for ``algo`` (none when it has no file)."""
    path = SPACE_DIR / f"{algo}.yaml"
    if not path.is_file():
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        out = {}
        for name, body in raw.items():
            ranges = parse_space(f"{key}={entry['range']}" for key, entry in (body.get("space") or {}).items())
            out[name] = NamedSpace(
                name=name, algo=algo, description=str(body.get("description", "")), envs=body.get("envs", "any"),
                ranges=ranges, why={key: " ".join(str(entry.get("why", "")).split())
                                    for key, entry in (body.get("space") or {}).items()},
                preset=body.get("preset"), budget_steps=int(body["budget_steps"]) if body.get("budget_steps") else None)
        return out
    except (OSError, KeyError, TypeError, AttributeError, ValueError, yaml.YAMLError, PlaygroundError) as exc:
        raise BadConfig("sweeps.space_file_broken", path=path, reason=str(exc).splitlines()[0]) from None


def default_space(algo: str, env_id: str, atari: bool = False) -> NamedSpace | None:
    """The space made for ``env_id`` (its list names it), then its family's (``atari``), then one for any env."""
    from agents.presets import fits_envs

    def rank(space: NamedSpace) -> int:
        return 0 if isinstance(space.envs, list) else 1 if space.envs == "atari" else 2

    found = [s for s in spaces_for(algo).values() if fits_envs(s.envs, env_id, atari)]
    return min(found, key=rank) if found else None


# -- the plan ------------------------------------------------------------------------------------------------------
class SweepConfig(BaseModel):
    """A sweep's plan, saved in its row: what every trial starts from and how Tune runs them."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["sweep"] = "sweep"
    algo: str
    env: str
    trials: int = Field(gt=0)
    """How many settings Optuna proposes (each a trial)."""
    seeds: int = Field(default=1, gt=0)
    """Runs per trial, seeds seed..seed+K-1, reported to Tune as their mean."""
    metric: Literal["eval", "score"] = "eval"
    """What to maximise: the last evaluation's mean, or the mean score of the last 100 training games."""
    budget_steps: int = Field(gt=0)
    """Environment steps of one trial (its runs' total): ASHA's ``max_t``."""
    space: list[str]
    """The searched settings, as ``KEY=RANGE`` lines."""
    space_from: str = ""
    """Where the space came from: ``--space``, or its file and name."""
    seed: int = Field(default=0, ge=0)
    """The sampler's seed and the first run seed of each trial."""
    cpus: float = Field(default=1.0, gt=0)
    """CPUs Ray reserves for one trial (and the torch threads it uses)."""
    gpus: float = Field(default=0.0, ge=0)
    """GPUs Ray reserves for one trial."""
    grace_steps: int = Field(gt=0)
    """ASHA's grace period: no trial is stopped before this many steps."""
    reduction_factor: float = Field(default=DEFAULT_REDUCTION, ge=2)
    """ASHA keeps 1 trial in this many at each rung."""
    on: str | None = None
    """Where Ray runs: None (a local Ray, or RAY_ADDRESS), ``ray``, ``ray://HOST:PORT`` or ``HOST:PORT``."""
    base: dict[str, Any]
    """The run config every trial starts from (``RLConfig``: preset, --set values, evaluation schedule)."""

    def ranges(self) -> dict[str, Range]:
        return parse_space(self.space)

    def base_config(self) -> RLConfig:
        return RLConfig.model_validate(self.base)


def _count(flag: str, value: int, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise BadConfig("sweeps.bad_count", flag=flag, maximum=maximum, value=value)


def plan(algo: str, env: str, *, trials: int = DEFAULT_TRIALS, seeds: int = 1, space: Sequence[str] = (),
         metric: str = "eval", budget_steps: int | None = None, preset: str | None = None, sets: Sequence[str] = (),
         seed: int = 0, cpus: float = 1.0, gpus: float = 0.0, eval_every: int | None = None,
         eval_episodes: int | None = None, n_envs: int | None = None, grace_steps: int | None = None,
         reduction_factor: float = DEFAULT_REDUCTION, on: str | None = None, device: str = "auto") -> SweepConfig:
    """Check every choice of a sweep, as ``rl train`` checks a run's, before anything is created: the algorithm,
    environment, preset and ``--set`` values, the space's syntax, and every end of every range against the
    algorithm's own settings (a trial that draws it must be able to start)."""
    import agents
    from playground import envs

    _count("--trials", trials, MAX_TRIALS)
    _count("--seeds", seeds, MAX_SEEDS)
    if metric not in METRICS:
        raise BadConfig("sweeps.bad_metric", metric=metric)
    if not (cpus > 0 and gpus >= 0 and math.isfinite(cpus) and math.isfinite(gpus)):
        raise BadConfig("sweeps.bad_resources", cpus=cpus, gpus=gpus)
    if not (reduction_factor >= 2 and math.isfinite(reduction_factor)):
        raise BadConfig("sweeps.bad_reduction", value=reduction_factor)
    algo = agents.get(algo).name
    spec = envs.resolve(env)
    named = default_space(algo, spec.env_id, spec.is_atari)
    if space:
        ranges, source = parse_space(space), "--space"
    elif named is not None:
        ranges, source = dict(named.ranges), named.source
    else:
        raise BadConfig("sweeps.space_empty", algo=algo, env=spec.env_id)
    fixed = parse_sets(sets)
    for key in ranges:
        if key in fixed:
            raise BadConfig("sweeps.space_set_too", key=key)
    if not space and named is not None:
        preset = preset or named.preset
        budget_steps = budget_steps or named.budget_steps
    base = build_rl_config(algo, spec.env_id, steps=budget_steps, seed=seed, n_envs=n_envs, device=device,
                           preset=preset, sets=sets, eval_every=eval_every, eval_episodes=eval_episodes)
    for key, found in ranges.items():
        for end in found.ends():
            try:
                validate_hyperparameters(algo, {**base.hyperparameters, key: end})
            except BadConfig as exc:
                raise BadConfig("sweeps.space_end_refused", key=key, value=_written(end), reason=exc.words) from None
    grace = grace_steps or base.eval_every
    if grace >= base.steps:
        raise BadConfig("sweeps.grace_too_long", grace=grace, budget=base.steps)
    return SweepConfig(algo=algo, env=spec.env_id, trials=trials, seeds=seeds, metric=metric,  # type: ignore[arg-type]
                       budget_steps=base.steps, space=[r.text() for r in ranges.values()], space_from=source,
                       seed=seed, cpus=cpus, gpus=gpus, grace_steps=grace, reduction_factor=reduction_factor, on=on,
                       base=base.model_dump())


# -- sweeps in the store -------------------------------------------------------------------------------------------
def sweeps_dir() -> Path:
    return settings.home() / "sweeps"


def folder_for(sweep_id: str) -> Path:
    return sweeps_dir() / sweep_id


def create(config: SweepConfig, player: str | None = None, store: Store | None = None) -> dict[str, Any]:
    """The sweep's row (numbered per algorithm and game) and its folder; nothing runs yet."""
    from playground import envs

    store = store or get_store()
    row = store.create_sweep(algo=config.algo, env=config.env, game=envs.resolve(config.env).game,
                             config=config.model_dump(), folder_for=folder_for, player=player)
    Path(row["folder"]).mkdir(parents=True, exist_ok=True)
    return row


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat[stat.rfind(")") + 2:].split()
    return bool(fields) and fields[0] != "Z"


def driver_alive(row: dict[str, Any]) -> bool:
    """Whether the process driving a running sweep is still there (on this machine: its pid; elsewhere: a recent
    heartbeat)."""
    if row["host"] == socket.gethostname() and row["pid"] is not None:
        return _pid_alive(int(row["pid"]))
    return row["heartbeat_at"] is not None and time.time() - row["heartbeat_at"] < STALE_AFTER_S


def refresh(row: dict[str, Any], store: Store | None = None) -> dict[str, Any]:
    """A sweep whose driver died without a word is marked failed, so nothing shows it running forever."""
    if row["status"] != "running" or driver_alive(row):
        return row
    store = store or get_store()
    store.update_sweep(row["id"], status="failed", ended_at=time.time(), pid=None,
                       error=translate("sweeps.driver_died", None, sweep=row["id"]))
    return store.sweep(row["id"]) or row


def get(sweep_id: str, store: Store | None = None) -> dict[str, Any]:
    """A sweep's row, its status refreshed; one sentence when there is none."""
    store = store or get_store()
    row = store.sweep(sweep_id)
    if row is None:
        raise RunNotFound("sweeps.not_found", sweep=shown(sweep_id))
    return refresh(row, store)


def request_stop(sweep_id: str, store: Store | None = None) -> dict[str, Any]:
    """Ask the sweep's driver to stop: it interrupts Tune, and each running trial stops its runs with a checkpoint.
    Through the store, so a sweep driven on another machine of a shared store stops too."""
    store = store or get_store()
    row = get(sweep_id, store)
    if row["status"] != "running":
        raise RunStateError("sweeps.not_running", sweep=row["id"], status=row["status"])
    store.update_sweep(row["id"], stop_requested=True)
    return get(row["id"], store)


# -- what Tune saw, kept in the store as events ------------------------------------------------------------------
@dataclass(frozen=True)
class TrialStarted(events.Event):
    """A run began (or resumed) as part of a sweep's trial, in a Ray worker on ``node``."""

    KIND = "sweep_trial"
    sweep: str = ""
    trial_id: str = ""  # Tune's
    trial: int = 0  # 1, 2, … in the order Tune made them
    settings: dict[str, Any] = field(default_factory=dict)  # what Optuna drew
    seed: int = 0
    node_id: str = ""
    node_ip: str = ""
    node_resources: list[str] = field(default_factory=list)  # the node's own resources (node_a…), not CPU/GPU/memory
    host: str = ""
    pid: int = 0
    resumed: bool = False


@dataclass(frozen=True)
class TrialReported(events.Event):
    """A result a trial reported to Tune: the mean over its runs at ``steps``."""

    KIND = "sweep_report"
    sweep: str = ""
    trial_id: str = ""
    trial: int = 0
    steps: int = 0
    value: float | None = None  # the sweep's metric
    eval: float | None = None
    score: float | None = None
    runs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TrialEnded(events.Event):
    """Tune ended a trial: finished its budget, stopped early by ASHA, or failed."""

    KIND = "sweep_trial_ended"
    sweep: str = ""
    trial_id: str = ""
    trial: int = 0
    steps: int = 0
    how: str = "finished"  # finished | early | failed
    error: str | None = None


@dataclass(frozen=True)
class Importances(events.Event):
    """Optuna's hyperparameter importances of a sweep's trials (fANOVA), computed when the driver ends."""

    KIND = "sweep_importances"
    sweep: str = ""
    trials: int = 0
    importances: dict[str, float] = field(default_factory=dict)


def _of_sweep(store: Store, kind: str, sweep_id: str) -> list[dict[str, Any]]:
    """The payloads of a sweep's events of ``kind``, oldest first, each with the run it is about (``run_id``)."""
    return [{**e["payload"], "run_id": e["run_id"]} for e in store.events(kind=kind)
            if e["payload"].get("sweep") == sweep_id]


def trial_number(tag: str, trial_id: str = "") -> int:
    """Tune numbers trials 1, 2, … in the order it makes them, at the start of a trial's tag (``3_lr=0.001``) and
    after its id in its folder's name (``SweepTrial_3f2a1_3_lr=0.001_…``); 0 when neither says."""
    match = re.match(r"^(\d+)_", tag) or (re.search(rf"_{re.escape(trial_id)}_(\d+)_", tag) if trial_id else None)
    return int(match.group(1)) if match else 0


@dataclass
class TrialView:
    """One trial as the CLI and the page show it, read from the store."""

    trial: int
    trial_id: str
    runs: list[str]
    settings: dict[str, Any]
    node: str
    node_id: str
    status: str  # pending | running | finished | early | stopped | failed
    steps: int
    value: float | None  # the last reported value of the metric
    best: float | None  # the best reported value
    error: str | None = None
    run_statuses: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def node_name(payload: dict[str, Any]) -> str:
    """A node as a person tells them apart: its own resources (``node_b``) or its address and the start of its id."""
    if payload.get("node_resources"):
        return ",".join(payload["node_resources"])
    node_id = str(payload.get("node_id") or "")
    return f"{payload.get('node_ip') or '?'}/{node_id[:8]}" if node_id else (payload.get("host") or "?")


def trials(sweep_id: str, store: Store | None = None) -> list[TrialView]:
    """Every trial of a sweep that has begun, by number: its runs, node, settings, status, steps and values."""
    store = store or get_store()
    by_id = {r.id: runs.refresh(r, store) for r in store.find_runs(sweep_id=sweep_id)}
    started: dict[str, list[dict[str, Any]]] = {}
    for payload in _of_sweep(store, TrialStarted.KIND, sweep_id):
        started.setdefault(payload["trial_id"], []).append(payload)
    reports: dict[str, list[dict[str, Any]]] = {}
    for payload in _of_sweep(store, TrialReported.KIND, sweep_id):
        reports.setdefault(payload["trial_id"], []).append(payload)
    ended = {payload["trial_id"]: payload for payload in _of_sweep(store, TrialEnded.KIND, sweep_id)}
    out = []
    for trial_id, payloads in started.items():
        run_ids = list(dict.fromkeys(p["run_id"] for p in payloads if p.get("run_id")))
        latest = payloads[-1]
        found = [by_id[r] for r in run_ids if r in by_id]
        statuses = [r.status for r in found]
        values = [p["value"] for p in reports.get(trial_id, []) if p.get("value") is not None]
        end = ended.get(trial_id)
        if "failed" in statuses or (end is not None and end["how"] == "failed"):
            status = "failed"
        elif statuses and all(s == "finished" for s in statuses):
            status = "finished"  # its runs reached the budget, even if ASHA judged it at an earlier result
        elif end is not None and end["how"] == "early":
            status = "early"
        elif "running" in statuses or "created" in statuses:
            status = "running"
        else:
            status = "stopped"
        error = next((r.error for r in found if r.error), None) or (end or {}).get("error")
        out.append(TrialView(
            trial=int(latest.get("trial") or 0), trial_id=trial_id, runs=run_ids,
            settings=dict(latest.get("settings") or {}), node=node_name(latest), node_id=str(latest.get("node_id", "")),
            status=status, steps=min((r.step for r in found), default=0), value=values[-1] if values else None,
            best=max(values) if values else None, error=error, run_statuses=statuses))
    return sorted(out, key=lambda v: v.trial)


def best_trials(sweep_id: str, store: Store | None = None) -> list[TrialView]:
    """The trials with a result, best first: the highest last reported value (what the trial ended with, so a
    lucky early evaluation that later fell does not win), then the fewest steps."""
    found = [v for v in trials(sweep_id, store) if v.value is not None]
    return sorted(found, key=lambda v: (-float(v.value), v.steps))  # type: ignore[arg-type]


def record(row: dict[str, Any], store: Store | None = None, *, detail: bool = False) -> dict[str, Any]:
    """A sweep as plain data for ``--json`` and the page (docs/cli-json.md); ``detail`` adds its trials."""
    store = store or get_store()
    config = row["config"]
    views = trials(row["id"], store)
    out = {
        "id": row["id"], "algo": row["algo"], "env": row["env"], "status": row["status"],
        "trials": config.get("trials"), "trials_started": len(views),
        "trials_done": sum(v.status in ("finished", "early", "failed") for v in views),
        "seeds": config.get("seeds"), "metric": config.get("metric"), "budget_steps": config.get("budget_steps"),
        "space": config.get("space"), "best_run": row["best_run"], "best_value": row["best_value"],
        "error": row["error"], "folder": row["folder"], "player": row["player"], "host": row["host"],
        "pid": row["pid"], "stop_requested": row["stop_requested"],
        "created_at": runs._iso(row["created_at"]), "started_at": runs._iso(row["started_at"]),
        "ended_at": runs._iso(row["ended_at"]),
    }
    if detail:
        out["config"] = config
        out["trial_list"] = [v.as_dict() for v in views]
        out["importances"] = stored_importances(row["id"], store)
    return out


def stored_importances(sweep_id: str, store: Store | None = None) -> dict[str, float] | None:
    found = _of_sweep(store or get_store(), Importances.KIND, sweep_id)
    return dict(found[-1]["importances"]) if found else None


def importances(sweep_id: str, store: Store | None = None) -> dict[str, float]:
    """Optuna's importance of each searched setting (fANOVA, seeded) over the trials with a result, computed from
    the store's record of the sweep; empty with fewer than two such trials."""
    store = store or get_store()
    row = get(sweep_id, store)
    ranges = SweepConfig.model_validate(row["config"]).ranges()
    done = [v for v in trials(sweep_id, store) if v.value is not None and set(v.settings) == set(ranges)]
    if len(done) < 2:
        return {}
    optuna = _optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    distributions = {key: r.distribution() for key, r in ranges.items()}
    study.add_trials([optuna.trial.create_trial(params=v.settings, distributions=distributions, value=float(v.value))
                      for v in done])  # type: ignore[arg-type]
    try:
        found = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    except (ValueError, RuntimeError, ZeroDivisionError) as exc:  # every trial alike: nothing to tell apart
        log.info("no importances for %s: %s", sweep_id, exc)
        return {}
    return {key: float(value) for key, value in found.items() if math.isfinite(value)}


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise MissingDependency("sweeps.no_ray", module="optuna") from None
    return optuna


# -- exporting the best settings as a preset of one's own ----------------------------------------------------------
_PRESET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def export_preset(sweep_id: str, name: str, *, force: bool = False, store: Store | None = None) -> dict[str, Any]:
    """Write the best trial's settings as ``name`` in the person's own presets of the algorithm
    (``$PLAYGROUND_HOME/presets/<algo>.yaml``), with a comment naming the sweep; ``--preset NAME`` then finds it."""
    from agents import presets

    store = store or get_store()
    row = get(sweep_id, store)
    config = SweepConfig.model_validate(row["config"])
    if not _PRESET_NAME.match(name or ""):
        raise BadConfig("sweeps.bad_preset_name", name=shown(name))
    if name in presets._shipped(config.algo):
        raise BadConfig("sweeps.preset_shipped", algo=config.algo, name=name)
    path = presets.user_presets_file(config.algo)
    own = presets.user_presets(config.algo)
    if name in own and not force:
        raise BadConfig("sweeps.preset_exists", algo=config.algo, name=name, path=path)
    ranked = best_trials(row["id"], store)
    if not ranked:
        raise RunStateError("sweeps.no_results_yet", sweep=row["id"])
    best = ranked[0]
    run = store.get_run(best.runs[0])
    base = config.base_config()
    made = presets.pick(config.algo, _spec(config.env), base.preset)  # the full-length training the sweep shortened
    when = time.strftime("%Y-%m-%d")
    words = {"sweep": row["id"], "trial": best.trial, "metric": config.metric, "value": float(best.value),
             "steps": f"{best.steps:,}"}
    body = {
        "description": translate("sweeps.export_description", "en", **words),
        "description_zh": translate("sweeps.export_description", "zh", **words),
        "source": f"playground sweep {row['id']} ({when}): trial {best.trial}, run {', '.join(best.runs)}, "
                  f"{config.metric} {float(best.value):.2f} at {best.steps:,} steps, searching "
                  f"{'; '.join(config.space)} over preset '{base.preset}'",
        "envs": [config.env],
        "steps": int(made.steps),
        "n_envs": int(run.config.get("n_envs", base.n_envs)),
        "eval_episodes": int(base.eval_episodes),
        "hyperparameters": dict(run.config.get("hyperparameters") or {}),
    }
    entries = {key: _preset_body(p) for key, p in own.items() if key != name}
    entries[name] = body
    atomic_write_text(path, _presets_yaml(config.algo, entries))
    return {"preset": name, "path": str(path), "algo": config.algo, "env": config.env, "sweep": row["id"],
            "trial": best.trial, "runs": best.runs, "metric": config.metric, "value": best.value,
            "hyperparameters": body["hyperparameters"]}


def _spec(env: str) -> Any:
    from playground import envs

    return envs.resolve(env)


def _preset_body(preset: Any) -> dict[str, Any]:
    body = {"description": preset.description, "description_zh": preset.description_zh, "source": preset.source,
            "envs": preset.envs, "steps": preset.steps, "n_envs": preset.n_envs}
    if preset.eval_episodes:
        body["eval_episodes"] = preset.eval_episodes
    body["hyperparameters"] = dict(preset.hyperparameters)
    return body


def _presets_yaml(algo: str, entries: dict[str, dict[str, Any]]) -> str:
    """The person's presets file: a header, then each preset after a comment saying where it came from."""
    parts = [f"# Your own {algo} presets: `playground rl train {algo} ENV --preset NAME` finds them after the shipped\n"
             f"# ones. `playground sweep export SWEEP --preset NAME` writes them; you may edit them by hand.\n"]
    for name, body in entries.items():
        parts.append(f"\n# {' '.join(str(body.get('source', '')).split())}\n")
        parts.append(yaml.safe_dump({name: body}, sort_keys=False, allow_unicode=True, width=100))
    return "".join(parts)


# -- starting the driver ------------------------------------------------------------------------------------------
def start_driver(row: dict[str, Any], *, resume: bool = False) -> int:
    """``playground sweep _drive SWEEP`` as a background process of its own session (it outlives the terminal or page
    that started it); its output goes to the sweep folder's ``driver.log``. Its pid."""
    from playground import jobs

    argv = [sys.executable, "-m", "playground", "sweep", "_drive", row["id"]] + (["--resume"] if resume else [])
    folder = Path(row["folder"])
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / DRIVER_LOG).open("ab") as log_file:
        proc = subprocess.Popen(  # noqa: S603 - an argument list, never a shell string
            argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
            env=jobs.child_env())
    threading.Thread(target=proc.wait, name=f"reap-sweep-{proc.pid}", daemon=True).start()
    get_store().update_sweep(row["id"], pid=proc.pid, host=socket.gethostname())
    return proc.pid


def prepare_resume(sweep_id: str, store: Store | None = None) -> dict[str, Any]:
    """Check that a stopped or failed sweep can go on from its Tune experiment; changes nothing."""
    store = store or get_store()
    row = get(sweep_id, store)
    if row["status"] == "running":
        raise RunStateError("sweeps.still_running", sweep=row["id"])
    if row["status"] == "finished":
        raise RunStateError("sweeps.already_finished", sweep=row["id"])
    if not (Path(row["folder"]) / TUNE_DIR).is_dir():
        raise RunStateError("sweeps.nothing_to_resume", sweep=row["id"], folder=row["folder"])
    return row


# -- the driver ----------------------------------------------------------------------------------------------------
def _connect(on: str | None) -> str:
    """Ray for this sweep, the way every door reaches it (``playground.cluster``): a Ray on this machine on demand,
    ``RAY_ADDRESS``, or the address given."""
    from playground import cluster

    return str(cluster.connect(on))


def _import_tune() -> Any:
    try:
        from ray import tune
    except ImportError:
        raise MissingDependency("sweeps.no_ray", module="ray[tune]") from None
    _optuna()
    return tune


class _Watcher:
    """The driver's heartbeat, and its ear for ``sweep stop``. Once the store says stop, it first asks every run of
    the sweep still training to stop through the store (each keeps a last checkpoint and ends ``stopped``) and waits
    for them, up to ``STOP_WAIT_S``; then it interrupts Tune the way Tune documents for a manual stop (SIGUSR1 to the
    process running ``fit``, handled by Tune in its main thread), so Tune saves the experiment and returns.
    The runs go first because Tune gives its trials only a few seconds to end before it kills them."""

    STOP_WAIT_S = 90.0

    def __init__(self, sweep_id: str, store: Store) -> None:
        self.sweep_id = sweep_id
        self.store = store
        self._stopping_since: float | None = None  # when the store first said stop
        self._interrupted = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"sweep-{sweep_id}", daemon=True)

    @property
    def stop_asked(self) -> bool:
        return self._stopping_since is not None

    def __enter__(self) -> _Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._done.wait(HEARTBEAT_S):
            try:
                self.store.update_sweep(self.sweep_id, heartbeat_at=time.time())
                row = self.store.sweep(self.sweep_id)
            except Exception:  # noqa: BLE001 - a busy store this second: the next beat tries again
                log.exception("could not beat the sweep's heartbeat")
                continue
            if row is not None and row["stop_requested"] and self._stopping_since is None:
                self._stopping_since = time.monotonic()
                log.info("stop asked for sweep %s: stopping its runs", self.sweep_id)
            if self._stopping_since is not None and not self._interrupted:
                try:
                    training = self._stop_runs()
                except Exception:  # noqa: BLE001 - a busy store this second: the next beat tries again
                    log.exception("could not ask the sweep's runs to stop")
                    continue
                if not training or time.monotonic() - self._stopping_since > self.STOP_WAIT_S:
                    self._interrupted = True
                    log.info("sweep %s: %d run(s) still training; interrupting Tune", self.sweep_id, training)
                    if callable(signal.getsignal(signal.SIGUSR1)):  # Tune's handler, installed while fit runs
                        os.kill(os.getpid(), signal.SIGUSR1)

    def _stop_runs(self) -> int:
        """Ask each run of the sweep still training to stop (once); how many are still training."""
        training = 0
        for run in self.store.find_runs(sweep_id=self.sweep_id):
            if run.status not in ("running", "created"):
                continue
            training += 1
            if not run.stop_requested:
                runs.ask_to_stop(run.id, self.store)
        return training


# What the driving process does with each result as it comes (the CLI prints a line): kept here, not in the callback,
# which Tune saves with the experiment and restores without it.
_REPORTERS: dict[str, Callable[[dict[str, Any]], None] | None] = {}


def _callback_class() -> type:
    """A Tune callback (driver side) that keeps what Tune sees in the store as it happens."""
    from ray import tune

    class StoreCallback(tune.Callback):
        def __init__(self, sweep_id: str, config: SweepConfig, store: Store) -> None:
            self.sweep_id = sweep_id
            self.config = config
            self.store = store
            self.last: dict[str, tuple[float, str]] = {}  # trial id -> its last value and first run

        def __getstate__(self) -> dict[str, Any]:  # Tune saves its callbacks with the experiment: not the store
            return {**self.__dict__, "store": None}

        def __setstate__(self, state: dict[str, Any]) -> None:
            self.__dict__.update(state)
            self.store = self.store or get_store()

        def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
            started = [p for p in _of_sweep(self.store, TrialStarted.KIND, self.sweep_id)
                       if p.get("trial_id") == trial.trial_id]
            report = TrialReported(sweep=self.sweep_id, trial_id=trial.trial_id,
                                   trial=trial_number(trial.experiment_tag), steps=int(result.get("steps", 0)),
                                   value=_finite(result.get(self.config.metric)), eval=_finite(result.get("eval")),
                                   score=_finite(result.get("score")),
                                   runs=list(dict.fromkeys(p["run_id"] for p in started if p.get("run_id"))))
            events.record(self.store, report)
            fields: dict[str, Any] = {"heartbeat_at": time.time()}
            if report.value is not None and report.runs:  # the best trial by its last result, as `sweep show` ranks
                self.last[trial.trial_id] = (report.value, report.runs[0])
                best_value, best_run = max(self.last.values())
                fields.update(best_value=best_value, best_run=best_run)
            self.store.update_sweep(self.sweep_id, **fields)
            on_report = _REPORTERS.get(self.sweep_id)
            if on_report is not None:
                on_report({**report.payload(), "node": node_name(started[-1]) if started else "?"})

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            last = trial.last_result or {}
            steps = int(last.get("steps", 0))
            # ASHA's stop (Tune marks even that result done): short of the budget, its runs not finished
            how = "finished" if last.get("finished") or steps >= self.config.budget_steps else "early"
            events.record(self.store, TrialEnded(sweep=self.sweep_id, trial_id=trial.trial_id,
                                                 trial=trial_number(trial.experiment_tag), steps=steps, how=how))

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            sentence = _lost_trial(self.sweep_id, trial.trial_id, self.store)
            error = sentence or _tune_error(trial)
            steps = int((trial.last_result or {}).get("steps", 0))
            events.record(self.store, TrialEnded(sweep=self.sweep_id, trial_id=trial.trial_id,
                                                 trial=trial_number(trial.experiment_tag), steps=steps, how="failed",
                                                 error=error))
            log.warning("trial %s failed: %s", trial.trial_id, error)

    return StoreCallback


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _tune_error(trial: Any) -> str:
    """The last line of Tune's error for a trial (its file in the trial's folder)."""
    try:
        path = getattr(trial, "error_file", None) or getattr(trial.run_metadata, "error_filename", None)
        text = Path(path).read_text(encoding="utf-8", errors="replace") if path else ""
    except (OSError, AttributeError, TypeError):
        text = ""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:500] if lines else "the trial failed (Ray Tune gave no reason)"


def _lost_trial(sweep_id: str, trial_id: str, store: Store) -> str | None:
    """A failed trial whose runs were still running died with its worker (a node lost, a process killed): each
    such run ends failed with one sentence saying where and when; the sentence, or None when none was running."""
    import ray

    payloads = [p for p in _of_sweep(store, TrialStarted.KIND, sweep_id) if p.get("trial_id") == trial_id]
    if not payloads:
        return None
    latest = payloads[-1]
    try:
        alive = {n["NodeID"] for n in ray.nodes() if n.get("Alive")}
    except Exception:  # noqa: BLE001 - Ray itself is going away: say "worker" rather than guess
        alive = {latest.get("node_id")}
    sentence = None
    for run_id in dict.fromkeys(p["run_id"] for p in payloads):
        try:
            run = store.get_run(run_id)
        except RunNotFound:
            continue
        if run.status not in ("running", "created") and not (run.status == "failed" and runs.died_silently(run.error)):
            continue
        # A node that went down is told apart only once Ray has declared it dead (its health checks take seconds):
        # before that, the sentence names both ways a worker is lost.
        key = "sweeps.worker_lost" if latest.get("node_id") in alive else "sweeps.node_lost"
        step = max([run.step] + [e.step for e in store.evaluations(run.id, played=True)])
        sentence = translate(key, None, node=node_name(latest), step=f"{step:,}")
        if store.update_run_if(run.id, {"status": run.status}, status="failed", error=sentence, ended_at=time.time(),
                               pid=None, eta_s=None):
            events.record(store, events.RunEnded("failed", step=run.step, error=sentence), run.id)
    return sentence


def _spec_for_trials(sweep_id: str, config: SweepConfig, player: str | None) -> dict[str, Any]:
    """What every trial's worker needs to write to the same store as the driver (its process may be on another
    machine of a shared store, or started by a `ray start` that knew nothing of this home)."""
    return {"sweep": sweep_id, "config": config.model_dump(), "player": player, "lang": language(),
            "home": str(settings.home()), "db": os.environ.get("PLAYGROUND_DB") or None}


def _concurrency(config: SweepConfig) -> int:
    """Trials at once: as many as the cluster's CPUs hold (Ray queues the rest)."""
    import ray

    cpus = float(ray.cluster_resources().get("CPU", 1.0))
    return max(1, int(cpus // config.cpus))


def drive(sweep_id: str, *, resume: bool = False, on_report: Callable[[dict[str, Any]], None] | None = None,
          store: Store | None = None) -> dict[str, Any]:
    """Run the sweep's Tune experiment in this process until every trial has ended, or ``sweep stop`` (or Ctrl-C)
    interrupts it; ``resume`` restores the experiment from the sweep's folder first. Returns the sweep's record.

    ``fit`` must run in the main thread: that is where Tune handles the signal that stops it cleanly."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("a sweep is driven from the main thread, where Tune handles the signal that stops it")
    store = store or get_store()
    row = prepare_resume(sweep_id, store) if resume else get(sweep_id, store)
    if not resume and row["status"] == "running":
        raise RunStateError("sweeps.still_running", sweep=row["id"])
    if not resume and row["status"] != "created":
        raise RunStateError("sweeps.already_began", sweep=row["id"], status=row["status"])
    config = SweepConfig.model_validate(row["config"])
    tune = _import_tune()
    # The store is the sweep's record: of Tune's own logs each trial keeps its results (JSON), not CSV or TensorBoard.
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    now = time.time()
    store.update_sweep(row["id"], status="running", started_at=row["started_at"] or now, ended_at=None, error=None,
                       stop_requested=False, heartbeat_at=now, pid=os.getpid(), host=socket.gethostname())
    import ray

    connected = False
    try:
        where = _connect(config.on)
        connected = True
        log.info("sweep %s on Ray at %s: %d trial(s) at once", row["id"], where, _concurrency(config))
        tuner = _tuner(tune, row, config, resume=resume, on_report=on_report, store=store)
        # Tune prints its own tables: to stderr, so stdout keeps what the CLI prints (the id, and --json's record).
        with _Watcher(row["id"], store) as watcher, contextlib.redirect_stdout(sys.stderr):
            tuner.fit()
        status = "stopped" if watcher.stop_asked or _trials_ended(row["id"], store) < config.trials else "finished"
        found = importances(row["id"], store) if status == "finished" else {}
        if found:
            events.record(store, Importances(sweep=row["id"], trials=config.trials, importances=found))
        store.update_sweep(row["id"], status=status, ended_at=time.time(), pid=None)
    except BaseException as exc:
        message = str(exc) if isinstance(exc, PlaygroundError) else f"{type(exc).__name__}: {exc}"
        store.update_sweep(row["id"], status="stopped" if isinstance(exc, KeyboardInterrupt) else "failed",
                           ended_at=time.time(), pid=None,
                           error=None if isinstance(exc, KeyboardInterrupt) else message[:2000])
        raise
    finally:
        if connected:
            ray.shutdown()
    return record(get(row["id"], store), store)


def _trials_ended(sweep_id: str, store: Store) -> int:
    return len({payload["trial_id"] for payload in _of_sweep(store, TrialEnded.KIND, sweep_id)})


def _tuner(tune: Any, row: dict[str, Any], config: SweepConfig, *, resume: bool,
           on_report: Callable[[dict[str, Any]], None] | None, store: Store) -> Any:
    """Tune's ``Tuner`` for the sweep: Optuna's seeded TPE over the space, ASHA on steps, the trials' resources, and
    the callback that keeps the store up to date; restored from the sweep's folder when resuming."""
    from ray.tune.logger import JsonLoggerCallback
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    optuna = _optuna()
    trainable = tune.with_resources(
        tune.with_parameters(_trial_class(), spec=_spec_for_trials(row["id"], config, row["player"])),
        {"cpu": config.cpus, "gpu": config.gpus})
    folder = Path(row["folder"])
    _REPORTERS[row["id"]] = on_report
    callback = _callback_class()(row["id"], config, store)
    if resume:
        return tune.Tuner.restore(str(folder / TUNE_DIR), trainable=trainable, resume_unfinished=True,
                                  resume_errored=False)
    searcher = OptunaSearch(space={key: r.distribution() for key, r in config.ranges().items()},
                            metric=config.metric, mode="max",
                            sampler=optuna.samplers.TPESampler(seed=config.seed))
    scheduler = ASHAScheduler(time_attr="steps", max_t=config.budget_steps, grace_period=config.grace_steps,
                              reduction_factor=config.reduction_factor)
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(metric=config.metric, mode="max", search_alg=searcher, scheduler=scheduler,
                                    num_samples=config.trials, max_concurrent_trials=_concurrency(config)),
        run_config=tune.RunConfig(name=TUNE_DIR, storage_path=str(folder), callbacks=[callback, JsonLoggerCallback()],
                                  verbose=0,
                                  failure_config=tune.FailureConfig(max_failures=0)),
    )


# -- a trial, in its Ray worker ------------------------------------------------------------------------------------
def _this_node() -> dict[str, Any]:
    """Which Ray node this worker is on: its id, address and own resources (what the sweep's tests assert)."""
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    ip, own = "", []
    try:
        for node in ray.nodes():
            if node.get("NodeID") == node_id:
                ip = str(node.get("NodeManagerAddress", ""))
                own = sorted(k for k in node.get("Resources", {}) if not _builtin_resource(k))
    except Exception:  # noqa: BLE001 - the names are a convenience; the id says it all
        pass
    return {"node_id": node_id, "node_ip": ip, "node_resources": own, "host": socket.gethostname(), "pid": os.getpid()}


def _builtin_resource(name: str) -> bool:
    return name in ("CPU", "GPU", "memory", "object_store_memory") or name.startswith(("node:", "accelerator_type:"))


class _Halt(KeyboardInterrupt):
    """Tune ended a trial whose run is still training: the run is interrupted as a second Ctrl-C interrupts one
    (``playground.session``: it keeps a last checkpoint and ends stopped), at the evaluation Tune judged it on."""


class _Collected:
    """What one run of a trial has evaluated so far, as its progress reports said, and how it ended."""

    def __init__(self) -> None:
        self.points: list[tuple[int, float, float | None]] = []  # (step, eval mean, training score)
        self.seen: set[int] = set()
        self.done = False
        self.status: str | None = None
        self.error: str | None = None


def _trial_class() -> type:
    """Tune's class API: ``setup`` creates (or finds) the trial's runs and starts training them in threads, ``step``
    waits for their next evaluation and returns it as a result, and ``cleanup`` (Tune stopping the trial) asks the
    runs to stop through the store and waits for their checkpoints."""
    from ray import tune

    class SweepTrial(tune.Trainable):
        def setup(self, config: dict[str, Any], spec: dict[str, Any] | None = None) -> None:
            assert spec is not None
            os.environ["PLAYGROUND_HOME"] = spec["home"]
            if spec["db"]:
                os.environ["PLAYGROUND_DB"] = spec["db"]
            else:
                os.environ.pop("PLAYGROUND_DB", None)
            os.environ["PLAYGROUND_LANG"] = spec["lang"]
            self.plan = SweepConfig.model_validate(spec["config"])
            os.environ["PLAYGROUND_THREADS"] = str(max(1, math.ceil(self.plan.cpus)))
            if not self.plan.gpus:  # Ray leaves every card visible to an actor that asked for none: take none
                os.environ["CUDA_VISIBLE_DEVICES"] = ""
            self.sweep_id = spec["sweep"]
            self.store = get_store()
            self.settings = {key: config[key] for key in self.plan.ranges()}
            self.number = trial_number(Path(self.logdir).name, self.trial_id)
            self.node = _this_node()
            os.environ[runs.RAY_NODE_ENV] = self.node["node_ip"]  # the runs' host names their Ray node
            self.cond = threading.Condition()
            self.asked = 0  # step() calls so far: Tune asking for result number `asked`
            self.halt = False  # Tune ended the trial
            self.reported = 0
            self.last: dict[str, Any] = {}
            self.run_ids, self.collected, self.threads = [], {}, []
            if self._sweep_stopping():  # Tune began it as the sweep was stopping: no run; a resume starts it
                return
            known = [p for p in _of_sweep(self.store, TrialStarted.KIND, self.sweep_id)
                     if p.get("trial_id") == self.trial_id]
            if known:  # a restored trial: its runs exist; go on from their checkpoints
                self.run_ids = list(dict.fromkeys(p["run_id"] for p in known))
                plans = [(run_id, self.store.get_run(run_id).seed or 0, True) for run_id in self.run_ids]
            else:
                self.run_ids = [self._create(i) for i in range(self.plan.seeds)]
                plans = [(run_id, self.plan.seed + i, False) for i, run_id in enumerate(self.run_ids)]
            self.collected = {run_id: _Collected() for run_id in self.run_ids}
            for run_id, seed, again in plans:
                events.record(self.store, TrialStarted(sweep=self.sweep_id, trial_id=self.trial_id, trial=self.number,
                                                       settings=self.settings, seed=seed, resumed=again,
                                                       **self.node), run_id)
                thread = threading.Thread(target=self._train, args=(run_id, again), name=f"train-{run_id}",
                                          daemon=True)
                self.threads.append(thread)
                thread.start()

        def _create(self, index: int) -> str:
            from playground import envs

            base = self.plan.base_config()
            hyper = validate_hyperparameters(self.plan.algo, {**base.hyperparameters, **self.settings})
            config = base.model_copy(update={"seed": self.plan.seed + index, "hyperparameters": hyper})
            group = f"{self.sweep_id}-t{self.number}" if self.plan.seeds > 1 else None
            label = f"{self.sweep_id} t{self.number}" + (f" s{config.seed}" if self.plan.seeds > 1 else "")
            run = runs.create(kind="rl", algo=config.algo, env=config.env, game=envs.resolve(config.env).game,
                              config=config.model_dump(), label=label, seed=config.seed, total_steps=config.steps,
                              store=self.store, player=self._spec_player(), group_id=group, sweep_id=self.sweep_id)
            return run.id

        def _spec_player(self) -> str | None:
            row = self.store.sweep(self.sweep_id) or {}
            return row.get("player")

        def _train(self, run_id: str, again: bool) -> None:
            from playground import training

            seen = self.collected[run_id]

            def progress(report: Any) -> None:
                """Each new evaluation becomes a result; training waits at it until Tune asks for the next one
                (it goes on) or ends the trial (the run is interrupted right there, as at a rung of ASHA's)."""
                evaluation = report.last_eval
                with self.cond:
                    new = evaluation is not None and evaluation.id not in seen.seen
                    if new:  # every evaluation since the last report (reports come at most twice a second)
                        for found in self.store.evaluations(run_id, played=True):
                            if found.id not in seen.seen:
                                seen.seen.add(found.id)
                                seen.points.append((int(found.step), float(found.mean), report.mean_score))
                        self.cond.notify_all()
                    if report.status != "running":  # the session's own ending: nothing left to wait for
                        return
                    if new:
                        needed = len(seen.points) + 1  # the step() after the one that returns this result
                        while not self.halt and self.asked < needed:
                            self.cond.wait(timeout=1.0)
                    if self.halt:
                        raise _Halt

            try:
                resume = False
                if again:  # results from where the run was: its last evaluation again, then the new ones
                    run = self.store.get_run(run_id)
                    old = self.store.evaluations(run_id, played=True)
                    with self.cond:
                        seen.seen.update(e.id for e in old[:-1])
                        if run.status == "finished":
                            seen.points += [(e.step, e.mean, None) for e in old[-1:]]
                            seen.status = "finished"
                            return
                    try:
                        training.prepare_resume(run_id, store=self.store)
                        resume = True
                    except PlaygroundError as exc:  # no checkpoint yet: train it from the start
                        log.info("run %s starts again from scratch: %s", run_id, exc)
                run = training.execute(run_id, resume=resume, progress=progress, store=self.store)
                seen.status, seen.error = run.status, run.error
            except BaseException as exc:  # noqa: BLE001 - the run is marked failed by its session; Tune hears it
                seen.status = "failed"
                seen.error = str(exc) if isinstance(exc, PlaygroundError) else f"{type(exc).__name__}: {exc}"
            finally:
                with self.cond:
                    seen.done = True
                    self.cond.notify_all()

        def _ready(self) -> dict[str, Any] | None:
            """The next result: every run's evaluation number ``reported`` (their mean), or the last one again
            once every run has ended."""
            if not self.run_ids:  # a trial begun as the sweep was stopping: nothing to report until Tune stops it
                return None
            found = [self.collected[r] for r in self.run_ids]
            index = self.reported
            if all(len(c.points) > index for c in found):
                points = [c.points[index] for c in found]
                scores = [p[2] for p in points if p[2] is not None]
                self.reported += 1
                later = any(len(c.points) > self.reported for c in found)
                done = all(c.done for c in found) and not later and not self._stopped_by_the_sweep(found)
                self.last = {"steps": min(p[0] for p in points), "eval": sum(p[1] for p in points) / len(points),
                             "score": sum(scores) / len(scores) if scores else float("nan"), "done": done,
                             "finished": float(done and all(c.status == "finished" for c in found))}
                return self.last
            if all(c.done for c in found):
                failed = next(((r, c) for r, c in zip(self.run_ids, found, strict=True) if c.status == "failed"), None)
                if failed is not None:
                    raise PlaygroundError("sweeps.trial_failed", trial=self.number, run=failed[0],
                                          error=failed[1].error or "?")
                if self._stopped_by_the_sweep(found):
                    return None  # stopped by the sweep, not ended: Tune stops it and a resume goes on with it
                return {**(self.last or {"steps": 0, "eval": float("nan"), "score": float("nan")}), "done": True,
                        "finished": float(all(c.status == "finished" for c in found))}
            return None

        def _sweep_stopping(self) -> bool:
            row = self.store.sweep(self.sweep_id)
            return bool(row and row["stop_requested"])

        def _stopped_by_the_sweep(self, found: list[_Collected]) -> bool:
            """Whether a run of the trial ended ``stopped`` because the sweep is stopping. The watcher stops the runs
            before it interrupts Tune, so an evaluation still waiting to be reported can reach Tune after its run
            ended: it must not say the trial is done, or Tune keeps it as terminated and ``sweep resume`` leaves
            its run stopped short of the budget (seen once in the suite under load)."""
            return all(c.done for c in found) and any(c.status == "stopped" for c in found) and self._sweep_stopping()

        def step(self) -> dict[str, Any]:
            with self.cond:
                self.asked += 1  # Tune wants another result: the runs waiting at their last evaluation go on
                self.cond.notify_all()
                while True:
                    result = self._ready()
                    if result is not None:
                        return dict(result)
                    self.cond.wait(timeout=5.0)

        def cleanup(self) -> None:
            """Tune ends the trial (ASHA, the sweep stopping, or its budget): each run still training is interrupted
            at its next progress report (stopped, with a checkpoint) and asked to stop through the store as well,
            and the worker waits for them before it goes."""
            deadline = time.monotonic() + 120.0
            with self.cond:
                self.halt = True
                self.cond.notify_all()
            for run_id, thread in zip(self.run_ids, self.threads, strict=True):
                while thread.is_alive() and time.monotonic() < deadline:
                    if runs.ask_to_stop(run_id, self.store):
                        break
                    time.sleep(0.2)  # not claimed by its session yet
            for thread in self.threads:
                thread.join(timeout=max(1.0, deadline - time.monotonic()))

        def save_checkpoint(self, checkpoint_dir: str) -> dict[str, Any]:
            return {"runs": list(self.run_ids)}  # the runs keep their own checkpoints; a restored trial finds them

        def load_checkpoint(self, checkpoint: Any) -> None:
            pass

    return SweepTrial

