"""The people of a served app: local accounts, their roles, and signing in.

Served on localhost the app is one person's and nobody signs in. Served on any other address (a class on one
machine) everyone signs in, and the name they sign in with is the player their runs, games and XP are recorded as.

Passwords are never kept: argon2 hashes are (``argon2-cffi``, the reference implementation's binding; no
cryptography of our own). A wrong password makes the next try of that name wait longer (1 s, 2 s, 4 s, … up to five
minutes), and a wrong name waits the same way, so that trying names teaches nothing. The operator manages accounts
from the command line (``playground users add|list|passwd|remove``); the first served start makes a teacher and
shows its password once.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from playground.errors import PlaygroundError, SignInRefused
from playground.store import Store, get_store

ROLES = ("teacher", "student")
FIRST_TEACHER = "teacher"
MIN_PASSWORD = 8
MAX_WAIT_S = 300.0

_hasher = PasswordHasher()
# Hashed once, so that a name nobody has costs the same time as a wrong password.
_NOBODY = _hasher.hash(secrets.token_urlsafe(16))
# Wrong names have no row to count their failures in; this process counts them (name: failures, until).
_unknown: dict[str, tuple[int, float]] = {}
_unknown_lock = threading.Lock()


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    created_at: float
    private_runs: bool = False
    oidc: bool = False

    @property
    def teacher(self) -> bool:
        return self.role == "teacher"


def _account(row: dict[str, Any]) -> Account:
    return Account(name=row["name"], role=row["role"], created_at=row["created_at"],
                   private_runs=bool(row.get("private_runs")), oidc=bool(row.get("oidc_subject")))


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise PlaygroundError("accounts.bad_role", role=role)
    return role


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise PlaygroundError("accounts.short_password", n=MIN_PASSWORD)
    return password


def new_password() -> str:
    """A password to hand out: 16 characters from a cryptographic source."""
    return secrets.token_urlsafe(12)


def wait_after(failures: int) -> float:
    """Seconds the next sign-in of a name must wait after ``failures`` wrong tries in a row."""
    return 0.0 if failures <= 0 else min(2.0 ** (failures - 1), MAX_WAIT_S)


def add(name: str, role: str = "student", password: str | None = None, store: Store | None = None) -> str:
    """A new account; returns its password (``password``, or a new one to hand to the person)."""
    from playground.game.results import check_player

    name, role = check_player(name), _check_role(role)
    password = _check_password(password) if password is not None else new_password()
    if not (store or get_store()).add_user(name, role, _hasher.hash(password)):
        raise PlaygroundError("accounts.taken", name=name)
    return password


def get(name: str, store: Store | None = None) -> Account:
    row = (store or get_store()).user(name)
    if row is None:
        raise PlaygroundError("accounts.no_such", name=name)
    return _account(row)


def find(name: str, store: Store | None = None) -> Account | None:
    row = (store or get_store()).user(name)
    return _account(row) if row is not None else None


def everyone(store: Store | None = None) -> list[Account]:
    return [_account(row) for row in (store or get_store()).users()]


def set_password(name: str, password: str | None = None, store: Store | None = None) -> str:
    """A new password for ``name`` (given, or made); its failures are forgotten. Returns it."""
    store = store or get_store()
    get(name, store)
    password = _check_password(password) if password is not None else new_password()
    store.update_user(name, password_hash=_hasher.hash(password), failures=0, locked_until=None)
    return password


def set_role(name: str, role: str, store: Store | None = None) -> None:
    store = store or get_store()
    get(name, store)
    store.update_user(name, role=_check_role(role))


def set_private_runs(name: str, private: bool, store: Store | None = None) -> None:
    """Whether ``name``'s new runs start private (seen only by them and the teachers)."""
    (store or get_store()).update_user(name, private_runs=bool(private))


def remove(name: str, store: Store | None = None) -> int:
    """Remove an account and every upload it owns (their folders too); runs stay, with the name they were made
    under. Returns how many uploads went."""
    from playground import uploads

    store = store or get_store()
    get(name, store)
    removed = uploads.remove_all(name, store)
    store.delete_user(name)
    return removed


def sign_in(name: str, password: str, store: Store | None = None, now: float | None = None) -> Account:
    """The account, when ``password`` is its password. Otherwise ``SignInRefused``: the same sentence for a wrong
    name and a wrong password, and a wait that doubles with each failure of that name in a row."""
    store = store or get_store()
    now = time.time() if now is None else now
    name = name.strip()
    row = store.user(name) if name else None
    if row is None:
        return _refuse_unknown(name, password, now)
    if row["locked_until"] is not None and now < row["locked_until"]:
        raise SignInRefused("accounts.wait", seconds=max(1, round(row["locked_until"] - now)))
    try:
        if row["password_hash"] is None:
            raise VerificationError("no local password (an identity provider signs this person in)")
        _hasher.verify(row["password_hash"], password)
    except (VerificationError, InvalidHashError):
        failures = int(row["failures"] or 0) + 1
        store.update_user(name, failures=failures, locked_until=now + wait_after(failures))
        raise SignInRefused("accounts.wrong", seconds=max(1, round(wait_after(failures)))) from None
    if row["failures"] or row["locked_until"] is not None:
        store.update_user(name, failures=0, locked_until=None)
    if _hasher.check_needs_rehash(row["password_hash"]):
        store.update_user(name, password_hash=_hasher.hash(password))
    return _account(row)


def _refuse_unknown(name: str, password: str, now: float) -> Account:
    with _unknown_lock:
        failures, until = _unknown.get(name, (0, 0.0))
    if now < until:
        raise SignInRefused("accounts.wait", seconds=max(1, round(until - now)))
    try:
        _hasher.verify(_NOBODY, password)  # the time a real check takes
    except VerificationError:
        pass
    failures += 1
    with _unknown_lock:
        _unknown[name] = (failures, now + wait_after(failures))
    raise SignInRefused("accounts.wrong", seconds=max(1, round(wait_after(failures))))


def from_provider(subject: str, name_hint: str, store: Store | None = None) -> Account:
    """The account of a person an identity provider (``st.login``) signed in: found by the provider's subject, or
    made as a student under a free player name built from ``name_hint`` (their name or e-mail)."""
    import re

    store = store or get_store()
    row = store.user_by_subject(subject)
    if row is not None:
        return _account(row)
    base = re.sub(r"[^\w .\-]", "_", name_hint.split("@")[0]).strip()[:36] or "student"
    for n in range(1, 1000):
        name = base if n == 1 else f"{base}-{n}"
        if store.add_user(name, "student", None, oidc_subject=subject):
            return get(name, store)
    raise PlaygroundError("accounts.taken", name=base)


# -- staying signed in across page loads ------------------------------------------------------------------------------
# A browser keeps a signed ticket (itsdangerous, the Flask project's signing library) naming the person and a stamp
# of their password; a new page load (a link, a reload) reads it instead of asking again. The signing key is made once
# and kept as a class setting, so every machine serving the same store accepts the same tickets; a changed password
# changes the stamp, which ends every ticket made before.
_SECRET = "sign_in_secret"
_SALT = "playground-sign-in"


def _signer(store: Store) -> Any:
    from itsdangerous import URLSafeTimedSerializer

    secret = store.class_setting(_SECRET)
    if not secret:
        secret = secrets.token_urlsafe(32)
        store.set_class_setting(_SECRET, secret)
    return URLSafeTimedSerializer(secret, salt=_SALT)


def _stamp(row: dict[str, Any]) -> str:
    import hashlib

    return hashlib.sha256(str(row["password_hash"] or row["oidc_subject"] or "").encode()).hexdigest()[:16]


def ticket(name: str, store: Store | None = None) -> str:
    """A signed ticket for ``name``'s browser to keep (a cookie)."""
    store = store or get_store()
    row = store.user(name)
    if row is None:
        raise PlaygroundError("accounts.no_such", name=name)
    return str(_signer(store).dumps({"name": name, "stamp": _stamp(row)}))


def from_ticket(token: str, max_age_s: float, store: Store | None = None) -> tuple[Account, float] | None:
    """The account a ticket names and when it was made, while it is younger than ``max_age_s``, signed by this
    class's key, and its person's password unchanged since; else None."""
    from itsdangerous import BadSignature

    store = store or get_store()
    try:
        data, made = _signer(store).loads(token, max_age=max_age_s, return_timestamp=True)
    except BadSignature:  # forged, damaged or expired
        return None
    row = store.user(str(data.get("name"))) if isinstance(data, dict) else None
    if row is None or data.get("stamp") != _stamp(row):
        return None
    return _account(row), made.timestamp()


def ensure_first_teacher(store: Store | None = None) -> tuple[str, str] | None:
    """On a served app's first start, with no teacher yet: make one; (name, password) to show once, else None."""
    store = store or get_store()
    if any(row["role"] == "teacher" for row in store.users()):
        return None
    name = FIRST_TEACHER
    while store.user(name) is not None:
        name = f"{FIRST_TEACHER}-{secrets.token_hex(2)}"
    return name, add(name, "teacher", store=store)
