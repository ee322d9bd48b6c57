"""One translation table for every user-facing string of the web UI (English and Simplified Chinese).

The table is ``strings.yaml`` next to this file: each key maps to ``{en: ..., zh: ...}``, grouped by page.
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

    def no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [key for key, _ in pairs]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        if twice:
            raise ValueError(f"translation keys appear twice in strings.yaml: {', '.join(twice)}")
        return dict(pairs)

    loader = type("Loader", (yaml.SafeLoader,), {})
    loader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
        lambda load, node: no_duplicates(load.construct_pairs(node, deep=True)),
    )
    data = yaml.load((HERE / "strings.yaml").read_text(encoding="utf-8"), Loader=loader) or {}  # noqa: S506
    for key, entry in data.items():
        if not isinstance(entry, dict) or set(entry) != set(LANGUAGES):
            raise ValueError(f"translation key {key!r} needs exactly {sorted(LANGUAGES)}")
        merged[key] = {lang: str(text) for lang, text in entry.items()}
    return merged


def translate(key: str, lang: str, **values: Any) -> str:
    """The text for ``key`` in ``lang``, with ``{name}`` fields filled from ``values``."""
    text = table()[key][lang if lang in LANGUAGES else DEFAULT]
    return text.format(**values) if values else text
