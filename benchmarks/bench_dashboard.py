"""Dashboard page-load benchmark: a 100k-step x 8-metric run in a real Chromium.

Usage: ``python benchmarks/bench_dashboard.py [--steps N] [--repeat R] [--strict]``
(needs ``rlwatch-core[dashboard]``, ``playwright`` and Debian's
``/usr/bin/chromium``; ``nox -s dashboard`` runs it).

Prints, each as the median of ``--repeat`` tries:

* server: the overview ``/api/metrics`` of the run, first request (read from
  SQLite and downsampled) and repeated (cached);
* ``runs list -> run page``: the usual path: the runs list is open (it
  loads plotly.js in the background, so the browser holds it compiled), the
  user clicks the run; measured from the click to every chart drawn, with the
  server's cache emptied first (so SQLite is read and downsampled again);
* ``cold run page``: a new browser context with nothing cached, the run
  page URL opened directly (plotly.js downloaded and compiled too);
* ``reload``: the run page reloaded;
* ``zoom``: a 1000-step window fetched and drawn at full resolution.

The target is under 2 s for the run page. Timings are printed, not asserted,
unless ``--strict`` is given (shared CI machines are noisy).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import rlwatch
from rlwatch.dashboard.cache import PayloadCache
from rlwatch.dashboard.server import make_server

METRICS = ("entropy", "kl_divergence", "reward_mean", "reward_std", "loss", "grad_norm", "learning_rate",
           "clip_fraction")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
TARGET_S = 2.0
READY = "body[data-ready='1']"
MARKS = ("rlwatch-boot", "rlwatch-scripts", "rlwatch-data", "rlwatch-drawn")
BREAKDOWN: dict[str, list[dict[str, float]]] = {}


def build_run(log_dir: Path, steps: int) -> float:
    """Write one run of `steps` x 8 metrics through the public API; returns seconds."""
    rng = np.random.default_rng(0)
    s = np.arange(steps)
    cols = {
        "entropy": 2.0 * np.exp(-s / (steps / 3)) + 0.02 * rng.standard_normal(steps),
        "kl_divergence": 0.01 + 0.001 * np.abs(rng.standard_normal(steps)),
        "reward_mean": np.tanh(s / (steps / 5)) + 0.05 * rng.standard_normal(steps),
        "reward_std": 0.5 + 0.05 * rng.standard_normal(steps),
        "loss": 1.0 / np.sqrt(s + 1) + 0.01 * rng.standard_normal(steps),
        "grad_norm": 1 + np.abs(rng.standard_normal(steps)),
        "learning_rate": np.full(steps, 1e-6),
        "clip_fraction": 0.1 + 0.01 * rng.standard_normal(steps),
    }
    cols["kl_divergence"][int(steps * 0.7):] += np.linspace(0, 5, steps - int(steps * 0.7))
    started = time.perf_counter()
    # Console channel off: the synthetic run raises alerts, the bench output is numbers.
    with rlwatch.attach(run_id="bench-100k", log_dir=str(log_dir), alerts={"console": {"enabled": False}}) as mon:
        batch = 5000
        for lo in range(0, steps, batch):
            hi = min(steps, lo + batch)
            mon.log_metrics({"step": i, **{k: float(cols[k][i]) for k in METRICS}} for i in range(lo, hi))
    return time.perf_counter() - started


def median_of(repeat: int, fn: Callable[[], float]) -> tuple[float, list[float]]:
    """Median and all samples of `fn()` run `repeat` times."""
    samples = [fn() for _ in range(repeat)]
    return statistics.median(samples), samples


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--strict", action="store_true", help="exit 1 when the run page misses the target")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="rlwatch-bench-dash-") as tmp:
        log_dir = Path(tmp)
        ingest = build_run(log_dir, args.steps)
        server = make_server(log_dir / "metrics.db", "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        url = server.url
        run_url = url + "run?run=bench-100k"
        results: dict[str, tuple[float, list[float]]] = {}
        try:
            results["server /api/metrics, first"] = median_of(args.repeat, lambda: _api_time(server, url, fresh=True))
            results["server /api/metrics, cached"] = median_of(args.repeat, lambda: _api_time(server, url, fresh=False))
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                try:
                    results["runs list -> run page"] = median_of(
                        args.repeat, lambda: _from_runs_list(browser, server, url))
                    results["cold run page (nothing cached)"] = median_of(
                        args.repeat, lambda: _cold(browser, server, run_url))
                    page, points = _open(browser, run_url)
                    results["reload"] = median_of(args.repeat, lambda: _reload(page))
                    results["zoom to 1000 steps (full resolution)"] = median_of(args.repeat, lambda: _zoom(page))
                    page.context.close()
                finally:
                    browser.close()
        finally:
            server.shutdown()
            server.server_close()

    print(f"dashboard benchmark: {args.steps} steps x {len(METRICS)} metrics "
          f"(written in {ingest:.1f} s through log_metrics); points per chart in the overview: {points}")
    for name, (med, samples) in results.items():
        shown = ", ".join(f"{s:.3f}" for s in samples)
        print(f"  {name:40} {med:7.3f} s   (tries: {shown})")
    print("  in-page breakdown, seconds from navigation start (median): boot.js ran / plotly.js + scripts ready /"
          " data arrived / all charts drawn")
    for name, marks in BREAKDOWN.items():
        shown = " / ".join(f"{statistics.median(m.get(k, float('nan')) for m in marks):.3f}" for k in MARKS)
        print(f"    {name:38} {shown}")
    page_load = results["runs list -> run page"][0]
    verdict = "OK" if page_load < TARGET_S else "OVER TARGET"
    print(f"  run page target < {TARGET_S:.1f} s (runs list -> run page): {verdict}")
    return 1 if args.strict and page_load >= TARGET_S else 0


def _api_time(server: Any, url: str, fresh: bool) -> float:
    import http.client

    if fresh:
        server.cache = PayloadCache()
    port = server.server_address[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    conn.request("GET", "/api/metrics?run=bench-100k&points=2000")
    body = conn.getresponse().read()
    elapsed = time.perf_counter() - started
    conn.close()
    assert len(body) > 1000
    return elapsed


def _wait_drawn(page: Any, breakdown: str | None = None) -> None:
    page.wait_for_selector(READY, timeout=60_000)
    n = page.evaluate("() => document.querySelectorAll('.chart .scatterlayer .js-line').length")
    assert n == len(METRICS), n
    if breakdown:
        marks = page.evaluate("() => Object.fromEntries(performance.getEntriesByType('mark')"
                              ".map(m => [m.name, m.startTime / 1000]))")
        BREAKDOWN.setdefault(breakdown, []).append(marks)


def _from_runs_list(browser: Any, server: Any, url: str) -> float:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector(READY)
        page.wait_for_function("() => !!window.Plotly", timeout=60_000)  # the list's plotly.js warm-up ran
        server.cache = PayloadCache()
        started = time.perf_counter()
        page.click("a.run-link")
        _wait_drawn(page, "runs list -> run page")
        return time.perf_counter() - started
    finally:
        context.close()


def _cold(browser: Any, server: Any, run_url: str) -> float:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        server.cache = PayloadCache()
        started = time.perf_counter()
        page.goto(run_url)
        _wait_drawn(page, "cold run page (nothing cached)")
        return time.perf_counter() - started
    finally:
        context.close()


def _open(browser: Any, run_url: str) -> tuple[Any, int]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(run_url)
    _wait_drawn(page)
    points = int(page.evaluate("() => document.querySelector('.chart').data[0].x.length"))
    return page, points


def _reload(page: Any) -> float:
    started = time.perf_counter()
    page.reload()
    _wait_drawn(page)
    return time.perf_counter() - started


def _zoom(page: Any) -> float:
    page.click("#reset-zoom")
    page.wait_for_function("() => document.querySelector('.chart').data[0].x.length <= 2000")
    started = time.perf_counter()
    page.evaluate("() => Plotly.relayout(document.querySelector('.chart'), {'xaxis.range': [50000, 50999]})")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.chart')).every(d => d.data[0].x.length === 1000)",
        timeout=30_000)
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
