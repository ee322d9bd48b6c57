"""One translation table for every door (web UI, CLI, viewer): English and Simplified Chinese.

The table is the YAML files of ``playground/strings/``: each key maps to ``{en: ..., zh: ...}``, and the
part before the key's first dot names the page or module that uses it (``runs.not_found``,
``train_agent.intro``). A key may appear in one file only; a missing key is a bug and raises.

The CLI and the viewer speak the language of their process: ``--lang`` (which calls
:func:`set_language`), else ``PLAYGROUND_LANG``, else English. The web UI passes each browser session's
choice to :func:`translate` instead, and hands it to the jobs it starts through ``PLAYGROUND_LANG``.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT = "en"
ENV_VAR = "PLAYGROUND_LANG"
STRINGS = Path(__file__).resolve().parent / "strings"

_chosen: str | None = None


@cache
def table() -> dict[str, dict[str, str]]:
    """Every key with its translations, checked once: both languages present, no key twice."""
    import yaml

    merged: dict[str, dict[str, str]] = {}
    where: dict[str, str] = {}

    def no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [key for key, _ in pairs]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        if twice:
            raise ValueError(f"translation keys appear twice: {', '.join(twice)}")
        return dict(pairs)

    loader = type("Loader", (getattr(yaml, "CSafeLoader", yaml.SafeLoader),), {})  # libyaml, when installed, reads it faster
    loader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
        lambda load, node: no_duplicates(load.construct_pairs(node, deep=True)),
    )
    for path in sorted(STRINGS.glob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}  # noqa: S506
        for key, entry in data.items():
            if not isinstance(entry, dict) or set(entry) != set(LANGUAGES):
                raise ValueError(f"translation key {key!r} in {path.name} needs exactly {sorted(LANGUAGES)}")
            if key in merged:
                raise ValueError(f"translation key {key!r} is in both {where[key]} and {path.name}")
            merged[key] = {lang: str(text) for lang, text in entry.items()}
            where[key] = path.name
    return merged


def check_language(lang: str) -> str:
    """``lang`` when it is one we speak; otherwise a user's mistake in one sentence."""
    if lang not in LANGUAGES:
        from playground.errors import PlaygroundError

        raise PlaygroundError("common.bad_language", lang=lang, choices=", ".join(LANGUAGES))
    return lang


def set_language(lang: str | None) -> None:
    """This process speaks ``lang`` from now on (None: back to ``PLAYGROUND_LANG`` or English)."""
    global _chosen
    _chosen = None if lang is None else check_language(lang)


def language() -> str:
    """The language of this process: ``--lang``, else ``PLAYGROUND_LANG`` when it names one, else English."""
    if _chosen is not None:
        return _chosen
    asked = os.environ.get(ENV_VAR, "")
    return asked if asked in LANGUAGES else DEFAULT


def translate(key: str, lang: str | None = None, /, **values: Any) -> str:
    """The text for ``key`` in ``lang`` (default: this process's language), with ``{name}`` fields filled
    from ``values``. A value that is itself translatable (a :class:`Words` or a user error) is rendered in
    the same language."""
    lang = lang if lang in LANGUAGES else language()
    text = table()[key][lang]
    if not values:
        return text
    return text.format(**{name: _in(value, lang) for name, value in values.items()})


def say(key: str, /, **values: Any) -> str:
    """``translate`` in this process's language: what the CLI and the viewer print."""
    return translate(key, None, **values)


class Words:
    """A sentence not yet put into a language: a key and its values, rendered when shown (so the web UI
    can show a library's sentence in each browser session's language)."""

    def __init__(self, key: str, /, **values: Any) -> None:
        if key not in table():
            raise KeyError(f"no translation key {key!r} in playground/strings/")
        self.key = key
        self.values = values

    def render(self, lang: str | None = None) -> str:
        return translate(self.key, lang, **self.values)

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Words({self.key!r}, {self.values!r})"


def _in(value: Any, lang: str) -> Any:
    render = getattr(value, "render", None) or getattr(value, "sentence", None)
    return render(lang) if callable(render) else value
