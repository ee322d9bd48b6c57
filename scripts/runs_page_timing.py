"""By hand, not a test: how long the Runs page takes to show its table with 200 runs in the store.

    .venv/bin/python scripts/runs_page_timing.py [RUNS]     # needs Debian's chromium (apt-get install chromium)

Fills a fresh playground home with RUNS runs (default 200; 0 shows what Streamlit itself costs) (RL and GAN, 600 metric rows and 10 evaluations each),
starts the app on a local port, and times in Chromium, from navigation to the runs table on screen:
the first visit (a fresh server: Python imports included) and the next three.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))


def fill(home: Path, count: int) -> None:
    os.environ["PLAYGROUND_HOME"] = str(home)
    from playground import runs
    from playground.store import get_store

    store = get_store()
    for i in range(count):
        seed = i % 3
        if i % 10 == 9:
            run = runs.create(kind="gan", algo="dcgan", env="digits", game="digits",
                              config={"kind": "gan", "model": "dcgan", "seed": seed, "lr": 2e-4 * (1 + i % 4)})
            store.add_metrics(run.id, [(s, 0.0, "loss/g", 1.0) for s in range(200)])
        else:
            run = runs.create(kind="rl", algo=("ppo", "dqn", "a2c")[i % 3], env="CartPole-v1", game="CartPole",
                              config={"kind": "rl", "seed": seed, "hyperparameters": {"lr": 1e-4 * (1 + i % 5)}},
                              seed=seed, total_steps=100_000)
            store.add_metrics(run.id, [(s * 500, 0.0, k, float(s)) for s in range(200)
                                       for k in ("rollout/ep_rew_mean", "episode/score", "train/loss")])
            for e in range(10):
                store.add_evaluation(run.id, step=10_000 * (e + 1), scores=[1.0] * 10, mean=float(e), std=0.5,
                                     checkpoint=None, seed=0)
        runs.end(run.id, ("finished", "stopped", "failed")[i % 3], 100_000)


def main() -> None:
    import subprocess

    from conftest import CHROMIUM_FLAGS, free_port
    from playwright.sync_api import sync_playwright

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    home = Path(tempfile.mkdtemp(prefix="runs-page-"))
    fill(home, count)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env={**os.environ, "PLAYGROUND_HOME": str(home)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1)
        with sync_playwright() as pw:
            chromium = os.environ.get("PLAYGROUND_CHROMIUM", "/usr/bin/chromium")
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            for visit in range(4):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                started = time.perf_counter()
                for _ in range(100):  # the server may still be starting on the first visit
                    try:
                        page.goto(f"http://127.0.0.1:{port}/runs")
                        break
                    except Exception:  # noqa: BLE001 - connection refused until it listens
                        time.sleep(0.1)
                page.get_by_role("heading").first.wait_for(timeout=60_000)
                print(f"  heading after {time.perf_counter() - started:.2f} s")
                shown = page.get_by_test_id("stDataFrame" if count else "stAlert").first
                shown.wait_for(timeout=60_000)
                took = time.perf_counter() - started
                print(f"visit {visit + 1}{' (fresh server)' if visit == 0 else ''}: {'table' if count else 'page'} on screen after {took:.2f} s")
                page.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
