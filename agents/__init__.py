"""RL algorithms behind one interface, found by name.

Adding an algorithm touches its own file and one line here.
"""

from __future__ import annotations

import difflib

from agents.base import Agent
from playground.errors import UnknownAlgorithm
from playground.i18n import Words


# stable-baselines3's agent of a family we also write ourselves: what an SB3 zip of that family imports as.
SB3_NAMES = {"dqn": "sb3-dqn"}


def _registry() -> dict[str, type[Agent]]:
    import playground.eager  # noqa: F401  (before any model: its optimizer then skips loading torch's compiler)
    from agents.a3c import A3CAgent
    from agents.dqn import DQNAgent
    from agents.sb3 import A2CAgent, PPOAgent, SB3DQNAgent
    from agents.tabular import TABULAR_AGENTS

    return {"dqn": DQNAgent, "sb3-dqn": SB3DQNAgent, "ppo": PPOAgent, "a2c": A2CAgent, "a3c": A3CAgent,
            **{cls.name: cls for cls in TABULAR_AGENTS}}


def names() -> list[str]:
    return list(_registry())


def get(name: str) -> type[Agent]:
    registry = _registry()
    key = (name or "").lower()
    if key not in registry:
        close = difflib.get_close_matches(key, registry, n=1)
        hint = Words("agents.did_you_mean", name=close[0]) if close else ""
        raise UnknownAlgorithm("agents.unknown_algorithm", name=name, hint=hint, choices=", ".join(registry))
    return registry[key]
