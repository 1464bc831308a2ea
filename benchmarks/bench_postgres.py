"""rlwatch-postgres at team scale, on one local PostgreSQL server.

1. Ingest: `--writers` processes (default 20), each a real monitor with
   ``storage.url`` logging `--steps` steps (default 20 000) of 10 metrics as
   fast as it can, all at once. Reports rows/s end to end (first step logged
   to the last row committed in PostgreSQL), how long the writers took, and
   the replication lag each shipper saw (p50/p99 of spool commit ->
   PostgreSQL commit, per writer; the worst writer's p99 is the headline).
2. Dashboard queries: 1 000 more runs and one 100 000-step run are shipped,
   then the runs list and a run page are timed through the dashboard's own
   data layer (`rlwatch.dashboard.data`) on `PostgresStore`, plus the SQL
   downsampled series (``metrics(max_points=2000)``). Median of 5.

The server is a throwaway cluster (`rlwatch_postgres.testing`) with
PostgreSQL's default durability (fsync and synchronous commit on). Prints
one JSON object per line; exits 0 with a "skipped" line when no PostgreSQL
server binaries or no rlwatch-postgres are installed.

Usage: python benchmarks/bench_postgres.py [--writers N] [--steps N] [--runs N] [--long-steps N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from typing import Any

try:
    from rlwatch_postgres.testing import TemporaryCluster, find_server_bin
except ImportError:
    print(json.dumps({"skipped": "rlwatch-postgres is not installed in this environment"}))
    sys.exit(0)

WRITER = textwrap.dedent(
    """
    import json, sys, time
    import rlwatch
    from rlwatch import replication
    run_id, log_dir, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    monitor = rlwatch.attach(run_id=run_id, log_dir=log_dir)
    start = time.time()
    for step in range(steps):
        monitor.log_step(step, entropy=1.5 - step * 1e-5, kl_divergence=0.01, reward_mean=0.5, reward_std=0.1,
                         advantage_std=1.0, loss=0.3, grad_norm=1.0, learning_rate=1e-6, clip_fraction=0.1,
                         response_length=200.0)
    logged = time.time()
    (status,) = replication.statuses().values() or [{}]
    monitor.stop()
    print(json.dumps({"start": start, "logged": logged, "stopped": time.time(), "status": status}))
    """
)


def _emit(**values: Any) -> None:
    print(json.dumps(values), flush=True)


def _count(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM metric_rows").fetchone()
        return int(row[0]) if row else 0


def ingest(url: str, writers: int, steps: int, root: str) -> None:
    """Phase 1: concurrent writers, rows/s end to end and replication lag."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RLWATCH_", "PG"))}
    env["RLWATCH_STORAGE_URL"] = url
    began = time.time()
    procs = []
    for i in range(writers):
        folder = os.path.join(root, f"writer{i}")
        os.makedirs(folder)
        procs.append(subprocess.Popen([sys.executable, "-c", WRITER, f"writer-{i}", folder, str(steps)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=folder))
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=1800)
        if proc.returncode != 0:
            raise SystemExit(f"writer failed ({proc.returncode}): {err[-2000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    total = writers * steps
    deadline = time.monotonic() + 300
    while _count(url) < total and time.monotonic() < deadline:
        time.sleep(0.2)
    done = time.time()
    shipped = _count(url)
    first = min(r["start"] for r in results)
    p99s = sorted(float(r["status"].get("lag_p99_seconds") or 0.0) for r in results)
    _emit(
        bench="postgres.ingest",
        writers=writers,
        steps_per_writer=steps,
        rows_expected=total,
        rows_in_postgres=shipped,
        rows_per_s_end_to_end=round(shipped / max(done - first, 1e-9)),
        seconds_end_to_end=round(done - first, 2),
        writers_logging_seconds_max=round(max(r["logged"] - r["start"] for r in results), 2),
        lag_p99_seconds_worst_writer=round(p99s[-1], 3),
        lag_p99_seconds_median_writer=round(statistics.median(p99s), 3),
        wall_seconds_including_startup=round(done - began, 2),
    )


def _seed(url: str, runs: int, long_steps: int, root: str) -> None:
    """1 000 short runs and one long run, written locally and shipped in one go (what `rlwatch sync` does)."""
    import rlwatch
    from rlwatch_postgres import Shipper

    spool_dir = os.path.join(root, "seed")
    for i in range(runs):
        monitor = rlwatch.attach(run_id=f"team-run-{i:04d}", log_dir=spool_dir, alerts={"console": {"enabled": False}})
        for step in range(5):
            monitor.log_step(step, entropy=1.0, reward_mean=0.1 * step)
        monitor.stop()
    monitor = rlwatch.attach(run_id="long-run", log_dir=spool_dir, alerts={"console": {"enabled": False}})
    for step in range(long_steps):
        spike = 5.0 if step % 9973 == 0 else 0.0
        monitor.log_step(step, entropy=1.5 - step * 1e-6, kl_divergence=0.01 + (step % 100) * 1e-4, reward_mean=0.5,
                         reward_std=0.1, advantage_std=1.0, loss=0.3, grad_norm=1.0 + spike,
                         learning_rate=1e-6, clip_fraction=0.1, response_length=200.0 + step % 50)
    monitor.stop()
    started = time.time()
    shipper = Shipper(url, os.path.join(spool_dir, "metrics.db"), exclusive=False)
    result = shipper.ship_until_idle()
    shipper.close()
    _emit(bench="postgres.sync", runs=result.runs, rows=result.rows, seconds=round(time.time() - started, 2),
          rows_per_s=round(result.rows / max(time.time() - started, 1e-9)))


def _median_time(fn: Callable[[], Any], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 4)


def dashboard(url: str) -> None:
    """Phase 2: the runs list and a 100 000-step run page."""
    from rlwatch.dashboard import data
    from rlwatch_postgres import PostgresStore

    with PostgresStore(url) as store:
        n_runs = len(store.runs())
        names = store.metric_names("long-run")

        def run_page() -> None:
            data.run_payload(store, "long-run")
            data.metrics_payload(store, "long-run")
            data.alerts_payload(store, "long-run")

        def run_page_sql_downsampled() -> None:
            data.run_payload(store, "long-run")
            store.metrics("long-run", names, max_points=2000)
            data.alerts_payload(store, "long-run")

        _emit(
            bench="postgres.dashboard",
            runs=n_runs,
            long_run_steps=store.run("long-run").n_steps,  # type: ignore[union-attr]
            metrics=len(names),
            runs_list_s=_median_time(lambda: data.runs_payload(store)),
            run_page_full_fetch_s=_median_time(run_page),
            run_page_sql_downsampled_s=_median_time(run_page_sql_downsampled),
            series_full_s=_median_time(lambda: store.metrics("long-run", names)),
            series_sql_downsampled_s=_median_time(lambda: store.metrics("long-run", names, max_points=2000)),
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--long-steps", type=int, default=100_000)
    args = parser.parse_args()
    if find_server_bin() is None:
        _emit(skipped="no PostgreSQL server binaries (install Debian's postgresql package)")
        return 0
    os.environ.pop("RLWATCH_STORAGE_URL", None)
    with tempfile.TemporaryDirectory(prefix="rlwatch-bench-pg-") as root, TemporaryCluster(durable=True) as cluster:
        ingest(cluster.url, args.writers, args.steps, root)
        _seed(cluster.url, args.runs, args.long_steps, root)
        with cluster_connection(cluster.url) as conn:
            conn.execute("VACUUM ANALYZE")
        dashboard(cluster.url)
    return 0


def cluster_connection(url: str) -> Any:
    """An autocommit connection (VACUUM cannot run in a transaction)."""
    import psycopg

    return psycopg.connect(url, autocommit=True)


if __name__ == "__main__":
    sys.exit(main())
