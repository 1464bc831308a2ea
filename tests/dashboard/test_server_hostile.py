"""The dashboard against hostile input, over real HTTP: bad numbers in queries, damaged and read-only files.

A bad query parameter is the request's fault: 400 with a short JSON message.
A database that went bad under a running dashboard (damaged pages, a newer
schema, junk) is not a bug of the dashboard: 503 with the one-line reason,
which the pages show, and no traceback in its log. ``rlwatch dashboard``
refuses such a file at start with one line and exit code 3, and serves a
read-only file (0444 in a 0555 folder) like any other; in a real browser,
the pages show the reason.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import LiveServer, Recorder, open_context, start_server, watch_page


def request(live: LiveServer, method: str, path: str) -> tuple[int, Any, bytes]:
    """``(status, headers, body)`` of one request to `live`."""
    conn = http.client.HTTPConnection("127.0.0.1", live.server.server_address[1], timeout=30)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    "query",
    ["points=inf", "points=-inf", "points=-5", "points=abc", "points=1e309", "points=nan", "points=2.5",
     "points=0x10", "points=99999999999999999999999", "start=1e300", "start=9223372036854775808",
     "end=-9223372036854775809", "start=inf", "end=nan", "end=1e309", "start=-", "start=%00"],
)
def test_bad_numbers_in_a_query_are_a_400_with_a_message(dashboard: LiveServer, query: str) -> None:
    code, headers, body = request(dashboard, "GET", f"/api/metrics?run=grpo-collapse&name=entropy&{query}")
    assert code == 400, body
    assert headers["Content-Type"].startswith("application/json")
    message = json.loads(body)["error"]
    assert re.match(r"(points|start|end) (must be|is out of range)", message) and len(message) < 120, message


@pytest.mark.parametrize("query", ["points=", "points=4", "points=50000", "start=10.0&end=1e1", "start=-5&end=3"])
def test_whole_numbers_in_any_spelling_are_accepted(dashboard: LiveServer, query: str) -> None:
    code, _, body = request(dashboard, "GET", f"/api/metrics?run=grpo-collapse&name=entropy&{query}")
    assert code == 200, body


def _damaged_pages(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'metric_rows'").fetchone()[0]
    conn.close()
    with open(db, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xab" * page_size)


def _newer_schema(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 999")
    conn.close()


def _table_dropped(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE alerts")
    conn.close()


def _junk(db: Path) -> None:
    db.write_bytes(b"not a database at all " * 4000)


SPOIL: dict[str, tuple[Callable[[Path], None], str]] = {
    "damaged-pages": (_damaged_pages, "cannot be read, it is damaged"),
    "newer-schema": (_newer_schema, "has schema 999, newer than this rlwatch"),
    "table-dropped": (_table_dropped, "table(s) alerts missing"),
    "junk": (_junk, "is not a readable SQLite database"),
}


@pytest.fixture
def own_copy(fixture_db: Path, tmp_path: Path) -> Path:
    """A private copy of the fixture database, free to spoil."""
    copy = tmp_path / "metrics.db"
    shutil.copyfile(fixture_db, copy)
    return copy


@pytest.fixture
def live_copy(own_copy: Path) -> Iterator[LiveServer]:
    """A server over `own_copy`."""
    live = start_server(own_copy)
    yield live
    live.stop()


@pytest.mark.parametrize("how", sorted(SPOIL))
def test_a_database_that_goes_bad_under_the_server_is_a_503_with_the_reason(
    live_copy: LiveServer, own_copy: Path, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert request(live_copy, "GET", "/api/runs")[0] == 200
    spoil, says = SPOIL[how]
    spoil(own_copy)
    with caplog.at_level(logging.DEBUG, logger="rlwatch"):
        for path in ("/api/runs", "/api/run?run=grpo-collapse", "/api/metrics?run=grpo-collapse",
                     "/api/alerts?run=grpo-collapse", "/api/diagnosis?run=grpo-collapse",
                     "/api/export?run=grpo-collapse&format=csv"):
            code, headers, body = request(live_copy, "GET", path)
            assert code == 503, (path, body[:300])
            assert headers["Content-Type"].startswith("application/json")
            assert says in json.loads(body)["error"], body
        # The pages themselves still load, and show the API's message.
        assert request(live_copy, "GET", "/run?run=grpo-collapse")[0] == 200
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged for the user's damaged file"
    assert any(says in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


@pytest.mark.parametrize("how", sorted(SPOIL))
def test_the_dashboard_command_refuses_an_unusable_file_in_one_line(rlwatch_cmd: str, own_copy: Path,
                                                                    how: str) -> None:
    spoil, says = SPOIL[how]
    spoil(own_copy)
    result = subprocess.run([rlwatch_cmd, "dashboard", "--db", str(own_copy), "--port", "0"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 3, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and "plugin" not in line]
    assert "Traceback" not in result.stderr and len(lines) == 1, result.stderr
    assert lines[0].startswith("rlwatch dashboard: ") and says in lines[0]
    assert "start a monitored run first" not in lines[0]  # the file is there: that hint would mislead


KILLED_RUN = """
import os, sys, time, rlwatch
m = rlwatch.attach(log_dir=sys.argv[1], run_id="archived", flush_interval_seconds=0.1)
for i in range(300):
    m.log_step(i, entropy=2.0, loss=1.0 / (i + 1))
time.sleep(1.0)
os._exit(0)  # rows stay in the -wal, as after a SIGKILL
"""


def test_a_read_only_database_is_served(tmp_path: Path, rlwatch_cmd: str,
                                        obeying_permissions: Callable[[Path], Callable[[], None] | None]) -> None:
    live = tmp_path / "live"
    written = subprocess.run([sys.executable, "-c", KILLED_RUN, str(live)], capture_output=True, text=True,
                             timeout=120)
    assert written.returncode == 0, written.stderr
    archive = tmp_path / "archive"  # copied without its -shm, made read-only
    archive.mkdir()
    for name in ("metrics.db", "metrics.db-wal"):
        shutil.copyfile(live / name, archive / name)
        (archive / name).chmod(0o444)
    archive.chmod(0o555)
    proc: subprocess.Popen[str] | None = None
    try:
        preexec = obeying_permissions(archive)
        proc = subprocess.Popen([rlwatch_cmd, "dashboard", "--db", str(archive / "metrics.db"), "--port", "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"at http://127\.0\.0\.1:(\d+)/", line)
        assert match, (line, proc.stderr.read() if proc.poll() is not None else "")
        port = int(match.group(1))
        runs = _get_json(port, "/api/runs")["runs"]
        assert [(r["run_id"], r["n_steps"]) for r in runs] == [("archived", 300)]
        series = _get_json(port, "/api/metrics?run=archived&name=loss&points=4000")["series"]["loss"]
        assert series["n"] == 300
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=15)
            assert proc.returncode == 0, err
        archive.chmod(0o755)
    assert sorted(p.name for p in archive.iterdir()) == ["metrics.db", "metrics.db-wal"]


def _get_json(port: int, path: str) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, body
        return json.loads(body)
    finally:
        conn.close()


@pytest.mark.parametrize("page_path", ["/", "/run?run=grpo-collapse"])
def test_the_pages_show_the_reason_in_a_real_browser(browser: Any, live_copy: LiveServer, own_copy: Path,
                                                     page_path: str) -> None:
    _damaged_pages(own_copy)
    recorder = Recorder()
    context = open_context(browser, recorder)
    try:
        page = context.new_page()
        watch_page(page, recorder)
        page.goto(live_copy.url.rstrip("/") + page_path)
        shown = page.wait_for_selector("p.error", timeout=15_000).text_content()
    finally:
        context.close()
    assert "cannot be read, it is damaged" in shown
    # The 503s are expected here; nothing else may go wrong on the page.
    assert recorder.server_errors and all(e.startswith("503 ") for e in recorder.server_errors)
    assert not recorder.page_errors and not recorder.dialogs and not recorder.blocked
