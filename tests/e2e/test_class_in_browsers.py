"""A class on one served app, in a real browser: alice and bob sign in from two browser contexts (two people, two
cookie jars) on the app served to the network as `make app ADDRESS=0.0.0.0` serves it; alice's run is hers, bob has
no button to stop or delete it; alice's third job is refused by the quota; on localhost nobody signs in.
The tests reach the servers through 127.0.0.1 only."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from playground import accounts, runs
from playground.i18n import translate
from playground.store import get_store
from tests.e2e.conftest import CHROMIUM_FLAGS, chromium_path, serve
from tests.e2e.test_browser import settle

pytestmark = pytest.mark.e2e


def en(key: str, **values: object) -> str:
    return translate(key, "en", **values)


def _sign_in(page, url: str, name: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url)
    page.get_by_role("heading", name=en("auth.title")).wait_for(timeout=60_000)
    page.get_by_label(en("auth.name"), exact=True).fill(name)
    page.get_by_label(en("auth.password"), exact=True).fill(password)
    page.get_by_role("button", name=en("auth.sign_in"), exact=True).click()
    page.get_by_text(re.compile(f"signed in as {name}")).wait_for(timeout=60_000)
    settle(page)


def _manage(page, url: str) -> None:  # type: ignore[no-untyped-def]
    """The Runs page with its "stop or delete" panel open on the newest run."""
    page.goto(f"{url}/runs")
    page.get_by_role("heading", name=en("nav.runs")).wait_for(timeout=60_000)
    settle(page)
    page.get_by_text(en("runs.manage")).click()
    settle(page)


def test_alice_and_bob_on_one_served_app(tmp_path: Path, artifacts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    monkeypatch.delenv("PLAYGROUND_DB", raising=False)
    accounts.add("alice", "student", "alice-password")
    accounts.add("bob", "student", "bob-password")
    store = get_store()
    for _ in range(2):  # two jobs of alice's going (this test process stands in for their trainers)
        going = runs.create(kind="rl", algo="ppo", env="CartPole-v1", game="CartPole", config={}, player="alice")
        store.update_run(going.id, status="running", pid=os.getpid(), heartbeat_at=time.time())
    finished = runs.create(kind="rl", algo="qlearning", env="FrozenLake-v1", game="FrozenLake", config={},
                           player="alice")
    runs.end(finished.id, "finished", 10)
    before = {run.id for run in store.find_runs()}

    from playwright.sync_api import sync_playwright

    with serve(tmp_path, "0.0.0.0", env={"PLAYGROUND_JOBS_PER_PERSON": "2"}, home=home) as app, \
            sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)
        alice = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
        bob = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
        try:
            # Served to the network: nothing but the sign-in form, and a wrong password says so.
            bob.goto(app.url)
            bob.get_by_role("heading", name=en("auth.title")).wait_for(timeout=60_000)
            bob.get_by_label(en("auth.name"), exact=True).fill("bob")
            bob.get_by_label(en("auth.password"), exact=True).fill("not-bobs-password")
            bob.get_by_role("button", name=en("auth.sign_in"), exact=True).click()
            bob.get_by_text(re.compile("do not match")).wait_for(timeout=30_000)
            bob.screenshot(path=str(artifacts / "e2e-classroom-sign-in.png"))
            assert bob.get_by_role("heading", name=en("nav.runs")).count() == 0
            time.sleep(1.2)  # the wait one failure costs

            _sign_in(alice, app.url, "alice", "alice-password")
            _sign_in(bob, app.url, "bob", "bob-password")

            # Alice's finished run: hers to delete; bob sees it, and no button to change it.
            _manage(alice, app.url)
            alice.get_by_role("button", name=en("runs.delete")).wait_for(timeout=30_000)
            _manage(bob, app.url)
            bob.get_by_text(re.compile("only alice or a teacher")).wait_for(timeout=30_000)
            assert bob.get_by_role("button", name=en("runs.delete")).count() == 0
            assert bob.get_by_role("button", name=en("runs.stop")).count() == 0
            bob.screenshot(path=str(artifacts / "e2e-classroom-bob.png"), full_page=True)

            # A third job of alice's: refused by the quota, nothing created.
            alice.goto(f"{app.url}/train-agent")
            alice.get_by_role("heading", name=en("nav.train_agent")).wait_for(timeout=60_000)
            settle(alice)
            alice.get_by_role("button", name=en("train_agent.start")).click()
            alice.get_by_text(re.compile("already have 2 runs going")).wait_for(timeout=120_000)
            alice.screenshot(path=str(artifacts / "e2e-classroom-quota.png"), full_page=True)
        finally:
            browser.close()
    assert {run.id for run in store.find_runs()} == before
    assert "First teacher account: teacher" in app.log.read_text()  # shown once, in the server's terminal


def test_on_localhost_nobody_signs_in(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with serve(tmp_path) as app, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(app.url)
            page.get_by_text(en("auth.local_mode")).wait_for(timeout=60_000)
            assert page.get_by_role("heading", name=en("auth.title")).count() == 0
        finally:
            browser.close()
    assert "First teacher" not in app.log.read_text()
