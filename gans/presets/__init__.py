"""Published settings per GAN model, kept in YAML beside this file, each citing its source.

Each ``<model>.yaml`` maps a preset name to: description (and ``description_zh``, its Simplified
Chinese for the web UI), source, image_size, batch_size, epochs and hyperparameters (on top of the
model's own defaults, which are the paper's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from playground.errors import BadConfig
from playground.i18n import Words

PRESET_DIR = Path(__file__).parent


@dataclass(frozen=True)
class GanPreset:
    name: str
    model: str
    description: str
    source: str
    image_size: int
    batch_size: int
    epochs: int
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    description_zh: str = ""


@lru_cache(maxsize=None)
def presets_for(model: str) -> dict[str, GanPreset]:
    path = PRESET_DIR / f"{model}.yaml"
    raw = yaml.safe_load(path.read_text()) if path.is_file() else {}
    return {
        name: GanPreset(
            name=name,
            model=model,
            description=str(body.get("description", "")),
            source=str(body.get("source", "")),
            image_size=int(body["image_size"]),
            batch_size=int(body["batch_size"]),
            epochs=int(body["epochs"]),
            hyperparameters=dict(body.get("hyperparameters") or {}),
            description_zh=str(body.get("description_zh", "")),
        )
        for name, body in (raw or {}).items()
    }


def pick(model: str, name: str | None = None) -> GanPreset:
    available = presets_for(model)
    key = name or "default"
    if key not in available:
        raise BadConfig("gans.unknown_preset", name=key, model=model,
                        choices=", ".join(available) or Words("gans.no_presets"))
    return available[key]
