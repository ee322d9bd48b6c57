"""How many threads a training process may use: its share of the cores, given the runs already going and what
other programs keep busy.

Torch and the C++ Atari environments each start one thread per core by default. Two such runs on a
learner's 2-core laptop (beside a browser, the app and a viewer) keep four threads or more fighting
over two cores, and both collapse. A training process therefore takes ``cores // runs going here``
threads (at least one) and looks again every ``RECHECK_S`` seconds, so a run started alone gives
threads back when a second one starts, and takes them again when it ends. A core that another program
keeps busy (``BUSY_FROM`` of it or more, measured from ``/proc/stat`` over the process's start and over each
``RECHECK_S``) is not counted either: one thread each for torch and the games beside a busy program
trains two to three times as fast as two each fighting it. The games' threads are fixed when their
environment is built, at the start; torch's follow every check.

This module is the one place that sets torch's thread count: the process's share, lowered inside
``at_most(n)`` where an algorithm knows fewer threads are faster (small MLPs). A3C's workers are
processes with one thread each and are sized by ``--workers`` instead.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playground.store import Store

log = logging.getLogger(__name__)

RECHECK_S = 15.0
# A program beside the training that keeps this much of a core busy or more counts as taking that core. PPO on Pong,
# 8 envs, 2-core Zen 5 EPYC, beside a process busy part of the time (medians of 3 rounds, two runs each, steps/s):
# 30% of a core busy: two threads each 958 and 928 against one 865 and 891; 50%: 694 and 665 against 886 and 915;
# always busy: 371 and 334 against 940 and 938 (docs/benchmarks.md).
BUSY_FROM = 0.4
# The first check watches the other programs for at least this long before the games' threads are chosen: from the
# process's start where the CLI noted it (note_start; importing torch and building the run takes longer, so nothing
# waits), else by waiting. Over a second a short burst counts for its length: a third of a second of the app
# redrawing its page after "Train", say, is a third of a core, under BUSY_FROM.
SAMPLE_S = 1.0
ENV_VAR = "PLAYGROUND_THREADS"  # the share this process took; its environments and children read it

_ceiling: int | None = None  # an algorithm's own upper bound, inside ``at_most``
_start: tuple[float, float, float] | None = None  # the cpu_reading() note_start() took, for the first check


# How long torch's OpenMP threads (libgomp) spin, waiting for the next parallel region, before they sleep. The
# default, 300,000 spins (about 10 ms on a 2-core Zen 5 EPYC), keeps a torch thread spinning through every game
# step that follows an acting pass, on a core the C++ Atari env's threads need; 20,000 (under a millisecond) still
# bridges the gaps between the kernels of an update. A2C on Pong, 16 envs, three runs each: 2,435-2,517 steps/s
# against 2,161-2,180 (docs/benchmarks.md); PPO and DQN the same either way.
OPENMP_SPIN = "20000"


def settle_openmp(environ: MutableMapping[str, str] = os.environ) -> None:
    """Before torch loads (libgomp reads it once): the spin above, unless the user chose one
    (``GOMP_SPINCOUNT`` or ``OMP_WAIT_POLICY`` set). Child processes inherit it."""
    if "GOMP_SPINCOUNT" not in environ and "OMP_WAIT_POLICY" not in environ:
        environ["GOMP_SPINCOUNT"] = OPENMP_SPIN


def note_start() -> None:
    """Take the first reading of the other programs' load as this process starts (the CLI, first thing), so that the
    first :class:`ThreadShare` check has watched them over the start instead of waiting ``SAMPLE_S``."""
    global _start
    _start = cpu_reading()


def cores() -> int:
    """CPU cores this process may use (respects pinning, unlike os.cpu_count())."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def share(running: int, available: int | None = None) -> int:
    """Threads for one of ``running`` training processes on ``available`` cores (at least one)."""
    available = cores() if available is None else available
    return max(1, available // max(1, running))


def free_cores(available: int, others: float) -> int:
    """Of ``available`` cores, those left (at least one) where other programs keep ``others`` cores busy on
    average: each started ``BUSY_FROM`` of a core counts as a whole one."""
    whole = int(others)
    started = 1 if others - whole >= BUSY_FROM else 0
    return max(1, available - whole - started)


def cpu_reading() -> tuple[float, float, float] | None:
    """(now, seconds the cores this process may use have been busy since boot, seconds of CPU this process has used)
    on a monotonic clock; None where ``/proc/stat`` cannot be read (not Linux)."""
    try:
        with open("/proc/stat") as stat:
            lines = stat.read().splitlines()
    except OSError:
        return None
    mine = {f"cpu{i}" for i in os.sched_getaffinity(0)} if hasattr(os, "sched_getaffinity") else None
    ticks = 0
    for line in lines:
        name, *fields = line.split()
        if name.startswith("cpu") and name != "cpu" and (mine is None or name in mine):
            user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
            ticks += user + nice + system + irq + softirq  # idle, waiting for disk and stolen by a hypervisor: not busy
    own = os.times()
    return time.monotonic(), ticks / os.sysconf("SC_CLK_TCK"), own.user + own.system


def others_busy(before: tuple[float, float, float], after: tuple[float, float, float]) -> float:
    """Cores that other processes kept busy on average between two readings of :func:`cpu_reading`."""
    wall = after[0] - before[0]
    if wall <= 0:
        return 0.0
    return max(0.0, (after[1] - before[1]) - (after[2] - before[2])) / wall


def budget() -> int:
    """The threads this process may use: the share it took, otherwise every core."""
    value = os.environ.get(ENV_VAR, "")
    return min(int(value), cores()) if value.isdigit() and int(value) > 0 else cores()


def _torch() -> Any:
    """torch when this process has loaded it; None in a process that computes with numpy alone (the tabular
    methods), which has no torch threads to set and must not pay for loading it."""
    return sys.modules.get("torch")


def _apply() -> None:
    torch = _torch()
    if torch is None:
        return
    wanted = budget() if _ceiling is None else min(budget(), _ceiling)
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)


def take(threads: int) -> None:
    """Make ``threads`` this process's share (torch now; environments built from now on)."""
    os.environ[ENV_VAR] = str(max(1, threads))
    _apply()


@contextmanager
def at_most(n: int | None) -> Iterator[None]:
    """At most ``n`` torch threads inside the block, however large the share (None: the share)."""
    global _ceiling
    previous = _ceiling
    _ceiling = n
    _apply()
    try:
        yield
    finally:
        _ceiling = previous
        _apply()


def running_here(store: Store) -> int:
    """Training processes running on this machine now (this one included, once it has claimed its run)."""
    from playground import runs

    host = socket.gethostname()
    return sum(1 for r in store.find_runs(status="running") if r.host == host and runs.is_alive(r))


class ThreadShare:
    """This process's share of the cores while it trains; ``check`` is cheap to call at every heartbeat.

    ``PLAYGROUND_THREADS`` set before training starts is a limit the share never exceeds (an operator's,
    or a test's). Leaving the block restores the thread count and that variable as they were. Where there is more
    than one thread to share, entering watches the other programs for ``SAMPLE_S`` at least, counted from the
    process's start where :func:`note_start` noted it. ``watch_load`` False: the runs' share alone, for a training
    that computes with numpy on one thread (the tabular methods), which has nothing to size and should not wait.
    """

    def __init__(self, store: Store, *, watch_load: bool = True) -> None:
        self.store = store
        self.watch_load = watch_load
        self.threads = 0
        self._checked = 0.0
        self._saved_env = os.environ.get(ENV_VAR)
        self.limit = budget() if self._saved_env is not None else None
        self._saved_torch: int | None = None
        self._reading: tuple[float, float, float] | None = None  # the last cpu_reading(), for the next window
        self.others: float | None = None  # cores other programs kept busy over the last window; None: never looked

    def __enter__(self) -> ThreadShare:
        torch = _torch()
        self._saved_torch = torch.get_num_threads() if torch is not None else None
        self.check(force=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved_env is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = self._saved_env
        torch = _torch()
        if torch is not None and self._saved_torch is not None:
            torch.set_num_threads(self._saved_torch)

    def check(self, force: bool = False) -> int:
        now = time.monotonic()
        if force or now - self._checked >= RECHECK_S:
            self._checked = now
            threads = share(running_here(self.store))
            if self.limit is not None:
                threads = min(threads, self.limit)
            if threads > 1 and self.watch_load:
                threads = min(threads, self._left_by_others())
            if threads != self.threads:
                load = "" if self.others is None else f" (others keep {self.others:.1f} busy)"
                if self.threads:
                    log.info("runs going here or other programs' load changed: %d threads instead of %d%s", threads,
                             self.threads, load)
                else:
                    log.info("using %d thread(s) of %d cores%s", threads, cores(), load)
                self.threads = threads
                take(threads)
            else:
                _apply()  # torch loaded since the last check (by a model built inside the session) gets the share
        return self.threads

    def _left_by_others(self) -> int:
        """The cores other programs leave free over the window since the last reading (the first: since the process
        started, or ``SAMPLE_S``)."""
        global _start
        if self._reading is None:
            started, _start = _start, None  # one process start, watched once
            fresh = started is not None and time.monotonic() - started[0] <= RECHECK_S
            self._reading = started if fresh else cpu_reading()
            if self._reading is None:
                return cores()
            time.sleep(max(0.0, SAMPLE_S - (time.monotonic() - self._reading[0])))
        before, self._reading = self._reading, cpu_reading()
        if before is None or self._reading is None:
            return cores()
        self.others = others_busy(before, self._reading)
        return free_cores(cores(), self.others)
