"""The web app served to a class, headless (AppTest against a real store): sign-in only off localhost, the
signed-in person as the player, and the buttons of someone else's run not there."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from playground import accounts, runs
from playground.store import get_store
from playground.ui.auth import PERSON_KEY, Person

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "streamlit_app.py")
PAGES = ROOT / "playground" / "ui" / "pages"


@pytest.fixture
def served(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLAYGROUND_SERVED", "1")
    monkeypatch.delenv("PLAYGROUND_PLAYER", raising=False)
    return home


def _texts(app: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "title", "header", "subheader", "info", "success",
                                  "warning", "error") for e in getattr(app, kind)]
    return "\n".join(str(p) for p in parts)


def _ok(app: AppTest) -> AppTest:
    assert not app.exception, [e.value for e in app.exception]
    return app


def _app(path: str = APP, person: Person | None = None, **state: Any) -> AppTest:
    app = AppTest.from_file(path, default_timeout=60)
    if person is not None:
        app.session_state[PERSON_KEY] = person
    for key, value in state.items():
        app.session_state[key] = value
    return _ok(app.run())


def test_on_localhost_nobody_signs_in_and_the_page_says_so(home: Path) -> None:
    app = _app()
    assert "Sign in" not in [t.value for t in app.title]
    assert "On this computer only" in _texts(app)
    assert not [b for b in app.button if b.key == "auth.sign_out"]
    assert get_store().users() == []  # no teacher is made for a laptop


def test_a_served_app_shows_only_the_sign_in_form_until_someone_signs_in(served: Path) -> None:
    app = _app()
    assert [t.value for t in app.title] == ["Sign in"]
    assert "served to a class" in _texts(app)
    assert len(app.text_input) == 2  # name and password, and nothing of any page
    # Its first start made a teacher (the password went to the terminal, nowhere else).
    assert [row["role"] for row in get_store().users()] == ["teacher"]

    password = accounts.add("alice", "student", "alice-password")
    app.text_input(key="auth.name").input("alice")
    app.text_input(key="auth.password").input("wrong-password")
    app.button[0].click().run()
    assert "do not match" in _texts(_ok(app))
    assert PERSON_KEY not in app.session_state
    get_store().update_user("alice", failures=0, locked_until=None)  # not wait the second the failure costs
    app.text_input(key="auth.name").input("alice")
    app.text_input(key="auth.password").input(password)
    app.button[0].click().run()
    _ok(app)
    assert app.session_state[PERSON_KEY].name == "alice"
    assert "signed in as alice (student)" in _texts(app)


def test_a_sign_in_expires(served: Path) -> None:
    accounts.add("alice", "student", "alice-password")
    app = _app(person=Person("alice", "student", time.time() - 9 * 3600))
    assert [t.value for t in app.title] == ["Sign in"]
    assert "expired" in _texts(app)


def test_an_identity_provider_in_the_secrets_gets_its_button(served: Path) -> None:
    app = AppTest.from_file(APP, default_timeout=60)
    app.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                           "school": {"client_id": "id", "client_secret": "s",
                                      "server_metadata_url": "https://id.example/.well-known/openid-configuration"}}
    _ok(app.run())
    assert "Sign in with school" in [b.label for b in app.button]


def test_the_signed_in_person_is_the_player_of_their_session(served: Path) -> None:
    accounts.add("alice", "student", "alice-password")
    app = _app(str(PAGES / "home.py"), person=Person("alice", "student", time.time()))
    assert "alice" in [h.value.split()[-1].strip("!,.") for h in app.subheader] or "alice" in _texts(app)
    assert not [e for e in app.expander if "player" in e.label.lower()]  # no switching to someone else


def _runs_page(person: Person, run_id: str) -> AppTest:
    return _app(str(PAGES / "runs.py"), person=person, manage_run=run_id)


def test_someone_elses_run_has_no_buttons_and_ones_own_has_them(served: Path) -> None:
    accounts.add("alice", "student", "alice-password")
    accounts.add("bob", "student", "bob-password")
    run = runs.create(kind="rl", algo="qlearning", env="FrozenLake-v1", game="FrozenLake", config={}, player="alice")
    runs.end(run.id, "finished", 10)
    bob = _runs_page(Person("bob", "student", time.time()), run.id)
    assert "only alice or a teacher" in _texts(bob)
    assert not [b for b in bob.button if "Delete" in b.label or "Stop" in b.label]
    assert not bob.toggle
    alice = _runs_page(Person("alice", "student", time.time()), run.id)
    assert [b for b in alice.button if "Delete" in b.label]
    [private] = alice.toggle
    private.set_value(True).run()
    assert get_store().get_run(run.id).private
    # Private now: bob does not see it at all, a teacher does.
    assert run.id not in _texts(_app(str(PAGES / "runs.py"), person=Person("bob", "student", time.time())))
    teacher = _runs_page(Person("ms-li", "teacher", time.time()), run.id)
    assert [b for b in teacher.button if "Delete" in b.label]


def test_the_account_page_changes_the_password_and_the_privacy_default(served: Path) -> None:
    accounts.add("alice", "student", "alice-password")
    app = _app(str(PAGES / "account.py"), person=Person("alice", "student", time.time()))
    app.toggle[0].set_value(True).run()
    assert accounts.get("alice").private_runs
    inputs = app.text_input
    inputs[0].input("alice-password")
    inputs[1].input("a-new-password")
    inputs[2].input("a-new-password")
    app.button(key="FormSubmitter:account.password_form-Change password").click().run()
    assert "changed" in _texts(_ok(app))
    assert accounts.sign_in("alice", "a-new-password").name == "alice"
