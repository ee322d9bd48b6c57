"""How people write step counts: ``100000``, ``1e6``, ``100k`` or ``2M`` (the CLI, the UI and challenge commands)."""

from __future__ import annotations

import math
import re

from playground.errors import BadConfig

MAX_STEPS = 10**12
_STEPS = re.compile(r"^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kKmM]?)\s*$")


def parse_steps(text: str | None, flag: str = "--steps") -> int | None:
    """Whole numbers, ``1e6``, ``100k`` or ``2M``; anything else is one clear sentence."""
    if text is None:
        return None
    match = _STEPS.match(text.replace("_", ""))
    if not match:
        raise BadConfig("numbers.bad_steps", flag=flag, text=text)
    value = float(match.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    if not math.isfinite(value) or value <= 0 or value != int(value):
        raise BadConfig("numbers.not_whole", flag=flag, text=text)
    if value > MAX_STEPS:
        raise BadConfig("numbers.too_many", flag=flag, maximum=MAX_STEPS, text=text)
    return int(value)
