"""Runs on a Ray cluster: Ray is the engine that places them; the playground has no scheduler of its own.

Where a run trains is chosen with ``--on``:

- none (the default): a local process, as always (``playground.jobs``);
- ``ray``: Ray. With ``RAY_ADDRESS`` set, that cluster; otherwise a Ray started on demand on this machine (on
  loopback) that lives as long as the process that started it: the driver;
- ``ray://HOST:PORT`` (Ray Client, port 10001 on the head: from any machine) or ``HOST:PORT`` (the head's GCS,
  port 6379: from a machine that is a node of the cluster).

A run on Ray is an ordinary run. It is created in the store as any other; a Ray task (``_train``, with the run's
resources: ``--cpus``, ``--gpus`` fractional so that several small runs share a card, and custom resources)
calls the same ``execute`` that a local job calls, in the Ray worker's process, so metrics, heartbeat, stop
requests (through the store), checkpoints and the ending are the run session's. The worker records where it runs
on the run (``host``: the machine's name and the Ray node's address, ``runs.this_host``), and writes the run's
folder at the path the store holds (``$PLAYGROUND_HOME/runs/ID`` of the machine that created it): with the runs
folder on shared storage mounted at the same path everywhere, watch, eval, resume and the viewer read it from any
machine; without, they say in one sentence where it is (``runs.folder_here``). The store must be one every node
reaches (PostgreSQL through ``PLAYGROUND_DB``; SQLite only when every node is this machine): the driver hands the
worker its ``PLAYGROUND_HOME`` and ``PLAYGROUND_DB``.

The driver is the process that submits the tasks and waits for them: the CLI itself in the foreground, and for
``--detach`` (and the web app) a background ``playground _ray RUN…`` process of its own session, exactly as a local
job is a background ``playground rl _run RUN``. It returns at once while the driver keeps the tasks (and an
on-demand local Ray) alive. Ray retries nothing (``max_retries=0``): a run that was lost resumes from its
checkpoint when someone says so.

A run whose node dies is noticed twice over: the driver hears it from Ray at once and fails the run with one
sentence (``ray.node_lost``); and if the driver is gone too, any door that reads the run finds its heartbeat older
than ``runs.stale_after_s()`` and fails it with the same kind of sentence (``ray.node_died``; the pid is on another
machine, so only the heartbeat can tell).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from playground import threads
from playground.errors import MissingDependency, PlaygroundError
from playground.i18n import say

log = logging.getLogger(__name__)

LOCAL = "ray"  # --on ray: RAY_ADDRESS, else a Ray started on demand here
# Ray on Linux takes 127.0.0.1 and localhost for "this machine" and advertises the default route's address
# instead; any other 127.x address is loopback as well, and Ray keeps it. (macOS has only 127.0.0.1 on its loopback,
# and there Ray keeps 127.0.0.1.)
LOOPBACK = "127.0.0.2" if sys.platform.startswith("linux") else "127.0.0.1"
REACH_TIMEOUT_S = 5.0
WAIT_TICK_S = 0.5
# A node's address: a host name or an IPv4 address, and a port.
_ADDRESS = re.compile(r"^(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(?P<port>\d{1,5})$")
# What the worker needs of the driver's environment: the same store and home, the same language for its sentences,
# and the user's own OpenMP waiting, if any (playground.threads.settle_openmp).
PASSED_ON = ("PLAYGROUND_HOME", "PLAYGROUND_DB", "PLAYGROUND_LANG", "GOMP_SPINCOUNT", "OMP_WAIT_POLICY")


class ClusterError(PlaygroundError):
    """The cluster cannot be reached, or it has no node for what a run asks."""


@dataclass(frozen=True)
class Placement:
    """Where a run trains on Ray and what it takes there: ``on`` (``ray``, ``ray://HOST:PORT`` or ``HOST:PORT``),
    CPUs and GPUs (fractions share a card) and custom resources of the nodes (``ray start --resources``)."""

    on: str
    cpus: float = 1.0
    gpus: float = 0.0
    resources: dict[str, float] = field(default_factory=dict)

    def args(self) -> list[str]:
        """The same placement as options of ``playground _ray`` (the detached driver)."""
        out = ["--on", self.on, "--cpus", _number(self.cpus), "--gpus", _number(self.gpus)]
        for name, amount in sorted(self.resources.items()):
            out += ["--resource", f"{name}={_number(amount)}"]
        return out

    def wanted(self) -> dict[str, float]:
        """The resources of one task, as Ray counts them."""
        out = {"CPU": self.cpus, **self.resources}
        if self.gpus:
            out["GPU"] = self.gpus
        return out


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# -- checking what a door was given (no Ray needed) -----------------------------------------------------------------
def check_on(on: str | None) -> str | None:
    """``--on`` as given, checked: None for a local process, else ``ray`` or an address. One sentence otherwise."""
    if on is None or on.strip() in ("", "local"):
        return None
    value = on.strip()
    if value == LOCAL:
        return LOCAL
    rest = value.removeprefix("ray://")
    match = _ADDRESS.match(rest)
    if match is None or not 0 < int(match["port"]) < 65536:
        raise PlaygroundError("ray.bad_on", value=on)
    return value


def check_placement(on: str | None, cpus: float | None = None, gpus: float | None = None,
                    resources: Sequence[str] = ()) -> Placement | None:
    """The checked placement of a run, or None for a local process; ``--cpus``, ``--gpus`` and ``--resource``
    without ``--on`` are a sentence (a local run takes its share of this machine's cores by itself)."""
    target = check_on(on)
    if target is None:
        for flag, given in (("--cpus", cpus is not None), ("--gpus", gpus is not None),
                            ("--resource", bool(resources))):
            if given:
                raise PlaygroundError("ray.needs_on", flag=flag)
        return None
    cpus = 1.0 if cpus is None else cpus
    gpus = 0.0 if gpus is None else gpus
    if not (math.isfinite(cpus) and cpus > 0):
        raise PlaygroundError("ray.bad_cpus", value=_number(cpus) if math.isfinite(cpus) else cpus)
    if not (math.isfinite(gpus) and gpus >= 0):
        raise PlaygroundError("ray.bad_gpus", value=_number(gpus) if math.isfinite(gpus) else gpus)
    if gpus > 1 and not gpus.is_integer():
        raise PlaygroundError("ray.bad_gpus_fraction", value=_number(gpus))
    return Placement(target, float(cpus), float(gpus), parse_resources(resources))


def parse_resources(texts: Sequence[str]) -> dict[str, float]:
    """``--resource NAME=N`` (repeatable): custom resources a node was started with."""
    out: dict[str, float] = {}
    for text in texts:
        name, sep, amount = text.partition("=")
        try:
            value = float(amount)
        except ValueError:
            value = float("nan")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.:-]*", name.strip()) or not (
                math.isfinite(value) and value > 0) or name.strip() in ("CPU", "GPU", "memory"):
            raise PlaygroundError("ray.bad_resource", text=text)
        out[name.strip()] = value
    return out


def target_address(on: str | None) -> str | None:
    """The cluster ``on`` names, or None for a Ray started on demand here (``ray`` without ``RAY_ADDRESS``)."""
    if on in (None, LOCAL):
        return os.environ.get("RAY_ADDRESS") or None
    return on


def check_reachable(on: str | None) -> None:
    """A quick look before anything is created: something answers at the cluster's address (a TCP connection,
    at most ``REACH_TIMEOUT_S``). Ray's own attempt takes a minute or more to give up."""
    address = target_address(on)
    if address is None or address in ("auto", "local"):
        return
    match = _ADDRESS.match(address.removeprefix("ray://"))
    if match is None:
        raise PlaygroundError("ray.bad_on", value=address)
    try:
        with socket.create_connection((match["host"], int(match["port"])), timeout=REACH_TIMEOUT_S):
            pass
    except OSError as exc:
        raise ClusterError("ray.unreachable", address=address, reason=exc.strerror or type(exc).__name__) from None


# -- connecting -----------------------------------------------------------------------------------------------------
def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingDependency("ray.no_ray") from None
    return ray


def connect(on: str | None) -> str:
    """Connect this process to Ray (once; again is a no-op) and return the address connected to.

    ``on``: None or ``ray`` (``RAY_ADDRESS`` when set, else a Ray started on demand on this machine, on loopback,
    that ends with this process), ``ray://HOST:PORT`` or ``HOST:PORT``. A cluster that cannot be reached is one
    sentence (``ClusterError``)."""
    ray = _ray()
    if ray.is_initialized():
        return _connected_address(ray, target_address(on))
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a learner's machine reports nothing
    address = target_address(check_on(on) if on not in (None, LOCAL) else on)
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address is None:
            ray.init(address="local", _node_ip_address=LOOPBACK, include_dashboard=False, **quiet)
        else:
            check_reachable(address)
            extra: dict[str, Any] = {}
            host = address.removeprefix("ray://").rsplit(":", 1)[0]
            if not address.startswith("ray://") and _loopback(host):
                extra["_node_ip_address"] = host  # a cluster on this machine's loopback: this driver is on it too
            ray.init(address=address, **quiet, **extra)
    except ClusterError:
        raise
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ClusterError("ray.unreachable", address=address or "local", reason=reason[:300]) from None
    return _connected_address(ray, address)


def _connected_address(ray: Any, address: str | None) -> str:
    if address and address.startswith("ray://"):
        return address
    try:
        return str(ray.get_runtime_context().gcs_address)
    except Exception:  # noqa: BLE001 - an older Ray without it: the address we were given
        return address or "local"


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def disconnect() -> None:
    ray = _ray()
    if ray.is_initialized():
        ray.shutdown()


def check_fits(placement: Placement) -> None:
    """Some alive node has what one run asks (CPUs, GPUs, custom resources), else one sentence: Ray would wait
    for ever for a node that never comes."""
    ray = _ray()
    wanted = placement.wanted()
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    if any(all(have.get(name, 0.0) >= amount - 1e-9 for name, amount in wanted.items()) for have in nodes):
        return
    described = "; ".join(_resources_text(have) for have in nodes) or say("ray.no_nodes")
    raise ClusterError("ray.no_node_fits", wanted=_resources_text(wanted), nodes=described)


def _resources_text(resources: dict[str, float]) -> str:
    shown = {k: v for k, v in resources.items()
             if k in ("CPU", "GPU") or not (k.startswith("node:") or k in ("memory", "object_store_memory")
                                           or k.startswith("accelerator_type"))}
    return ", ".join(f"{name} {_number(amount)}" for name, amount in sorted(shown.items()))


# -- the task: the same `_run` entry, in a Ray worker ---------------------------------------------------------------
def _train(run_id: str, resume: bool, checkpoint: str) -> str:
    """Train ``run_id`` in this Ray worker, as ``playground rl|gan _run`` does in a local job; its final status."""
    import ray

    from playground import runs
    from playground.errors import RunNotFound
    from playground.store import get_store

    node_ip = ray.util.get_node_ip_address()
    os.environ[runs.RAY_NODE_ENV] = node_ip  # runs.mark_running records the node as the run's host
    store = get_store()
    try:
        run = store.get_run(run_id)
    except RunNotFound:
        raise PlaygroundError("ray.store_not_shared", run=run_id, node=runs.this_host(),
                              store=_store_shown()) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from playground.session import log_to_run_folder

    with log_to_run_folder(run):  # where it trains and on which cards, first in the run's own log
        gpus = ",".join(str(g) for g in ray.get_gpu_ids()) or "none"
        logging.getLogger(__name__).info("on Ray node %s, GPUs %s (CUDA_VISIBLE_DEVICES=%s)", node_ip, gpus,
                                         os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))
    if run.kind == "gan":
        from playground import gan_training

        return gan_training.execute(run_id, resume=resume, checkpoint=checkpoint).status
    from playground import training

    return training.execute(run_id, resume=resume, checkpoint=checkpoint).status


def _store_shown() -> str:
    from playground import settings

    url = settings.database_url()
    return url.split("@")[-1] if "@" in url else url  # never a password


def _worker_env(placement: Placement) -> dict[str, str]:
    from playground import settings

    env = {name: os.environ[name] for name in PASSED_ON if os.environ.get(name)}
    env["PLAYGROUND_HOME"] = str(settings.home())
    share = str(max(1, int(placement.cpus)))  # the run's cores on its node are its share
    env.update({"PLAYGROUND_THREADS": share, "OMP_NUM_THREADS": share, "PYTHONUNBUFFERED": "1"})
    threads.settle_openmp(env)  # set before the worker process loads torch
    if not placement.gpus:  # Ray leaves a task without GPUs every card of its node: it must not take one unasked
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def submit(run_ids: Sequence[str], placement: Placement, *, resume: bool = False,
           checkpoint: str = "latest") -> dict[str, Any]:
    """One Ray task per run with the placement's resources; run id -> its task (an ObjectRef). Needs ``connect``.

    One worker process per run (``max_calls=1``: it ends with the run, and gives back what torch held) and no
    retries: a lost run is resumed from its checkpoint on purpose, never restarted from nothing."""
    ray = _ray()
    task = ray.remote(max_calls=1)(_train)
    options = {"num_cpus": placement.cpus, "num_gpus": placement.gpus, "resources": placement.resources or None,
               "max_retries": 0, "retry_exceptions": False, "runtime_env": {"env_vars": _worker_env(placement)}}
    return {run_id: task.options(name=f"playground:{run_id}", **options).remote(run_id, resume, checkpoint)
            for run_id in run_ids}


def wait(tasks: dict[str, Any], *, tick: Callable[[], None] | None = None) -> dict[str, str | None]:
    """Wait for every task; run id -> None when its run ended as the session says (finished, stopped or failed
    with its own sentence), else the sentence of what Ray said went wrong (already stored on the run).

    A first Ctrl-C (or SIGTERM, for a background driver) asks every run to stop through the store, as ``runs
    stop`` does, and keeps waiting for their checkpoints; a second one cancels the tasks."""
    ray = _ray()
    pending = dict(tasks)
    results: dict[str, str | None] = {}
    asked = False
    with _sigterm_as_interrupt():
        while pending:
            try:
                done, _ = ray.wait(list(pending.values()), num_returns=1, timeout=WAIT_TICK_S)
                for ref in done:
                    run_id = next(r for r, t in pending.items() if t == ref)
                    del pending[run_id]
                    results[run_id] = _outcome(ray, run_id, ref)
                if tick is not None:
                    tick()
            except KeyboardInterrupt:
                if asked:
                    for ref in pending.values():
                        ray.cancel(ref, force=True)
                    raise
                asked = True
                _ask_to_stop(list(pending))
    return results


def _outcome(ray: Any, run_id: str, ref: Any) -> str | None:
    """None when the task returned (its session ended the run); else the sentence of what went wrong, stored on
    the run unless its session had already ended it with its own."""
    errors = ray.exceptions
    try:
        ray.get(ref)
        return None
    except errors.TaskCancelledError:
        return _fail(run_id, say("ray.cancelled", run=run_id))
    except errors.RayTaskError as exc:  # the task raised: its session ended the run, unless it never began
        cause = getattr(exc, "cause", None)
        if isinstance(cause, PlaygroundError):
            return _fail(run_id, str(cause))
        return _fail(run_id, say("ray.task_failed", run=run_id, reason=_first_line(cause or exc)))
    except (errors.RuntimeEnvSetupError, errors.TaskUnschedulableError) as exc:
        return _fail(run_id, say("ray.task_failed", run=run_id, reason=_first_line(exc)))
    except errors.RayError as exc:  # the worker or its node died, or Ray lost the task's result with it
        return _fail(run_id, None, reason=_first_line(exc))


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:200]


def _fail(run_id: str, sentence: str | None, *, reason: str = "") -> str:
    """Fail a run that Ray lost (``sentence`` None: its node, with Ray's ``reason``), unless its session already
    ended it; the sentence that the run now holds."""
    from playground import events, runs
    from playground.store import get_store

    store = get_store()
    run = store.get_run(run_id)
    if sentence is None:
        sentence = say("ray.node_lost", run=run.id, node=runs.ray_node_text(run), reason=reason, kind=run.kind)
    if run.status not in ("created", "running"):
        return run.error or sentence
    expect = {"status": run.status, "heartbeat_at": run.heartbeat_at}
    if store.update_run_if(run.id, expect, status="failed", error=sentence, ended_at=time.time(), pid=None):
        events.record(store, events.RunEnded("failed", step=run.step, error=sentence), run.id)
        return sentence
    return store.get_run(run_id).error or sentence


def _ask_to_stop(run_ids: Sequence[str]) -> None:
    from playground import runs
    from playground.errors import RunStateError

    for run_id in run_ids:
        try:
            runs.request_stop(run_id)
        except RunStateError:
            pass  # not running yet, or already ended


class _sigterm_as_interrupt:  # noqa: N801 - a context manager read as a phrase
    """SIGTERM to a driver is a Ctrl-C: stop the runs cleanly (only in the main thread, where signals land)."""

    def __enter__(self) -> None:
        self.old = None
        try:
            self.old = signal.signal(signal.SIGTERM, _interrupt)
        except ValueError:  # not the main thread
            self.old = None

    def __exit__(self, *exc: Any) -> None:
        if self.old is not None:
            signal.signal(signal.SIGTERM, self.old)


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def run_on_ray(run_ids: Sequence[str], placement: Placement, *, resume: bool = False, checkpoint: str = "latest",
               tick: Callable[[], None] | None = None) -> dict[str, str | None]:
    """Connect, check that a node fits, submit one task per run and wait for all (what a driver does)."""
    try:
        connect(placement.on)
        check_fits(placement)
    except PlaygroundError as exc:  # a background driver: the runs say why they never began
        for run_id in run_ids:
            _fail(run_id, str(exc))
        raise
    return wait(submit(run_ids, placement, resume=resume, checkpoint=checkpoint), tick=tick)
