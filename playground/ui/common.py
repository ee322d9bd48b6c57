"""What every page shares: the language switch, translated text, and user errors shown as one sentence.

The UI holds no training logic. Pages read the store and the run folders, start jobs through
``playground.jobs`` and show what they find.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from playground.errors import PlaygroundError
from playground.ui.i18n import DEFAULT, LANGUAGES, translate

LANG_KEY = "ui_lang"


def lang() -> str:
    """The language this browser session chose (kept across pages and reruns)."""
    chosen = st.session_state.get(LANG_KEY)
    if chosen not in LANGUAGES:
        asked = st.query_params.get("lang")
        chosen = asked if asked in LANGUAGES else DEFAULT
        st.session_state[LANG_KEY] = chosen
    return chosen


def t(key: str, **values: Any) -> str:
    """``key`` from the translation table in the session's language."""
    return translate(key, lang(), **values)


def _switched() -> None:
    st.session_state[LANG_KEY] = st.session_state["_lang_switch"]


def language_switch() -> None:
    """The English / 简体中文 switch, drawn in the sidebar of every page."""
    current = lang()
    st.sidebar.selectbox(
        t("common.language"),
        list(LANGUAGES),
        index=list(LANGUAGES).index(current),
        format_func=LANGUAGES.__getitem__,
        key="_lang_switch",
        on_change=_switched,
    )


def page(title_key: str) -> None:
    """Start a page: the language switch and the page's title."""
    language_switch()
    st.title(t(title_key))


@contextmanager
def shown_errors() -> Iterator[None]:
    """Show a user's mistake (a PlaygroundError) as one sentence in the page instead of a traceback."""
    try:
        yield
    except PlaygroundError as exc:
        st.error(str(exc))
