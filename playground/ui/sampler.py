"""The warm sampler behind the Watch page's Steer tab: one child process that keeps a generator loaded.

A slider that moves asks for a new picture each time; starting a child per picture would cost the
torch import (seconds) every time. So the web app keeps one ``playground _ui steer`` child per server
process (``playground.gan_steering.serve``) and talks to it one JSON line at a time, under a lock. The
child ends when its input closes (the server stopped) or after 15 minutes without a request; the next
request starts a new one. Nothing here imports torch.
"""

from __future__ import annotations

import atexit
import json
import select
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from playground import jobs
from playground.jobs import ChildFailed, ChildTimedOut

FIRST_ANSWER_S = 120.0  # the first request also imports torch and loads the checkpoint
ANSWER_S = 60.0


class WarmSampler:
    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._answered = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def _start(self) -> subprocess.Popen[str]:
        self._answered = False
        self._proc = subprocess.Popen(  # noqa: S603 - an argument list, never a shell string
            [sys.executable, "-m", "playground", "_ui", "steer"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, env=jobs.child_env(None, SDL_VIDEODRIVER="dummy"),
        )
        return self._proc

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """One request (see ``gan_steering.serve``); a refusal is raised as its sentence (``ChildFailed``)."""
        with self._lock:
            for _ in range(2):  # a child that ended while idle is started again once
                proc = self._proc if self._proc is not None and self._proc.poll() is None else self._start()
                assert proc.stdin is not None and proc.stdout is not None
                try:
                    proc.stdin.write(json.dumps(request) + "\n")
                    proc.stdin.flush()
                except (BrokenPipeError, OSError):
                    self._proc = None
                    continue
                wait = ANSWER_S if self._answered else FIRST_ANSWER_S
                ready, _, _ = select.select([proc.stdout], [], [], wait)
                if not ready:
                    self._stop(proc)
                    raise ChildTimedOut("jobs.child_timeout", command="_ui steer", seconds=wait)
                line = proc.stdout.readline()
                if not line:
                    self._proc = None
                    continue
                self._answered = True
                answer = json.loads(line)
                if "error" in answer:
                    raise ChildFailed("jobs.child_said", sentence=answer["error"])
                return answer
        raise ChildFailed("jobs.child_failed", said="the sampler ended without an answer")

    def controls(self, run_id: str, checkpoint: str, lang: str) -> dict[str, Any]:
        return self.ask({"run": run_id, "checkpoint": checkpoint, "op": "controls", "lang": lang})["controls"]

    def draw(self, run_id: str, checkpoint: str, op: str, out: Path, lang: str, **values: Any) -> Path:
        answer = self.ask({"run": run_id, "checkpoint": checkpoint, "op": op, "out": str(out), "lang": lang, **values})
        return Path(answer["path"])

    @staticmethod
    def _stop(proc: subprocess.Popen[str]) -> None:
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()

    def close(self) -> None:
        with self._lock:
            if self._proc is not None:
                self._stop(self._proc)
                self._proc = None


_SAMPLER: WarmSampler | None = None
_CREATING = threading.Lock()


def sampler() -> WarmSampler:
    """This server's one warm sampler (each browser session runs the page in a thread of its own)."""
    global _SAMPLER
    with _CREATING:
        if _SAMPLER is None:
            _SAMPLER = WarmSampler()
            atexit.register(_SAMPLER.close)
        return _SAMPLER
