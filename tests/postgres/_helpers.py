"""Helpers of the rlwatch-postgres tests: node processes and store comparisons.

A "node" is a separate Python process running `node.py`: a real
``rlwatch.attach`` monitor logging steps, standing in for one training job
on one machine.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rlwatch
from rlwatch.storage.reader import StoreReader
from rlwatch_postgres import PostgresStore

HERE = Path(__file__).resolve().parent
NODE = HERE / "node.py"


def node_env(url: str | None, **extra: str) -> dict[str, str]:
    """Environment of a node process: no stray RLWATCH_* or PG* settings, storage.url when given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RLWATCH_", "PG"))}
    if url is not None:
        env["RLWATCH_STORAGE_URL"] = url
    env.update(extra)
    return env


def start_node(
    run_id: str,
    log_dir: Path,
    url: str | None,
    steps: int,
    *,
    interval: float = 0.0,
    host: str | None = None,
    metrics: int = 6,
    latency_file: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    """Start a node: a process that attaches a monitor and logs `steps` steps."""
    args = [sys.executable, str(NODE), "--run-id", run_id, "--log-dir", str(log_dir), "--steps", str(steps),
            "--interval", str(interval), "--metrics", str(metrics)]  # fmt: skip
    if host:
        args += ["--host", host]
    if latency_file is not None:
        args += ["--latency-file", str(latency_file)]
    return subprocess.Popen(
        args, env=env or node_env(url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=log_dir
    )


def finish(proc: subprocess.Popen[str], timeout: float = 120.0) -> tuple[str, str]:
    """Wait for a node; fail the test with its output when it did not exit 0."""
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f"node exited {proc.returncode}\n--- stdout ---\n{out[-3000:]}\n--- stderr ---\n{err[-3000:]}")
    return out, err


def wait_for_line(proc: subprocess.Popen[str], prefix: str, timeout: float = 60.0) -> dict[str, Any]:
    """Read the node's stdout until a JSON line starting with `prefix` (``{"event": prefix...``)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else ""
                pytest.fail(f"node exited {proc.returncode} before {prefix!r}: {err[-3000:]}")
            continue
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") == prefix:
                return dict(event)
    pytest.fail(f"node printed no {prefix!r} line in {timeout} s")


def assert_same_run(spool: Path, url: str, run_id: str, ref: str | None = None) -> int:
    """Every value, NaN mark, alert and run field of `run_id` in the spool is in PostgreSQL; returns n_steps."""
    with StoreReader(str(spool)) as local, PostgresStore(url) as team:
        mine = local.run(run_id)
        theirs = team.run(ref or run_id)
        assert mine is not None and theirs is not None
        for field in ("run_id", "run_uid", "status", "host", "pid", "last_step", "n_steps", "started_at", "ended_at",
                      "framework", "end_reason", "alert_counts"):
            assert getattr(theirs, field) == getattr(mine, field), field
        names = local.metric_names(run_id)
        assert team.metric_names(ref or run_id) == names
        a = local.metrics(run_id, names)
        b = team.metrics(ref or run_id, names)
        np.testing.assert_array_equal(b["step"], a["step"])
        for name in names:
            np.testing.assert_array_equal(b[name], a[name], err_msg=name)
        assert team.nan_counts(ref or run_id) == local.nan_counts(run_id)
        assert [x.to_dict() for x in team.alerts(ref or run_id)] == [x.to_dict() for x in local.alerts(run_id)]
        return int(theirs.n_steps)


def count_rows(url: str, sql: str, params: tuple[Any, ...] = ()) -> int:
    """First column of the first row of a query (a count)."""
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
        return int(row[0]) if row else 0


def finite(values: list[float]) -> list[float]:
    """The finite values of a list."""
    return [v for v in values if math.isfinite(v)]


def rlwatch_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run the ``rlwatch`` command of this interpreter's environment."""
    exe = Path(sys.executable).parent / "rlwatch"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout,
                          env=env or node_env(None))


def log_run(run_id: str, log_dir: Path, url: str | None, steps: range, metrics: int = 6) -> str:
    """Attach, log `steps` (NaN loss at step 50, +inf at step 60 when in range), stop; returns the run_uid."""
    storage = {"log_dir": str(log_dir), "url": url or ""}
    monitor = rlwatch.attach(run_id=run_id, storage=storage)
    for step in steps:
        extra = {f"m{i:02d}": step * 0.5 + i for i in range(metrics)}
        monitor.log_step(
            step,
            entropy=1.0 + math.sin(step / 30),
            loss=math.nan if step == 50 else (math.inf if step == 60 else 0.2),
            reward_mean=0.1 * step,
            **extra,
        )
    uid = monitor.run_uid
    monitor.stop()
    return uid
