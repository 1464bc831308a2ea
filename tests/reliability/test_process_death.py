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
pause = float(sys.argv[3])
print("ready", flush=True)
i = 0
while True:
    m.log_step(i, loss=1.0, entropy=2.0, reward_mean=0.5, grad_norm=1.0, kl_divergence=0.01, learning_rate=1e-5,
               clip_fraction=0.1, reward_std=0.2)
    i += 1
    if pause:
        time.sleep(pause)
"""
LOOPS = {
    # A CPU-bound loop that never sleeps: ~100k steps/s, the writer must still get its turn.
    "tight": 0.0,
    # A training step of a few milliseconds (a small model on a GPU).
    "realistic": 0.005,
}


@pytest.mark.parametrize("loop", list(LOOPS))
def test_twenty_sigkills_lose_at_most_the_flush_interval(tmp_path: Path, record: Any, loop: str) -> None:
    """Kill -9 at random moments: what is lost is what was logged in the last flush interval, no more."""
    rng = random.Random(1234)
    lost_seconds: list[float] = []
    stored_counts: list[int] = []
    for k in range(20):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), f"{loop}{k}", str(LOOPS[loop])],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        ready_at = time.time()
        time.sleep(rng.uniform(0.3, 4.0))
        proc.send_signal(signal.SIGKILL)
        killed_at = time.time()
        proc.wait()
        db = tmp_path / "metrics.db"
        assert integrity(db) == "ok"
        with StoreReader(str(db)) as r:
            steps = [int(s) for s in r.metrics(f"{loop}{k}")["step"]]
            walls = [row["wall_time"] for row in r.iter_rows(f"{loop}{k}", start=max(steps[-1] - 5, 0))] \
                if steps else []
        assert steps == list(range(len(steps)))  # no holes: whole transactions only
        # what was logged after the last stored row (or since logging began, if nothing was stored yet)
        lost_seconds.append(killed_at - (max(walls) if walls else ready_at))
        stored_counts.append(len(steps))
    record(tried=f"20 SIGKILLs of a {loop} training loop at random moments (flush interval {FLUSH} s)", kills=20,
           integrity_ok=20, min_stored_rows=min(stored_counts), max_stored_rows=max(stored_counts),
           worst_lost_seconds=max(lost_seconds), median_lost_seconds=sorted(lost_seconds)[10])
    # the promise: a SIGKILL loses at most the flush interval (+ 0.5 s of scheduling slack on 2 busy cores)
    assert max(lost_seconds) <= FLUSH + 0.5, lost_seconds


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
    ("os.kill(os.getpid(), signal.SIGTERM); time.sleep(5)", "interrupted"),
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
