"""Fixtures of the dashboard tests: a fixture database, a live server, a real Chromium.

The browser is Debian's ``/usr/bin/chromium`` driven by Playwright (the nox
session installs both; Playwright's own browser download is never used).
Every page a test opens records all its requests, responses, console errors
and dialogs; the `page` fixture fails the test if any request left
127.0.0.1 (or file://), if the server answered 5xx, or if a script error or
an ``alert()`` happened.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"
CHROMIUM = os.environ.get("RLWATCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def build_fixture_db(log_dir: Path) -> Path:
    """Run build_fixture.py in its own process; returns the database path."""
    log_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(HERE / "build_fixture.py"), str(log_dir)], check=True,
                   capture_output=True, timeout=120)
    return log_dir / "metrics.db"


@pytest.fixture(scope="session")
def fixture_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture database (built once per session through the real API)."""
    return build_fixture_db(tmp_path_factory.mktemp("fixture") / "logs")


@dataclass
class LiveServer:
    """A dashboard server running in a thread of the test process."""

    server: Any
    thread: threading.Thread

    @property
    def url(self) -> str:
        """Base URL, ending in a slash."""
        return str(self.server.url)

    def stop(self) -> None:
        """Shut down and join."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_server(db: Path) -> LiveServer:
    """Serve `db` on 127.0.0.1 and a free port."""
    from rlwatch.dashboard.server import make_server

    server = make_server(db, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return LiveServer(server, thread)


@pytest.fixture(scope="session")
def dashboard(fixture_db: Path) -> Iterator[LiveServer]:
    """A server over the fixture database, shared by the tests that only read."""
    live = start_server(fixture_db)
    yield live
    live.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's), one per session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (the nox session does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Recorder:
    """What a page did, for the checks after the test."""

    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    server_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def allowed_url(url: str) -> bool:
    """Only the local server, local files and in-page data/blob URLs."""
    return url.startswith(("http://127.0.0.1:", "file://", "data:", "blob:", "about:"))


def open_context(browser: Any, recorder: Recorder, offline: bool = False) -> Any:
    """A browser context that records (and blocks) every request leaving the machine."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, offline=offline)

    def route(route: Any) -> None:
        url = route.request.url
        if allowed_url(url):
            route.continue_()
        else:
            recorder.blocked.append(url)
            route.abort()

    context.route("**/*", route)
    return context


def watch_page(page: Any, recorder: Recorder) -> None:
    """Attach the recorder's listeners to a page."""
    page.on("request", lambda r: recorder.requests.append(r.url))
    page.on("response", lambda r: recorder.server_errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    page.on("console", lambda m: recorder.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: recorder.page_errors.append(str(e)))

    def on_dialog(dialog: Any) -> None:
        recorder.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)


def check_recorder(recorder: Recorder) -> None:
    """Fail on anything a clean page must not do."""
    outside = [u for u in recorder.requests if not allowed_url(u)]
    assert not outside and not recorder.blocked, f"requests left 127.0.0.1: {outside or recorder.blocked}"
    assert not recorder.dialogs, f"a script opened dialogs (XSS?): {recorder.dialogs}"
    assert not recorder.page_errors, f"script errors: {recorder.page_errors}"
    assert not recorder.server_errors, f"server errors: {recorder.server_errors}"
    assert not recorder.console_errors, f"console errors: {recorder.console_errors}"


@pytest.fixture
def recorder() -> Recorder:
    """The current test's recorder."""
    return Recorder()


@pytest.fixture
def page(browser: Any, recorder: Recorder) -> Iterator[Any]:
    """A fresh page whose traffic and errors are checked after the test."""
    context = open_context(browser, recorder)
    pg = context.new_page()
    watch_page(pg, recorder)
    yield pg
    context.close()
    check_recorder(recorder)


def screenshot(page: Any, name: str, full_page: bool = False) -> Path:
    """Save a screenshot under tests/dashboard/artifacts/ (kept by CI)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
