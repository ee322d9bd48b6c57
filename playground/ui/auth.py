"""Who is at this browser: the app's two modes, signing in, and the person every page acts for.

- **On this computer** (served on localhost: ``make app``): no sign-in; the player is the machine's active profile,
  as on the CLI, and every run is the person's own.
- **Served** (any other address: ``make app ADDRESS=0.0.0.0`` for a class; Streamlit with no address listens on
  every interface, so that is served too): every browser session signs in, with a local account
  (``playground.accounts``) or, when the operator configured one in ``.streamlit/secrets.toml``, an identity provider
  through Streamlit's own ``st.login``. The signed-in name is the player of that session only: two browsers are two
  people. A sign-in lasts ``PLAYGROUND_SESSION_HOURS`` (8 by default) and ends with the browser session.

The short ``playground`` children a page starts act for the same person: ``child_env`` names them and tells them the
app is served (quotas and the data roots apply there).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import streamlit as st

from playground import settings
from playground.access import Actor
from playground.errors import PlaygroundError
from playground.ui.common import error_text, t

log = logging.getLogger(__name__)

PERSON_KEY = "auth.person"
COOKIE = "playground_sign_in"  # the signed ticket a browser keeps between page loads (playground.accounts.ticket)
_COOKIE_TODO = "auth.cookie"  # a ticket to hand the browser on the next run, or "" to take it back


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    since: float  # when they signed in
    provider: bool = False  # signed in through an identity provider (st.login)

    @property
    def teacher(self) -> bool:
        return self.role == "teacher"


def address() -> str:
    """The address the app's server listens on, as Streamlit was told (empty: every interface)."""
    return str(st.get_option("server.address") or "")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def served() -> bool:
    """Whether the app is served beyond this machine (``PLAYGROUND_SERVED=1`` says so whatever the address)."""
    if os.environ.get(settings.SERVED_ENV) == "1":
        return True
    return not _loopback(address())


def person() -> Person | None:
    """The person signed in on this browser session, while their sign-in lasts."""
    found = st.session_state.get(PERSON_KEY)
    if not isinstance(found, Person):
        return None
    if time.time() - found.since > settings.session_seconds():
        sign_out()
        st.session_state["auth.expired"] = True
        return None
    return found


def sign_out() -> None:
    st.session_state.pop(PERSON_KEY, None)
    st.session_state[_COOKIE_TODO] = ""
    # This session goes on seeing the cookies its page was loaded with: the ticket brought then counts no more.
    st.session_state["auth.revoked"] = _brought_ticket()
    if _provider_configured():
        try:
            if st.user.get("is_logged_in"):
                st.logout()
        except Exception:  # noqa: BLE001 - no provider session to end
            log.debug("no provider session to end", exc_info=True)


def actor() -> Actor | None:
    """Whom the access rule (``playground.access``) asks about: None on this computer (all is the person's own)."""
    if not served():
        return None
    found = person()
    if found is None:  # the gate stops every page before it acts; a page reached anyway may do nothing
        raise PlaygroundError("auth.sign_in_first")
    return Actor(found.name, found.role)


def player() -> str:
    """The player this browser session acts as: the signed-in person, or on this computer its active profile."""
    if served():
        current = actor()
        assert current is not None
        return current.name
    from playground.game import profiles

    return profiles.active_player()


def child_env() -> dict[str, str]:
    """The variables a ``playground`` child started for this session needs: who it acts for, and on a served app
    that it is one (so its quotas and data roots apply). Empty on this computer: the child finds the same player."""
    if not served():
        return {}
    return {"PLAYGROUND_PLAYER": player(), settings.SERVED_ENV: "1"}


# -- signing in ------------------------------------------------------------------------------------------------------
def _provider_configured() -> bool:
    """Whether the operator set up ``st.login``: an ``[auth]`` section in ``.streamlit/secrets.toml``."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all
        return False


def _from_provider() -> Person | None:
    """The person an identity provider signed in (a student account is made on their first visit)."""
    if not _provider_configured():
        return None
    try:
        if not st.user.get("is_logged_in"):
            return None
        subject = str(st.user.get("sub") or st.user.get("email") or "")
        hint = str(st.user.get("email") or st.user.get("name") or "student")
    except Exception:  # noqa: BLE001 - the provider's session could not be read: sign in again
        log.warning("could not read the identity provider's user", exc_info=True)
        return None
    if not subject:
        return None
    from playground import accounts

    account = accounts.from_provider(subject, hint)
    return Person(account.name, account.role, time.time(), provider=True)


def _sign_in_form() -> None:
    from playground import accounts

    st.title(t("auth.title"))
    st.info(t("auth.served_mode"))
    if st.session_state.pop("auth.expired", False):
        st.warning(t("auth.expired"))
    with st.form("auth.form"):
        name = st.text_input(t("auth.name"), key="auth.name")
        password = st.text_input(t("auth.password"), type="password", key="auth.password")
        submitted = st.form_submit_button(t("auth.sign_in"), type="primary")
    if submitted:
        try:
            account = accounts.sign_in(name, password)
        except PlaygroundError as exc:
            st.error(error_text(exc))
        else:
            st.session_state[PERSON_KEY] = Person(account.name, account.role, time.time())
            st.session_state[_COOKIE_TODO] = accounts.ticket(account.name)
            st.rerun()
    if _provider_configured():
        providers = [key for key, value in st.secrets["auth"].items() if isinstance(value, Mapping)]
        for provider in providers or [None]:
            label = t("auth.with_provider", provider=provider or t("auth.provider"))
            if st.button(label, key=f"auth.provider.{provider}"):
                st.login(provider) if provider else st.login()
    st.caption(t("auth.no_account"))


def _hand_cookie() -> None:
    """Give the browser the ticket a sign-in made, or take it back after a sign-out (a script in the page: Streamlit
    has no way to set a cookie from the server)."""
    todo = st.session_state.pop(_COOKIE_TODO, None)
    if todo is None:
        return
    age = int(settings.session_seconds()) if todo else 0
    st.html(f"<script>document.cookie = '{COOKIE}={todo}; path=/; max-age={age}; SameSite=Strict';</script>",
            unsafe_allow_javascript=True)


def _brought_ticket() -> str | None:
    try:
        return st.context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 - no request to read cookies from (a bare script run)
        return None


def _from_cookie() -> Person | None:
    """The person whose ticket this browser brought (a reload, a link opened anew), while the ticket holds."""
    token = _brought_ticket()
    if not token or token == st.session_state.get("auth.revoked"):
        return None
    from playground import accounts

    found = accounts.from_ticket(token, settings.session_seconds())
    if found is None:
        return None
    account, made = found
    return Person(account.name, account.role, made, provider=account.oidc)


def gate() -> Person | None:
    """On a served app, the signed-in person, or the sign-in form and nothing else (the page stops there). On this
    computer, None and nothing drawn."""
    if not served():
        return None
    found = person()
    if found is None:
        found = _from_cookie() or _from_provider()
        if found is not None:
            st.session_state[PERSON_KEY] = found
    _hand_cookie()
    if found is None:
        _sign_in_form()
        st.stop()
    return found


def sidebar(found: Person | None) -> None:
    """The mode the app is in, and on a served app who is signed in, with the way out."""
    if found is None:
        st.sidebar.caption(t("auth.local_mode"))
        return
    st.sidebar.caption(t("auth.signed_in_as", name=found.name, role=t(f"auth.role_{found.role}")))
    if st.sidebar.button(t("auth.sign_out"), key="auth.sign_out"):
        sign_out()
        st.rerun()


@st.cache_resource(show_spinner=False)
def _first_teacher_once(_stream: Any) -> tuple[str, str] | None:
    from playground import accounts
    from playground.i18n import translate

    made = accounts.ensure_first_teacher()
    if made is not None:
        _stream.write(translate("auth.first_teacher", "en", name=made[0], password=made[1]) + "\n"
                      + translate("auth.first_teacher", "zh", name=made[0], password=made[1]) + "\n")
        _stream.flush()
    return made


def announce_first_teacher(stream: Any) -> None:
    """On a served app with no teacher yet: make one and write its name and password to ``stream`` (the terminal
    that started the app), once per server process; the password is shown nowhere else."""
    if served():
        _first_teacher_once(stream)
