"""Training as background processes, for the UI and for ``--detach`` on the CLI.

A job is a separate Python process running ``playground rl|gan _run RUN_ID``: it survives the
browser, a Streamlit rerun and the terminal that started it. Its output goes to the run folder's
``logs/job.log``; its state lives in the store like any other run's, so any door can watch it
and ``runs stop`` can end it cleanly.

Doors that never load the engine (the web app: no torch, stable-baselines3 or ale-py in its
process) check, create and start runs through a short child, ``playground … train --detach
--json``: ``launch_detached`` and ``resume_detached`` give the same checks and the same one
sentence as the CLI, and nothing is created when a value is wrong.

A process that starts jobs and lives on (the web app's server) collects each job that ends, so none is
left a zombie under it: a waiting thread per job it started itself, and per job started through a child
that came to be its own (it is init in a container, or a subreaper).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from playground.config import GanConfig, RLConfig
from playground.errors import PlaygroundError
from playground.store import Run

# A start checks the config and builds the model once (an Atari CNN with its envs): seconds, on a
# busy machine a minute.
CHILD_TIMEOUT_S = 300.0


def start(run: Run, *, resume: bool = False, checkpoint: str = "latest", reap: bool = True) -> int:
    """Start training ``run`` in a new session (so Ctrl-C in this terminal does not reach it).

    ``reap``: a thread waits for the job, so that a process which lives on (a server) keeps no zombie when
    it ends. The CLI, which exits at once and leaves the job to init, and a caller that waits for the job
    itself pass False."""
    argv = [sys.executable, "-m", "playground", run.kind, "_run", run.id]  # kind is "rl" or "gan"
    if resume:
        argv += ["--resume", "--checkpoint", str(checkpoint)]
    log_path = Path(run.folder) / "logs" / "job.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        proc = subprocess.Popen(  # noqa: S603 - an argument list, never a shell string
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    if reap:
        threading.Thread(target=proc.wait, name=f"reap-job-{proc.pid}", daemon=True).start()
    if run.status == "created":
        from playground import runs

        runs.note_job(run, proc.pid)
    return proc.pid


def create(config: RLConfig | GanConfig, label: str | None = None, player: str | None = None) -> Run:
    """Create the run a validated config describes, after the checks that need no training:
    the device exists and (for RL) the agent can be built for that environment."""
    from playground.settings import resolve_device

    resolve_device(config.device)  # refuse cuda on a machine without one before creating the run
    if isinstance(config, GanConfig):
        from playground import gan_training

        return gan_training.create_run(config, label=label, player=player)
    from playground import training

    training.check_buildable(config)
    return training.create_run(config, label=label, player=player)


def launch(config: RLConfig | GanConfig, label: str | None = None) -> tuple[Run, int]:
    """Create a run and train it in the background; returns the run and the job's pid."""
    run = create(config, label)
    return run, start(run)


def resume(ref: str, total: int | None = None) -> tuple[Run, int]:
    """Continue a stopped or failed run (RL or GAN) in the background from its last checkpoint."""
    from playground import runs

    run = runs.get(ref)
    if run.kind == "gan":
        from playground import gan_training

        prepared = gan_training.prepare_resume(run.id, total)
    else:
        from playground import training

        prepared = training.prepare_resume(run.id, total)
    return prepared, start(prepared, resume=True)


class ChildFailed(PlaygroundError):
    """A child ``playground`` process refused (with its one sentence) or could not answer."""


def _sentence(proc: subprocess.CompletedProcess[str]) -> str:
    """The CLI's one sentence (``error: …``), or the end of what the child said."""
    lines = [line.strip() for line in (proc.stderr or "").splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("error:"):
            return line.removeprefix("error:").strip()
    said = " ".join(lines[-2:]) or f"exit status {proc.returncode}"
    return f"the playground command failed ({said})."


def run_cli(args: Sequence[str], *, timeout: float = CHILD_TIMEOUT_S) -> str:
    """``playground ARGS`` in a short child process, for a door that must not load the engine itself.

    Returns what it printed; a refusal or a failure is raised as its one sentence (``ChildFailed``).
    """
    argv = [sys.executable, "-m", "playground", *args]
    try:
        proc = subprocess.run(  # noqa: S603 - an argument list, never a shell string
            argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    except subprocess.TimeoutExpired:
        raise ChildFailed(
            f"`playground {' '.join(args[:2])}` gave no answer within {timeout:.0f} s; try again, "
            "or run it from the command line to see why."
        ) from None
    if proc.returncode != 0:
        raise ChildFailed(_sentence(proc))
    return proc.stdout


def _started(stdout: str) -> tuple[str, int]:
    """The run id and job pid from ``--detach --json`` output (the id line, then the run as JSON)."""
    first, _, rest = stdout.partition("\n")
    try:
        record = json.loads(rest)
        return str(record["id"]), int(record["pid"])
    except (ValueError, KeyError, TypeError):
        run_id = first.strip() or "(no id)"
        raise ChildFailed(f"the new run {run_id} started, but its job could not be read back.") from None


def _reap_if_ours(pid: int) -> None:
    """Collect the job ``pid`` when it ends if it became this process's child: a job started through a child
    ``playground`` process is adopted by init when that child exits, or by us when we are init or a subreaper."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return  # not ours: whoever adopted it collects it
    if done == 0:
        threading.Thread(target=_wait_for, args=(pid,), name=f"reap-job-{pid}", daemon=True).start()


def _wait_for(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def launch_detached(kind: str, name: str, target: str, options: Sequence[str] = ()) -> tuple[str, int]:
    """``playground KIND train NAME TARGET OPTIONS --detach`` in a child: check, create, start.

    Returns the run id and the job's pid. ``options`` are CLI options (``--steps=2000``,
    ``--set=gamma=0.98``); the names come after ``--`` so that no value is read as an option.
    """
    run_id, pid = _started(run_cli([kind, "train", "--detach", "--json", *options, "--", name, target]))
    _reap_if_ours(pid)
    return run_id, pid


def resume_detached(kind: str, ref: str) -> tuple[str, int]:
    """``playground KIND resume REF --detach`` in a child; the run id and the job's pid."""
    run_id, pid = _started(run_cli([kind, "resume", "--detach", "--json", "--", ref]))
    _reap_if_ours(pid)
    return run_id, pid
