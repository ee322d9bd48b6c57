"""Environments: one place that turns an id into what trains, scores and is watched.

* ``specs``  ids and specs: ``EnvSpec``, ``resolve``, ``list_ids``, close-match suggestions (no engine imports)
* ``ale``    the fast Atari backend: ale-py's C++ vector env as a stable-baselines3 ``VecEnv``
* ``sb3``    the stable-baselines3 backend: the RL Zoo's Atari wrappers and SB3's vector envs
* ``classic`` classic tasks as a vector env without torch or SB3, for the algorithms that compute with numpy
* ``vector`` ``make_train_env`` / ``make_eval_env``: the backend for an id, with the fallback
* ``watch``  the viewer's games, as small Gymnasium wrappers

Importing this package (or ``specs``) loads neither torch, stable-baselines3 nor ale-py: the web
app checks ids with it. The names that need them load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium as gym

from playground.envs.specs import (
    ATARI_ENTRY_POINT,
    ATARI_FPS,
    ATARI_FRAME_SKIP,
    ATARI_FRAME_STACK,
    ATARI_MAX_FRAMES,
    ATARI_NOOP_MAX,
    ATARI_OBSERVATION_SPACE,
    ATARI_SCREEN,
    BACKENDS,
    CLASSIC_ACTION_NAMES,
    EnvSpec,
    action_names,
    ale_ids,
    list_ids,
    register_envs,
    resolve,
    suggestions,
)

# name -> the submodule that defines it; loaded by __getattr__ on first use.
_LAZY = {
    "AleVecEnv": "ale",
    "_num_threads": "ale",
    "make_train_env": "vector",
    "make_eval_env": "vector",
    "TrainEnvFactory": "vector",
    "WatchEnv": "watch",
    "WatchStep": "watch",
    "make_watch_env": "watch",
    "make_play_env": "watch",
}

__all__ = [
    "ATARI_ENTRY_POINT",
    "ATARI_FPS",
    "ATARI_FRAME_SKIP",
    "ATARI_FRAME_STACK",
    "ATARI_MAX_FRAMES",
    "ATARI_NOOP_MAX",
    "ATARI_OBSERVATION_SPACE",
    "ATARI_SCREEN",
    "BACKENDS",
    "CLASSIC_ACTION_NAMES",
    "EnvSpec",
    "action_names",
    "ale_ids",
    "gym",
    "list_ids",
    "register_envs",
    "resolve",
    "suggestions",
    *(name for name in _LAZY if not name.startswith("_")),
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
