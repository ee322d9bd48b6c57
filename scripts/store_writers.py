"""By hand, not a test: how many metric rows a second the store takes from concurrent training runs, on SQLite
and on PostgreSQL, on this machine.

    .venv/bin/python scripts/store_writers.py                        # 4 writers, 10 s each, SQLite then PostgreSQL
    .venv/bin/python scripts/store_writers.py --seconds 20 --batch 50 --writers 4
    .venv/bin/python scripts/store_writers.py --pg postgresql+psycopg://user:pass@host:5432/playground
    .venv/bin/python scripts/store_writers.py --pg-setting synchronous_commit=off

Each writer is a process that does what a training run's session does at every flush (playground/session.py),
back to back instead of every 2 s: ``Store.add_metrics`` with a batch of rows (``--batch``, ten curves) in one
transaction, then ``runs.heartbeat`` (the run's step, speed and ETA). The writers make their runs first, one after
another, then all start writing at once and stop after ``--seconds`` (or ``--rows`` rows each). The figure is all
rows written ÷ the time from the first writer's start to the last one's end; the rows are counted in the store
afterwards (nothing may be lost).

SQLite is a fresh home in a temporary folder (WAL, ``synchronous=NORMAL``, as the store opens it). PostgreSQL is
the URL given with ``--pg`` (a new run per writer is added to that database), or a server this script starts in a
temporary folder the way the tests do (tests/postgres.py: Debian's ``postgresql`` programs), with PostgreSQL's own
defaults (an fsync per commit) unless ``--pg-setting`` says otherwise, and removes afterwards. Both are on this
machine's disk, so the ratio compares the two engines, not a network. Note ``cat /proc/loadavg`` beside the
figures: the writers share the cores with everything else running.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KEYS = [f"curve/{k}" for k in range(10)]  # a run's curves: losses, scores, entropy, learning rate…


def writer(url: str, home: str, ready: Any, go: Any, results: Any, seconds: float, rows: int, batch: int) -> None:
    """One training run's flushes, as fast as they go."""
    os.environ["PLAYGROUND_HOME"] = home
    from playground import runs
    from playground.store import Store

    store = Store(url)
    run = runs.create(kind="rl", algo="ppo", env="CartPole-v1", game="CartPole", config={}, store=store)
    runs.mark_running(run.id, store)
    ready.put(run.id)
    go.wait()
    began, written, flushes, step = time.time(), 0, 0, 0
    while True:
        now = time.time()
        store.add_metrics(run.id, [(step + i // len(KEYS), now, KEYS[i % len(KEYS)], float(written + i))
                                   for i in range(batch)])
        step += batch // len(KEYS) or 1
        written += batch
        flushes += 1
        runs.heartbeat(run.id, step, store, steps_per_s=written / max(now - began, 1e-9), eta_s=1.0)
        if (rows and written >= rows) or (not rows and time.time() - began >= seconds):
            break
    results.put((run.id, written, flushes, began, time.time()))


def measure(label: str, url: str, home: str, args: argparse.Namespace) -> dict[str, Any]:
    from playground.store import Store

    Store(url)  # made (and migrated) once, before the writers open it
    spawn = mp.get_context("spawn")
    ready, results, go = spawn.Queue(), spawn.Queue(), spawn.Event()
    procs = [spawn.Process(target=writer, args=(url, home, ready, go, results, args.seconds, args.rows, args.batch))
             for _ in range(args.writers)]
    for proc in procs:  # one at a time up to their first write, so only the writing overlaps
        proc.start()
        ready.get(timeout=120)
    go.set()
    done = [results.get(timeout=args.seconds * 10 + 600) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
        if proc.exitcode != 0:
            raise SystemExit(f"a writer failed on {label} (exit {proc.exitcode})")
    store = Store(url)
    for run_id, written, *_ in done:
        stored = len(store.metrics(run_id))
        if stored != written:
            raise SystemExit(f"{label}: {run_id} wrote {written} rows but the store has {stored}")
    total = sum(d[1] for d in done)
    span = max(d[4] for d in done) - min(d[3] for d in done)
    overlap = min(d[4] for d in done) - max(d[3] for d in done)
    store.engine.dispose()
    return {"label": label, "rows": total, "flushes": sum(d[2] for d in done), "seconds": span,
            "rows_per_s": total / span, "overlap": overlap}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=4, help="concurrent writer processes (training runs)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each writer writes")
    parser.add_argument("--rows", type=int, default=0, help="rows each writer writes (instead of --seconds)")
    parser.add_argument("--batch", type=int, default=50, help="rows per flush (one transaction), then a heartbeat")
    parser.add_argument("--pg", help="a PostgreSQL URL to measure (default: start a server here)")
    parser.add_argument("--pg-setting", action="append", default=[], metavar="KEY=VALUE",
                        help="a postgresql.conf setting for the server started here (e.g. synchronous_commit=off)")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="measure one of them")
    args = parser.parse_args()

    print(f"{args.writers} writers, batches of {args.batch} rows + a heartbeat per flush, "
          f"{f'{args.rows} rows' if args.rows else f'{args.seconds:g} s'} each; {os.cpu_count()} cores; "
          f"load {Path('/proc/loadavg').read_text().split()[:3] if Path('/proc/loadavg').exists() else '?'}")
    figures = []
    with tempfile.TemporaryDirectory(prefix="store-writers-") as tmp:
        if args.only in (None, "sqlite"):
            home = str(Path(tmp) / "sqlite-home")
            Path(home).mkdir()
            figures.append(measure("sqlite", f"sqlite:///{home}/playground.db", home, args))
            print_row(figures[-1])
        if args.only in (None, "postgresql"):
            home = str(Path(tmp) / "pg-home")
            if args.pg:
                figures.append(measure("postgresql", args.pg, home, args))
            else:
                sys.path.insert(0, str(ROOT / "tests"))
                from postgres import start_server

                settings = dict(s.split("=", 1) for s in args.pg_setting)
                server = start_server(settings)
                try:
                    label = "postgresql" + "".join(f" {k}={v}" for k, v in settings.items())
                    figures.append(measure(label, server.create_database(), home, args))
                finally:
                    server.stop()
            print_row(figures[-1])
    if len(figures) == 2:
        print(f"PostgreSQL ÷ SQLite: {figures[1]['rows_per_s'] / figures[0]['rows_per_s']:.2f}x rows per second")


def print_row(figure: dict[str, Any]) -> None:
    print(f"{figure['label']:<40} {figure['rows']:>9,} rows in {figure['seconds']:6.2f} s = "
          f"{figure['rows_per_s']:>9,.0f} rows/s ({figure['flushes'] / figure['seconds']:,.0f} flushes/s; "
          f"every row in the store; writers overlapped {figure['overlap']:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
