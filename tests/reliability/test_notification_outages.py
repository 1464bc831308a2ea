"""Notification outages: endpoints that refuse, hang, reset, answer 500 or 429 for the whole run.

Training-thread latency stays within budget, memory stays bounded by the
queue caps, and every alert gets a final delivery status per channel.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from rlwatch.storage import StoreReader


class Misbehaving(BaseHTTPRequestHandler):
    mode = "500"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.mode == "hang":
            time.sleep(30)
            return
        if self.mode == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.connection.close()
            return
        if self.mode == "429":
            self.send_response(429)
            self.send_header("Retry-After", "1")
            self.end_headers()
            return
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _server(mode: str) -> tuple[ThreadingHTTPServer, str]:
    handler = type(f"H{mode}", (Misbehaving,), {"mode": mode})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


CODE = """
import json, math, resource, sys, time, rlwatch
cfg = json.loads(sys.argv[2])
m = rlwatch.attach(log_dir=sys.argv[1], run_id="outage", alerts=cfg, loss_nan={"cooldown_steps": 0})
pc = time.perf_counter_ns
lat, alerts = [], 0
t_end = time.monotonic() + float(sys.argv[3])
i = 0
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20
rss0 = None
while time.monotonic() < t_end:
    nan = i % 20 == 0  # a critical every 20 steps, for the whole run
    t0 = pc()
    alerts += len(m.log_step(i, loss=float("nan") if nan else 1.0, entropy=2.0, grad_norm=1.0, kl_divergence=0.01))
    lat.append(pc() - t0)
    i += 1
    if i == 2000:
        rss0 = rss()
    time.sleep(0.0005)
rss1 = rss()
t0 = time.monotonic()
m.stop()
stop_s = time.monotonic() - t0
lat.sort()
print(json.dumps({"steps": i, "alerts": alerts, "median_us": lat[len(lat)//2] / 1e3,
                  "p99_us": lat[int(len(lat) * 0.99)] / 1e3, "rss_growth_mib": rss1 - (rss0 or rss1),
                  "stop_s": stop_s}))
"""


def test_all_channels_down_for_the_whole_run(tmp_path: Path, record: Any) -> None:
    pytest.importorskip("rlwatch_notify")
    servers = {mode: _server(mode) for mode in ("hang", "reset", "500", "429")}
    fast = {"max_attempts": 3, "backoff_base": 0.05, "backoff_max": 0.2, "timeout": 2.0,
            "breaker_threshold": 5, "breaker_cooldown": 2.0}
    cfg = {
        "console": {"enabled": False},
        "max_alerts_per_run": 100_000,
        "dispatch_queue_size": 50,
        "exit_flush_timeout_seconds": 3.0,
        "slack": {"webhook_url": servers["hang"][1] + "/slack", **fast},
        "discord": {"webhook_url": servers["reset"][1] + "/discord", **fast},
        "webhook": {"url": servers["500"][1] + "/hook", **fast},
        "pagerduty": {"routing_key": "R" * 32, "events_url": servers["429"][1] + "/v2/enqueue", **fast},
        "email": {"smtp_host": "127.0.0.1", "smtp_port": _closed_port(), "security": "none",
                  "from_addr": "a@example.com", "to": ["b@example.com"], **fast},
    }
    seconds = 20
    out = subprocess.run([sys.executable, "-c", CODE, str(tmp_path), json.dumps(cfg), str(seconds)],
                         capture_output=True, text=True, timeout=300)
    for server, _ in servers.values():
        server.shutdown()
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    with StoreReader(str(tmp_path / "metrics.db")) as r:
        rows = r.alerts("outage")
    sent = [a for a in rows if a.status == "sent"]
    channels = ("slack", "discord", "webhook", "pagerduty", "email")
    missing = [(a.alert_id, c) for a in sent for c in channels if c not in {d["channel"] for d in a.deliveries}]
    statuses: dict[str, int] = {}
    for a in sent:
        for d in a.deliveries:
            statuses[d["status"]] = statuses.get(d["status"], 0) + 1
    record(tried=f"5 channels down for {seconds}s (hang, reset, 500, 429+Retry-After, SMTP refused); "
                 "a critical every 20 steps", **res, alerts_sent=len(sent), delivery_statuses=str(statuses),
           alerts_without_status=len(missing))
    assert not missing
    assert statuses.get("delivered", 0) == 0
    assert res["median_us"] < 40 and res["rss_growth_mib"] < 32
    assert res["stop_s"] < 3.0 * 5 + 5  # bounded wait per channel at exit
