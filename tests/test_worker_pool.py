"""The worker pool under a worker killed at the worst instant: in the middle of a message."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import struct
import time
from typing import Any

import pytest

from agents.worker_pool import Outbox, SharedSteps, StopSignal, WorkerPool
from playground.errors import WorkerLost


def _chatty_or_dying(index: int, steps: SharedSteps, stop: StopSignal, messages: Outbox) -> None:
    """Worker 0 counts and reports until stopped; worker 1 counts (to 150 together), then writes the head of a message
    that promises 1,000 bytes, sends 10 of them and is killed."""
    while not stop.is_set():
        total = steps.add(index)
        if index == 1 and total > 150:
            os.write(messages._conn.fileno(), struct.pack("!i", 1000) + b"x" * 10)
            os.kill(os.getpid(), signal.SIGKILL)
        messages.put(("count", index, time.time(), total))
        time.sleep(0.01)


def test_a_worker_killed_mid_message_fails_the_pool_with_a_sentence_and_the_others_still_talk() -> None:
    ctx = mp.get_context("spawn")
    steps = SharedSteps(ctx, 2, start=100)
    heard: list[tuple[int, Any]] = []
    pool = WorkerPool(ctx, "Test worker", timeout_s=60.0, handle=lambda kind, index, payload: heard.append(
        (index, payload)))
    try:
        pool.start(2, _chatty_or_dying, lambda index: (index, steps))
        deadline = time.monotonic() + 60.0
        with pytest.raises(WorkerLost) as lost:
            while time.monotonic() < deadline:  # a shared queue blocked here for ever on the half message
                pool.receive(0.1)
                pool.check()
        assert "Test worker 1 died" in str(lost.value) and "SIGKILL" in str(lost.value), str(lost.value)
        before = len([h for h in heard if h[0] == 0])
        time.sleep(0.3)
        pool.receive(0.5)
        assert len([h for h in heard if h[0] == 0]) > before, "worker 0's messages still arrive"
        assert steps.total > 150, "the count of both workers, read without a lock the dead one could hold"
    finally:
        processes = list(pool.processes)
        pool.end(grace_s=5.0)
    assert all(p.exitcode is not None for p in processes), "every worker ended"
    assert processes[0].exitcode == 0, "the live worker saw the stop signal and returned"
