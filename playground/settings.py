"""Where the playground keeps its things, and which device it trains on.

Environment variables:
- ``PLAYGROUND_HOME``: the home folder (default ``~/.playground``); runs live in ``runs/`` under it.
- ``PLAYGROUND_DB``: a SQLAlchemy database URL; default SQLite at ``$PLAYGROUND_HOME/playground.db``.
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from playground.errors import PlaygroundError, StoreError

if TYPE_CHECKING:
    from playground.store import JobLimits


def _unwritable(path: Path, exc: OSError) -> StoreError:
    return StoreError("settings.home_unwritable", path=path, reason=exc.strerror or str(exc))


@functools.lru_cache(maxsize=8)
def _checked_home(path: Path) -> Path:
    """Create ``path`` and prove it writable, once per process (a private probe file: no races)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise _unwritable(path, exc) from None
    return path


def home() -> Path:
    """The home folder, created on first use; an unwritable one is a user error, not a crash."""
    path = Path(os.environ.get("PLAYGROUND_HOME") or Path.home() / ".playground").expanduser()
    return _checked_home(path.absolute())


def runs_dir() -> Path:
    path = home() / "runs"
    try:
        path.mkdir(exist_ok=True)
        if not path.is_dir():
            raise NotADirectoryError(20, "not a folder", str(path))
    except OSError as exc:
        raise _unwritable(path, exc) from None
    return path


def database_url() -> str:
    url = os.environ.get("PLAYGROUND_DB")
    if url:
        return url
    return f"sqlite:///{home() / 'playground.db'}"


def resolve_device(choice: str = "auto") -> str:
    """Turn ``auto|cpu|cuda`` into a torch device name, refusing cuda where there is none."""
    import torch

    choice = (choice or "auto").lower()
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cpu":
        return "cpu"
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise PlaygroundError("settings.no_cuda")
        return choice
    raise PlaygroundError("settings.unknown_device", choice=choice)


# -- a served app (the classroom) ----------------------------------------------------------------------------------
# The web app served beyond this machine (any address but localhost) has sign-in and these operator settings. Its
# own process knows its address; the short ``playground`` children it starts are told with PLAYGROUND_SERVED=1.
SERVED_ENV = "PLAYGROUND_SERVED"
JOBS_PER_PERSON_ENV = "PLAYGROUND_JOBS_PER_PERSON"
JOBS_PER_SERVER_ENV = "PLAYGROUND_JOBS_PER_SERVER"
DATA_ROOTS_ENV = "PLAYGROUND_DATA_ROOTS"
UPLOAD_QUOTA_ENV = "PLAYGROUND_UPLOAD_QUOTA_MB"
SESSION_HOURS_ENV = "PLAYGROUND_SESSION_HOURS"

# A 2-core machine trains two runs at a good speed, four at half of it each: two per person, four in all.
DEFAULT_JOBS_PER_PERSON = 2
DEFAULT_JOBS_PER_SERVER = 4
DEFAULT_UPLOAD_QUOTA_MB = 2048
DEFAULT_SESSION_HOURS = 8.0  # a school day; then sign in again


def served() -> bool:
    """Whether this process acts for a served app (sign-in, ownership, quotas, data roots apply)."""
    return os.environ.get(SERVED_ENV) == "1"


def _positive(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise PlaygroundError("settings.not_positive", name=name, value=raw) from None
    if not value > 0:
        raise PlaygroundError("settings.not_positive", name=name, value=raw)
    return value


def job_limits() -> JobLimits:
    """At most this many runs going at once: per person, and on the whole server (the operator's settings)."""
    from playground.store import JobLimits

    return JobLimits(per_person=int(_positive(JOBS_PER_PERSON_ENV, DEFAULT_JOBS_PER_PERSON)),
                     per_server=int(_positive(JOBS_PER_SERVER_ENV, DEFAULT_JOBS_PER_SERVER)))


def upload_quota_bytes() -> int:
    """The disk one person's uploads may take on a served app, in all."""
    return int(_positive(UPLOAD_QUOTA_ENV, DEFAULT_UPLOAD_QUOTA_MB) * (1 << 20))


def session_seconds() -> float:
    """How long a sign-in lasts."""
    return _positive(SESSION_HOURS_ENV, DEFAULT_SESSION_HOURS) * 3600.0


def data_roots() -> list[Path]:
    """The folders (and everything under them) a served app offers as training data: ``PLAYGROUND_DATA_ROOTS``,
    separated like PATH. None set: no folder of the server can be used, only built-in sets and uploads."""
    raw = os.environ.get(DATA_ROOTS_ENV, "")
    return [Path(part).expanduser().resolve() for part in raw.split(os.pathsep) if part.strip()]
