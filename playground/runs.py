"""The run lifecycle and run folders.

created → running → (stopped | finished | failed); a stopped or failed run resumes from its last
checkpoint. A run owns one folder under ``$PLAYGROUND_HOME/runs/<id>/``: ``config.yaml``,
``checkpoints/``, ``logs/`` (and ``tensorboard/`` when asked). A process that dies without saying
so is noticed the next time anyone reads the run, and the run is marked failed.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from playground import access, events, settings
from playground.access import Actor
from playground.atomic import atomic_write_text
from playground.checks import check_name
from playground.errors import (BadConfig, CheckpointError, NotAllowed, PlaygroundError, RunNotFound,
                               RunStateError, StoreError)
from playground.i18n import LANGUAGES, say, translate
from playground.store import ACTIVE_STATUSES, Evaluation, Run, Store, get_store

log = logging.getLogger(__name__)

# A run on another host (or on a Ray node) whose heartbeat is older than this is taken for dead; the environment
# variable changes it (a test that kills a node waits seconds, not minutes).
STALE_AFTER_S = 300.0
STALE_AFTER_ENV = "PLAYGROUND_STALE_AFTER_S"
# Set in a Ray worker (playground.cluster) to the address of its node: the run's host names the node too.
RAY_NODE_ENV = "PLAYGROUND_RAY_NODE"
_RAY_HOST = re.compile(r"^(?P<name>.*) \(Ray node (?P<node>[^)]+)\)$")
# The sentences ``refresh`` stores as a failed run's error, in the language of the process that notices.
DIED_KEY = "runs.died"
NODE_DIED_KEY = "ray.node_died"
NODE_KEYS = (NODE_DIED_KEY, "ray.node_lost")
NEVER_BEGAN_KEY = "runs.never_began"
GAME_SCORE = "episode/score"  # the metric the run session stores for every training game that ends


def folder_for(run_id: str) -> Path:
    return settings.runs_dir() / run_id


def folder_here(run: Run) -> Path:
    """The run's folder, for a door about to read its checkpoints, videos or samples. On a store shared by a
    class (PostgreSQL) a run trained on another machine has its folder there, under that machine's home: one
    sentence says so (and how to share folders), instead of "no checkpoint yet" or a file not found."""
    folder = Path(run.folder)
    if folder.is_dir():
        return folder
    if run.host and run.host != socket.gethostname():
        raise CheckpointError("runs.folder_elsewhere", run=run.id, host=run.host, folder=run.folder)
    raise CheckpointError("runs.folder_missing", run=run.id, folder=run.folder)


def create(
    *,
    kind: str,
    algo: str,
    env: str,
    game: str,
    config: dict[str, Any],
    label: str | None = None,
    seed: int | None = None,
    total_steps: int | None = None,
    store: Store | None = None,
    player: str | None = None,
    group_id: str | None = None,
    sweep_id: str | None = None,
) -> Run:
    """Allocate the id, make the folder and write ``config.yaml``; nothing runs yet. ``player`` is who
    starts it, as the door that creates it knows (the run lifecycle never asks the game); ``group_id`` the seeds
    group it was started in, ``sweep_id`` the sweep it is a trial of."""
    label = check_name(label)
    store = store or get_store()
    served = settings.served()  # a served app's start: its person's privacy choice, and the quota of jobs
    account = store.user(player) if served and player else None
    if served:
        settle_active(store)
    run = store.create_run(
        kind=kind,
        algo=algo,
        env=env,
        game=game,
        config=config,
        folder_for=folder_for,
        label=label,
        seed=seed,
        total_steps=total_steps,
        player=player,
        private=bool(account and account["private_runs"]),
        limits=settings.job_limits() if served else None,
        group_id=group_id,
        sweep_id=sweep_id,
    )
    folder = Path(run.folder)
    for sub in ("checkpoints", "logs"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    write_config(run.id, config, store=store)
    # Until a trainer claims the run, this process answers for it: killed before it begins (right after the
    # CLI printed the id), the run is noticed and failed instead of staying `created` for ever.
    note_job(run, os.getpid(), store)
    return store.get_run(run.id)


def write_config(run_id: str, config: dict[str, Any], store: Store | None = None) -> None:
    store = store or get_store()
    run = store.get_run(run_id)
    atomic_write_text(Path(run.folder) / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    store.update_run(run_id, config=config)


def _proc_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (guards against a reused pid), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields and fields[0] == "Z":  # a zombie has finished
        return None
    return fields[19] if len(fields) > 19 else "?"


def _pid_alive(pid: int, start: str | None) -> bool:
    if Path("/proc").is_dir():
        now = _proc_start(pid)
        return now is not None and (start is None or now == start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_after_s() -> float:
    """Seconds without a heartbeat after which a run trained elsewhere is taken for dead (``STALE_AFTER_ENV``)."""
    raw = os.environ.get(STALE_AFTER_ENV, "")
    try:
        value = float(raw)
    except ValueError:
        return STALE_AFTER_S
    return value if value > 0 else STALE_AFTER_S


def this_host() -> str:
    """The name a trainer records as its run's host: this machine's, and in a Ray worker its node's address too
    (``name (Ray node 10.0.0.7)``), since the pid means nothing on the machines that watch it."""
    node = os.environ.get(RAY_NODE_ENV)
    return f"{socket.gethostname()} (Ray node {node})" if node else socket.gethostname()


def ray_node(run: Run) -> str | None:
    """The Ray node a run trains (or trained) on, from its host; None for a run of a local process."""
    match = _RAY_HOST.match(run.host or "")
    return match["node"] if match else None


def ray_node_text(run: Run) -> str:
    """The node in words for a sentence: ``10.0.0.7 on gpu-box``, or the machine's name alone."""
    match = _RAY_HOST.match(run.host or "")
    if match is None:
        return run.host or "?"
    return say("ray.node_on_host", node=match["node"], host=match["name"])


def is_alive(run: Run) -> bool:
    """Whether the process that claims ``run`` is still there: by its pid when it is a process of this machine,
    else (another machine, a Ray node) by the age of its heartbeat."""
    if run.status != "running":
        return False
    if run.host == socket.gethostname() and run.pid is not None:
        return _pid_alive(run.pid, run.pid_start)
    return run.heartbeat_at is not None and time.time() - run.heartbeat_at < stale_after_s()


def note_job(run: Run, pid: int, store: Store | None = None) -> None:
    """Remember the background job started for a run that is still ``created``, so that a job which dies
    before it claims the run is noticed too (see :func:`refresh`)."""
    (store or get_store()).update_run_if(
        run.id, {"status": "created"}, pid=pid, pid_start=_proc_start(pid), host=socket.gethostname()
    )


def _never_began(run: Run) -> bool:
    return (
        run.status == "created"
        and run.pid is not None
        and run.host == socket.gethostname()
        and not _pid_alive(run.pid, run.pid_start)
    )


def died_silently(error: str | None) -> bool:
    """Whether a run's stored ``error`` is the sentence :func:`refresh` writes for a session that died
    without a word, in whichever language the process that noticed it spoke."""
    if not error:
        return False
    if any(translate(DIED_KEY, lang).replace("；", ";").split(";")[0] in error for lang in LANGUAGES):
        return True
    # A Ray node that went silent or was lost with its run: the sentences' words before their first field.
    return any(translate(key, lang).split("{")[0] in error for key in NODE_KEYS for lang in LANGUAGES)


def refresh(run: Run, store: Store | None = None) -> Run:
    """Mark a run whose process died silently as failed, so nothing shows 'running' (or 'created') forever."""
    if _never_began(run):
        store = store or get_store()
        message = say(NEVER_BEGAN_KEY)
        if store.update_run_if(run.id, {"status": "created", "pid": run.pid}, status="failed",
                               error=message, ended_at=time.time(), pid=None):
            events.record(store, events.RunEnded("failed", error=message), run.id)
        return store.get_run(run.id)
    if run.status == "running" and not is_alive(run):
        store = store or get_store()
        # Only the session we judged dead: a resume may have claimed the run since we read it.
        expect = {"status": "running", "pid": run.pid, "heartbeat_at": run.heartbeat_at}
        if ray_node(run) is not None:  # the node that trained it went silent (a driver that saw it die says so first)
            silent = round(time.time() - (run.heartbeat_at or run.started_at or time.time()))
            message = say(NODE_DIED_KEY, run=run.id, node=ray_node_text(run), seconds=silent, kind=run.kind)
        else:
            message = say(DIED_KEY, kind=run.kind)
        if store.update_run_if(run.id, expect, status="failed", error=message, ended_at=time.time(), pid=None):
            events.record(store, events.RunEnded("failed", error=message), run.id)
        return store.get_run(run.id)
    return run


def settle_active(store: Store | None = None) -> None:
    """Fail the runs whose jobs died, so that they stop taking a place in a served app's quota of jobs."""
    store = store or get_store()
    for status in ACTIVE_STATUSES:
        for run in store.find_runs(status=status):
            refresh(run, store)


def get(ref: str, store: Store | None = None) -> Run:
    """A run by id, by its label, or ``latest``; its status is refreshed first."""
    store = store or get_store()
    if ref == "latest":
        run = store.latest_run()
        if run is None:
            raise RunNotFound("runs.no_runs_yet")
        return refresh(run, store)
    try:
        return refresh(store.get_run(ref), store)
    except RunNotFound:
        labelled = store.find_runs(label=ref)
        if len(labelled) == 1:
            return refresh(labelled[0], store)
        if len(labelled) > 1:
            ids = ", ".join(r.id for r in labelled)
            raise RunNotFound("runs.name_ambiguous", ref=ref, ids=ids) from None
        raise


def list_runs(store: Store | None = None, **filters: Any) -> list[Run]:
    store = store or get_store()
    return [refresh(r, store) for r in store.find_runs(**filters)]


def mark_running(run_id: str, store: Store | None = None, *, device: str | None = None,
                 player: str | None = None) -> None:
    """Claim the run for this process; exactly one of two processes racing for it wins.

    The ``run_started`` event says who started it (the game's owner of the run) and on which device.
    """
    store = store or get_store()
    pid = os.getpid()
    now = time.time()
    claimed = store.update_run_if(
        run_id,
        {"status": ("created", "stopped", "failed", "finished")},
        status="running",
        pid=pid,
        pid_start=_proc_start(pid),
        host=this_host(),
        started_at=now,
        heartbeat_at=now,
        ended_at=None,
        error=None,
        stop_requested=False,
        steps_per_s=None,
        eta_s=None,
    )
    if not claimed:
        raise RunStateError("runs.already_claimed", run=run_id)
    player = player if player is not None else store.get_run(run_id).player
    events.record(store, events.RunStarted(pid=pid, player=player, device=device), run_id)


def heartbeat(run_id: str, step: int, store: Store | None = None, *, steps_per_s: float | None = None,
              eta_s: float | None = None) -> None:
    """The trainer is alive at ``step``, going at ``steps_per_s`` with ``eta_s`` seconds to go (its own figures)."""
    (store or get_store()).update_run(run_id, step=int(step), heartbeat_at=time.time(), steps_per_s=steps_per_s,
                                      eta_s=eta_s)


def end(run_id: str, status: str, step: int, error: str | None = None, store: Store | None = None) -> None:
    if status not in ("stopped", "finished", "failed"):
        raise ValueError(f"not an end status: {status}")
    store = store or get_store()
    store.update_run(
        run_id, status=status, step=int(step), ended_at=time.time(), heartbeat_at=time.time(), error=error, pid=None,
        eta_s=None,
    )
    events.record(store, events.RunEnded(status, step=int(step), error=error), run_id)


def end_interrupted(run_id: str, step: int, *, save: Callable[[], None] | None = None,
                    flush: Callable[[], None] | None = None, store: Store | None = None) -> None:
    """End a run whose training was interrupted (a second Ctrl-C): a last checkpoint if ``save`` is
    given and can be written, the metrics so far, and the status ``stopped``."""
    if save is not None:
        try:
            save()
        except Exception:  # noqa: BLE001 - the last complete checkpoint stays usable
            log.exception("could not save a checkpoint while interrupted")
    if flush is not None:
        flush()
    end(run_id, "stopped", step, store=store)


def end_failed(run_id: str, exc: BaseException, step: int, *, flush: Callable[[], None] | None = None,
               store: Store | None = None) -> None:
    """End a run whose training raised: a user's mistake keeps its one sentence, a bug names its type;
    the metrics so far are kept if they can be."""
    message = str(exc) if isinstance(exc, PlaygroundError) else f"{type(exc).__name__}: {exc}"
    if flush is not None:
        try:
            flush()
        except Exception:  # noqa: BLE001 - the original error matters more
            log.exception("could not save the last metrics")
    end(run_id, "failed", step, error=message, store=store)


def request_stop(ref: str, store: Store | None = None, actor: Actor | None = None) -> Run:
    """Ask the training process to stop at its next step, with a checkpoint; never kills it. ``actor``: the
    signed-in person of a served app, who must own the run or teach (``playground.access``)."""
    store = store or get_store()
    run = get(ref, store)
    access.check_see(actor, run)
    access.check_manage(actor, run)
    if run.status != "running" or not ask_to_stop(run.id, store):
        raise RunStateError("runs.not_running", run=run.id, status=store.get_run(run.id).status)
    return store.get_run(run.id)


def ask_to_stop(run_id: str, store: Store) -> bool:
    """Flag a running run to stop at its next step, with a checkpoint, and record that it was asked; False, and
    nothing changed, when it is not running (not claimed by its session yet, or already ended)."""
    if not store.update_run_if(run_id, {"status": "running"}, stop_requested=True):
        return False
    events.record(store, events.StopRequested(), run_id)
    return True


def delete(ref: str, store: Store | None = None, actor: Actor | None = None) -> str:
    """Remove a run's rows and its folder; ``actor`` as for ``request_stop`` (a damaged record: teachers only)."""
    store = store or get_store()
    try:
        run = get(ref, store)
    except StoreError:
        if not store.has_run(ref):
            raise
        if actor is not None and not actor.teacher:
            raise NotAllowed("access.damaged_teachers_only", run=ref) from None
        store.delete_run(ref)  # a damaged record: its id is all we can trust
        _remove_folder(folder_for(ref))
        return ref
    access.check_see(actor, run)
    access.check_manage(actor, run)
    if run.status == "running":
        raise RunStateError("runs.still_running", run=run.id)
    store.delete_run(run.id)
    _remove_folder(Path(run.folder))
    return run.id


def _remove_folder(folder: Path) -> None:
    """A run's folder, only ever one directly under the runs folder."""
    if folder.is_dir() and folder.resolve().parent == settings.runs_dir().resolve():
        shutil.rmtree(folder, ignore_errors=True)


# -- checkpoints ---------------------------------------------------------------------------------
def checkpoint_path(run: Run, step: int) -> Path:
    """RL checkpoints are SB3-style zips; GAN checkpoints are torch files (``.pt``)."""
    suffix = ".pt" if run.kind == "gan" else ".zip"
    return Path(run.folder) / "checkpoints" / f"step-{int(step):010d}{suffix}"


def checkpoints(run: Run, store: Store | None = None) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint the store knows of that is still on disk, oldest first."""
    store = store or get_store()
    out = []
    for art in store.artifacts(run.id, "checkpoint"):
        path = Path(art.path)
        if path.is_file() and art.step is not None:
            out.append((art.step, path))
    return sorted(set(out))


def measured_checkpoints(run: Run, store: Store | None = None) -> set[str]:
    """Paths of the run's checkpoints that an evaluation measured (games played, or a GAN's quality):
    the evidence behind results and leaderboards, never pruned."""
    store = store or get_store()
    return {e.checkpoint for e in store.evaluations(run.id) if e.checkpoint}


def forget_checkpoints_after(run: Run, step: int, store: Store | None = None) -> None:
    """A run resumed from an older checkpoint drops the newer ones: they belong to a future it will not have
    (and ``latest`` must not pick one of them again)."""
    store = store or get_store()
    for later, path in checkpoints(run, store):
        if later > step:
            path.unlink(missing_ok=True)
            store.remove_artifact(run.id, str(path))
            log.info("dropped checkpoint %s: the run continues from step %d", path.name, step)


def remove_partial_writes(run: Run) -> list[Path]:
    """Temporary files a killed process left while writing a checkpoint (``.NAME.*.tmp``); never a checkpoint."""
    removed = []
    for tmp in (Path(run.folder) / "checkpoints").glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    if removed:
        log.info("removed %d unfinished checkpoint file(s) a killed session left", len(removed))
    return removed


def best_first(evaluation: Any) -> tuple[float, int]:
    """The order that makes the best evaluation the largest: the highest mean, and among equal means the
    earliest step (CartPole's 500 again and again: the first to reach it, inside the challenges' budgets)."""
    return evaluation.mean, -evaluation.step


def pick_checkpoint(run: Run, which: str = "latest", store: Store | None = None) -> tuple[int, Path]:
    """``latest``, ``best`` (highest evaluation mean) or a step number → (step, path)."""
    store = store or get_store()
    available = checkpoints(run, store)
    if not available:
        raise CheckpointError("runs.no_checkpoint_yet", run=run.id)
    if which == "latest":
        return available[-1]
    by_path = {str(p): (s, p) for s, p in available}
    if which == "best":
        evaluated = [e for e in store.evaluations(run.id, played=True) if e.checkpoint in by_path]
        if not evaluated:
            return available[-1]
        best = max(evaluated, key=best_first)
        return by_path[best.checkpoint]  # type: ignore[index]
    try:
        step = int(which)
    except ValueError:
        raise PlaygroundError("runs.bad_checkpoint_choice", which=which) from None
    for s, p in available:
        if s == step:
            return s, p
    steps = ", ".join(str(s) for s, _ in available[-10:])
    raise CheckpointError("runs.no_checkpoint_at", run=run.id, step=step, steps=steps)


# -- the stable JSON shape of a run (documented in docs/cli-json.md) -------------------------------
def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).isoformat(timespec="seconds")


def record(run: Run, store: Store | None = None, *, detail: bool = False) -> dict[str, Any]:
    """A run as plain data for ``--json`` and the UI; ``detail`` adds config, evaluations, checkpoints."""
    store = store or get_store()
    found = store.evaluations(run.id)
    evals, quality = _split(found)
    out = _summary(run, evals, quality)
    if run.kind == "gan" and detail:
        out["quality"] = quality
    if detail:
        out["config"] = run.config
        out["evaluations"] = [
            {**(_ev(e) or {}), "scores": e.scores, "checkpoint": e.checkpoint, "seed": e.seed, "created_at": _iso(e.created_at)}
            for e in evals
        ]
        out["checkpoints"] = [{"step": s, "path": str(p)} for s, p in checkpoints(run, store)]
        out["metric_keys"] = store.metric_keys(run.id)
    return out


def records(run_list: list[Run], store: Store | None = None) -> list[dict[str, Any]]:
    """``record(run)`` for many runs in one query, however many runs (the UI's runs table)."""
    store = store or get_store()
    by_run: dict[str, list[Evaluation]] = {}
    for e in store.evaluations():
        by_run.setdefault(e.run_id, []).append(e)
    return [_summary(r, *_split(by_run.get(r.id, []))) for r in run_list]


def _split(found: list[Evaluation]) -> tuple[list[Evaluation], list[dict[str, Any]]]:
    """A run's evaluations by step: the games played, and its GAN quality results in the order measured."""
    quality = sorted((e for e in found if not e.played), key=lambda e: e.id or 0)
    return [e for e in found if e.played], [e.quality() for e in quality]


def _ev(e: Any) -> dict[str, Any] | None:
    if e is None:
        return None
    return {"step": e.step, "mean": e.mean, "std": e.std, "n_episodes": e.n_episodes}


def _summary(run: Run, evals: list[Any], quality: list[dict[str, Any]]) -> dict[str, Any]:
    """The fields of ``record`` without ``detail``, from evaluations (by step) and GAN results already read."""
    best = max(evals, key=best_first) if evals else None
    out: dict[str, Any] = {
        "id": run.id,
        "kind": run.kind,
        "algo": run.algo,
        "env": run.env,
        "game": run.game,
        "name": run.label,
        "status": run.status,
        "step": run.step,
        "total_steps": run.total_steps,
        "seed": run.seed,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "ended_at": _iso(run.ended_at),
        "error": run.error,
        "folder": run.folder,
        "host": run.host,
        "group_id": run.group_id,
        "last_eval": _ev(evals[-1] if evals else None),
        "best_eval": _ev(best),
    }
    if run.kind == "gan":  # GAN quality: `gan eval` results (lower distances are better)
        out["last_quality"] = quality[-1] if quality else None
        out["model"], out["data"] = run.algo, run.env  # a GAN run's own words for its algo and env
    return out


def training_windows(run: Run, every: int, store: Store | None = None) -> list[dict[str, Any]]:
    """An RL run's training games summed up per ``every`` steps, from the first window to the one its last step is
    in: each ``{start, end, games, mean, min, max}`` of the raw scores of the games that ended in steps ``start + 1``
    to ``end`` (mean, min and max None where none ended). Published learning curves are such windows: Dopamine's
    baselines average the training games of each iteration of 250,000 agent steps (docs/learning.md)."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise BadConfig("runs.bad_every", every=every)
    if run.kind != "rl":
        raise BadConfig("runs.every_needs_games", run=run.id)
    store = store or get_store()
    scores: dict[int, list[float]] = {}
    for step, _time, _key, value in store.metrics(run.id, GAME_SCORE):
        scores.setdefault(max(step - 1, 0) // every, []).append(value)
    last = max([max(run.step - 1, 0) // every, *scores])
    windows = []
    for i in range(last + 1):
        found = scores.get(i, [])
        windows.append({"start": i * every, "end": (i + 1) * every, "games": len(found),
                        "mean": sum(found) / len(found) if found else None,
                        "min": min(found, default=None), "max": max(found, default=None)})
    return windows


def group_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """A seeds group in one line, from its runs' records: how many runs and which seeds, how many finished, and the
    mean and (population) std over its runs of each one's best evaluation (None while none has one)."""
    import statistics

    bests = [r["best_eval"]["mean"] for r in records if r.get("best_eval")]
    return {
        "runs": [r["id"] for r in records],
        "seeds": [r["seed"] for r in records],
        "finished": sum(1 for r in records if r["status"] == "finished"),
        "mean": statistics.fmean(bests) if bests else None,
        "std": statistics.pstdev(bests) if bests else None,
        "evaluated": len(bests),
    }


def with_groups(refs: list[str], store: Store | None = None) -> list[Run]:
    """Runs by id, name or ``latest``, where a seeds group's id stands for all its runs (``runs compare GROUP``)."""
    store = store or get_store()
    found: list[Run] = []
    for ref in refs:
        try:
            found.append(get(ref, store))
        except RunNotFound:
            members = store.find_runs(group_id=ref)
            if not members:
                if ref.startswith("seeds-"):
                    raise RunNotFound("ray.group_not_found", ref=ref) from None
                raise
            found.extend(refresh(r, store) for r in members)
    return list({r.id: r for r in found}.values())


def set_private(ref: str, private: bool, store: Store | None = None, actor: Actor | None = None) -> Run:
    """Show a run only to its owner and the teachers (``private``), or to everyone again."""
    store = store or get_store()
    run = get(ref, store)
    access.check_see(actor, run)
    access.check_manage(actor, run)
    store.update_run(run.id, private=bool(private))
    return store.get_run(run.id)
