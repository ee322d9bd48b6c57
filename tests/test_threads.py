"""A training process takes its share of the cores: cores ÷ runs going on this machine, looked at again
as runs start and end; an algorithm's own lower bound holds inside it, and leaving restores all."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from playground import runs, threads
from playground.store import get_store


def _running_run(n: int) -> str:
    run = runs.create(kind="rl", algo="ppo", env="CartPole-v1", game="CartPole", config={}, seed=n)
    runs.mark_running(run.id)  # claimed by this (live) process on this host
    return run.id


def test_the_share_is_the_cores_divided_by_the_runs_going(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "cores", lambda: 4)
    monkeypatch.setattr(threads, "RECHECK_S", 0.0)
    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    before = torch.get_num_threads()
    store = get_store()
    first = _running_run(0)
    with threads.ThreadShare(store) as share:
        assert share.threads == 4 and torch.get_num_threads() == 4 and threads.budget() == 4
        second = _running_run(1)  # a second training starts beside it
        assert share.check() == 2 and torch.get_num_threads() == 2
        from playground.envs import _num_threads

        assert _num_threads(8) == 2, "the C++ Atari env keeps to the share too"
        with threads.at_most(1):  # a small MLP is faster on one thread, whatever the share
            assert torch.get_num_threads() == 1
            _running_run(2)
            assert share.check() == 1 and torch.get_num_threads() == 1
        runs.end(second, "stopped", 0)
        assert share.check() == 2 and torch.get_num_threads() == 2, "threads come back when a run ends"
    runs.end(first, "finished", 0)
    assert torch.get_num_threads() == before and threads.ENV_VAR not in __import__("os").environ


def test_an_operators_limit_is_never_exceeded(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "cores", lambda: 8)
    monkeypatch.setenv(threads.ENV_VAR, "3")
    _running_run(0)
    with threads.ThreadShare(get_store()) as share:
        assert share.threads == 3 and torch.get_num_threads() == 3
    assert threads.budget() == 3


def test_share_arithmetic() -> None:
    assert threads.share(1, 2) == 2 and threads.share(2, 2) == 1 and threads.share(3, 2) == 1
    assert threads.share(0, 16) == 16 and threads.share(3, 16) == 5
