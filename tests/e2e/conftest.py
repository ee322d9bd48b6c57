"""The app served for real on a local port, and Debian's Chromium driven by Playwright (no browser download)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Where screenshots go; CI keeps this folder as the test's artifact.
ARTIFACTS = Path(os.environ.get("PLAYGROUND_TEST_ARTIFACTS", ROOT / "test-artifacts"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # this machine has no internet; don't let Chromium try
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Debian's Chromium; `.ci/run` installs it and sets PLAYGROUND_E2E_REQUIRED so its absence fails there."""
    found = os.environ.get("PLAYGROUND_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("PLAYGROUND_E2E_REQUIRED"):
        pytest.fail("Chromium is not installed; .ci/run installs Debian's `chromium` package for this test.")
    pytest.skip("Chromium is not installed (apt-get install chromium); .ci/run installs it")
    raise AssertionError  # unreachable: skip raises


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    url: str
    pid: int
    log: Path | None = None  # what the server wrote to its terminal


@pytest.fixture
def app_url(served: Served) -> str:
    return served.url


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`streamlit run streamlit_app.py` on a free local port, with its own empty playground home; it reads
    the project's `.streamlit/config.toml` as `make app` does (same working folder)."""
    with serve(tmp_path) as found:
        yield found


@contextmanager
def serve(tmp_path: Path, address: str = "127.0.0.1", env: dict[str, str] | None = None,
          home: Path | None = None) -> Iterator[Served]:
    """The app on a free port at ``address`` (``0.0.0.0``: served to a network, as a class's teacher serves it;
    the tests still reach it through 127.0.0.1 only); stopped when the block ends."""
    port = free_port()
    env = {**os.environ, "PLAYGROUND_HOME": str(home or tmp_path / "home"), "PYTHONUNBUFFERED": "1", **(env or {})}
    env.pop("PLAYGROUND_DB", None)
    log_path = tmp_path / f"streamlit-{port}.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(  # an argument list, never a shell string
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
         "--server.port", str(port), "--server.address", address, "--server.headless", "true",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with suppress(OSError):  # not listening yet: ask again below
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                    if reply.read().decode().strip() == "ok":
                        break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the app did not start:\n" + log_path.read_text())
            time.sleep(0.3)
        yield Served(url, proc.pid, log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def artifacts() -> Path:
    """The folder for screenshots that CI keeps."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def browser_page():  # type: ignore[no-untyped-def]
    """A fresh Chromium page at desktop size."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            yield page
        finally:
            browser.close()
