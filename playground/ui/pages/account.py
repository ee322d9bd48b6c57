"""Your account, on a served app: whether your runs are private, and your password."""

from __future__ import annotations

import streamlit as st

from playground import accounts, runs
from playground.errors import PlaygroundError
from playground.store import get_store
from playground.ui import auth
from playground.ui.common import error_text, page, shown_errors, t


def _privacy(name: str) -> None:
    st.subheader(t("account.privacy"))
    account = accounts.get(name)
    default = st.toggle(t("account.private_default"), value=account.private_runs, help=t("runs.private_help"))
    if default != account.private_runs:
        accounts.set_private_runs(name, default)
        st.rerun()
    mine = [run for run in runs.list_runs(get_store()) if run.player == name]
    hidden = sum(run.private for run in mine)
    st.caption(t("account.private_count", private=hidden, total=len(mine)))
    left, right = st.columns(2)
    for column, private, key in ((left, True, "account.hide_all"), (right, False, "account.show_all")):
        if column.button(t(key), key=key, disabled=not mine):
            actor = auth.actor()
            for run in mine:
                runs.set_private(run.id, private, actor=actor)
            st.rerun()


def _password(name: str, provider: bool) -> None:
    st.subheader(t("account.password"))
    if provider:
        st.caption(t("account.provider_password"))
        return
    with st.form("account.password_form", clear_on_submit=True):
        current = st.text_input(t("account.current"), type="password")
        new = st.text_input(t("account.new"), type="password")
        again = st.text_input(t("account.again"), type="password")
        if not st.form_submit_button(t("account.change")):
            return
    try:
        if new != again:
            st.error(t("account.mismatch"))
            return
        accounts.sign_in(name, current)  # the current password, with the same waits as signing in
        accounts.set_password(name, new)
    except PlaygroundError as exc:
        st.error(error_text(exc))
    else:
        st.success(t("account.changed"))


def render() -> None:
    page("nav.account")
    person = auth.person()
    if not auth.served() or person is None:
        st.info(t("account.local"))
        return
    st.caption(t("auth.signed_in_as", name=person.name, role=t(f"auth.role_{person.role}")))
    with shown_errors():
        _privacy(person.name)
        _password(person.name, person.provider)


render()
