"""A real PostgreSQL server for the tests (never a mock): one per test process (each pytest-xdist worker starts
its own, on first use), and a fresh database on it for each test.

The server is Debian's (``apt install postgresql``; ``.ci/run`` installs it): ``initdb`` into a temporary folder,
``pg_ctl start`` on a free loopback port with its unix socket in that folder, ``pg_ctl stop -m fast`` and the
folder removed at the end of the session, also when tests failed. PostgreSQL refuses to run as root: as root the
server runs as the ``postgres`` user (or ``nobody``). Without the programs the tests that need them are skipped
with the reason, unless ``PLAYGROUND_PG_REQUIRED`` is set (CI), where that is a failure.

``scripts/store_writers.py`` starts one the same way to measure the store on PostgreSQL.
"""

from __future__ import annotations

import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SUPERUSER = "playground"
# A throwaway server: durability buys the tests nothing, and fsync on every commit costs them seconds.
FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def bin_dir() -> Path | None:
    """The folder of ``pg_ctl``, ``initdb`` and ``postgres``: from PATH, else Debian's newest under
    /usr/lib/postgresql; None when PostgreSQL's server programs are not installed."""
    found = shutil.which("pg_ctl")
    if found:
        folder = Path(found).resolve().parent  # Debian's /usr/bin/pg_ctl* are wrappers; the link leads to the real one
        if (folder / "initdb").exists() and (folder / "postgres").exists():
            return folder
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                      key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.parent.name)] or [0])
    return versions[-1].parent if versions else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One PostgreSQL server in a temporary folder, on loopback; ``settings`` go into its postgresql.conf."""

    def __init__(self, programs: Path, settings: dict[str, str] | None = None) -> None:
        self.programs = programs
        self.settings = dict(settings or {})
        self.folder: Path | None = None
        self.port = 0
        self._user: dict[str, Any] = {}
        self._names = itertools.count(1)

    @property
    def data(self) -> Path:
        assert self.folder is not None
        return self.folder / "data"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(self.programs / args[0]), *args[1:]], cwd=self.folder, capture_output=True,
                                text=True, timeout=120, **self._user)
        if result.returncode != 0:
            log = self.folder / "server.log" if self.folder else None
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr or result.stdout}\n{tail}")
        return result

    def start(self) -> None:
        root = os.geteuid() == 0
        # As root, in /tmp: the server's own user must reach its folder (root's TMPDIR may be closed to it).
        self.folder = Path(tempfile.mkdtemp(prefix="playground-pg-", dir="/tmp" if root else None))
        if root:  # "root" execution of the PostgreSQL server is not permitted
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                account = pwd.getpwnam("nobody")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self._user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
                  "--no-locale", "--no-sync")
        for attempt in range(5):  # the free port may be taken between looking and listening
            self.port = _free_port()
            lines = {"port": str(self.port), "listen_addresses": "'127.0.0.1'",
                     "unix_socket_directories": f"'{self.folder}'", "max_connections": "100",
                     **self.settings}
            with open(self.data / "postgresql.auto.conf", "w") as conf:
                conf.writelines(f"{key} = {value}\n" for key, value in lines.items())
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "-t", "60",
                          "start")
                return
            except RuntimeError:
                if attempt == 4:
                    raise

    def stop(self) -> None:
        """Stop the server and remove its folder; safe to call after a start that failed half-way."""
        if self.folder is None:
            return
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self) -> str:
        """A new, empty database; its URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_server(settings: dict[str, str] | None = None) -> PostgresServer:
    """A started server, or RuntimeError saying why not (the programs missing, or the start failing)."""
    programs = bin_dir()
    if programs is None:
        raise RuntimeError("PostgreSQL's server programs (pg_ctl, initdb) are not installed; "
                           "on Debian: apt install postgresql")
    server = PostgresServer(programs, settings)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """This test process's PostgreSQL server, started on first use and stopped at the end of the session."""
    if bin_dir() is None:
        reason = ("PostgreSQL's server programs (pg_ctl, initdb) are not installed (apt install postgresql; "
                  "PLAYGROUND_PG_REQUIRED=1 makes this a failure)")
        if os.environ.get("PLAYGROUND_PG_REQUIRED"):
            pytest.fail(reason.split(" (apt")[0] + ", and PLAYGROUND_PG_REQUIRED is set")
        pytest.skip(reason)
    server = start_server(FAST)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database on the server for one test (dropped after it, with the connections still open to it)."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        from playground import store

        cached = store._stores.pop(url, None)  # get_store's engine for it would point at a dropped database
        if cached is not None:
            cached.engine.dispose()
        postgres_server.drop_database(url)
