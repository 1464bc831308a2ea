"""`log_step` latency with no notification channel vs. a webhook endpoint that hangs for 30 s.

Both runs log the same steps (8 scalar metrics) and raise the same alerts
(a test detector fires a critical every `--alert-every` steps, console
output off), so the only difference is a webhook channel whose endpoint, a
local server on 127.0.0.1, accepts the connection and then answers nothing
for 30 seconds. Deliveries run on the dispatcher thread, so the training
thread's latency must not change; the script prints median, p99 and max per
run (best of `--repeats` alternating runs, to damp machine noise) and exits
1 if the hanging run's median or p99 is grossly worse (more than 2x + 20 us).

Usage: python benchmarks/bench_notify.py [--steps N] [--alert-every K] [--repeats R]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

try:
    import rlwatch_notify  # noqa: F401 - only checks that the channel package is installed
except ImportError:
    print(json.dumps({"skipped": "rlwatch-notify is not installed in this environment"}))
    sys.exit(0)

from rlwatch import hookimpl, plugins
from rlwatch.alerts import Alert
from rlwatch.config import load_config
from rlwatch.core import RLWatch
from rlwatch.detectors.base import Detector, DetectorConfig

HANG_SECONDS = 30.0


class BenchAlertDetector(Detector):
    """Critical alert whenever metric ``bench_alert`` is 1."""

    id: ClassVar[str] = "bench_alert"
    config_class: ClassVar[type[DetectorConfig]] = DetectorConfig

    def update(self, step: int, values: Any, arrays: Any) -> list[Alert] | None:
        """Fire on the marker metric only."""
        if values.get("bench_alert", 0.0) == 1.0:
            return [self.alert(step, "critical", "benchmark alert", {"bench_alert": 1.0}, "")]
        return None


class _Plugin:
    @hookimpl
    def rlwatch_detectors(self) -> list[type[Detector]]:
        return [BenchAlertDetector]


def _hanging_server() -> tuple[ThreadingHTTPServer, threading.Event]:
    release = threading.Event()

    class Hang(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            release.wait(HANG_SECONDS)
            try:
                self.send_response(200)
                self.end_headers()
            except OSError:
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hang)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, release


def _steps(n: int, alert_every: int) -> list[dict[str, float]]:
    rnd = random.Random(0)
    rows = []
    for t in range(n):
        rows.append(
            {
                "entropy": 0.5 * math.exp(rnd.gauss(0, 0.05)),
                "kl_divergence": 0.01 * math.exp(rnd.gauss(0, 0.3)),
                "reward_mean": 0.3 + rnd.gauss(0, 0.03),
                "reward_std": 0.4 + rnd.gauss(0, 0.02),
                "advantage_std": 1.0 + rnd.gauss(0, 0.01),
                "loss": 0.02 + rnd.gauss(0, 0.01),
                "grad_norm": 0.3 * math.exp(rnd.gauss(0, 0.3)),
                "learning_rate": 1e-6,
                "bench_alert": 1.0 if t % alert_every == alert_every - 1 else 0.0,
            }
        )
    return rows


def _run(rows: list[dict[str, float]], log_dir: str, run_id: str, webhook_url: str | None) -> dict[str, float]:
    alerts: dict[str, Any] = {
        "console": {"enabled": False},
        "max_alerts_per_run": 1_000_000,
        "exit_flush_timeout_seconds": 1.0,
    }
    if webhook_url:
        alerts["webhook"] = {"url": webhook_url, "timeout": HANG_SECONDS + 5}
    config = load_config(
        overrides={"run_id": run_id, "storage": {"log_dir": log_dir}, "alerts": alerts,
                   "bench_alert": {"warmup_steps": 0, "cooldown_steps": 0}},
        env={},
    )
    monitor = RLWatch(config).start()
    timings = []
    alert_timings = []  # steps that raised an alert: where the dispatcher is handed work
    sent = 0
    clock = time.perf_counter_ns
    for step, metrics in enumerate(rows):
        started = clock()
        fired = monitor.log_step(step, **metrics)
        elapsed = clock() - started
        timings.append(elapsed)
        if fired:
            alert_timings.append(elapsed)
            sent += len(fired)
    stop_started = time.monotonic()
    monitor.stop()
    stop_s = time.monotonic() - stop_started
    timings.sort()
    return {
        "median_us": statistics.median(timings) / 1e3,
        "p99_us": timings[int(len(timings) * 0.99)] / 1e3,
        "max_ms": timings[-1] / 1e6,
        "alert_step_median_us": statistics.median(alert_timings) / 1e3 if alert_timings else 0.0,
        "alerts": float(sent),
        "stop_s": stop_s,
    }


def main() -> int:
    """Run both configurations alternately and print the comparison as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--alert-every", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    plugins.register(_Plugin(), name="bench-notify")
    server, release = _hanging_server()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook/BENCHSECRET"
    rows = _steps(args.steps, args.alert_every)
    results: dict[str, list[dict[str, float]]] = {"no_channel": [], "hanging_webhook": []}
    try:
        with tempfile.TemporaryDirectory() as log_dir:
            _run(rows[:2000], log_dir, "warmup", None)  # imports, SQLite file, caches
            for repeat in range(args.repeats):
                results["no_channel"].append(_run(rows, log_dir, f"none-{repeat}", None))
                results["hanging_webhook"].append(_run(rows, log_dir, f"hang-{repeat}", url))
    finally:
        release.set()
        server.shutdown()

    best = {
        name: {key: min(run[key] for run in runs) for key in runs[0]} for name, runs in results.items()
    }
    base, hang = best["no_channel"], best["hanging_webhook"]
    summary = {
        "steps": args.steps,
        "alerts_per_run": hang["alerts"],
        "no_channel": {k: round(v, 3) for k, v in base.items()},
        "hanging_webhook": {k: round(v, 3) for k, v in hang.items()},
        "median_ratio": round(hang["median_us"] / base["median_us"], 2),
        "p99_ratio": round(hang["p99_us"] / base["p99_us"], 2),
    }
    print(json.dumps(summary, indent=2))
    worse = [key for key in ("median_us", "p99_us") if hang[key] > 2 * base[key] + 20.0]
    if worse:
        print(f"log_step is slower while the endpoint hangs: {', '.join(worse)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
