"""Worker processes, each reporting through its own pipe, and the parent that watches them.

An asynchronous algorithm (A3C) runs its math in worker processes. What the parent does about
them is the same whatever the math, so it lives here and the algorithm's file keeps only its math:
start the workers, hand what they send to the algorithm, notice one that died or went silent, and
end every one of them on every path out (none is left behind).

Every message is ``(kind, worker index, wall time, payload)``. ``run_worker`` wraps a worker's
loop and ends it with ``done``, or with ``error`` and the traceback; ``alive`` is a heartbeat.
Any other kind is the algorithm's own and goes to its handler, in the order it was sent.

A worker may be killed at any instant (the out-of-memory killer, a user's ``kill -9``), so nothing
the workers share may be left half-done by one: no lock (a dead holder keeps it forever), and no
pipe shared by all (half a message from a dead writer blocks the reader on the others' messages).
Each worker writes to a pipe of its own, which the parent then reads as closed; the stop signal and
the step counter are plain shared numbers, each written by one side only.
"""

from __future__ import annotations

import logging
import signal
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from multiprocessing import connection
from typing import Any

import torch

from playground.errors import WorkerLost
from playground.i18n import Words

log = logging.getLogger(__name__)

Message = tuple[str, int, float, Any]  # (kind, worker index, wall time, payload)
Handler = Callable[[str, int, Any], None]  # (kind, worker index, payload) for the algorithm's own kinds


class Outbox:
    """A worker's end of its own pipe to the parent. ``put`` sends one whole message; it waits only
    while the pipe is full, until the parent (busy with an evaluation or a checkpoint) reads again."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def put(self, message: Message) -> None:
        self._conn.send(message)

    def close(self) -> None:
        self._conn.close()


class StopSignal:
    """Set by the parent, read by the workers: one shared byte, no lock (``multiprocessing.Event``
    takes a lock to read, which a worker killed while reading would hold forever)."""

    def __init__(self, ctx: Any) -> None:
        self._flag = ctx.RawValue("b", 0)

    def set(self) -> None:
        self._flag.value = 1

    def is_set(self) -> bool:
        return bool(self._flag.value)


class SharedSteps:
    """Environment steps taken by all the workers together, from ``start``: each worker counts in a
    slot of its own (one writer, so no lock), and the total is the sum."""

    def __init__(self, ctx: Any, n_workers: int, start: int = 0) -> None:
        self.start = int(start)
        self._slots = ctx.RawArray("q", n_workers) if n_workers else []

    def add(self, index: int, n: int = 1) -> int:
        """Count ``n`` steps of worker ``index``; the total after them."""
        self._slots[index] += n
        return self.total

    @property
    def total(self) -> int:
        return self.start + sum(self._slots)


def run_worker(work: Callable[..., None], index: int, args: Sequence[Any], stop: StopSignal,
               messages: Outbox) -> None:
    """Entry point of a worker process: ``work(*args, stop, messages)``, then ``done``; any exception
    goes to the parent with its traceback, since the parent decides what a failure means."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle (it stops us)
    torch.set_num_threads(1)  # one thread per worker: the workers share the cores between them
    try:
        work(*args, stop, messages)
        messages.put(("done", index, time.time(), None))
    except BaseException:  # noqa: BLE001 - the parent decides; it needs the whole story
        try:
            messages.put(("error", index, time.time(), traceback.format_exc()))
        except OSError:  # the parent is gone: nobody to tell
            pass
        raise SystemExit(1) from None
    finally:
        messages.close()


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
        self.stop = StopSignal(ctx)  # set: every worker finishes its current piece of work and returns
        self.inboxes: list[Any] = []  # the parent's end of each worker's pipe; None once it is closed
        self.processes: list[Any] = []
        self.last_seen: list[float] = []
        self.finished: set[int] = set()

    def start(self, n: int, work: Callable[..., None], args_of: Callable[[int], Sequence[Any]]) -> None:
        """Start ``n`` processes running ``work(*args_of(index), stop, messages)``; ``work`` must pickle."""
        for index in range(n):
            inbox, outbox = self.ctx.Pipe(duplex=False)
            process = self.ctx.Process(
                target=run_worker, args=(work, index, tuple(args_of(index)), self.stop, Outbox(outbox)),
                name=f"{self.label.lower().replace(' ', '-')}-{index}", daemon=True,
            )
            try:
                process.start()
            except BaseException:
                inbox.close()
                raise
            finally:
                outbox.close()  # the worker has its own copy: the pipe closes when the worker ends
            self.inboxes.append(inbox)
            self.processes.append(process)
            self.last_seen.append(time.time())
            log.info("%s %d started (pid %d)", self.label, index, process.pid)

    @property
    def all_done(self) -> bool:
        return len(self.finished) == len(self.processes)

    def receive(self, timeout: float) -> None:
        """Hand what the workers sent to the handler, in order; raise if one of them failed."""
        for kind, index, sent_at, payload in self._read(timeout):
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
                self.receive(0.0)  # its last words (an error or ``done``) may still be in its pipe
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
        for inbox in self.inboxes:
            if inbox is not None:
                inbox.close()
        self.inboxes = []

    def _read(self, timeout: float, limit: int = 1000) -> list[Message]:
        """Up to ``limit`` messages: wait ``timeout`` for the first, then take what is already there, each
        worker's in the order it sent them. A pipe at its end (its worker ended, or died mid-message) is
        closed and read no more: ``check`` tells what became of its worker."""
        out: list[Message] = []
        open_inboxes = [inbox for inbox in self.inboxes if inbox is not None]
        if not open_inboxes:
            time.sleep(timeout)
            return out
        for inbox in connection.wait(open_inboxes, timeout):
            try:
                while len(out) < limit and inbox.poll():
                    out.append(inbox.recv())
            except (EOFError, OSError):  # OSError: the end came in the middle of a message
                inbox.close()
                self.inboxes[self.inboxes.index(inbox)] = None
        return out


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
