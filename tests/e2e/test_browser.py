"""The whole app in a real browser: start a short CartPole PPO run from the form, wait for it to
finish, open compare, and keep a screenshot as the test's artifact."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from playground.i18n import translate

pytestmark = pytest.mark.e2e


def en(key: str, **values: object) -> str:
    return translate(key, "en", **values)


def settle(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the script has finished its rerun (Streamlit keeps stale elements on screen meanwhile)."""
    page.wait_for_timeout(300)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=60_000)


def choose(page, label: str, option: str) -> None:  # type: ignore[no-untyped-def]
    """Pick ``option`` in the Streamlit selectbox labelled ``label``."""
    box = page.get_by_test_id("stSelectbox").filter(has_text=label).first
    box.click()
    page.get_by_role("option", name=option, exact=True).click()


def test_train_on_cartpole_then_compare(app_url: str, browser_page, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    try:
        _train_then_compare(page, app_url, artifacts)
    finally:
        page.screenshot(path=str(artifacts / "e2e-last.png"), full_page=True)


def _train_then_compare(page, app_url: str, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{app_url}/train-agent")
    page.get_by_role("heading", name=en("nav.train_agent")).wait_for(timeout=60_000)

    choose(page, en("train_agent.algo"), "PPO")
    page.get_by_text("clip_range", exact=True).wait_for(timeout=30_000)  # the form now holds PPO's knobs
    settle(page)
    steps = page.get_by_role("spinbutton", name=en("train_agent.steps"))
    expect(steps).to_have_count(1)
    steps.fill("2000")
    steps.press("Tab")
    page.get_by_test_id("stTextInput").filter(has_text=en("train_agent.label")).locator("input").fill("browser")
    page.get_by_role("button", name=en("train_agent.start")).click()

    started = page.get_by_text(re.compile(r"Started ppo-CartPole-\d+"))
    started.wait_for(timeout=60_000)
    run_id = re.search(r"ppo-CartPole-\d+", started.inner_text()).group(0)  # type: ignore[union-attr]
    page.get_by_test_id("stMetricValue").filter(has_text=en("live.status.finished")).wait_for(timeout=240_000)

    page.goto(f"{app_url}/runs")
    page.get_by_role("heading", name=en("nav.runs")).wait_for(timeout=60_000)
    picker = page.get_by_test_id("stMultiSelect").filter(has_text=en("compare.pick"))
    option = page.get_by_role("option", name=re.compile(re.escape(run_id)))
    for attempt in range(3):  # a rerun of the page (its first, on a busy machine) can close the list just opened
        picker.click()
        try:
            option.wait_for(timeout=15_000)
            break
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
    option.click()
    page.keyboard.press("Escape")
    chart = page.get_by_test_id("stVegaLiteChart").first
    chart.wait_for(timeout=60_000)
    page.get_by_role("heading", name=en("compare.evals")).wait_for(timeout=60_000)
    chart.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "e2e-compare.png"))
