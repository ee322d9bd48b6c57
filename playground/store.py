"""The one store: runs, metrics, evaluations, artifacts and events.

SQLAlchemy Core over SQLite (WAL) by default, or any database named by ``PLAYGROUND_DB``.
Every process that trains writes through here; the UI, viewer and game read from here.
SQLite transactions start with ``BEGIN IMMEDIATE`` so two writers queue on the busy timeout
instead of failing with "database is locked" when a reader tries to upgrade to a writer.

The schema is Alembic's (``playground/migrations``), run by the store itself when it opens a database that is
not at the newest revision; one that is costs a single read of its version row, and Alembic is never imported.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, OperationalError

from playground import settings
from playground.checks import shown
from playground.errors import CheckpointError, QuotaExceeded, RunNotFound, StoreError
from playground.i18n import Words

log = logging.getLogger(__name__)

RUN_STATUSES = ("created", "running", "stopped", "finished", "failed")

metadata = MetaData()

runs_table = Table(
    "runs",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("kind", String(16), nullable=False),  # rl | gan
    Column("algo", String(32), nullable=False),
    Column("env", String(200), nullable=False),
    Column("game", String(100), nullable=False),
    Column("number", Integer, nullable=False),
    Column("label", String(200)),
    Column("status", String(16), nullable=False),
    Column("seed", Integer),
    Column("total_steps", Integer),
    Column("step", Integer, nullable=False, default=0),
    Column("folder", Text, nullable=False),
    Column("config", Text, nullable=False),  # JSON
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("ended_at", Float),
    Column("heartbeat_at", Float),
    Column("pid", Integer),
    Column("pid_start", String(32)),
    Column("host", String(200)),
    Column("error", Text),
    Column("stop_requested", Boolean, nullable=False, default=False),
    # The trainer's own speed and ETA at its last heartbeat, so every door shows the same figures (added later).
    Column("steps_per_s", Float),
    Column("eta_s", Float),
    Column("player", String(100)),  # who started it, as the door that created it said (added later)
    # Seen only by its owner and the teachers of a served app (everyone else's runs are open to all; added later).
    Column("private", Boolean),
    # Runs that differ only by seed, started together (``--seeds``): one line in the Runs page and in compare.
    Column("group_id", String(200)),
    Column("sweep_id", String(200)),  # the sweep this run is a trial of
    Index("ix_runs_algo_game", "algo", "game"),
)

metrics_table = Table(
    "metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(200), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("step", Integer, nullable=False),
    Column("wall_time", Float, nullable=False),
    Column("key", String(200), nullable=False),
    Column("value", Float, nullable=False),
    Index("ix_metrics_run_key_step", "run_id", "key", "step"),
)

evaluations_table = Table(
    "evaluations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(200), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("step", Integer, nullable=False),
    Column("scores", Text, nullable=False),  # JSON list of raw whole-game scores
    Column("mean", Float, nullable=False),
    Column("std", Float, nullable=False),
    Column("n_episodes", Integer, nullable=False),
    Column("checkpoint", Text),
    Column("seed", Integer),
    Column("created_at", Float, nullable=False),
    # The SHA-256 of the checkpoint file as it was played: the game's evidence (added later; see _ADDED_COLUMNS).
    Column("checkpoint_sha256", String(64)),
    # What ``mean`` measures: SCORE (whole games; ``scores`` are the raw game scores) or a GAN's quality
    # measure (``FID``, ``FD-mnist``: ``mean`` is the distance, ``n_episodes`` the images compared, and
    # ``details`` the rest: KID, the feature network, PSNR…). Empty in rows older than the column: a score.
    Column("measure", String(40)),
    Column("details", Text),  # JSON object
    Index("ix_evaluations_run", "run_id", "step"),
)

artifacts_table = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(200), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),  # checkpoint | replay_buffer | video | sample | plot
    Column("path", Text, nullable=False),
    Column("step", Integer),
    Column("meta", Text),  # JSON
    Column("created_at", Float, nullable=False),
    Index("ix_artifacts_run_kind", "run_id", "kind"),
)

events_table = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(200)),
    Column("kind", String(64), nullable=False),
    Column("payload", Text),  # JSON
    Column("created_at", Float, nullable=False),
    Index("ix_events_kind", "kind"),
)


# The people of a served app (the classroom): local accounts with an argon2 hash of their password, or people an
# identity provider signed in (``oidc_subject``). A failed sign-in makes the next wait longer (``locked_until``).
users_table = Table(
    "users",
    metadata,
    Column("name", String(100), primary_key=True),  # also the player name everything they do is recorded as
    Column("role", String(16), nullable=False),  # teacher | student
    Column("password_hash", Text),
    Column("oidc_subject", String(300)),
    Column("created_at", Float, nullable=False),
    Column("failures", Integer, nullable=False, default=0),
    Column("locked_until", Float),
    Column("private_runs", Boolean, nullable=False, default=False),  # their new runs start private
)

# Data sets people uploaded to a served app: whose they are, where they were unpacked and how many bytes they take
# (each person's quota counts these). ``status``: unpacking | ready | failed (with ``error``, a sentence as JSON).
uploads_table = Table(
    "uploads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner", String(100), nullable=False),
    Column("name", String(200), nullable=False),
    Column("folder", Text, nullable=False),
    Column("bytes", BigInteger, nullable=False, default=0),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("created_at", Float, nullable=False),
    Index("ix_uploads_owner", "owner"),
)

# Settings of a class, chosen on the teacher page and shared by every machine on the store (the challenge catalogue).
class_settings_table = Table(
    "class_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),  # JSON
    Column("updated_at", Float, nullable=False),
)

# Hyperparameter sweeps (``playground sweep``): Ray Tune drives Optuna's sampler over a search space; each trial is
# an ordinary run tagged with the sweep's id. ``config``: the algorithm's base settings, the space, the metric, the
# budget and where it runs (JSON); ``folder``: the sweep's own folder (Tune's experiment, to resume from).
sweeps_table = Table(
    "sweeps",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("algo", String(32), nullable=False),
    Column("env", String(200), nullable=False),
    Column("game", String(100), nullable=False),
    Column("number", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # created | running | stopped | finished | failed
    Column("config", Text, nullable=False),
    Column("folder", Text, nullable=False),
    Column("player", String(100)),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("ended_at", Float),
    Column("heartbeat_at", Float),
    Column("pid", Integer),
    Column("host", String(200)),
    Column("error", Text),
    Column("stop_requested", Boolean, nullable=False, default=False),
    Column("best_run", String(200)),
    Column("best_value", Float),
)

# Runs that take a place among the running jobs a served app allows (created: its job is about to claim it).
ACTIVE_STATUSES = ("created", "running")


# One row per data migration done to this database, so that each is done once (the schema's own changes are
# Alembic's revisions, recorded in its ``alembic_version``).
migrations_table = Table(
    "migrations",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("done_at", Float, nullable=False),
    Column("detail", Text),  # JSON: what it changed
)


@dataclass
class Run:
    id: str
    kind: str
    algo: str
    env: str
    game: str
    number: int
    label: str | None
    status: str
    seed: int | None
    total_steps: int | None
    step: int
    folder: str
    config: dict[str, Any]
    created_at: float
    started_at: float | None
    ended_at: float | None
    heartbeat_at: float | None
    pid: int | None
    pid_start: str | None
    host: str | None
    error: str | None
    stop_requested: bool
    steps_per_s: float | None = None
    eta_s: float | None = None
    player: str | None = None
    private: bool = False
    group_id: str | None = None
    sweep_id: str | None = None


SCORE = "score"  # the measure of an evaluation that played whole games


@dataclass
class Evaluation:
    """One measurement of a checkpoint: whole games played (``measure`` SCORE: ``scores`` and their mean and
    std over ``n_episodes`` games) or a GAN's image quality (``measure`` the distance's name, ``mean`` the
    distance, lower is better; ``n_episodes`` the images compared; ``details`` KID, the network, PSNR…)."""

    run_id: str
    step: int
    scores: list[float]
    mean: float
    std: float
    n_episodes: int
    checkpoint: str | None
    seed: int | None
    created_at: float
    checkpoint_sha256: str | None = None
    id: int | None = None
    measure: str = SCORE
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def played(self) -> bool:
        """Whether whole games were played (an RL evaluation), rather than images compared."""
        return self.measure == SCORE

    def quality(self) -> dict[str, Any]:
        """A GAN evaluation as ``gan eval --json`` prints it (docs/cli-json.md)."""
        return {"metric": self.measure, "fd": self.mean, "kid": self.details.get("kid"),
                "kid_std": self.details.get("kid_std"), "n": self.n_episodes, "step": self.step,
                "checkpoint": self.checkpoint, "checkpoint_sha256": self.checkpoint_sha256, "seed": self.seed,
                **{k: v for k, v in self.details.items() if k not in ("kid", "kid_std")}}


@dataclass
class Artifact:
    run_id: str
    kind: str
    path: str
    step: int | None
    created_at: float
    meta: dict[str, Any] = field(default_factory=dict)


def file_sha256(path: str | Path) -> str | None:
    """The SHA-256 of a file (a checkpoint), or None when it is not there; the evidence the game checks."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    except OSError as exc:  # there, but not ours to read (permissions, a broken disk)
        raise CheckpointError("store.unreadable", path=path, reason=exc.strerror or str(exc)) from None
    return digest.hexdigest()


# The newest revision in playground/migrations/versions (a test checks): a database stamped with it is opened as
# it is. ``BASELINE`` is the schema of the last release before migrations, where older homes are stamped.
SCHEMA_HEAD = "0003_groups_and_sweeps"
BASELINE = "0001_baseline"
_MIGRATIONS = Path(__file__).with_name("migrations")
# PostgreSQL's advisory lock that two processes opening one database at once take before migrating it.
_SCHEMA_LOCK = 0x706C_6179  # "play"

# Columns the releases before migrations added on open: (table, column, SQL type). A home from before them gets
# them, empty (old rows read as "not recorded"), when it is brought to the baseline.
_ADDED_COLUMNS = (
    ("evaluations", "checkpoint_sha256", "VARCHAR(64)"),
    ("runs", "steps_per_s", "FLOAT"),
    ("runs", "eta_s", "FLOAT"),
    ("runs", "player", "VARCHAR(100)"),
    ("evaluations", "measure", "VARCHAR(40)"),
    ("evaluations", "details", "TEXT"),
)
# Before the evaluations table held GAN quality too, ``gan eval`` kept its results as events of this kind.
_OLD_GAN_EVALUATION = "gan_evaluation"


def _shown_url(url: str) -> str:
    """A database URL as an error may show it: a class's shared server keeps its password out of messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _schema_version(conn: Any) -> str | None:
    """The Alembic revision the database is at; None when it has none (fresh, or made before migrations)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _upgrade(conn: Any, url: str) -> None:
    """Bring the database to ``SCHEMA_HEAD`` inside the store's write transaction (SQLite: ``BEGIN IMMEDIATE``;
    PostgreSQL: an advisory lock), so a second process opening it at once waits, then finds it done."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
    version = _schema_version(conn)
    if version == SCHEMA_HEAD:
        return
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    plugins = logging.getLogger("alembic.runtime.plugins")  # a line per plugin it loads, at every migration
    if plugins.level == logging.NOTSET:
        plugins.setLevel(logging.WARNING)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = conn
    if version is not None:
        try:
            ScriptDirectory.from_config(config).get_revision(version)
        except CommandError:  # a newer playground's revision: its schema is not ours to guess at
            raise StoreError("store.newer_schema", url=_shown_url(url), version=version) from None
    elif inspect(conn).has_table("runs"):
        _adopt(conn)
        command.stamp(config, BASELINE)
        log.info("stamped an older database with the baseline schema %s", BASELINE)
    command.upgrade(config, "head")
    log.info("the store's schema is now at %s (it was at %s)", SCHEMA_HEAD, version or "nothing")


def _adopt(conn: Any) -> None:
    """A home made before migrations (tables, no ``alembic_version``) brought to the baseline in place: missing
    tables and columns added, and the data migrations of those releases done."""
    baseline = [metrics_table, evaluations_table, artifacts_table, events_table, migrations_table]  # runs is there
    metadata.create_all(conn, tables=baseline)
    inspector = inspect(conn)
    for table_name, column, sql_type in _ADDED_COLUMNS:
        if column not in {c["name"] for c in inspector.get_columns(table_name)}:
            conn.exec_driver_sql(f"ALTER TABLE {table_name} ADD COLUMN {column} {sql_type}")
            log.info("added column %s.%s to an older database", table_name, column)
    _move_gan_evaluations(conn)
    _once(conn, "dqn-is-ours", _rename_sb3_dqn_runs)


def _once(conn: Any, name: str, migration: Any) -> None:
    """Run ``migration(conn)`` unless this database has a record of it; record it (with what it returned)."""
    if conn.execute(select(migrations_table.c.name).where(migrations_table.c.name == name)).first() is not None:
        return
    detail = migration(conn)
    conn.execute(insert(migrations_table).values(name=name, done_at=time.time(), detail=json.dumps(detail)))


def _rename_sb3_dqn_runs(conn: Any) -> dict[str, Any]:
    """Runs made while ``dqn`` was stable-baselines3's become ``sb3-dqn`` runs: their checkpoints are SB3 zips
    and their settings SB3's, which only that agent reads, and ``dqn`` is ours now. Ids, folders, evaluations
    and events stay as they were (an id is a name: ``dqn-Pong-3`` may now be an ``sb3-dqn`` run)."""
    rows = conn.execute(select(runs_table.c.id, runs_table.c.config).where(runs_table.c.algo == "dqn")).all()
    for row in rows:
        try:
            config = json.loads(row.config)
        except json.JSONDecodeError:
            config = None
        values: dict[str, Any] = {"algo": "sb3-dqn"}
        if isinstance(config, dict) and config.get("algo") == "dqn":
            values["config"] = json.dumps({**config, "algo": "sb3-dqn"})
        conn.execute(update(runs_table).where(runs_table.c.id == row.id).values(**values))
    if rows:
        log.info("%d runs of stable-baselines3's DQN are now named sb3-dqn (dqn is the playground's own)", len(rows))
    return {"runs": [row.id for row in rows]}


def _move_gan_evaluations(conn: Any) -> None:
    """GAN results kept as events by older versions become rows of the evaluations table, in place."""
    old = conn.execute(select(events_table).where(events_table.c.kind == _OLD_GAN_EVALUATION)).all()
    for row in old:
        try:
            payload = json.loads(row.payload or "{}")
        except json.JSONDecodeError:
            payload = {}
        if row.run_id is not None and isinstance(payload, dict) and isinstance(payload.get("fd"), int | float):
            conn.execute(insert(evaluations_table).values(**_gan_row(row.run_id, payload, row.created_at)))
    if old:
        conn.execute(delete(events_table).where(events_table.c.kind == _OLD_GAN_EVALUATION))
        log.info("moved %d GAN evaluations from events into the evaluations table", len(old))


def _gan_row(run_id: str, payload: dict[str, Any], created_at: float) -> dict[str, Any]:
    """The evaluations row of a GAN quality result (the fields ``gan eval --json`` prints)."""
    known = {"metric", "fd", "n", "step", "checkpoint", "checkpoint_sha256", "seed"}
    return dict(run_id=run_id, step=int(payload.get("step") or 0), scores="[]", mean=float(payload["fd"]), std=0.0,
                n_episodes=int(payload.get("n") or 0), checkpoint=payload.get("checkpoint"), seed=payload.get("seed"),
                created_at=created_at, checkpoint_sha256=payload.get("checkpoint_sha256"),
                measure=str(payload.get("metric") or "FD"),
                details=json.dumps({k: v for k, v in payload.items() if k not in known}))


@dataclass(frozen=True)
class JobLimits:
    """How many runs may be going at once on a served app: per person and in all (``settings.job_limits``)."""

    per_person: int
    per_server: int


def _active(conn: Any, player: str | None = None, exclude: str | None = None) -> int:
    query = select(func.count()).select_from(runs_table).where(runs_table.c.status.in_(ACTIVE_STATUSES))
    if player is not None:
        query = query.where(runs_table.c.player == player)
    if exclude is not None:
        query = query.where(runs_table.c.id != exclude)
    return int(conn.execute(query).scalar() or 0)


def _check_room(conn: Any, player: str | None, limits: JobLimits, exclude: str | None = None) -> None:
    """Refuse a start that would pass ``limits`` (inside the write transaction that makes the start)."""
    if conn.dialect.name == "postgresql":  # SQLite's BEGIN IMMEDIATE already serialises writers
        conn.exec_driver_sql("LOCK TABLE runs IN SHARE ROW EXCLUSIVE MODE")
    if player is not None and _active(conn, player, exclude) >= limits.per_person:
        raise QuotaExceeded("quota.jobs_person", limit=limits.per_person)
    if _active(conn, None, exclude) >= limits.per_server:
        raise QuotaExceeded("quota.jobs_server", limit=limits.per_server)


class _Damaged(ValueError):
    """What is wrong with a stored run, in words a person reads."""

    def __init__(self, words: Words) -> None:
        super().__init__(words.render("en"))
        self.words = words


def _run_from_row(row: Any) -> Run:
    data = dict(row._mapping)
    data["config"] = json.loads(data["config"])
    if not isinstance(data["config"], dict):
        raise _Damaged(Words("store.damage_not_mapping"))
    data["stop_requested"] = bool(data["stop_requested"])
    data["private"] = bool(data.get("private"))
    data["step"] = int(data["step"])
    if data["status"] not in RUN_STATUSES:
        raise _Damaged(Words("store.damage_unknown_status", status=repr(data["status"])))
    return Run(**data)


def _like_literal(text: str) -> str:
    """``text`` matched literally by LIKE (with ``escape='\\'``): its own % and _ are not wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _damage(exc: Exception) -> Words | str:
    """What is wrong with a stored run: our own words, or the library's sentence as it is."""
    if isinstance(exc, json.JSONDecodeError):
        return Words("store.damage_not_json")
    if isinstance(exc, _Damaged):
        return exc.words
    return str(exc) or type(exc).__name__


_WRITE = "playground_write"


def _install_sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself, so it can be IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout = 30000")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front; readers stay deferred, so WAL lets them run beside a writer.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


class Store:
    """Thin, typed access to the tables; one instance per database URL per process."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or settings.database_url()
        self.damaged: list[tuple[str, Words | str]] = []  # (run id, what is wrong) of rows the last find_runs left out
        is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if is_sqlite:
            kwargs["connect_args"] = {"timeout": 60, "check_same_thread": False}
        try:
            self.engine = create_engine(self.url, **kwargs)
            if is_sqlite:
                _install_sqlite_pragmas(self.engine)
            if self._read(_schema_version) != SCHEMA_HEAD:  # the CLI opens the store on every command: one read
                self._write(lambda conn: _upgrade(conn, self.url))
        except (DBAPIError, ArgumentError, ImportError) as exc:
            reason = getattr(exc, "orig", None) or exc
            raise StoreError("store.cannot_open", url=_shown_url(self.url), reason=str(reason)) from None

    # -- plumbing -----------------------------------------------------------------------------
    def _retry(self, fn: Any, attempts: int = 5) -> Any:
        """Run ``fn`` again when the database is momentarily locked; give up loudly after a while."""
        for attempt in range(attempts):
            try:
                return fn()
            except OperationalError as exc:
                if "locked" not in str(exc.orig).lower() or attempt == attempts - 1:
                    raise
                time.sleep(min(0.05 * (2**attempt), 2.0))
        raise AssertionError("unreachable")

    def _write(self, fn: Any) -> Any:
        def tx() -> Any:
            with self.engine.connect() as conn:
                conn.execution_options(**{_WRITE: True})
                with conn.begin():
                    return fn(conn)

        return self._retry(tx)

    def _read(self, fn: Any) -> Any:
        def tx() -> Any:
            with self.engine.connect() as conn:
                return fn(conn)

        return self._retry(tx)

    # -- runs ---------------------------------------------------------------------------------
    def create_run(
        self,
        *,
        kind: str,
        algo: str,
        env: str,
        game: str,
        config: dict[str, Any],
        folder_for: Any,
        label: str | None = None,
        seed: int | None = None,
        total_steps: int | None = None,
        player: str | None = None,
        private: bool = False,
        limits: JobLimits | None = None,
        group_id: str | None = None,
        sweep_id: str | None = None,
    ) -> Run:
        """Insert a run with the next free number for its algorithm and game (``ppo-Pong-3``).

        ``limits``: a served app's quota of running jobs, counted in the same transaction as the insert, so two
        starts at once cannot both take the last place; over it, ``QuotaExceeded`` and nothing is created."""

        def tx(conn: Any) -> str:
            if limits is not None:
                _check_room(conn, player, limits)
            # The numbers of ids of this algorithm and game: an id keeps its name when its run's algorithm is
            # renamed (a ``dqn-Pong-3`` made by SB3's DQN is an ``sb3-dqn`` run now), so ids are counted too.
            current = conn.execute(
                select(func.max(runs_table.c.number)).where(
                    (runs_table.c.algo == algo) & (runs_table.c.game == game)
                    | runs_table.c.id.like(f"{_like_literal(algo)}-{_like_literal(game)}-%", escape="\\"))
            ).scalar()
            number = (current or 0) + 1
            run_id = f"{algo}-{game}-{number}"
            conn.execute(
                insert(runs_table).values(
                    id=run_id,
                    kind=kind,
                    algo=algo,
                    env=env,
                    game=game,
                    number=number,
                    label=label,
                    status="created",
                    seed=seed,
                    total_steps=total_steps,
                    step=0,
                    folder=str(folder_for(run_id)),
                    config=json.dumps(config),
                    created_at=time.time(),
                    stop_requested=False,
                    player=player,
                    private=bool(private),
                    group_id=group_id,
                    sweep_id=sweep_id,
                )
            )
            return run_id

        for _ in range(10):
            try:
                return self.get_run(self._write(tx))
            except IntegrityError:  # another process took the same number first (PostgreSQL)
                time.sleep(0.05)
        raise StoreError("store.no_run_id")

    def get_run(self, run_id: str) -> Run:
        row = self._read(lambda c: c.execute(select(runs_table).where(runs_table.c.id == run_id)).first())
        if row is None:
            raise RunNotFound("runs.not_found", ref=shown(run_id), hint=Words("runs.not_found_hint"))
        try:
            return _run_from_row(row)
        except (ValueError, TypeError, KeyError) as exc:
            raise StoreError("store.damaged_record", run=run_id, damage=_damage(exc)) from None

    def find_runs(
        self,
        *,
        kind: str | None = None,
        env: str | None = None,
        algo: str | None = None,
        status: str | None = None,
        label: str | None = None,
        group_id: str | None = None,
        sweep_id: str | None = None,
    ) -> list[Run]:
        query = select(runs_table).order_by(runs_table.c.created_at)
        for column, value in (("kind", kind), ("env", env), ("algo", algo), ("status", status), ("label", label),
                              ("group_id", group_id), ("sweep_id", sweep_id)):
            if value is not None:
                query = query.where(runs_table.c[column] == value)
        found, self.damaged = [], []
        for row in self._read(lambda c: c.execute(query).all()):
            try:
                found.append(_run_from_row(row))
            except (ValueError, TypeError, KeyError) as exc:  # one bad row must not hide the others
                self.damaged.append((str(row._mapping["id"]), _damage(exc)))
                log.debug("run %s has a damaged record (%s); it is left out", row._mapping["id"], exc)
        return found

    def latest_run(self) -> Run | None:
        run_id = self._read(
            lambda c: c.execute(select(runs_table.c.id).order_by(runs_table.c.created_at.desc()).limit(1)).scalar()
        )
        return self.get_run(run_id) if run_id is not None else None

    def has_run(self, run_id: str) -> bool:
        """Whether a row with this id exists, readable or not."""
        return self._read(lambda c: c.execute(select(runs_table.c.id).where(runs_table.c.id == run_id)).first()) \
            is not None

    def update_run(self, run_id: str, **fields: Any) -> None:
        if "config" in fields:
            fields["config"] = json.dumps(fields["config"])
        self._write(lambda c: c.execute(update(runs_table).where(runs_table.c.id == run_id).values(**fields)))

    def update_run_if(self, run_id: str, expect: dict[str, Any], **fields: Any) -> bool:
        """Update only while the row still holds ``expect``; False when another process got there first."""
        query = update(runs_table).where(runs_table.c.id == run_id)
        for column, value in expect.items():
            col = runs_table.c[column]
            query = query.where(col.in_(value) if isinstance(value, (list, tuple)) else col == value)
        return bool(self._write(lambda c: c.execute(query.values(**fields)).rowcount))

    def delete_metrics_after(self, run_id: str, step: int) -> int:
        """Rows a killed session wrote past the checkpoint a resume starts from (its curve restarts there)."""
        return int(
            self._write(
                lambda c: c.execute(
                    delete(metrics_table).where(metrics_table.c.run_id == run_id, metrics_table.c.step > step)
                ).rowcount
            )
        )

    def delete_metric(self, run_id: str, step: int, key: str) -> None:
        """One curve's value at one step, before a newer value for the same step is written."""
        self._write(lambda c: c.execute(delete(metrics_table).where(
            metrics_table.c.run_id == run_id, metrics_table.c.step == int(step), metrics_table.c.key == key)))

    def stop_requested(self, run_id: str) -> bool:
        value = self._read(
            lambda c: c.execute(select(runs_table.c.stop_requested).where(runs_table.c.id == run_id)).scalar()
        )
        return bool(value)

    def delete_run(self, run_id: str) -> None:
        def tx(conn: Any) -> None:
            for table in (metrics_table, evaluations_table, artifacts_table, events_table):
                conn.execute(delete(table).where(table.c.run_id == run_id))
            conn.execute(delete(runs_table).where(runs_table.c.id == run_id))

        self._write(tx)

    # -- metrics ------------------------------------------------------------------------------
    def add_metrics(self, run_id: str, rows: Iterable[tuple[int, float, str, float]]) -> int:
        """Append (step, wall_time, key, value) rows in one transaction."""
        values = [
            {"run_id": run_id, "step": int(s), "wall_time": float(w), "key": str(k), "value": float(v)}
            for s, w, k, v in rows
        ]
        if values:
            self._write(lambda c: c.execute(insert(metrics_table), values))
        return len(values)

    def metrics(self, run_id: str, key: str | None = None) -> list[tuple[int, float, str, float]]:
        query = select(metrics_table.c.step, metrics_table.c.wall_time, metrics_table.c.key, metrics_table.c.value).where(
            metrics_table.c.run_id == run_id
        )
        if key is not None:
            query = query.where(metrics_table.c.key == key)
        query = query.order_by(metrics_table.c.step, metrics_table.c.id)
        return [tuple(r) for r in self._read(lambda c: c.execute(query).all())]  # type: ignore[misc]

    def last_activity(self, run_id: str, start: float, end: float) -> float | None:
        """The newest metric or artifact a run wrote within [start, end]: about when a silent death came."""

        def q(conn: Any) -> float | None:
            times = [
                conn.execute(
                    select(func.max(table.c[column])).where(
                        table.c.run_id == run_id, table.c[column] >= start, table.c[column] <= end
                    )
                ).scalar()
                for table, column in ((metrics_table, "wall_time"), (artifacts_table, "created_at"))
            ]
            found = [t for t in times if t is not None]
            return max(found) if found else None

        return self._read(q)

    def metric_keys(self, run_id: str) -> list[str]:
        query = select(metrics_table.c.key).where(metrics_table.c.run_id == run_id).distinct().order_by(metrics_table.c.key)
        return [r[0] for r in self._read(lambda c: c.execute(query).all())]

    # -- evaluations --------------------------------------------------------------------------
    def add_evaluation(
        self,
        run_id: str,
        *,
        step: int,
        scores: Sequence[float],
        mean: float,
        std: float,
        checkpoint: str | None,
        seed: int | None,
        checkpoint_sha256: str | None = None,
        measure: str = SCORE,
        n: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> Evaluation:
        """Whole games (``scores``), or with another ``measure`` a GAN's quality: ``mean`` the distance, ``n``
        the images compared, ``details`` the other figures (empty ``scores``)."""
        now = time.time()
        values = dict(
            run_id=run_id,
            step=int(step),
            scores=json.dumps([float(s) for s in scores]),
            mean=float(mean),
            std=float(std),
            n_episodes=len(scores) if n is None else int(n),
            checkpoint=checkpoint,
            seed=seed,
            created_at=now,
            checkpoint_sha256=checkpoint_sha256,
            measure=measure,
            details=json.dumps(details or {}),
        )
        new_id = self._write(lambda c: c.execute(insert(evaluations_table).values(**values)).inserted_primary_key[0])
        return Evaluation(**{**values, "scores": [float(s) for s in scores], "details": dict(details or {}),
                             "id": int(new_id)})

    def add_quality(self, run_id: str, result: dict[str, Any]) -> Evaluation:
        """A GAN's quality as ``gan eval --json`` gives it (``metric``, ``fd``, ``kid``, ``n``, ``step``,
        ``checkpoint``…), kept as an evaluation whose measure is the distance's name."""
        values = _gan_row(run_id, result, time.time())
        new_id = self._write(lambda c: c.execute(insert(evaluations_table).values(**values)).inserted_primary_key[0])
        return Evaluation(**{**values, "scores": [], "details": json.loads(values["details"]), "id": int(new_id)})

    def evaluations(self, run_id: str | None = None, *, played: bool | None = None) -> list[Evaluation]:
        """One run's evaluations by step; with no run, every run's (the game reads them all at once).
        ``played``: only whole games (True) or only GAN quality (False)."""
        query = select(evaluations_table).order_by(evaluations_table.c.step, evaluations_table.c.id)
        if run_id is not None:
            query = query.where(evaluations_table.c.run_id == run_id)
        out = []
        for row in self._read(lambda c: c.execute(query).all()):
            data = dict(row._mapping)
            data["scores"] = json.loads(data["scores"])
            data["measure"] = data["measure"] or SCORE
            data["details"] = json.loads(data["details"] or "{}")
            evaluation = Evaluation(**data)
            if played is None or evaluation.played == played:
                out.append(evaluation)
        return out

    # -- artifacts and events -----------------------------------------------------------------
    def add_artifact(
        self, run_id: str, kind: str, path: str, step: int | None = None, meta: dict[str, Any] | None = None
    ) -> None:
        values = dict(run_id=run_id, kind=kind, path=path, step=step, meta=json.dumps(meta or {}), created_at=time.time())
        self._write(lambda c: c.execute(insert(artifacts_table).values(**values)))

    def remove_artifact(self, run_id: str, path: str) -> None:
        self._write(
            lambda c: c.execute(
                delete(artifacts_table).where(artifacts_table.c.run_id == run_id, artifacts_table.c.path == path)
            )
        )

    def artifacts(self, run_id: str | None, kind: str | None = None) -> list[Artifact]:
        """One run's artifacts (``run_id`` None: every run's), by step."""
        query = select(artifacts_table)
        if run_id is not None:
            query = query.where(artifacts_table.c.run_id == run_id)
        if kind is not None:
            query = query.where(artifacts_table.c.kind == kind)
        query = query.order_by(artifacts_table.c.step, artifacts_table.c.id)
        out = []
        for row in self._read(lambda c: c.execute(query).all()):
            data = dict(row._mapping)
            data.pop("id")
            data["meta"] = json.loads(data["meta"] or "{}")
            out.append(Artifact(**data))
        return out

    def add_event(self, kind: str, payload: dict[str, Any] | None = None, run_id: str | None = None) -> int:
        values = dict(run_id=run_id, kind=kind, payload=json.dumps(payload or {}), created_at=time.time())
        return int(self._write(lambda c: c.execute(insert(events_table).values(**values)).inserted_primary_key[0]))

    def add_event_once(
        self, kind: str, payload: dict[str, Any], key: Sequence[str], run_id: str | None = None
    ) -> int | None:
        """Insert unless an event of ``kind`` already has the same ``key`` fields; the new id, or None.

        Check and insert share one write transaction (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a
        table lock), so two processes recording the same award at once record it once.
        """
        wanted = {k: payload.get(k) for k in key}

        def tx(conn: Any) -> int | None:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE")
            rows = conn.execute(select(events_table.c.payload).where(events_table.c.kind == kind)).all()
            for (raw,) in rows:
                existing = json.loads(raw or "{}")
                if all(existing.get(k) == v for k, v in wanted.items()):
                    return None
            values = dict(run_id=run_id, kind=kind, payload=json.dumps(payload), created_at=time.time())
            return int(conn.execute(insert(events_table).values(**values)).inserted_primary_key[0])

        return self._write(tx)

    def events(self, kind: str | None = None, run_id: str | None = None) -> list[dict[str, Any]]:
        query = select(events_table).order_by(events_table.c.id)
        if kind is not None:
            query = query.where(events_table.c.kind == kind)
        if run_id is not None:
            query = query.where(events_table.c.run_id == run_id)
        out = []
        for row in self._read(lambda c: c.execute(query).all()):
            data = dict(row._mapping)
            data["payload"] = json.loads(data["payload"] or "{}")
            out.append(data)
        return out


    # -- the classroom: people, their uploads, the class's settings ---------------------------------
    def check_room(self, player: str | None, limits: JobLimits, exclude: str | None = None) -> None:
        """Raise ``QuotaExceeded`` when one more running job (``player``'s) would pass ``limits``; ``exclude``
        a run already counted (the one being resumed)."""
        self._write(lambda c: _check_room(c, player, limits, exclude))

    def active_runs(self, player: str | None = None) -> int:
        """Runs created or running (``player``'s, or everyone's)."""
        return self._read(lambda c: _active(c, player))

    def add_user(self, name: str, role: str, password_hash: str | None, oidc_subject: str | None = None) -> bool:
        """A new person; False when the name is taken."""
        values = dict(name=name, role=role, password_hash=password_hash, oidc_subject=oidc_subject,
                      created_at=time.time(), failures=0, locked_until=None, private_runs=False)
        try:
            self._write(lambda c: c.execute(insert(users_table).values(**values)))
        except IntegrityError:
            return False
        return True

    def user(self, name: str) -> dict[str, Any] | None:
        row = self._read(lambda c: c.execute(select(users_table).where(users_table.c.name == name)).first())
        return dict(row._mapping) if row is not None else None

    def user_by_subject(self, subject: str) -> dict[str, Any] | None:
        row = self._read(lambda c: c.execute(select(users_table).where(users_table.c.oidc_subject == subject)).first())
        return dict(row._mapping) if row is not None else None

    def users(self) -> list[dict[str, Any]]:
        rows = self._read(lambda c: c.execute(select(users_table).order_by(users_table.c.name)).all())
        return [dict(row._mapping) for row in rows]

    def update_user(self, name: str, **fields: Any) -> bool:
        return bool(self._write(lambda c: c.execute(
            update(users_table).where(users_table.c.name == name).values(**fields)).rowcount))

    def delete_user(self, name: str) -> bool:
        return bool(self._write(lambda c: c.execute(delete(users_table).where(users_table.c.name == name)).rowcount))

    def add_upload(self, owner: str, name: str, folder: str, status: str = "unpacking") -> int:
        values = dict(owner=owner, name=name, folder=folder, bytes=0, status=status, created_at=time.time())
        return int(self._write(lambda c: c.execute(insert(uploads_table).values(**values)).inserted_primary_key[0]))

    def update_upload(self, upload_id: int, **fields: Any) -> None:
        self._write(lambda c: c.execute(update(uploads_table).where(uploads_table.c.id == upload_id).values(**fields)))

    def uploads(self, owner: str | None = None) -> list[dict[str, Any]]:
        query = select(uploads_table).order_by(uploads_table.c.created_at, uploads_table.c.id)
        if owner is not None:
            query = query.where(uploads_table.c.owner == owner)
        return [dict(row._mapping) for row in self._read(lambda c: c.execute(query).all())]

    def upload(self, upload_id: int) -> dict[str, Any] | None:
        row = self._read(lambda c: c.execute(select(uploads_table).where(uploads_table.c.id == upload_id)).first())
        return dict(row._mapping) if row is not None else None

    def delete_upload(self, upload_id: int) -> None:
        self._write(lambda c: c.execute(delete(uploads_table).where(uploads_table.c.id == upload_id)))

    def set_class_setting(self, key: str, value: Any) -> None:
        """A class's setting (JSON), shared by every door on this store; None removes it."""

        def tx(conn: Any) -> None:
            conn.execute(delete(class_settings_table).where(class_settings_table.c.key == key))
            if value is not None:
                conn.execute(insert(class_settings_table).values(key=key, value=json.dumps(value),
                                                                 updated_at=time.time()))

        self._write(tx)

    def class_setting(self, key: str, default: Any = None) -> Any:
        raw = self._read(lambda c: c.execute(
            select(class_settings_table.c.value).where(class_settings_table.c.key == key)).scalar())
        return default if raw is None else json.loads(raw)


    # -- sweeps -------------------------------------------------------------------------------------------------
    def create_sweep(self, *, algo: str, env: str, game: str, config: dict[str, Any], folder_for: Any,
                     player: str | None = None) -> dict[str, Any]:
        """A sweep with the next free number for its algorithm and game (``sweep-ppo-CartPole-2``)."""

        def tx(conn: Any) -> str:
            current = conn.execute(select(func.max(sweeps_table.c.number)).where(
                (sweeps_table.c.algo == algo) & (sweeps_table.c.game == game))).scalar()
            number = (current or 0) + 1
            sweep_id = f"sweep-{algo}-{game}-{number}"
            conn.execute(insert(sweeps_table).values(
                id=sweep_id, algo=algo, env=env, game=game, number=number, status="created",
                config=json.dumps(config), folder=str(folder_for(sweep_id)), player=player, created_at=time.time(),
                stop_requested=False))
            return sweep_id

        for _ in range(10):
            try:
                found = self.sweep(self._write(tx))
                assert found is not None
                return found
            except IntegrityError:  # another process took the same number first (PostgreSQL)
                time.sleep(0.05)
        raise StoreError("store.no_run_id")

    def sweep(self, sweep_id: str) -> dict[str, Any] | None:
        """One sweep's row (``config`` parsed), or None."""
        row = self._read(lambda c: c.execute(select(sweeps_table).where(sweeps_table.c.id == sweep_id)).first())
        if row is None:
            return None
        data = dict(row._mapping)
        data["config"] = json.loads(data["config"])
        data["stop_requested"] = bool(data["stop_requested"])
        return data

    def sweeps(self) -> list[dict[str, Any]]:
        ids = self._read(lambda c: c.execute(select(sweeps_table.c.id).order_by(sweeps_table.c.created_at)).all())
        return [found for (sweep_id,) in ids if (found := self.sweep(sweep_id)) is not None]

    def update_sweep(self, sweep_id: str, **fields: Any) -> None:
        if "config" in fields:
            fields["config"] = json.dumps(fields["config"])
        self._write(lambda c: c.execute(update(sweeps_table).where(sweeps_table.c.id == sweep_id).values(**fields)))


_stores: dict[str, Store] = {}


def get_store(url: str | None = None) -> Store:
    """The process-wide store for ``url`` (default: from settings), opened once."""
    url = url or settings.database_url()
    if url not in _stores:
        _stores[url] = Store(url)
    return _stores[url]
