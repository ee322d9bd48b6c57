"""Files written whole (playground/atomic.py) get the permissions of any other new file, not a temporary file's."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from playground.atomic import atomic_output, atomic_write_bytes, atomic_write_text
from playground.viewer.record import Recorder


@pytest.fixture(params=[0o022, 0o077, 0o002], ids=["umask-022", "umask-077", "umask-002"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_whole_writes_and_recordings_follow_the_umask(tmp_path: Path, umask: int) -> None:
    expected = 0o666 & ~umask  # what open() gives a new file: rw-r--r-- under the usual 022
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert _mode(plain) == expected

    written = [
        atomic_write_bytes(tmp_path / "compare.png", b"\x89PNG"),  # runs compare --out, sample grids, CSVs
        atomic_write_text(tmp_path / "config.yaml", "algo: ppo\n"),  # a run's config
        atomic_output(tmp_path / "model.zip", lambda tmp: tmp.write_bytes(b"zip")),  # checkpoints, imports
    ]
    recorder = Recorder(tmp_path / "game.gif", fps=10)  # watch --record
    for shade in (0, 255):
        recorder.add(np.full((8, 8, 3), shade, dtype=np.uint8))
    written.append(recorder.close())
    for path in written:
        assert path is not None and _mode(path) == expected, (path.name, oct(_mode(path)), oct(expected))
    overwritten = atomic_write_text(tmp_path / "config.yaml", "algo: a2c\n")  # replacing keeps the same rule
    assert _mode(overwritten) == expected and overwritten.read_text() == "algo: a2c\n"
    assert not list(tmp_path.glob(".*")), "nothing temporary left behind"
