"""Writes that must not tear: write a temporary file beside the target, fsync, then ``os.replace``.

A process killed at any moment leaves either the old file or the new one, never half of one. The new file gets the
permissions any other new file of this process would get (``0o666`` less the umask, usually ``rw-r--r--``), not the
owner-only ones of a temporary file: a picture made by ``runs compare --out`` or a run's config is readable where
the person's other files are.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _new_file_mode() -> int:
    """The mode ``open()`` would give a new file here: 0o666 less this process's umask."""
    try:  # Linux says the umask without changing it (os.umask can only read it by setting it, for every thread)
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def temporary_beside(path: Path, *, prefix: str | None = None, suffix: str = ".tmp") -> tuple[int, str]:
    """A new empty file in ``path``'s folder, open as ``(fd, name)``, to be written and then moved over ``path``:
    ``tempfile.mkstemp``'s, with the mode a new file gets here instead of mkstemp's owner-only one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}." if prefix is None else prefix, suffix=suffix, dir=path.parent)
    try:
        os.fchmod(fd, _new_file_mode())
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    return fd, tmp


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(fileobj)`` on a temporary file and move it over ``path`` only once complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temporary_beside(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_output(path: str | Path, produce: Callable[[Path], None]) -> Path:
    """Let ``produce(tmp_path)`` write a file by name (libraries that want a path), then move it in place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temporary_beside(path)
    os.close(fd)
    try:
        produce(Path(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
