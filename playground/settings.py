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

from playground.errors import PlaygroundError, StoreError


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
