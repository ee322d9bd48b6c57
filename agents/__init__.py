"""RL algorithms behind one interface, found by name.

Adding an algorithm touches its own file and one line here.
"""

from __future__ import annotations

import difflib
import importlib

from agents.base import Agent
from playground.errors import UnknownAlgorithm
from playground.i18n import Words


# stable-baselines3's agent of a family we also write ourselves: what an SB3 zip of that family imports as.
SB3_NAMES = {"dqn": "sb3-dqn"}


# The deep algorithms: each module imports torch, so it is imported only when its algorithm is asked for (a tabular
# lesson's commands then never load torch). In the order listings show them, before the tabular methods.
_DEEP = {"dqn": ("agents.dqn", "DQNAgent"), "sb3-dqn": ("agents.sb3", "SB3DQNAgent"), "ppo": ("agents.sb3", "PPOAgent"),
         "a2c": ("agents.sb3", "A2CAgent"), "a3c": ("agents.a3c", "A3CAgent")}


def _tabular() -> dict[str, type[Agent]]:
    from agents.tabular import TABULAR_AGENTS

    return {cls.name: cls for cls in TABULAR_AGENTS}


def _load(name: str) -> type[Agent]:
    tabular = _tabular()
    if name in tabular:
        return tabular[name]
    import playground.eager  # noqa: F401  (before any model: its optimizer then skips loading torch's compiler)

    module, attribute = _DEEP[name]
    cls: type[Agent] = getattr(importlib.import_module(module), attribute)
    return cls


def names() -> list[str]:
    return [*_DEEP, *_tabular()]


def get(name: str) -> type[Agent]:
    known = names()
    key = (name or "").lower()
    if key not in known:
        close = difflib.get_close_matches(key, known, n=1)
        hint = Words("agents.did_you_mean", name=close[0]) if close else ""
        raise UnknownAlgorithm("agents.unknown_algorithm", name=name, hint=hint, choices=", ".join(known))
    return _load(key)
