"""Training as background processes, for the UI and for ``--detach`` on the CLI.

A job is a separate Python process running ``playground rl|gan _run RUN_ID``: it survives the
browser, a Streamlit rerun and the terminal that started it. Its output goes to the run folder's
``logs/job.log``; its state lives in the store like any other run's, so any door can watch it
and ``runs stop`` can end it cleanly.

Doors that never load the engine (the web app: no torch, stable-baselines3 or ale-py in its
process) check, create and start runs through a short child, ``playground … train --detach
--json``: ``launch_detached`` and ``resume_detached`` give the same checks and the same one
sentence as the CLI, and nothing is created when a value is wrong.

A run can train on a Ray cluster instead (``--on``, :mod:`playground.cluster`): then the job is a driver,
``playground _ray RUN… --on …``, that submits one Ray task per run and waits for them (``start_on_ray``). A seeds
group (``--seeds 0,1,2``) is one run per seed under one ``group_id`` (``create_group``): each its own local job,
or one driver for all of them on Ray.

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
from typing import TYPE_CHECKING

from playground.config import GanConfig, RLConfig
from playground.errors import PlaygroundError
from playground.i18n import ENV_VAR
from playground.store import Run

if TYPE_CHECKING:
    from playground.cluster import Placement

MAX_SEEDS = 64  # runs in one seeds group
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
            env=child_env(),
        )
    if reap:
        threading.Thread(target=proc.wait, name=f"reap-job-{proc.pid}", daemon=True).start()
    if run.status == "created":
        from playground import runs

        runs.note_job(run, proc.pid)
    return proc.pid


def start_on_ray(run_list: Sequence[Run], placement: Placement, *, resume: bool = False,
                 checkpoint: str = "latest", reap: bool = True) -> int:
    """Train ``run_list`` as Ray tasks from a background driver, ``playground _ray RUN… --on …``: a process of its
    own session that connects, submits one task per run and waits for them, so that this door returns at once while
    the runs (and a Ray started on demand for them) go on. Its output goes to the first run's ``logs/job.log``; it
    answers for every run that is still ``created``, as a local job does. Its pid."""
    argv = [sys.executable, "-m", "playground", "_ray", *placement.args()]
    if resume:
        argv += ["--resume", "--checkpoint", str(checkpoint)]
    argv += ["--", *(run.id for run in run_list)]
    log_path = Path(run_list[0].folder) / "logs" / "job.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        proc = subprocess.Popen(  # noqa: S603 - an argument list, never a shell string
            argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
            env=child_env(),
        )
    if reap:
        threading.Thread(target=proc.wait, name=f"reap-driver-{proc.pid}", daemon=True).start()
    from playground import runs

    for run in run_list:
        if run.status == "created":
            runs.note_job(run, proc.pid)
    return proc.pid


def check_seeds(text: str | None) -> list[int] | None:
    """``--seeds 0,1,2`` (different whole numbers from 0) or ``--seeds 5`` (seeds 0 to 4): the seeds of a group."""
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() for p in parts):  # a minus sign, a fraction, a word, an empty part
        raise PlaygroundError("ray.bad_seeds", value=text)
    numbers = [int(p) for p in parts]
    if len(numbers) == 1:
        if numbers[0] < 1:
            raise PlaygroundError("ray.bad_seeds", value=text)
        numbers = list(range(numbers[0]))
    if len(set(numbers)) != len(numbers):
        raise PlaygroundError("ray.bad_seeds", value=text)
    if len(numbers) > MAX_SEEDS:
        raise PlaygroundError("ray.too_many_seeds", count=len(numbers), most=MAX_SEEDS)
    return numbers


def group_id_for(first: Run) -> str:
    """A seeds group is named after its first run: ``seeds-ppo-CartPole-4`` (never a run id itself)."""
    return f"seeds-{first.id}"


def create_group(configs: Sequence[RLConfig | GanConfig], label: str | None = None,
                 player: str | None = None, *, here: bool = True) -> tuple[str, list[Run]]:
    """One run per config (the same setup with one seed each) under one ``group_id``; every config is checked
    before the first run exists."""
    if not configs:
        raise ValueError("a group of no runs")
    first = create(configs[0], label=label, player=player, here=here)  # the others differ by seed only
    group = group_id_for(first)
    from playground.store import get_store

    store = get_store()
    store.update_run(first.id, group_id=group)
    made = [store.get_run(first.id)]
    for config in configs[1:]:
        run = _create_checked(config, label=label, player=player)
        store.update_run(run.id, group_id=group)
        made.append(store.get_run(run.id))
    return group, made


def _create_checked(config: RLConfig | GanConfig, label: str | None, player: str | None) -> Run:
    """A run whose setup ``create`` has already checked once (another seed of it)."""
    if isinstance(config, GanConfig):
        from playground import gan_training

        return gan_training.create_run(config, label=label, player=player)
    from playground import training

    return training.create_run(config, label=label, player=player)


def create(config: RLConfig | GanConfig, label: str | None = None, player: str | None = None, *,
           here: bool = True) -> Run:
    """Create the run a validated config describes, after the checks that need no training:
    the device exists (``here``: it trains on this machine, not on a Ray node) and (for RL) the agent can be built
    for that environment."""
    from playground.settings import resolve_device

    if isinstance(config, GanConfig):
        from playground import gan_training

        if here:
            resolve_device(config.device)  # refuse cuda on a machine without one before creating the run
        return gan_training.create_run(config, label=label, player=player)
    import agents
    from playground import training

    if here:
        training.device_for(agents.get(config.algo), config.device)  # the same refusal, without torch for numpy's
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


class ChildTimedOut(ChildFailed):
    """A child ``playground`` process gave no answer in time (and was killed)."""


def child_sentence(proc: subprocess.CompletedProcess[str]) -> ChildFailed:
    """The CLI's one sentence (``error: …``, already in the language the child was given), or the end of
    what the child said."""
    lines = [line.strip() for line in (proc.stderr or "").splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("error:"):
            return ChildFailed("jobs.child_said", sentence=line.removeprefix("error:").strip())
    return ChildFailed("jobs.child_failed", said=" ".join(lines[-2:]) or f"exit status {proc.returncode}")


def child_env(lang: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a child ``playground`` process: ours, unbuffered, speaking ``lang`` when given
    (the web UI passes each browser session's language, so the child's sentences come back in it)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **extra}
    if lang is not None:
        env[ENV_VAR] = lang
    return env


def run_cli(args: Sequence[str], *, timeout: float = CHILD_TIMEOUT_S, lang: str | None = None,
            env: dict[str, str] | None = None) -> str:
    """``playground ARGS`` in a short child process, for a door that must not load the engine itself.

    Returns what it printed; a refusal or a failure is raised as its one sentence (``ChildFailed``), in
    ``lang`` when given. ``env``: extra variables for the child.
    """
    argv = [sys.executable, "-m", "playground", *args]
    try:
        proc = subprocess.run(  # noqa: S603 - an argument list, never a shell string
            argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
            env=child_env(lang, **(env or {})),
        )
    except subprocess.TimeoutExpired:
        raise ChildTimedOut("jobs.child_timeout", command=" ".join(args[:2]), seconds=timeout) from None
    if proc.returncode != 0:
        raise child_sentence(proc)
    return proc.stdout


def open_window(args: Sequence[str], *, lang: str | None = None, env: dict[str, str] | None = None) -> int:
    """``playground ARGS`` (a pygame window) as a process of its own session that outlives the page that
    opened it; a thread collects it when it closes, so a server that lives on keeps no zombie. Its pid."""
    proc = subprocess.Popen(  # noqa: S603 - an argument list, never a shell string
        [sys.executable, "-m", "playground", *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True, env=child_env(lang, **(env or {})),
    )
    threading.Thread(target=proc.wait, name=f"reap-window-{proc.pid}", daemon=True).start()
    return proc.pid


def _started(stdout: str) -> tuple[str, int]:
    """The run id and job pid from ``--detach --json`` output (the id line, then the run as JSON)."""
    first, _, rest = stdout.partition("\n")
    try:
        record = json.loads(rest)
        return str(record["id"]), int(record["pid"])
    except (ValueError, KeyError, TypeError):
        raise ChildFailed("jobs.unreadable_start", run=first.strip() or "(no id)") from None


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


def launch_detached(kind: str, name: str, target: str, options: Sequence[str] = (), *,
                    lang: str | None = None, env: dict[str, str] | None = None) -> tuple[str, int]:
    """``playground KIND train NAME TARGET OPTIONS --detach`` in a child: check, create, start.

    Returns the run id and the job's pid. ``options`` are CLI options (``--steps=2000``,
    ``--set=gamma=0.98``); the names come after ``--`` so that no value is read as an option. ``env``: whom the
    child acts for on a served app (``playground.ui.auth.child_env``).
    """
    run_id, pid = _started(run_cli([kind, "train", "--detach", "--json", *options, "--", name, target], lang=lang,
                                   env=env))
    _reap_if_ours(pid)
    return run_id, pid


def launch_group_detached(kind: str, name: str, target: str, options: Sequence[str] = (), *,
                          lang: str | None = None, env: dict[str, str] | None = None) -> tuple[str, list[str], int]:
    """``playground KIND train … --seeds … --detach --json`` in a child: the group id, its run ids and the pid of
    its background job (a Ray driver), or the one sentence."""
    stdout = run_cli([kind, "train", "--detach", "--json", *options, "--", name, target], lang=lang, env=env)
    first, _, _ = stdout.partition("\n")
    try:  # the group's run ids, one a line, then the group as JSON
        record = json.loads(stdout[stdout.index("\n{") + 1:])
        group, ids, pids = str(record["group_id"]), [str(r["id"]) for r in record["runs"]], {
            int(r["pid"]) for r in record["runs"]}
    except (ValueError, KeyError, TypeError):
        raise ChildFailed("jobs.unreadable_start", run=first.strip() or "(no id)") from None
    for pid in pids:
        _reap_if_ours(pid)
    return group, ids, min(pids)


def resume_detached(kind: str, ref: str, *, lang: str | None = None,
                    env: dict[str, str] | None = None) -> tuple[str, int]:
    """``playground KIND resume REF --detach`` in a child; the run id and the job's pid."""
    run_id, pid = _started(run_cli([kind, "resume", "--detach", "--json", "--", ref], lang=lang, env=env))
    _reap_if_ours(pid)
    return run_id, pid
