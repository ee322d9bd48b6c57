"""By hand, not a test: does a page open in the browser slow training down?

    .venv/bin/python scripts/page_open_speed.py [ROUNDS]     # needs Debian's chromium (apt-get install chromium)

Each round trains the Home page's first step (PPO on CartPole-v1, its preset's 100k steps) twice, each
time in a fresh playground home, alternating which goes first:

- page: the app served on a local port, Chromium on Home, a click on "Train PPO on CartPole", and the run's
  live panel left open (it refreshes itself) until the run has finished;
- cli:  ``playground rl train ppo CartPole-v1`` alone, no server and no browser.

Both are timed by the run itself, two ways: ``run`` from the store's ``started_at`` to ``ended_at``, and
``training`` from the run's first stored metric (its first finished game) to ``ended_at``. The second is
the speed the newcomer issue asks about: a job started by the app claims its run and then imports
stable-baselines3 and torch (about 1.5 s here), while ``rl train`` has imported them before it claims the
run, so ``run`` charges the page for an import the CLI does too, only earlier. The script prints each
round and the median ratios page ÷ cli. Run it on a quiet machine.
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


def trained_for(home: Path) -> tuple[float, float]:
    """Seconds the home's one run took once it has finished: from its start, and from its first metric."""
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
            first = min(wall for _step, wall, _key, _value in store.metrics(run.id))
            return float(run.ended_at - run.started_at), float(run.ended_at - first)  # type: ignore[operator]
        time.sleep(0.5)
    raise SystemExit("the run did not finish in time")


def with_page(browser, home: Path) -> tuple[float, float]:  # type: ignore[no-untyped-def]
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


def alone(home: Path) -> tuple[float, float]:
    subprocess.run([sys.executable, "-m", "playground", "rl", "train", "ppo", "CartPole-v1", "--json"],
                   env={**os.environ, "PLAYGROUND_HOME": str(home)}, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=TIMEOUT_S)
    return trained_for(home)


def main() -> None:
    from conftest import CHROMIUM_FLAGS
    from playwright.sync_api import sync_playwright

    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    print(f"load average at the start: {os.getloadavg()}")
    ratios: dict[str, list[float]] = {"run": [], "training": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=os.environ.get("PLAYGROUND_CHROMIUM", "/usr/bin/chromium"),
                                     args=CHROMIUM_FLAGS)
        for i in range(rounds):
            times = {}
            order = ("page", "cli") if i % 2 == 0 else ("cli", "page")
            for which in order:
                home = Path(tempfile.mkdtemp(prefix=f"speed-{which}-"))
                times[which] = with_page(browser, home) if which == "page" else alone(home)
            parts = []
            for k, name in enumerate(ratios):
                ratios[name].append(times["page"][k] / times["cli"][k])
                parts.append(f"{name}: page open {times['page'][k]:.1f} s, cli alone {times['cli'][k]:.1f} s, "
                             f"ratio {ratios[name][-1]:.2f}")
            print(f"round {i + 1}: " + "; ".join(parts), flush=True)
        browser.close()
    for name, values in ratios.items():
        print(f"median ratio page ÷ cli over {rounds} rounds, {name}: {statistics.median(values):.2f}")


if __name__ == "__main__":
    main()
