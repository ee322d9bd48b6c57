"""The store: run ids, round trips of everything it keeps, four writer processes at once, noticing runs whose
process died without saying so, and the schema's migrations.

Every test here runs twice: on SQLite (the embedded default) and on a real PostgreSQL server (tests/postgres.py),
the store named by ``PLAYGROUND_DB`` as a class would name it, so the writer processes the tests start use it too."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["sqlite", "postgresql"], autouse=True)
def backend(request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test on SQLite in its home folder, then on a fresh database of this process's PostgreSQL server."""
    if request.param == "postgresql":
        monkeypatch.setenv("PLAYGROUND_DB", request.getfixturevalue("postgres_url"))
    return str(request.param)


def _sql(url: str, *statements: str) -> None:
    """Statements run on the database behind ``url`` outside the store (to make it look older)."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


# What a database made before migrations lacks: Alembic's record, and the classroom (revision 0002).
# What came after the classroom (revision 0003: seeds groups and sweeps).
AFTER_CLASSROOM = ("DROP TABLE sweeps", "ALTER TABLE runs DROP COLUMN group_id", "ALTER TABLE runs DROP COLUMN sweep_id")
BEFORE_MIGRATIONS = ("DROP TABLE alembic_version", *AFTER_CLASSROOM, "DROP TABLE users", "DROP TABLE uploads",
                     "DROP TABLE class_settings", "ALTER TABLE runs DROP COLUMN private")


def _new_run(store: Any, algo: str = "ppo", game: str = "Pong", env: str = "ALE/Pong-v5", **kw: Any) -> Any:
    from playground import runs

    return runs.create(kind="rl", algo=algo, env=env, game=game, config={"algo": algo, "env": env}, store=store, **kw)


# -- run ids -------------------------------------------------------------------------------------
def test_run_ids_count_up_per_algorithm_and_game(home: Path, backend: str) -> None:
    from playground.store import Store

    store = Store()
    assert store.url.startswith({"sqlite": f"sqlite:///{home}", "postgresql": "postgresql+psycopg://"}[backend])
    assert store.engine.dialect.name == backend
    made = [
        _new_run(store, "ppo", "Pong").id,
        _new_run(store, "ppo", "Pong").id,
        _new_run(store, "dqn", "Pong").id,
        _new_run(store, "ppo", "Breakout", "ALE/Breakout-v5").id,
        _new_run(store, "ppo", "Pong").id,
    ]
    assert made == ["ppo-Pong-1", "ppo-Pong-2", "dqn-Pong-1", "ppo-Breakout-1", "ppo-Pong-3"]

    run = store.get_run("ppo-Pong-2")
    assert (run.algo, run.game, run.number, run.status, run.step) == ("ppo", "Pong", 2, "created", 0)
    assert Path(run.folder) == home / "runs" / "ppo-Pong-2"
    assert (Path(run.folder) / "config.yaml").is_file()
    assert [r.id for r in store.find_runs(algo="ppo", env="ALE/Pong-v5")] == ["ppo-Pong-1", "ppo-Pong-2", "ppo-Pong-3"]
    assert store.latest_run().id == "ppo-Pong-3"  # type: ignore[union-attr]

    # A second Store on the same file sees the same runs and goes on counting.
    again = Store(store.url)
    assert _new_run(again, "dqn", "Pong").id == "dqn-Pong-2"


# -- round trips ---------------------------------------------------------------------------------
def test_metrics_evaluations_artifacts_and_events_round_trip(home: Path) -> None:
    from playground.errors import RunNotFound
    from playground.store import Store

    store = Store()
    run = _new_run(store, "ppo", "CartPole", "CartPole-v1", label="mine", seed=7, total_steps=1000)
    other = _new_run(store, "ppo", "CartPole", "CartPole-v1")
    assert (run.label, run.seed, run.total_steps) == ("mine", 7, 1000)
    assert run.config == {"algo": "ppo", "env": "CartPole-v1"}

    rows = [
        (20, 2.0, "loss", 0.5),
        (10, 1.0, "episode/score", 3.0),
        (10, 1.5, "loss", 0.25),
        (30, 3.0, "episode/score", -1.5),
    ]
    assert store.add_metrics(run.id, rows) == 4
    assert store.add_metrics(run.id, []) == 0
    store.add_metrics(other.id, [(1, 1.0, "other", 9.0)])
    assert store.metrics(run.id) == [  # by step, then in the order written
        (10, 1.0, "episode/score", 3.0),
        (10, 1.5, "loss", 0.25),
        (20, 2.0, "loss", 0.5),
        (30, 3.0, "episode/score", -1.5),
    ]
    assert store.metrics(run.id, "loss") == [(10, 1.5, "loss", 0.25), (20, 2.0, "loss", 0.5)]
    assert store.metric_keys(run.id) == ["episode/score", "loss"]

    ev = store.add_evaluation(
        run.id, step=100, scores=[1, 2.5, -3], mean=0.1667, std=2.3, checkpoint="/c/100.zip", seed=5
    )
    store.add_evaluation(run.id, step=50, scores=[4.0], mean=4.0, std=0.0, checkpoint=None, seed=None)
    evals = store.evaluations(run.id)
    assert [e.step for e in evals] == [50, 100]
    assert evals[1] == ev
    assert (evals[1].scores, evals[1].n_episodes) == ([1.0, 2.5, -3.0], 3)
    assert (evals[1].checkpoint, evals[1].seed) == ("/c/100.zip", 5)
    assert store.evaluations(other.id) == []

    store.add_artifact(run.id, "checkpoint", "/c/200.zip", step=200, meta={"imported_from": "x"})
    store.add_artifact(run.id, "checkpoint", "/c/100.zip", step=100)
    store.add_artifact(run.id, "video", "/v/1.mp4")
    checkpoints = store.artifacts(run.id, "checkpoint")
    assert [(a.path, a.step) for a in checkpoints] == [("/c/100.zip", 100), ("/c/200.zip", 200)]
    assert store.artifacts(run.id, "checkpoint")[1].meta == {"imported_from": "x"}
    assert {a.kind for a in store.artifacts(run.id)} == {"checkpoint", "video"}
    store.remove_artifact(run.id, "/c/100.zip")
    assert [a.path for a in store.artifacts(run.id, "checkpoint")] == ["/c/200.zip"]

    store.add_event("evaluation", {"mean": 1.5, "n": [1, 2]}, run.id)
    store.add_event("xp", {"points": 10})
    store.add_event("evaluation", {"mean": 2.0}, other.id)
    assert [e["payload"] for e in store.events("evaluation", run.id)] == [{"mean": 1.5, "n": [1, 2]}]
    assert [e["payload"] for e in store.events("xp")] == [{"points": 10}]
    assert len(store.events("evaluation")) == 2

    store.update_run(run.id, status="running", step=123, stop_requested=True, config={"new": [1, 2]})
    assert store.stop_requested(run.id) and not store.stop_requested(other.id)
    again = store.get_run(run.id)
    assert (again.status, again.step, again.config) == ("running", 123, {"new": [1, 2]})

    store.delete_run(run.id)
    with pytest.raises(RunNotFound, match=run.id):
        store.get_run(run.id)
    assert store.metrics(run.id) == [] and store.evaluations(run.id) == [] and store.artifacts(run.id) == []
    assert store.events(run_id=run.id) == []
    assert store.metrics(other.id) == [(1, 1.0, "other", 9.0)]  # the other run keeps its rows
    assert len(store.events("evaluation")) == 1


def test_the_classrooms_people_uploads_and_settings_round_trip() -> None:
    from playground.store import Store

    store = Store()
    assert store.add_user("ada", "teacher", "h1") and not store.add_user("ada", "student", "h2")  # the name is taken
    store.add_user("bo", "student", None, oidc_subject="sub-7")
    assert store.update_user("bo", failures=2, locked_until=5.0, private_runs=True)
    assert not store.update_user("nobody", failures=1)
    bo = store.user_by_subject("sub-7")
    assert bo is not None and (bo["name"], bo["failures"], bo["locked_until"], bo["private_runs"]) == ("bo", 2, 5.0, True)
    assert [(u["name"], u["role"]) for u in store.users()] == [("ada", "teacher"), ("bo", "student")]
    assert store.delete_user("bo") and store.user("bo") is None and not store.delete_user("bo")

    first = store.add_upload("ada", "faces", "/u/1")
    second = store.add_upload("bo", "maps", "/u/2", status="ready")
    store.update_upload(first, bytes=5_000_000_000, status="ready")  # past 32 bits: a class's data sets are big
    assert store.upload(first)["bytes"] == 5_000_000_000  # type: ignore[index]
    assert [u["id"] for u in store.uploads()] == [first, second] and [u["name"] for u in store.uploads("bo")] == ["maps"]
    store.delete_upload(first)
    assert store.upload(first) is None

    store.set_class_setting("catalogue", {"challenges": ["cartpole-500"], "n": 2})
    assert Store().class_setting("catalogue") == {"challenges": ["cartpole-500"], "n": 2}
    store.set_class_setting("catalogue", None)
    assert store.class_setting("catalogue", "unset") == "unset"


def test_starts_at_once_never_pass_the_limit_on_running_jobs() -> None:
    """Eight starts at once against a limit of three: the count and the insert share one transaction, so exactly
    three runs are made, and each of the others is refused in one sentence."""
    from concurrent.futures import ThreadPoolExecutor

    from playground import runs
    from playground.errors import QuotaExceeded
    from playground.store import JobLimits, Store

    limits = JobLimits(per_person=10, per_server=3)
    barrier = __import__("threading").Barrier(8)

    def start(n: int) -> str:
        store = Store()  # a store (and connections) of its own, as another process would have
        barrier.wait()
        try:
            # each on a game of its own: no two want the same id, so only the limit stands between them
            return store.create_run(kind="rl", algo="ppo", env="CartPole-v1", game=f"Game{n}", config={},
                                    folder_for=runs.folder_for, player=f"p{n}", limits=limits).id
        except QuotaExceeded as exc:
            return str(exc)

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(start, range(8)))
    made = [o for o in outcomes if o.startswith("ppo-")]
    assert len(made) == 3, outcomes
    refused = [o for o in outcomes if not o.startswith("ppo-")]
    assert len(refused) == 5 and all("already has 3 runs going" in o for o in refused), refused
    assert Store().active_runs() == 3


# -- writers at once ------------------------------------------------------------------------------
WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from playground import runs
    from playground.store import Store

    go, ready, batches, per_batch = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    store = Store()
    run = runs.create(kind="rl", algo="ppo", env="CartPole-v1", game="CartPole", config={}, store=store)
    sys.stdout.write(run.id + "\\n")
    sys.stdout.flush()
    ready.touch()
    deadline = time.time() + 60
    while not go.exists():
        if time.time() > deadline:
            sys.exit("never told to go")
        time.sleep(0.001)
    started = time.time()
    for i in range(batches):
        rows = [(i, time.time(), "k%d" % (j % 4), float(i * per_batch + j)) for j in range(per_batch)]
        store.add_metrics(run.id, rows)
        store.update_run(run.id, step=i, heartbeat_at=time.time())
        if i % 10 == 0:
            store.add_evaluation(run.id, step=i, scores=[1.0, 2.0], mean=1.5, std=0.5, checkpoint=None, seed=i)
    sys.stdout.write("%r %r\\n" % (started, time.time()))
    """
)


def test_four_writer_processes_lose_no_rows_and_never_see_a_locked_database(home: Path, tmp_path: Path) -> None:
    from playground.store import Store

    writers, batches, per_batch = 4, 200, 20
    go = tmp_path / "go"
    env = {**os.environ, "PLAYGROUND_HOME": str(home)}
    procs = []
    for n in range(writers):
        ready = tmp_path / f"ready-{n}"
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(go), str(ready), str(batches), str(per_batch)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        procs.append(proc)
        deadline = time.time() + 60
        while not ready.exists():  # one at a time up to here, so only the writing overlaps
            assert proc.poll() is None, proc.communicate()
            assert time.time() < deadline, "writer never got ready"
            time.sleep(0.01)
    go.touch()
    results = [p.communicate(timeout=120) for p in procs]

    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err
        assert err == "", err
        assert "locked" not in out + err
    ids = [out.splitlines()[0] for out, _ in results]
    assert sorted(ids) == [f"ppo-CartPole-{n}" for n in range(1, writers + 1)]
    spans = [tuple(map(float, out.splitlines()[1].split())) for out, _ in results]
    assert max(start for start, _ in spans) < min(end for _, end in spans), f"the writers did not all overlap: {spans}"

    store = Store()
    total = 0
    for run_id in ids:
        rows = store.metrics(run_id)
        assert len(rows) == batches * per_batch
        assert sorted(r[3] for r in rows) == [float(v) for v in range(batches * per_batch)]
        assert len(store.evaluations(run_id)) == batches // 10
        assert store.get_run(run_id).step == batches - 1
        total += len(rows)
    assert total == writers * batches * per_batch == 16_000


STARTER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from playground import runs, settings
    from playground.store import get_store

    go, calls = Path(sys.argv[1]), int(sys.argv[2])
    while not go.exists():
        time.sleep(0.001)
    made = []
    for i in range(calls):
        settings.home()
        store = get_store()
        if i % (calls // 5) == 0:
            made.append(runs.create(kind="rl", algo="ppo", env="CartPole-v1", game="CartPole", config={}).id)
    sys.stdout.write(" ".join(made) + "\\n")
    """
)


def test_processes_opening_the_home_and_store_at_once_do_not_trip_each_other(home: Path, tmp_path: Path) -> None:
    """Every command opens the home folder (and checks it can be written); two at once must both work."""
    go = tmp_path / "go"
    env = {**os.environ, "PLAYGROUND_HOME": str(home)}
    procs = [
        subprocess.Popen([sys.executable, "-c", STARTER, str(go), "1500"], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    time.sleep(1.0)
    go.touch()
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, results):
        assert proc.returncode == 0 and err == "", err
    ids = sorted(i for out, _ in results for i in out.split())
    assert ids == sorted(f"ppo-CartPole-{n}" for n in range(1, 11))


# -- runs whose process died -----------------------------------------------------------------------
def test_refresh_fails_a_run_whose_process_died_and_keeps_a_live_one(home: Path) -> None:
    from playground import runs
    from playground.store import get_store

    store = get_store()
    dead = _new_run(store, "ppo", "CartPole", "CartPole-v1")
    live = _new_run(store, "ppo", "CartPole", "CartPole-v1")
    reused = _new_run(store, "ppo", "CartPole", "CartPole-v1")
    remote_stale = _new_run(store, "ppo", "CartPole", "CartPole-v1")
    remote_fresh = _new_run(store, "ppo", "CartPole", "CartPole-v1")

    gone = subprocess.Popen(["sleep", "0"])
    gone.wait()
    here = socket.gethostname()
    store.update_run(dead.id, status="running", pid=gone.pid, pid_start=None, host=here, heartbeat_at=time.time())
    runs.mark_running(live.id, store)
    # this process's pid, but another start time: the pid was reused, the trainer is gone
    store.update_run(reused.id, status="running", pid=os.getpid(), pid_start="1", host=here, heartbeat_at=time.time())
    store.update_run(remote_stale.id, status="running", pid=1, host="elsewhere", heartbeat_at=time.time() - 3600)
    store.update_run(remote_fresh.id, status="running", pid=1, host="elsewhere", heartbeat_at=time.time())

    refreshed = runs.refresh(store.get_run(dead.id), store)
    assert refreshed.status == "failed"
    assert "ended without reporting" in (refreshed.error or "")
    assert refreshed.pid is None and refreshed.ended_at is not None
    assert store.get_run(dead.id).status == "failed"  # written to the store, not only returned
    assert [e["kind"] for e in store.events(run_id=dead.id)] == ["run_failed"]

    still = runs.refresh(store.get_run(live.id), store)
    assert still.status == "running" and still.pid == os.getpid() and still.error is None
    assert store.get_run(live.id).status == "running"

    statuses = {r.id: r.status for r in runs.list_runs(store)}
    assert statuses == {
        dead.id: "failed",
        live.id: "running",
        reused.id: "failed",
        remote_stale.id: "failed",
        remote_fresh.id: "running",
    }
    assert "ended without reporting" in (store.get_run(reused.id).error or "")


def test_a_job_that_dies_before_it_claims_its_run_fails_the_run(home: Path) -> None:
    from playground import runs
    from playground.store import get_store

    store = get_store()
    waiting = _new_run(store, "ppo", "CartPole", "CartPole-v1")
    died = _new_run(store, "ppo", "CartPole", "CartPole-v1")
    gone = subprocess.Popen(["sleep", "0"])
    gone.wait()
    alive = subprocess.Popen(["sleep", "30"])
    try:
        runs.note_job(store.get_run(died.id), gone.pid, store)
        runs.note_job(store.get_run(waiting.id), alive.pid, store)
        failed = runs.refresh(store.get_run(died.id), store)
        assert failed.status == "failed" and "before training began" in (failed.error or "")
        assert [e["kind"] for e in store.events(run_id=died.id)] == ["run_failed"]
        assert runs.refresh(store.get_run(waiting.id), store).status == "created"  # its job is still starting
        runs.mark_running(waiting.id, store)  # the job claims its run: refresh now judges it as running
        assert runs.refresh(store.get_run(waiting.id), store).status == "running"
    finally:
        alive.kill()
        alive.wait()


# -- the schema: Alembic's revisions, and databases from before them -------------------------------------------------
def test_a_fresh_database_is_at_the_newest_revision_with_the_tables_the_code_uses() -> None:
    """Made from nothing by the revisions, a database matches the tables store.py declares, column for column
    (a table or column added to the code without a revision fails here), and its version is SCHEMA_HEAD."""
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from playground.store import _MIGRATIONS, SCHEMA_HEAD, Store, _schema_version, metadata

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_HEAD

    store = Store()
    with store.engine.connect() as conn:
        assert _schema_version(conn) == SCHEMA_HEAD
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []
    assert store.add_user("ada", "teacher", None) and store.user("ada")["role"] == "teacher"  # type: ignore[index]
    # The data migrations are for homes from before migrations: a new database's dqn runs stay ours.
    ours = _new_run(store, "dqn", "Pong")
    assert Store().get_run(ours.id).algo == "dqn"


def test_opening_a_store_at_the_newest_revision_does_not_load_alembic(home: Path) -> None:
    """The CLI opens the store on every command: at head that is one read of the version row, no Alembic."""
    from playground.store import Store

    Store()  # made and migrated here
    probe = "import sys; from playground.store import Store; Store(); print('alembic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={**os.environ, "PLAYGROUND_HOME": str(home)},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False"]


def test_a_database_from_before_migrations_is_brought_to_the_baseline_in_place_then_upgraded(home: Path) -> None:
    """A home made by an earlier playground (no Alembic record, no classroom, none of the columns later releases
    added on open: checkpoint hashes, stored speed, ETA, player, GAN measures) opens as it is: the columns are
    added, empty, the old GAN results move into the evaluations table, it is stamped and upgraded, and its runs
    read and train on."""
    from playground import runs
    from playground.store import _ADDED_COLUMNS, SCHEMA_HEAD, Store, _schema_version

    store = Store()
    old = _new_run(store)
    store.add_evaluation(old.id, step=10, scores=[1.0], mean=1.0, std=0.0, checkpoint=None, seed=0)
    store.add_metrics(old.id, [(1, 1.0, "loss", 0.5), (2, 2.0, "loss", 0.25)])
    # GAN results of that time were events, not evaluations
    gan = runs.create(kind="gan", algo="dcgan", env="digits", game="digits", config={}, store=store)
    result = {"metric": "FD-mnist", "fd": 42.5, "kid": 0.02, "kid_std": 0.001, "n": 300, "step": 20,
              "checkpoint": "/c/ckpt-20.pt", "checkpoint_sha256": "ab" * 32, "dataset": "digits", "model": "dcgan",
              "image_size": 32, "network": "mnist CNN", "seed": 0}
    store.add_event("gan_evaluation", result, run_id=gan.id)
    store.engine.dispose()
    # take the database back to its first release
    _sql(store.url, *BEFORE_MIGRATIONS, *(f"ALTER TABLE {t} DROP COLUMN {c}" for t, c, _type in _ADDED_COLUMNS))
    from sqlalchemy import create_engine, inspect

    engine = create_engine(store.url)
    with engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("runs")}
        assert _schema_version(conn) is None and not inspect(conn).has_table("users")
    engine.dispose()
    assert not {"steps_per_s", "eta_s", "player", "private"} & columns

    reopened = Store()
    with reopened.engine.connect() as conn:
        assert _schema_version(conn) == SCHEMA_HEAD
    run = reopened.get_run(old.id)
    assert (run.steps_per_s, run.eta_s, run.player, run.private) == (None, None, None, False)
    assert reopened.metrics(old.id) == [(1, 1.0, "loss", 0.5), (2, 2.0, "loss", 0.25)]
    [played] = reopened.evaluations(old.id)
    assert played.checkpoint_sha256 is None and played.played and played.measure == "score"
    [measured] = reopened.evaluations(gan.id)  # the event became a row of the one evaluations table
    assert not measured.played and (measured.measure, measured.mean, measured.n_episodes) == ("FD-mnist", 42.5, 300)
    assert measured.quality() == result and reopened.events("gan_evaluation") == []
    assert Store().evaluations(gan.id) == [measured]  # opened again: moved once, not twice
    runs.mark_running(old.id, reopened, player="ada")
    runs.heartbeat(old.id, 50, reopened, steps_per_s=25.0, eta_s=4.0)
    again = reopened.get_run(old.id)
    assert (again.step, again.steps_per_s, again.eta_s) == (50, 25.0, 4.0)
    assert reopened.events("run_started", run_id=old.id)[-1]["payload"]["player"] == "ada"
    # the classroom's tables and column came with the upgrade
    assert reopened.add_user("ada", "student", None) and [u["name"] for u in reopened.users()] == ["ada"]
    reopened.update_run(old.id, private=True)
    assert reopened.get_run(old.id).private and _new_run(reopened).id == "ppo-Pong-2"


def test_a_database_at_the_baseline_revision_is_upgraded_and_keeps_its_rows() -> None:
    """A database Alembic left at the baseline (the last release before the classroom) gains the classroom."""
    from alembic import command
    from alembic.config import Config

    from playground import settings
    from playground.store import _MIGRATIONS, BASELINE, SCHEMA_HEAD, Store, _schema_version

    url = settings.database_url()
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, BASELINE)
        conn.exec_driver_sql(
            "INSERT INTO runs (id, kind, algo, env, game, number, status, step, folder, config, created_at,"
            " stop_requested) VALUES ('ppo-Pong-1', 'rl', 'ppo', 'ALE/Pong-v5', 'Pong', 1, 'finished', 7, '/f', '{}',"
            " 1.0, false)")
    with engine.connect() as conn:
        assert _schema_version(conn) == BASELINE
    engine.dispose()

    store = Store()
    with store.engine.connect() as conn:
        assert _schema_version(conn) == SCHEMA_HEAD
    run = store.get_run("ppo-Pong-1")
    assert (run.status, run.step, run.private) == ("finished", 7, False)
    assert store.class_setting("catalogue", "none") == "none"
    store.set_class_setting("catalogue", ["a", "b"])
    assert Store().class_setting("catalogue") == ["a", "b"]


def test_a_database_the_classroom_made_before_migrations_is_stamped_and_opens(home: Path) -> None:
    """The classroom's first code made its tables on open, without Alembic: such a home has them already, and
    the upgrade leaves them (and the people in them) as they are."""
    from playground.store import SCHEMA_HEAD, Store, _schema_version

    store = Store()
    store.add_user("grace", "teacher", "hash")
    run = _new_run(store)
    store.update_run(run.id, private=True)
    store.engine.dispose()
    _sql(store.url, "DROP TABLE alembic_version", *AFTER_CLASSROOM)

    reopened = Store()
    with reopened.engine.connect() as conn:
        assert _schema_version(conn) == SCHEMA_HEAD
    assert reopened.user("grace")["password_hash"] == "hash"  # type: ignore[index]
    assert reopened.get_run(run.id).private


def test_a_database_a_newer_playground_upgraded_is_refused_in_one_sentence() -> None:
    from playground.errors import StoreError
    from playground.store import Store

    store = Store()
    store.engine.dispose()
    _sql(store.url, "UPDATE alembic_version SET version_num = '0099_from_the_future'")
    with pytest.raises(StoreError, match="upgraded by a newer playground.*0099_from_the_future.*install that version"):
        Store()


def test_runs_of_sb3s_dqn_from_before_become_sb3_dqn_runs_once_and_new_dqn_runs_get_new_ids(home: Path) -> None:
    """``dqn`` was stable-baselines3's until our own DQN took the name: a database from then opens with those
    runs renamed ``sb3-dqn`` (settings and all, so they resume and play with SB3's agent), their ids kept; a
    new ``dqn`` run on the same game takes the next free number, and opening again renames nothing more."""
    from playground.store import Store

    store = Store()
    old = _new_run(store, "dqn", "Pong")
    store.engine.dispose()
    _sql(store.url, *BEFORE_MIGRATIONS, "DROP TABLE migrations")  # take the database back to before the migration

    reopened = Store()
    run = reopened.get_run(old.id)
    assert (run.id, run.algo, run.config["algo"]) == ("dqn-Pong-1", "sb3-dqn", "sb3-dqn")
    ours = _new_run(reopened, "dqn", "Pong")
    assert ours.id == "dqn-Pong-2" and ours.algo == "dqn"
    assert Store().get_run(ours.id).algo == "dqn"  # opened again: renamed once, not twice
    assert [r.id for r in Store().find_runs(algo="sb3-dqn")] == ["dqn-Pong-1"]
    # A run id keeps literal % and _ in the count: another game's runs are not counted by a LIKE wildcard.
    assert _new_run(reopened, "ppo", "Po_g").id == "ppo-Po_g-1" and _new_run(reopened, "ppo", "Pong").id == "ppo-Pong-1"


def test_a_server_that_cannot_be_reached_is_one_sentence_without_the_password() -> None:
    from playground.errors import StoreError
    from playground.store import Store

    with pytest.raises(StoreError, match=r"postgresql\+psycopg://ann:\*\*\*@127.0.0.1:1/playground cannot be opened") \
            as caught:
        Store("postgresql+psycopg://ann:secret@127.0.0.1:1/playground")
    assert "secret" not in str(caught.value) and "PLAYGROUND_DB" in str(caught.value)


# -- a class on one store: runs trained on another machine ------------------------------------------------------
def test_a_run_whose_folder_is_on_another_machine_is_one_sentence_at_every_door(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any, backend: str) -> None:
    """Machines sharing one store share the runs' records but each keeps its own run folders: watching, evaluating
    or resuming a run trained elsewhere says where it was trained, from the CLI and the web Watch page alike, and
    works once that machine's runs folder is mounted at the same path."""
    from streamlit.testing.v1 import AppTest

    from playground import runs
    from playground.errors import CheckpointError
    from playground.store import get_store

    if backend == "sqlite":  # one store for both homes, as PLAYGROUND_DB names it on every machine of a class
        monkeypatch.setenv("PLAYGROUND_DB", f"sqlite:///{tmp_path / 'class.db'}")
    trainer_home = tmp_path / "trainer-home"
    monkeypatch.setenv("PLAYGROUND_HOME", str(trainer_home))  # the machine that trains
    store = get_store()
    run = _new_run(store, "ppo", "CartPole", "CartPole-v1")
    checkpoint = runs.checkpoint_path(run, 100)
    checkpoint.write_bytes(b"weights")
    store.add_artifact(run.id, "checkpoint", str(checkpoint), step=100)
    store.update_run(run.id, status="finished", host="trainer-7", pid=None)
    away = tmp_path / "trainer-home-elsewhere"
    trainer_home.rename(away)  # not on this machine
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))  # this machine, on the same store

    sentence = (f"run {run.id} was trained on trainer-7; its folder {run.folder} (checkpoints, videos, samples) is "
                f"not on this machine; do this on trainer-7, or mount the trainers' runs folder at that same path here")
    with pytest.raises(CheckpointError) as caught:
        runs.folder_here(store.get_run(run.id))
    assert sentence in str(caught.value)
    for door in (["rl", "eval", run.id], ["watch", run.id, "--headless"], ["rl", "resume", run.id]):
        result = cli(*door)
        assert result.code == 2 and sentence in " ".join(result.err.split()), (door, result.err)
        assert "Traceback" not in result.err and "no checkpoint" not in result.err
    page = AppTest.from_file(str(ROOT / "playground" / "ui" / "pages" / "watch.py"), default_timeout=60).run()
    assert [sentence in e.value for e in page.error] == [True], [e.value for e in page.error]

    trainer_home.symlink_to(away)  # the trainer's folders mounted at the same path (NFS in a class)
    assert runs.folder_here(store.get_run(run.id)) == Path(run.folder)
    assert runs.pick_checkpoint(store.get_run(run.id), "latest", store) == (100, checkpoint)

    trainer_home.unlink()  # trained here, and the folder has gone: another sentence
    store.update_run(run.id, host=__import__("socket").gethostname())
    with pytest.raises(CheckpointError, match=f"run {run.id}'s folder .* is not on this machine any more"):
        runs.folder_here(store.get_run(run.id))


def test_groups_and_sweeps_round_trip(home: Path, backend: str) -> None:
    """Runs started together keep their group and sweep; sweeps count up per algorithm and game."""
    from playground.store import Store

    store = Store()
    made = store.create_sweep(algo="ppo", env="CartPole-v1", game="CartPole", config={"trials": 4},
                              folder_for=lambda i: home / "sweeps" / i, player="ada")
    again = store.create_sweep(algo="ppo", env="CartPole-v1", game="CartPole", config={}, folder_for=str)
    assert (made["id"], again["id"]) == ("sweep-ppo-CartPole-1", "sweep-ppo-CartPole-2")
    assert made["config"] == {"trials": 4} and made["status"] == "created" and not made["stop_requested"]
    trial = _new_run(store, group_id="g-1", sweep_id=made["id"])
    _new_run(store)
    assert [r.id for r in store.find_runs(sweep_id=made["id"])] == [trial.id]
    assert store.find_runs(group_id="g-1")[0].group_id == "g-1"
    store.update_sweep(made["id"], status="finished", best_run=trial.id, best_value=1.5)
    assert store.sweep(made["id"])["best_run"] == trial.id  # type: ignore[index]
    assert [s["id"] for s in store.sweeps()] == [made["id"], again["id"]]
