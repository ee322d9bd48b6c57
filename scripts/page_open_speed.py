"""By hand, not a test: does a page open in the browser slow training down?

    .venv/bin/python scripts/page_open_speed.py [ROUNDS]     # needs Debian's chromium (apt-get install chromium)

Each round trains the Home page's first step (PPO on CartPole-v1, its preset's 100k steps) twice, each
time in a fresh playground home, alternating which goes first:

- page: the app served on a local port, Chromium on Home, a click on "Train PPO on CartPole", and the run's
  live panel left open (it refreshes itself) until the run has finished;
- cli:  ``playground rl train ppo CartPole-v1`` alone, no server and no browser.

Both are timed by the run itself (the store's ``started_at`` to ``ended_at``: training, not start-up), and
the script prints each round and the median ratio page ÷ cli. Run it on a quiet machine.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
TIMEOUT_S = 600


def trained_for(home: Path) -> float:
    """Seconds the home's one run trained for, once it has finished."""
    from playground import settings
    from playground.store import get_store

    os.environ["PLAYGROUND_HOME"] = str(home)
    store = get_store(settings.database_url())
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        found = store.find_runs()
        if found and found[0].status in ("finished", "failed", "stopped"):
            run = found[0]
            if run.status != "finished":
                raise SystemExit(f"{run.id} ended {run.status}: {run.error}")
            return float(run.ended_at - run.started_at)  # type: ignore[operator]
        time.sleep(0.5)
    raise SystemExit("the run did not finish in time")


def with_page(browser, home: Path) -> float:  # type: ignore[no-untyped-def]
    from conftest import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**os.environ, "PLAYGROUND_HOME": str(home)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.1)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        from playground.i18n import translate

        button = page.get_by_role("button", name=translate("home.train_ppo", "en"))
        button.wait_for(timeout=60_000)
        button.click()
        page.get_by_role("heading", name=translate("live.title", "en")).wait_for(timeout=120_000)
        took = trained_for(home)  # the live panel stays open and refreshing meanwhile
        page.close()
        return took
    finally:
        server.terminate()
        server.wait(timeout=30)


def alone(home: Path) -> float:
    subprocess.run([sys.executable, "-m", "playground", "rl", "train", "ppo", "CartPole-v1", "--json"],
                   env={**os.environ, "PLAYGROUND_HOME": str(home)}, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=TIMEOUT_S)
    return trained_for(home)


def main() -> None:
    from conftest import CHROMIUM_FLAGS
    from playwright.sync_api import sync_playwright

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"load average at the start: {os.getloadavg()}")
    ratios = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=os.environ.get("PLAYGROUND_CHROMIUM", "/usr/bin/chromium"),
                                     args=CHROMIUM_FLAGS)
        for i in range(rounds):
            times = {}
            order = ("page", "cli") if i % 2 == 0 else ("cli", "page")
            for which in order:
                home = Path(tempfile.mkdtemp(prefix=f"speed-{which}-"))
                times[which] = with_page(browser, home) if which == "page" else alone(home)
            ratios.append(times["page"] / times["cli"])
            print(f"round {i + 1}: page open {times['page']:.1f} s, cli alone {times['cli']:.1f} s, "
                  f"ratio {ratios[-1]:.2f}", flush=True)
        browser.close()
    print(f"median ratio page ÷ cli over {rounds} rounds: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
