"""Training as background processes, for the UI and for ``--detach`` on the CLI.

A job is a separate Python process running ``playground rl|gan _run RUN_ID``: it survives the
browser, a Streamlit rerun and the terminal that started it. Its output goes to the run folder's
``logs/job.log``; its state lives in the store like any other run's, so any door can watch it
and ``runs stop`` can end it cleanly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from playground.config import GanConfig, RLConfig
from playground.store import Run


def start(run: Run, *, resume: bool = False) -> int:
    """Start training ``run`` in a new session (so Ctrl-C in this terminal does not reach it)."""
    argv = [sys.executable, "-m", "playground", run.kind, "_run", run.id]  # kind is "rl" or "gan"
    if resume:
        argv.append("--resume")
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
    if run.status == "created":
        from playground import runs

        runs.note_job(run, proc.pid)
    return proc.pid


def create(config: RLConfig | GanConfig, label: str | None = None) -> Run:
    """Create the run a validated config describes, after the checks that need no training:
    the device exists and (for RL) the agent can be built for that environment."""
    from playground.settings import resolve_device

    resolve_device(config.device)  # refuse cuda on a machine without one before creating the run
    if isinstance(config, GanConfig):
        from playground import gan_training

        return gan_training.create_run(config, label=label)
    from playground import training

    training.check_buildable(config)
    return training.create_run(config, label=label)


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
