"""Tuned hyperparameters per algorithm and environment family, kept in YAML beside this file.

Each ``<algo>.yaml`` maps a preset name to: description (and ``description_zh``, its Simplified Chinese
for the web UI), source (where the numbers come from), envs (``atari``, ``any`` or a list of ids), steps,
n_envs and hyperparameters, and optionally eval_episodes (whole games per evaluation; 10 when unset).

A person's own presets (``playground sweep export SWEEP --preset NAME`` writes them) live in
``$PLAYGROUND_HOME/presets/<algo>.yaml``, in the same shape; ``--preset NAME`` finds them after the shipped ones,
and a name the shipped file already has stays the shipped preset's.

A preset may also carry ``scale`` (and ``scale_zh``): a line on its numbers at its envs' scale, shown after the
description; and ``tasks``: versions of itself for other environments, each a mapping with its own ``envs`` (a
list of ids) and any of scale, scale_zh, source (added after the preset's own), steps, n_envs and
hyperparameters (which replace or, for hyperparameters, update the preset's own). The DQN family uses them: ``rainbow`` is
Rainbow's six improvements everywhere, at the scale of Atari on Atari and at the scale of CartPole on CartPole.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from playground.errors import BadConfig
from playground.i18n import Words

if TYPE_CHECKING:
    from playground.envs import EnvSpec

PRESET_DIR = Path(__file__).parent
MADE_FOR_IT, FAMILY, ANY = 0, 1, 2  # how closely a preset fits an env, best first


def fits_envs(envs: Any, env_id: str, atari: bool) -> bool:
    """Whether ``envs`` (``atari``, ``any`` or a list of ids) takes ``env_id``."""
    if envs == "atari":
        return atari
    if envs == "any":
        return True
    return env_id in envs


@dataclass(frozen=True)
class Preset:
    name: str
    algo: str
    description: str
    source: str
    envs: Any  # "atari" | "any" | list of env ids
    steps: int
    n_envs: int
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    description_zh: str = ""
    tasks: tuple[dict[str, Any], ...] = ()  # versions for other envs, as the YAML gives them
    scale: str = ""  # what the numbers are at this env's scale, after the description (DQN family)
    scale_zh: str = ""
    eval_episodes: int | None = None  # whole games per evaluation when the user names none (Taxi's pass mark: 100)

    def text(self, lang: str) -> str:
        """The one-line description in ``lang`` (``en`` or ``zh``); English where no translation is given."""
        if lang == "zh" and self.description_zh:
            return self.description_zh + self.scale_zh
        return f"{self.description} {self.scale}".strip()

    def fits(self, spec: EnvSpec) -> bool:
        return self.fits_id(spec.env_id, spec.is_atari)

    def fits_id(self, env_id: str, atari: bool) -> bool:
        return fits_envs(self.envs, env_id, atari) or any(env_id in task["envs"] for task in self.tasks)

    def rank(self, env_id: str, atari: bool) -> int:
        """MADE_FOR_IT (a list or a task names the env), FAMILY (``atari``) or ANY; the lowest is picked."""
        if any(env_id in task["envs"] for task in self.tasks) or isinstance(self.envs, list):
            return MADE_FOR_IT
        return FAMILY if self.envs == "atari" else ANY

    def for_env(self, env_id: str, atari: bool) -> Preset:
        """This preset as it applies to ``env_id``: its task for that env, merged over it, if it has one."""
        for task in self.tasks:
            if env_id in task["envs"]:
                source = f"{self.source} {task['source']}" if task.get("source") else self.source
                return replace(
                    self, envs=list(task["envs"]), tasks=(),
                    scale=str(task.get("scale", self.scale)), scale_zh=str(task.get("scale_zh", self.scale_zh)),
                    source=source,
                    steps=int(task.get("steps", self.steps)), n_envs=int(task.get("n_envs", self.n_envs)),
                    eval_episodes=int(task["eval_episodes"]) if task.get("eval_episodes") else self.eval_episodes,
                    hyperparameters={**self.hyperparameters, **(task.get("hyperparameters") or {})},
                )
        return self

    def versions(self) -> list[Preset]:
        """The preset for its own envs, then each task's version (what ``rl presets`` lists)."""
        return [replace(self, tasks=())] + [self.for_env(task["envs"][0], False) for task in self.tasks]


USER_PRESETS = "presets"  # the folder of a person's own presets, under the home folder


def user_presets_file(algo: str) -> Path:
    """Where a person's own presets of ``algo`` are kept (the file may not exist yet)."""
    from playground import settings

    return settings.home() / USER_PRESETS / f"{algo}.yaml"


def presets_for(algo: str) -> dict[str, Preset]:
    """The shipped presets of ``algo``, then the person's own (read afresh: a sweep may just have exported one)."""
    shipped = _shipped(algo)
    return {**shipped, **{name: p for name, p in user_presets(algo).items() if name not in shipped}}


@lru_cache(maxsize=None)
def _shipped(algo: str) -> dict[str, Preset]:
    path = PRESET_DIR / f"{algo}.yaml"
    if not path.is_file():
        return {}
    return _parsed(algo, yaml.safe_load(path.read_text()) or {})


def user_presets(algo: str) -> dict[str, Preset]:
    """The presets ``algo`` has in the person's own file; none when there is no file (or no usable home)."""
    from playground.errors import PlaygroundError

    try:
        path = user_presets_file(algo)
    except PlaygroundError:  # an unwritable home: no presets of one's own, and the shipped ones still work
        return {}
    if not path.is_file():
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(raw, dict) or not all(isinstance(body, dict) for body in raw.values()):
            raise ValueError("not a mapping of preset names to settings")
        return _parsed(algo, raw)
    except (OSError, ValueError, TypeError, yaml.YAMLError) as exc:
        raise BadConfig("presets.user_file_unreadable", path=path, reason=str(exc).splitlines()[0]) from None


def _parsed(algo: str, raw: dict[str, Any]) -> dict[str, Preset]:
    return {
        name: Preset(
            name=name,
            algo=algo,
            description=str(body.get("description", "")),
            source=str(body.get("source", "")),
            envs=body.get("envs", "any"),
            steps=int(body.get("steps", 100_000)),
            n_envs=int(body.get("n_envs", 1)),
            hyperparameters=dict(body.get("hyperparameters") or {}),
            description_zh=str(body.get("description_zh", "")),
            tasks=tuple(dict(task) for task in body.get("tasks") or ()),
            scale=str(body.get("scale", "")),
            scale_zh=str(body.get("scale_zh", "")),
            eval_episodes=int(body["eval_episodes"]) if body.get("eval_episodes") else None,
        )
        for name, body in raw.items()
    }


def fitting(algo: str, env_id: str, atari: bool) -> list[Preset]:
    """Every preset of ``algo`` that fits ``env_id``, as it applies there, in the file's order."""
    return [p.for_env(env_id, atari) for p in presets_for(algo).values() if p.fits_id(env_id, atari)]


def default_for(algo: str, env_id: str, atari: bool) -> Preset | None:
    """The preset picked when the user names none: made for this env, then its family, then any (first in file)."""
    found = fitting(algo, env_id, atari)
    return min(found, key=lambda p: p.rank(env_id, atari)) if found else None


def pick(algo: str, spec: EnvSpec, name: str | None = None) -> Preset:
    """The named preset (as it applies to this env), or the one made for this environment (then its family,
    then ``default``)."""
    available = presets_for(algo)
    if name:
        if name not in available:
            raise BadConfig("agents.unknown_preset", name=name, algo=algo,
                            choices=", ".join(available) or Words("agents.no_presets"))
        return available[name].for_env(spec.env_id, spec.is_atari)
    chosen = default_for(algo, spec.env_id, spec.is_atari)
    if chosen is None:
        raise BadConfig("agents.no_preset_fits", algo=algo, env=spec.env_id)
    return chosen
