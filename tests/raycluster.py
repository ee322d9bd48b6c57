"""A real Ray cluster for the tests (never a mock): a head and a second node on loopback, started with ``ray start``
once per test process, on first use (the Ray tests share one group, ``xdist_group("ray")``, so under ``make test``
one pytest-xdist worker runs them all on one cluster), and stopped at the end of the session, also when tests failed.

Each node has one CPU and a resource of its own (``node_a`` on the head, ``node_b`` on the second node), so a test
places a task on a chosen node by asking for that resource. The second node also declares one GPU (``--num-gpus
1``): Ray counts and hands out such a card whether or not one is there (this machine has none, so torch still
trains on the CPU), which is what the test of runs sharing a card by fractions needs. Every port is a free one
picked here (the head's GCS, its Ray Client server and dashboard process, each node's dashboard agent), the
dashboard and usage stats are off, and each node runs ``ray start --block`` in a process group of its own: stopping
the cluster, or killing the second node for the node-loss test (``kill_second_node``), signals exactly those groups
(and the workers below them) and never another Ray on the machine. The second node comes back, once Ray has declared
the killed one dead, before the next test that asks for the cluster.

Without ``ray`` the tests that need it are skipped with the reason, unless ``PLAYGROUND_RAY_REQUIRED`` is set (CI),
where that is a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

RESOURCES = {"head": "node_a", "second": "node_b"}
# Loopback addresses of the two nodes. Not 127.0.0.1: on Linux Ray 2.x takes "127.0.0.1" and "localhost" for "this
# machine" and swaps in the address it would show other machines (the default route's), so the cluster would not
# stay on loopback; any other 127.x address is loopback too and Ray keeps it as given.
IPS = {"head": "127.0.0.2", "second": "127.0.0.3"}
GPUS = {"head": 0, "second": 1}  # declared to Ray, not present: see above
# The head's GCS asks each node every second and declares it dead after 5 failed checks in a row: a SIGKILLed node
# refuses at once, so it is dead about 5 s after the kill, where Ray's defaults (every 3 s, 5 failures) take 15 s,
# which the node-loss tests and every restart of the second node waited out. A node merely slow under load still
# has 5 s to answer each check.
HEALTH_CHECKS = {"RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "5",
                 "RAY_health_check_timeout_ms": "5000"}
# Which nodes are alive, asked of the GCS by one long-lived driver (a line in, a line of JSON out) instead of a
# fresh `ray.init` child per question: the tests ask every half second while a node starts.
_NODES_CHILD = """
import json, sys, ray
ray.init(address=sys.argv[1], _node_ip_address=sys.argv[1].split(":")[0], logging_level="ERROR", log_to_driver=False)
for _ in sys.stdin:
    print(json.dumps({n["NodeID"]: sorted(n["Resources"]) for n in ray.nodes() if n["Alive"]}), flush=True)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ray_program() -> Path | None:
    """The ``ray`` command beside this Python (the venv's), else on PATH; None when Ray is not installed."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return None
    beside = Path(sys.executable).parent / "ray"
    if beside.exists():
        return beside
    found = shutil.which("ray")
    return Path(found) if found else None


def ray_env() -> dict[str, str]:
    """The environment every Ray process of the tests gets: no usage stats, loopback only."""
    # No token: a cluster on loopback for one test process (Ray 2.5x turns token auth on when ~/.ray/auth_token
    # exists, and the playground's drivers would need the same token).
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", **HEALTH_CHECKS}
    env.pop("RAY_ADDRESS", None)
    return env


@dataclass
class RayCluster:
    """Two Ray nodes on loopback: ``address`` (``127.0.0.2:PORT``, the GCS) and ``client_address``
    (``ray://127.0.0.2:PORT``, the Ray Client server on the head). A driver on this machine connects with
    ``ray.init(address, _node_ip_address="127.0.0.2")`` and the environment of ``ray_env()``."""

    program: Path
    folder: Path
    address: str = ""
    client_address: str = ""
    _nodes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _asker: subprocess.Popen | None = None

    def _start_node(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 - the node's process keeps it
        command = [str(self.program), "start", "--block", "--node-ip-address", IPS[name], "--num-cpus", "1",
                   "--num-gpus", str(GPUS[name]), "--resources", json.dumps({RESOURCES[name]: 1}),
                   "--object-store-memory", str(80 * 1024 * 1024), "--temp-dir", str(self.folder / name),
                   "--dashboard-agent-listen-port", str(_free_port()), "--disable-usage-stats", *args]
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=ray_env(), start_new_session=True)
        log.close()
        self._nodes[name] = process
        return process

    def start(self) -> None:
        port = _free_port()
        client_port = _free_port()
        self.address = f"{IPS['head']}:{port}"
        self.client_address = f"ray://{IPS['head']}:{client_port}"
        # Without the dashboard Ray still starts its head process (for the state API) on --dashboard-port, 8265
        # unless told: a free one, so two test processes' clusters never meet there.
        self._start_node("head", ["--head", "--port", str(port), "--ray-client-server-port", str(client_port),
                                  "--include-dashboard=false", "--dashboard-port", str(_free_port())])
        self._wait_for_node("node_a")
        self.start_second_node()

    def start_second_node(self, timeout: float = 90.0) -> None:
        """Start the second node, after Ray has declared a killed one dead (its health checks take about 5 s to
        give up): the new node never shares the cluster with the old one, which had the same address and folder."""
        deadline = time.monotonic() + timeout
        while self._holds(RESOURCES["second"], answer_required=True):
            if time.monotonic() > deadline:
                raise RuntimeError(f"Ray still counts a killed node alive after {timeout:.0f} s:\n{self.logs()}")
            time.sleep(0.5)
        self._start_node("second", ["--address", self.address])
        self._wait_for_node(RESOURCES["second"])

    def second_node_alive(self) -> bool:
        """Its ``ray start`` runs and Ray counts the node alive (a node Ray declared dead may outlive that by a
        moment)."""
        process = self._nodes.get("second")
        return process is not None and process.poll() is None and \
            self._holds(RESOURCES["second"], answer_required=True)

    def kill_second_node(self) -> None:
        """SIGKILL every process of the second node (its raylet, its workers and what they run), as a machine
        that loses power: nothing on it gets to say goodbye."""
        process = self._nodes.pop("second", None)
        if process is not None:
            _kill_group(process, signal.SIGKILL)

    def alive_nodes(self) -> dict[str, list[str]]:
        """The nodes that Ray counts alive: node id -> names of its resources."""
        return self._alive()

    def _wait_for_node(self, resource: str, timeout: float = 90.0) -> None:
        """Until a node that holds ``resource`` is alive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self._nodes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"ray start ({name}) exited with {process.returncode}:\n{self.logs()}")
            if self._holds(resource):
                return
            time.sleep(0.5)
        raise RuntimeError(f"the Ray node with {resource} did not come up in {timeout:.0f} s:\n{self.logs()}")

    def _holds(self, resource: str, answer_required: bool = False) -> bool:
        """Whether a node that Ray counts alive holds ``resource``."""
        return any(resource in held for held in self._alive(answer_required=answer_required).values())

    def _alive(self, timeout: float = 60.0, answer_required: bool = False) -> dict[str, list[str]]:
        """Alive nodes (id: resource names), asked of the GCS by a child driver that stays connected (this test
        process never connects to Ray itself, so the tests' own drivers start clean). While it cannot say: {},
        or, with ``answer_required`` (the head is up, so an answer names at least it), ask again until it can."""
        deadline = time.monotonic() + timeout
        while not (alive := self._ask()) and answer_required:
            if time.monotonic() > deadline:
                raise RuntimeError(f"Ray did not say which nodes are alive in {timeout:.0f} s:\n{self.logs()}")
            time.sleep(0.5)
        return alive

    def _ask(self, timeout: float = 60.0) -> dict[str, list[str]]:
        asker = self._asker
        if asker is None or asker.poll() is not None:
            asker = self._asker = subprocess.Popen(
                [sys.executable, "-c", _NODES_CHILD, self.address], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, text=True, env=ray_env())
        assert asker.stdin is not None and asker.stdout is not None
        try:
            asker.stdin.write("?\n")
            asker.stdin.flush()
        except OSError:  # it ended (the head was not up yet): a new one is started at the next question
            return {}
        ready, _, _ = select.select([asker.stdout], [], [], timeout)
        line = asker.stdout.readline() if ready else ""
        try:
            return dict(json.loads(line))
        except ValueError:
            _end(asker)
            return {}

    def logs(self) -> str:
        """The end of what each ``ray start`` printed and of each node's raylet log (why a node went away)."""
        paths = [*sorted(self.folder.glob("*.log")), *sorted(self.folder.glob("*/session_latest/logs/raylet.out"))]
        return "\n".join(f"--- {path.relative_to(self.folder)}\n{path.read_text(errors='replace')[-2000:]}"
                         for path in paths)

    def stop(self) -> None:
        """At the end of the session nothing of the cluster is kept: SIGKILL, as for a lost node. (``ray start
        --block`` took more than 10 s to end its node on SIGTERM, at the end of every test process that had a
        cluster.)"""
        if self._asker is not None:
            _end(self._asker)
            self._asker = None
        for name in ("second", "head"):
            process = self._nodes.pop(name, None)
            if process is not None:
                _kill_group(process, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc): Ray's workers run in process groups of their own, under the
    raylet."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_group(process: subprocess.Popen, sig: int) -> None:
    """Signal the node's process group (``ray start --block`` leads it; Ray's daemons on that node are in it) and,
    for SIGKILL, every process below it (the workers), then make sure nothing of the group is left."""
    below = _descendants(process.pid)
    if sig == signal.SIGKILL:
        for pid in below:
            with contextlib.suppress(ProcessLookupError):  # it exited since it was listed
                os.kill(pid, signal.SIGKILL)
    for signum in (sig, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):  # the group is gone already
            os.killpg(process.pid, signum)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            continue
        if signum == signal.SIGKILL:
            break
    with contextlib.suppress(ProcessLookupError):  # the group's other members may outlive its leader by a moment
        os.killpg(process.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}/stat").exists() and not _zombie(pid) for pid in below):
        time.sleep(0.1)


def _end(process: subprocess.Popen) -> None:
    process.kill()
    process.wait(timeout=10)
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture(scope="session")
def _ray_cluster_session() -> Iterator[RayCluster]:
    program = ray_program()
    if program is None:
        if os.environ.get("PLAYGROUND_RAY_REQUIRED"):
            pytest.fail("PLAYGROUND_RAY_REQUIRED is set but ray is not installed (pip install 'ray[tune]')")
        pytest.skip("ray is not installed (pip install 'ray[tune]'); set PLAYGROUND_RAY_REQUIRED=1 to fail instead")
    # Short: Ray's unix sockets live under the temp dir, and a socket path has at most 107 bytes.
    folder = Path(tempfile.mkdtemp(prefix="pgray", dir="/tmp"))
    cluster = RayCluster(program, folder)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def ray_cluster(_ray_cluster_session: RayCluster) -> RayCluster:
    """The session's two-node loopback cluster, with its second node running (started again if a test killed it)."""
    if not _ray_cluster_session.second_node_alive():
        _ray_cluster_session.kill_second_node()  # what is left of it, when Ray declared it dead on its own
        _ray_cluster_session.start_second_node()
    return _ray_cluster_session
