"""A newcomer's first minutes in a real browser, with one page open throughout: Home → "Train PPO on
CartPole" → the run's live panel on top, running (the run picker says so too), then finished with its
next steps → "Watch it play" opens Watch on that run → Home suggests the next challenge. A screenshot
of each step goes to the test artifacts folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from playground.i18n import translate

pytestmark = pytest.mark.e2e

TRAIN_TIMEOUT_MS = 150_000  # 100k CartPole steps: about half a minute on 2 cores, more beside a browser


def en(key: str, **values: object) -> str:
    return translate(key, "en", **values)


def settle(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the script has finished its rerun (Streamlit keeps stale elements on screen meanwhile)."""
    page.wait_for_timeout(300)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=60_000)


def test_a_newcomers_first_run(app_url: str, browser_page, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    try:
        _first_run(page, app_url, artifacts)
    finally:
        page.screenshot(path=str(artifacts / "newcomer-last.png"), full_page=True)


def _first_run(page, app_url: str, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(app_url)
    page.get_by_role("heading", name=en("nav.home")).wait_for(timeout=60_000)
    settle(page)
    page.get_by_text(re.compile(r"26\.7 s measured")).wait_for(timeout=30_000)  # the button says how long it takes
    train = page.get_by_role("button", name=en("home.train_ppo"))
    train.wait_for(timeout=30_000)
    train.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "newcomer-1-home.png"))

    train.click()
    banner = page.get_by_text(re.compile(r"Run ppo-CartPole-\d+ started: PPO on CartPole-v1"))
    banner.wait_for(timeout=60_000)
    run_id = re.search(r"ppo-CartPole-\d+", banner.inner_text()).group(0)  # type: ignore[union-attr]
    page.get_by_role("heading", name=en("nav.train_agent")).wait_for()
    # The live panel comes first on the screen, the form is folded below it.
    live = page.get_by_role("heading", name=en("live.title"))
    folded = page.get_by_test_id("stExpander").filter(has_text=en("train_agent.folded")).first
    assert live.bounding_box()["y"] < folded.bounding_box()["y"]  # type: ignore[index]
    assert live.bounding_box()["y"] < page.viewport_size["height"] / 2  # type: ignore[index]
    assert not page.get_by_role("button", name=en("train_agent.start")).is_visible()

    # Running: the status and the run picker above it both say so (the picker once stayed on "starting").
    page.get_by_test_id("stMetricValue").filter(has_text=en("live.status.running")).wait_for(timeout=60_000)
    picker = page.get_by_test_id("stSelectbox").filter(has_text=en("live.pick")).first
    expect(picker.get_by_role("combobox")).to_have_value(f"{run_id} · {en('live.status.running')}", timeout=15_000)
    page.get_by_test_id("stMetricValue").filter(has_text=re.compile(r"^\d[\d,]*\.\d$")).first.wait_for(
        timeout=30_000)  # the trainer's own speed, stored with its heartbeat
    page.screenshot(path=str(artifacts / "newcomer-2-running.png"))

    # Finished: the picker follows, and the panel offers what to do next.
    page.get_by_test_id("stMetricValue").filter(has_text=en("live.status.finished")).wait_for(
        timeout=TRAIN_TIMEOUT_MS)
    settle(page)
    picker = page.get_by_test_id("stSelectbox").filter(has_text=en("live.pick")).first
    expect(picker.get_by_role("combobox")).to_have_value(f"{run_id} · {en('live.status.finished')}", timeout=15_000)
    page.get_by_text(en("live.next.title")).wait_for(timeout=30_000)
    nxt = page.get_by_text(en("live.next.challenge"), exact=True)
    nxt.wait_for(timeout=30_000)
    watch = page.get_by_role("button", name=en("live.next.watch.rl"))
    watch.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "newcomer-3-finished.png"))
    nxt.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "newcomer-4-next-steps.png"))

    watch.click()
    page.get_by_role("heading", name=en("nav.watch")).wait_for(timeout=60_000)
    settle(page)
    run_box = page.get_by_test_id("stSelectbox").filter(has_text=en("watch.run")).first
    expect(run_box.get_by_role("combobox")).to_have_value(re.compile(re.escape(run_id)))
    best = page.get_by_test_id("stSelectbox").filter(has_text=en("watch.checkpoint")).first
    expect(best.get_by_role("combobox")).to_have_value(re.compile(r"^best \(step [\d,]+, evaluation mean"))
    page.screenshot(path=str(artifacts / "newcomer-5-watch.png"))

    # Home, in the same session: the next challenge, with its one-click start.
    page.get_by_test_id("stSidebarNav").get_by_text(en("nav.home")).click()
    page.get_by_role("heading", name=en("home.next_challenge")).wait_for(timeout=60_000)
    settle(page)
    start = page.get_by_role("button", name=re.compile(re.escape(en("challenges.start", what="XX"))
                                                          .replace("XX", ".+")))
    start.first.wait_for(timeout=30_000)
    start.first.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "newcomer-6-next-challenge.png"))
