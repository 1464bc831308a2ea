"""The HTTP server: GET only, read-only, loopback-only, escapes nothing server-side."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from rlwatch.dashboard.assets import STATIC_DIR, plotly_js_path
from rlwatch.storage import StoreReader

from .build_fixture import XSS_RUN
from .conftest import LiveServer


def request(live: LiveServer, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    port = live.server.server_address[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def get_json(live: LiveServer, path: str) -> Any:
    status, _, body = request(live, "GET", path)
    assert status == 200, body
    return json.loads(body)


def test_api_endpoints_answer_json(dashboard: LiveServer) -> None:
    runs = get_json(dashboard, "/api/runs")["runs"]
    assert {r["run_id"] for r in runs} >= {"grpo-collapse", XSS_RUN}
    run = get_json(dashboard, "/api/run?run=grpo-collapse")
    assert run["n_steps"] == 400 and run["status"] == "finished"
    metrics = get_json(dashboard, "/api/metrics?run=grpo-collapse&name=entropy&start=10&end=19")
    assert list(metrics["series"]) == ["entropy"] and metrics["series"]["entropy"]["x"] == list(range(10, 20))
    alerts = get_json(dashboard, "/api/alerts?run=grpo-collapse")["alerts"]
    assert {a["detector"] for a in alerts} == {"entropy_collapse", "loss_nan"}
    everything = get_json(dashboard, "/api/alerts")["alerts"]
    assert {a["run_id"] for a in everything} == {"grpo-collapse", XSS_RUN}
    assert get_json(dashboard, "/api/diagnosis?run=" + quote(XSS_RUN))["findings"][0]["detector"] == "xss_probe"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/run?run=nope", 404),
        ("/api/metrics?run=nope", 404),
        ("/api/alerts?run=nope", 404),
        ("/api/export?run=nope&format=csv", 404),
        ("/api/run", 400),
        ("/api/metrics?run=grpo-collapse&points=1", 400),
        ("/api/metrics?run=grpo-collapse&start=abc", 400),
        ("/api/export?run=grpo-collapse&format=xlsx", 400),
        ("/api/nothing", 404),
        ("/static/../server.py", 404),
        ("/static/%2e%2e%2fserver.py", 404),
        ("/static/.hidden", 404),
        ("/etc/passwd", 404),
    ],
)
def test_bad_requests_get_clear_errors(dashboard: LiveServer, path: str, status: int) -> None:
    code, headers, body = request(dashboard, "GET", path)
    assert code == status
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["error"]


def test_only_get_is_allowed_and_the_database_never_changes(dashboard: LiveServer, fixture_db: Path) -> None:
    def digest() -> str:
        return hashlib.sha256(fixture_db.read_bytes()).hexdigest()

    before = digest()
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        code, headers, _ = request(dashboard, method, "/api/runs")
        assert code == 405 and headers["Allow"] == "GET, HEAD"
    for path in ("/", "/run?run=grpo-collapse", "/api/runs", "/api/run?run=grpo-collapse",
                 "/api/metrics?run=grpo-collapse", "/api/alerts", "/api/diagnosis?run=grpo-collapse",
                 "/api/export?run=grpo-collapse&format=csv", "/api/export?run=grpo-collapse&format=jsonl"):
        assert request(dashboard, "GET", path)[0] == 200
        assert request(dashboard, "HEAD", path)[0] == 200
    assert digest() == before


def test_foreign_host_headers_are_refused(dashboard: LiveServer) -> None:
    # DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own Host.
    assert request(dashboard, "GET", "/api/runs", {"Host": "evil.example:8501"})[0] == 403
    assert request(dashboard, "GET", "/api/runs", {"Host": "evil.example"})[0] == 403
    port = dashboard.server.server_address[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
        assert request(dashboard, "GET", "/api/runs", {"Host": host})[0] == 200


def test_security_headers(dashboard: LiveServer) -> None:
    _, headers, _ = request(dashboard, "GET", "/")
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp and "script-src 'self'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"


def test_plotly_is_served_from_the_installed_package(dashboard: LiveServer) -> None:
    code, headers, body = request(dashboard, "GET", "/static/plotly.min.js")
    assert code == 200 and headers["Content-Type"].startswith("text/javascript")
    assert body == plotly_js_path().read_bytes()


def test_pages_reference_nothing_outside_the_server() -> None:
    for page in STATIC_DIR.glob("*.html"):
        text = page.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), page
    for script in STATIC_DIR.glob("*.js"):
        assert not re.search(r"https?://", script.read_text()), script


def test_export_downloads(dashboard: LiveServer) -> None:
    code, headers, body = request(dashboard, "GET", "/api/export?run=" + quote(XSS_RUN) + "&format=csv")
    assert code == 200 and headers["Content-Type"].startswith("text/csv")
    assert headers["Content-Disposition"] == 'attachment; filename="_img_src_x_onerror_alert_1__.csv"'
    lines = body.decode().splitlines()
    assert lines[0].startswith("step,wall_time,entropy,") and len(lines) == 81
    code, headers, body = request(dashboard, "GET", "/api/export?run=ppo-healthy&format=jsonl")
    assert code == 200 and len(body.decode().splitlines()) == 150


def test_warm_up_caches_the_newest_runs_overview(fixture_db: Path) -> None:
    from rlwatch.dashboard.server import make_server

    server = make_server(fixture_db, "127.0.0.1", 0)
    live = LiveServer(server, threading.Thread(target=server.serve_forever, daemon=True))
    live.thread.start()
    try:
        server.warm(max_runs=2).join(timeout=30)
        assert len(server.cache._items) == 2
        # The page's first question about the newest run is the warmed one: no new entry.
        with StoreReader(str(fixture_db)) as reader:
            newest = reader.runs()[0].run_id
        get_json(live, "/api/metrics?run=" + quote(newest, safe="") + "&points=2000")
        assert len(server.cache._items) == 2
        get_json(live, "/api/metrics?run=" + quote(newest, safe="") + "&points=500")
        assert len(server.cache._items) == 3
    finally:
        live.stop()
