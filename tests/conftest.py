"""Shared fixtures: every test gets its own PLAYGROUND_HOME, headless SDL, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.pop("PLAYGROUND_LANG", None)  # the tests read English unless they ask for another language
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    # Test processes side by side (`make test`): each, and every training it starts, takes its share of the
    # cores, as a training does beside other runs; torch is not imported yet here (nor by playground.threads).
    from playground.threads import share

    _share = share(int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ.setdefault("PLAYGROUND_THREADS", str(_share))
    os.environ.setdefault("OMP_NUM_THREADS", str(_share))

ROOT = Path(__file__).resolve().parents[1]

# A real PostgreSQL server per test process, and a fresh database on it per test (tests/postgres.py); a real
# two-node Ray cluster on loopback per test process, on first use (tests/raycluster.py); the GAN metrics' feature
# networks trained once per run and copied into a test's home (tests/feature_nets.py).
pytest_plugins = ["postgres", "raycluster", "feature_nets"]


_UNGROUPED = pytest.StashKey[str]()


@pytest.hookimpl(trylast=True)  # after pytest-xdist has put each test's group into its id
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``--dist loadgroup`` the tests of one ``xdist_group`` share a test process (one Ray cluster for the Ray
    tests, one training of each feature network). pytest-xdist once stopped doing so without a word (with pytest
    9.2): each process then started its own cluster, and the suite slowed. Those tests fail instead, saying why."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        if item.get_closest_marker("xdist_group") and "@" not in item.nodeid:
            item.stash[_UNGROUPED] = ("pytest-xdist did not put this test in its xdist_group: install the pytest "
                                      "version that pyproject.toml asks for")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if _UNGROUPED in item.stash:  # before its fixtures start anything
        pytest.fail(item.stash[_UNGROUPED], pytrace=False)


@pytest.fixture(autouse=True)
def _english_again() -> Iterator[None]:
    """``--lang`` in an in-process CLI call sets the process's language (and ``PLAYGROUND_LANG`` for its
    children): back to English after each test."""
    yield
    from playground.i18n import set_language

    set_language(None)
    os.environ.pop("PLAYGROUND_LANG", None)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh home folder and SQLite store for one test."""
    path = tmp_path / "home"
    monkeypatch.setenv("PLAYGROUND_HOME", str(path))
    monkeypatch.delenv("PLAYGROUND_DB", raising=False)
    yield path


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(home: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run ``playground ARGS`` in this process (fast) and return its exit code and output."""
    from playground.cli import main

    def run(*args: str) -> Result:
        old = sys.argv
        sys.argv = ["playground", *args]
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = old
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def assert_checkpoint_plays(config: dict, path: str | Path, step: int) -> None:
    """A run's checkpoint loads for playing (the network, strictly) and for training (with optimizer
    and counters), reports its step, and acts on a real observation."""
    from playground.config import RLConfig
    from playground.training import make_agent

    for for_training in (False, True):
        agent = make_agent(RLConfig.model_validate(config), device="cpu")
        env = None
        try:
            assert agent.load(Path(path), for_training=for_training) == step
            env = agent.make_env(1, 0)
            assert agent.act(env.reset()).shape == (1,)
        finally:
            if env is not None:
                env.close()
            agent.close()


def playground_process(*args: str, home: Path, **kwargs) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    """A real ``playground`` process (for signals, kills and concurrency)."""
    env = {**os.environ, "PLAYGROUND_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "playground", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )
