"""Tuned hyperparameters per algorithm and environment family, kept in YAML beside this file.

Each ``<algo>.yaml`` maps a preset name to: description (and ``description_zh``, its Simplified Chinese
for the web UI), source (where the numbers come from), envs (``atari``, ``any`` or a list of ids), steps,
n_envs and hyperparameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from playground.errors import BadConfig
from playground.i18n import Words

if TYPE_CHECKING:
    from playground.envs import EnvSpec

PRESET_DIR = Path(__file__).parent


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

    def text(self, lang: str) -> str:
        """The one-line description in ``lang`` (``en`` or ``zh``); English where no translation is given."""
        return self.description_zh if lang == "zh" and self.description_zh else self.description

    def fits(self, spec: EnvSpec) -> bool:
        if self.envs == "atari":
            return spec.is_atari
        if self.envs == "any":
            return True
        return spec.env_id in self.envs


@lru_cache(maxsize=None)
def presets_for(algo: str) -> dict[str, Preset]:
    path = PRESET_DIR / f"{algo}.yaml"
    if not path.is_file():
        return {}
    raw = yaml.safe_load(path.read_text()) or {}
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
        )
        for name, body in raw.items()
    }


def pick(algo: str, spec: EnvSpec, name: str | None = None) -> Preset:
    """The named preset, or the one made for this environment (then its family, then ``default``)."""
    available = presets_for(algo)
    if name:
        if name not in available:
            raise BadConfig("agents.unknown_preset", name=name, algo=algo,
                            choices=", ".join(available) or Words("agents.no_presets"))
        return available[name]
    for kind in ("list", "atari", "any"):
        for preset in available.values():
            is_kind = isinstance(preset.envs, list) if kind == "list" else preset.envs == kind
            if is_kind and preset.fits(spec):
                return preset
    raise BadConfig("agents.no_preset_fits", algo=algo, env=spec.env_id)
