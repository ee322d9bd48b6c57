"""A training process takes its share of the cores: cores ÷ runs going on this machine, looked at again
as runs start and end; an algorithm's own lower bound holds inside it, and leaving restores all."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from playground import runs, threads
from playground.store import get_store


def _running_run(n: int) -> str:
    run = runs.create(kind="rl", algo="ppo", env="CartPole-v1", game="CartPole", config={}, seed=n)
    runs.mark_running(run.id)  # claimed by this (live) process on this host
    return run.id


@pytest.fixture
def nothing_else_running(monkeypatch: pytest.MonkeyPatch) -> None:
    """No reading of the other programs' load (as where /proc/stat is missing): the share is the runs' alone."""
    monkeypatch.setattr(threads, "cpu_reading", lambda: None)


def test_the_share_is_the_cores_divided_by_the_runs_going(home: Path, monkeypatch: pytest.MonkeyPatch,
                                                           nothing_else_running: None) -> None:
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


def test_an_operators_limit_is_never_exceeded(home: Path, monkeypatch: pytest.MonkeyPatch,
                                              nothing_else_running: None) -> None:
    monkeypatch.setattr(threads, "cores", lambda: 8)
    monkeypatch.setenv(threads.ENV_VAR, "3")
    _running_run(0)
    with threads.ThreadShare(get_store()) as share:
        assert share.threads == 3 and torch.get_num_threads() == 3
    assert threads.budget() == 3


def test_a_core_another_program_keeps_busy_is_left_to_it(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "cores", lambda: 2)
    monkeypatch.setattr(threads, "RECHECK_S", 0.0)
    monkeypatch.setattr(threads, "SAMPLE_S", 0.0)
    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    # (now, seconds the cores were busy, seconds this process used): a program beside keeps one core busy over
    # the first window; over the second, others kept a tenth of one busy (the rest was this process)
    readings = iter([(0.0, 100.0, 5.0), (0.25, 100.25, 5.0), (15.25, 116.75, 20.0)])
    monkeypatch.setattr(threads, "cpu_reading", lambda: next(readings))
    monkeypatch.setattr(threads, "_start", None)  # no command start noted: the first check takes its own readings
    _running_run(0)
    with threads.ThreadShare(get_store()) as share:
        assert share.threads == 1 and torch.get_num_threads() == 1 and threads.budget() == 1
        assert share.others == pytest.approx(1.0)
        from playground.envs import _num_threads

        assert _num_threads(8) == 1, "the games' threads leave that core too"
        assert share.check() == 2 and share.others == pytest.approx(0.1), "threads come back when it stops"


def test_the_first_look_spans_the_commands_start(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI notes a reading as it starts; the run's first check measures from there and does not wait."""
    monkeypatch.setattr(threads, "cores", lambda: 2)
    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    noted = time.monotonic() - 2.0
    monkeypatch.setattr(threads, "_start", (noted, 100.0, 1.0))  # two seconds ago, as the command started
    # since then the cores were busy 2.2 s, 1.0 s of it this process's own: others kept 0.6 of a core busy
    monkeypatch.setattr(threads, "cpu_reading", lambda: (noted + 2.0, 102.2, 2.0))
    waits: list[float] = []
    sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda seconds: (waits.append(seconds), sleep(seconds))[1])
    with threads.ThreadShare(get_store()) as share:
        assert share.threads == 1 and share.others == pytest.approx(0.6)
    assert not any(waits), "the start was watched already: nothing waits"
    assert threads._start is None, "a process's start is watched once"


def test_a_training_on_one_thread_does_not_watch_the_load(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tabular methods (numpy, one thread) neither wait for a look at the other programs nor lose their share."""
    def unread() -> None:
        raise AssertionError("the load was read")

    monkeypatch.setattr(threads, "cores", lambda: 2)
    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    monkeypatch.setattr(threads, "cpu_reading", unread)
    with threads.ThreadShare(get_store(), watch_load=False) as share:
        assert share.threads == 2


def test_other_programs_load_is_read_from_the_machine() -> None:
    """A real busy process beside this one shows as (at least) one busy core; this process's own work never does."""
    assert threads.others_busy((0.0, 10.0, 5.0), (2.0, 13.0, 6.0)) == pytest.approx(1.0)
    assert threads.others_busy((0.0, 10.0, 5.0), (2.0, 12.0, 7.0)) == 0.0
    if threads.cpu_reading() is None:
        pytest.skip("no /proc/stat here")
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # started
        before = threads.cpu_reading()
        time.sleep(1.0)
        after = threads.cpu_reading()
    finally:
        busy.kill()
        busy.wait()
    assert before is not None and after is not None
    assert threads.others_busy(before, after) >= 0.8


def test_share_arithmetic() -> None:
    assert threads.free_cores(2, 0.0) == 2 and threads.free_cores(2, 0.3) == 2 and threads.free_cores(2, 0.4) == 1
    assert threads.free_cores(2, 1.0) == 1 and threads.free_cores(2, 1.9) == 1 and threads.free_cores(1, 0.0) == 1
    assert threads.free_cores(8, 3.5) == 4 and threads.free_cores(8, 0.39) == 8
    assert threads.share(1, 2) == 2 and threads.share(2, 2) == 1 and threads.share(3, 2) == 1
    assert threads.share(0, 16) == 16 and threads.share(3, 16) == 5


def test_openmp_spins_briefly_unless_the_user_chose() -> None:
    """libgomp's threads spin 20,000 times, not 300,000, before they sleep; a user's own setting stays."""
    environ: dict[str, str] = {}
    threads.settle_openmp(environ)
    assert environ == {"GOMP_SPINCOUNT": threads.OPENMP_SPIN}
    for chosen in ({"GOMP_SPINCOUNT": "300000"}, {"OMP_WAIT_POLICY": "active"}):
        environ = dict(chosen)
        threads.settle_openmp(environ)
        assert environ == chosen


def test_the_cli_settles_openmp_before_torch_loads_and_its_children_inherit_it() -> None:
    code = ("import os, sys\nsys.argv = ['playground', '--help']\nfrom playground import cli\n"
            "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules, os.environ.get('GOMP_SPINCOUNT'))")
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip().splitlines()[-1] == f"False {threads.OPENMP_SPIN}"


def test_ray_workers_get_the_same_spin_or_the_users_own(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run's Ray worker process starts with the spin set before it loads torch, or with the user's own choice."""
    from playground import cluster

    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    env = cluster._worker_env(cluster.Placement(on="ray", cpus=2))
    assert env["GOMP_SPINCOUNT"] == threads.OPENMP_SPIN and env["OMP_NUM_THREADS"] == "2"
    monkeypatch.setenv("OMP_WAIT_POLICY", "passive")
    env = cluster._worker_env(cluster.Placement(on="ray", cpus=2))
    assert env["OMP_WAIT_POLICY"] == "passive" and "GOMP_SPINCOUNT" not in env
