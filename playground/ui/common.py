"""What every page shares: the language switch, translated text, and user errors shown as one sentence.

The UI holds no training logic. Pages read the store and the run folders, start jobs through
``playground.jobs`` and show what they find.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import streamlit as st

from playground.errors import PlaygroundError
from playground.i18n import DEFAULT, LANGUAGES, translate

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


def error_text(exc: BaseException) -> str:
    """A user's mistake as one sentence in the session's language (a child process's sentence comes back
    in it already: the UI starts children speaking the session's language)."""
    return exc.sentence(lang()) if isinstance(exc, PlaygroundError) else str(exc)


@contextmanager
def shown_errors() -> Iterator[None]:
    """Show a user's mistake (a PlaygroundError) as one sentence in the page instead of a traceback."""
    try:
        yield
    except PlaygroundError as exc:
        st.error(error_text(exc))


T = TypeVar("T")


class Prefill:
    """A training form set to a run's settings (the run a one-click start landed on).

    ``apply`` puts the values in the session's widget state: all of them when the run is new to the form,
    otherwise only those the person has not touched. ``start`` is a widget's starting value, or None for a
    widget ``apply`` has just set (the widget shows the session's value either way, and Streamlit logs a
    warning with a stack when it is given both). One per page run: page scripts run anew each time.
    """

    def __init__(self, form: str) -> None:
        self.marker = f"{form}.prefilled_for"  # the run whose settings the form was last set to
        self.keys: set[str] = set()

    def apply(self, run_id: str, values: dict[str, Any]) -> None:
        fresh = st.session_state.get(self.marker) != run_id  # a newly landed run: its settings replace the form's
        st.session_state[self.marker] = run_id
        for key, value in values.items():
            if fresh or key not in st.session_state:
                st.session_state[key] = value
                self.keys.add(key)

    def start(self, key: str, value: T) -> T | None:
        return None if key in self.keys else value

