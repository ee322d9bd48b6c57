"""One translation table for every user-facing string of the web UI (English and Simplified Chinese).

The table lives in ``strings.yaml`` next to this file: each key maps to ``{en: ..., zh: ...}``.
Pages call :func:`t` with a key and format arguments; a missing key is a bug and raises.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT = "en"
HERE = Path(__file__).resolve().parent


@cache
def table() -> dict[str, dict[str, str]]:
    """Every key with its translations, checked once: both languages present, no key twice."""
    merged: dict[str, dict[str, str]] = {}
    files = [HERE / "strings.yaml", *sorted((HERE / "strings").glob("*.yaml"))]
    for path in files:
        if not path.exists():
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, entry in data.items():
            if key in merged:
                raise ValueError(f"translation key {key!r} appears twice (second time in {path.name})")
            if not isinstance(entry, dict) or set(entry) != set(LANGUAGES):
                raise ValueError(f"translation key {key!r} in {path.name} needs exactly {sorted(LANGUAGES)}")
            merged[key] = {lang: str(text) for lang, text in entry.items()}
    return merged


def translate(key: str, lang: str, **values: Any) -> str:
    """The text for ``key`` in ``lang``, with ``{name}`` fields filled from ``values``."""
    text = table()[key][lang if lang in LANGUAGES else DEFAULT]
    return text.format(**values) if values else text
