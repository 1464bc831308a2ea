"""Process death: SIGKILL at random moments; SIGTERM, sys.exit and crashes flush and deliver."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from rlwatch.storage import StoreReader

from ._helpers import integrity

FLUSH = 0.2
WRITER = f"""
import sys, time, rlwatch
m = rlwatch.attach(log_dir=sys.argv[1], run_id=sys.argv[2], flush_interval_seconds={FLUSH},
                   alerts={{"console": {{"enabled": False}}}})
print("ready", flush=True)
i = 0
while True:
    m.log_step(i, loss=1.0, entropy=2.0, reward_mean=0.5, grad_norm=1.0)
    if i % 50 == 0:
        print(i, flush=True)
    i += 1
    time.sleep(0.0005)
"""


def test_fifty_sigkills(tmp_path: Path, record: Any) -> None:
    rng = random.Random(1234)
    lost_steps: list[int] = []
    lost_seconds: list[float] = []
    for k in range(50):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), f"kill{k}"], stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        t_start = time.monotonic()
        deadline = t_start + rng.uniform(0.05, 1.2)
        printed = 0
        while time.monotonic() < deadline:
            printed = int(proc.stdout.readline())
        rate = max(printed, 1) / max(time.monotonic() - t_start, 1e-3)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        db = tmp_path / "metrics.db"
        assert integrity(db) == "ok"
        with StoreReader(str(db)) as r:
            steps = [int(s) for s in r.metrics(f"kill{k}")["step"]]
        assert steps == list(range(len(steps)))  # no holes: whole transactions only
        lost = max(0, printed - len(steps))
        lost_steps.append(lost)
        lost_seconds.append(lost / rate)
    record(tried="50 SIGKILLs of a writing process at random moments (flush interval 0.2 s)", kills=50,
           integrity_ok=50, max_lost_steps=max(lost_steps), max_lost_seconds=max(lost_seconds))
    # at most one flush interval (+ scheduling slack on a loaded 2-core machine) is lost
    assert max(lost_seconds) <= FLUSH + 0.5


class _Hook(BaseHTTPRequestHandler):
    received: list[bytes] = []
    delay = 0.3

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        time.sleep(self.delay)
        _Hook.received.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Any:
    pytest.importorskip("rlwatch_notify")
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


@pytest.mark.parametrize(("ending", "status"), [
    ("sys.exit(0)", "finished"),
    ("raise RuntimeError('crash right after the alert')", "crashed"),
    ("os.kill(os.getpid(), signal.SIGTERM); time.sleep(5)", "crashed"),
    ("m.stop()", "finished"),
])
def test_endings_flush_and_deliver(tmp_path: Path, record: Any, webhook: str, ending: str, status: str) -> None:
    code = f"""
import os, signal, sys, time, rlwatch
m = rlwatch.attach(log_dir=sys.argv[1], run_id="end", flush_interval_seconds=30,
                   alerts={{"console": {{"enabled": False}}, "webhook": {{"url": sys.argv[2]}}}})
for i in range(500):
    m.log_step(i, loss=1.0)
m.log_step(500, loss=float("nan"))
{ending}
"""
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path), webhook], capture_output=True, text=True,
                         timeout=60)
    elapsed = time.monotonic() - t0
    with StoreReader(str(tmp_path / "metrics.db")) as r:
        run = r.run("end")
        alerts = r.alerts("end")
    assert run is not None and run.n_steps == 501 and run.status == status, (run, out.stderr[-2000:])
    assert len(_Hook.received) == 1 and b"loss_nan" in _Hook.received[0]
    assert alerts[0].deliveries and alerts[0].deliveries[0]["status"] == "delivered"
    record(tried=f"process ends by `{ending.split(';')[0]}` right after a critical", exit_code=out.returncode,
           status=run.status, rows=run.n_steps, webhook_deliveries=len(_Hook.received), seconds=elapsed)
