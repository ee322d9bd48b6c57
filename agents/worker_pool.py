"""Worker processes that report through one queue, and the parent that watches them.

An asynchronous algorithm (A3C) runs its math in worker processes. What the parent does about
them is the same whatever the math, so it lives here and the algorithm's file keeps only its math:
start the workers, hand what they send to the algorithm, notice one that died or went silent, and
end every one of them on every path out (none is left behind).

Every message is ``(kind, worker index, wall time, payload)``. ``run_worker`` wraps a worker's
loop and ends it with ``done``, or with ``error`` and the traceback; ``alive`` is a heartbeat.
Any other kind is the algorithm's own and goes to its handler, in the order it was sent.
"""

from __future__ import annotations

import logging
import queue as queue_module
import signal
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from playground.errors import WorkerLost
from playground.i18n import Words

log = logging.getLogger(__name__)

Message = tuple[str, int, float, Any]  # (kind, worker index, wall time, payload)
Handler = Callable[[str, int, Any], None]  # (kind, worker index, payload) for the algorithm's own kinds


def run_worker(work: Callable[..., None], index: int, args: Sequence[Any], stop: Any, messages: Any) -> None:
    """Entry point of a worker process: ``work(*args, stop, messages)``, then ``done``; any exception
    goes to the parent with its traceback, since the parent decides what a failure means."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle (it stops us)
    torch.set_num_threads(1)  # one thread per worker: the workers share the cores between them
    try:
        work(*args, stop, messages)
        messages.put(("done", index, time.time(), None))
    except BaseException:  # noqa: BLE001 - the parent decides; it needs the whole story
        messages.put(("error", index, time.time(), traceback.format_exc()))
        messages.close()
        messages.join_thread()  # make sure the error reaches the pipe before we exit
        raise SystemExit(1) from None


class WorkerPool:
    """Starts, watches and ends the worker processes of one ``learn`` call.

    ``label`` names a worker in logs and errors ("A3C worker 1 died: ..."); ``timeout_s`` is how long
    a worker may stay silent before it counts as hung, and ``timeout_name`` the setting that raises it.
    """

    def __init__(self, ctx: Any, label: str, timeout_s: float, handle: Handler,
                 timeout_name: str = "worker_timeout_s") -> None:
        self.ctx = ctx
        self.label = label
        self.timeout_s = timeout_s
        self.timeout_name = timeout_name
        self.handle = handle
        self.stop = ctx.Event()  # set: every worker finishes its current piece of work and returns
        self.messages = ctx.Queue()
        self.processes: list[Any] = []
        self.last_seen: list[float] = []
        self.finished: set[int] = set()

    def start(self, n: int, work: Callable[..., None], args_of: Callable[[int], Sequence[Any]]) -> None:
        """Start ``n`` processes running ``work(*args_of(index), stop, messages)``; ``work`` must pickle."""
        for index in range(n):
            process = self.ctx.Process(
                target=run_worker, args=(work, index, tuple(args_of(index)), self.stop, self.messages),
                name=f"{self.label.lower().replace(' ', '-')}-{index}", daemon=True,
            )
            process.start()
            self.processes.append(process)
            self.last_seen.append(time.time())
            log.info("%s %d started (pid %d)", self.label, index, process.pid)

    @property
    def all_done(self) -> bool:
        return len(self.finished) == len(self.processes)

    def receive(self, timeout: float) -> None:
        """Hand what the workers sent to the handler, in order; raise if one of them failed."""
        for kind, index, sent_at, payload in _receive(self.messages, timeout):
            self.last_seen[index] = max(self.last_seen[index], sent_at)
            if kind == "done":
                self.finished.add(index)
            elif kind == "error":
                log.error("%s %d failed:\n%s", self.label, index, payload)
                last_line = payload.strip().splitlines()[-1] if payload.strip() else Words("agents.no_message")
                raise WorkerLost("agents.worker_died", label=self.label, index=index, error=last_line)
            elif kind != "alive":
                self.handle(kind, index, payload)

    def check(self) -> None:
        """A worker that exited without saying ``done`` died; one silent too long is hung."""
        for index, process in enumerate(self.processes):
            if index in self.finished:
                continue
            if process.exitcode is not None:
                self.receive(0.0)  # its last words (an error or ``done``) may still be in the queue
                if index in self.finished:
                    continue
                code = process.exitcode
                how = (Words("agents.killed_by", signal=signal.Signals(-code).name) if code < 0
                       else Words("agents.exit_status", code=code))
                raise WorkerLost("agents.worker_died_silently", label=self.label, index=index, how=how)
            silent = time.time() - self.last_seen[index]
            if silent > self.timeout_s:
                raise WorkerLost("agents.worker_hung", label=self.label, index=index, seconds=silent,
                                 setting=self.timeout_name)

    def finish(self, grace_s: float) -> None:
        """Ask every worker to stop, and read what they send while they finish (up to ``grace_s``)."""
        self.stop.set()
        deadline = time.monotonic() + grace_s
        while not self.all_done and time.monotonic() < deadline:
            self.receive(0.1)
            self.check()
        self.receive(0.0)

    def end(self, grace_s: float = 0.0) -> None:
        """Every path out comes here: wait ``grace_s``, then terminate, then kill; always join. Idempotent."""
        self.stop.set()
        deadline = time.monotonic() + grace_s
        for process in self.processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        for process in self.processes:
            process.join(timeout=5.0)
            if process.is_alive():
                log.warning("%s ignored SIGTERM; killing it", process.name)
                process.kill()
                process.join(timeout=5.0)
        self.processes = []
        self.messages.cancel_join_thread()
        self.messages.close()


class LossAverager:
    """Averages the workers' loss reports over ``every_s`` seconds, weighted by their number of updates."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.sums: dict[str, float] = {}
        self.count = 0
        self.last = time.monotonic()

    def add(self, updates: int, means: Mapping[str, float]) -> None:
        for key, value in means.items():
            self.sums[key] = self.sums.get(key, 0.0) + value * updates
        self.count += updates

    def due(self) -> bool:
        return self.count > 0 and time.monotonic() - self.last >= self.every_s

    def pop(self) -> dict[str, float]:
        values = {f"train/{key}": total / self.count for key, total in self.sums.items()} if self.count else {}
        self.sums, self.count, self.last = {}, 0, time.monotonic()
        return values


def _receive(messages: Any, timeout: float, limit: int = 1000) -> list[Message]:
    """Up to ``limit`` messages: wait ``timeout`` for the first, then take what is already there."""
    out = []
    try:
        out.append(messages.get(timeout=timeout) if timeout > 0 else messages.get_nowait())
        while len(out) < limit:
            out.append(messages.get_nowait())
    except queue_module.Empty:
        pass
    return out
