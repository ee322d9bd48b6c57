"""Checks every door applies to what a person types, before anything is created: numbers that must be
finite, sizes that must be positive and sane, names that must print safely. Each failure is one
sentence (``BadConfig``); nothing here needs the engine.
"""

from __future__ import annotations

import math
import os
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

from playground.errors import BadConfig
from playground.i18n import Words

# Upper bounds far above any real use, so a typo (an extra zero, 10**20) is a sentence and not a hang,
# an overflow or a machine out of memory.
MAX_STEPS = 10**10  # environment steps of one RL run (Atari's 200M frames are 5 * 10**7 steps)
MAX_ITERS = 10**9  # iterations of one GAN run
MAX_ENVS = 256  # parallel environments (or A3C workers) of one run
MAX_EPISODES = 10_000  # whole games of one evaluation
MAX_LAYER = 65_536  # units of one hidden layer
MAX_NAME = 100  # characters of a run's name


def shown(text: str) -> str:
    """``text`` as it may be printed to a terminal or a page: control characters and escapes as ``\\x1b``."""
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in str(text))


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character (terminal escapes, newlines, tabs, bidi overrides)."""
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


def check_name(name: str | None, what: Words | str | None = None) -> str | None:
    """A name a person gave: printable, not blank, at most ``MAX_NAME`` characters (``what`` names it in the
    sentence; default: a run name)."""
    if name is None:
        return None
    what = Words("checks.run_name") if what is None else what
    if has_control(name):
        raise BadConfig("checks.name_control", what=what, name=shown(name))
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise BadConfig("checks.name_length", what=what, maximum=MAX_NAME, length=len(name))
    return name


def check_limit(flag: Words | str, value: int | None, maximum: int) -> None:
    """A whole number a person typed, within the sane range (``flag`` names it in the sentence)."""
    if value is not None and value > maximum:
        raise BadConfig("checks.too_large", flag=flag, value=value, maximum=maximum)


def _leaves(value: Any, key: str) -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{key}.{k}")]
    if isinstance(value, (list, tuple)):
        return [leaf for v in value for leaf in _leaves(v, key)]
    return [(key, value)]


def check_hyperparameter_values(owner: str, values: Mapping[str, Any]) -> None:
    """What no algorithm or model can use, whatever its own checks say: an infinite or NaN number
    (``--set ent_coef=inf``), and layer sizes that are not positive (``--set net_arch=[0]``)."""
    for key, raw in values.items():
        for where, leaf in _leaves(raw, key):
            if isinstance(leaf, float) and not math.isfinite(leaf):
                raise BadConfig("checks.not_finite", where=where, owner=owner, leaf=leaf)
        if key == "net_arch" and raw is not None:
            for where, leaf in _leaves(raw, key):
                if isinstance(leaf, bool) or not isinstance(leaf, int) or not 0 < leaf <= MAX_LAYER:
                    raise BadConfig("checks.layer_sizes", where=where, owner=owner, max_layer=MAX_LAYER, leaf=repr(leaf))


def folders_once(folder: str | os.PathLike[str]) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk`` of ``folder`` following links, each real folder once (a link loop is walked once, not for ever):
    (the folder as the walk reached it, its subfolders — prune this list to skip them —, its files)."""
    seen: set[str] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        yield root, dirs, files
