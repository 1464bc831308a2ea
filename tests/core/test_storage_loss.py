"""Storage never loses data silently (issue findings, each with a test that failed before the fix)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import rlwatch
from rlwatch.storage import StoreReader


def _run(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=timeout)


def test_a_very_wide_run_leaves_room_for_every_later_run(log_dir: Path, db_path: Path) -> None:
    """One run with 10 000 metric names used to fill the file's column budget: later runs stored nothing."""
    wide = rlwatch.attach(log_dir=str(log_dir), run_id="wide")
    for step in range(3):
        wide.log_step(step, **{f"layer{i}/grad_norm": float(i + step) for i in range(10_000)})
    wide.stop()
    for k in range(3):
        m = rlwatch.attach(log_dir=str(log_dir), run_id=f"ordinary{k}")
        for step in range(25):
            m.log_step(step, entropy=2.0, kl_divergence=0.01, loss=0.5, **{f"extra{k}_{j}": 1.0 for j in range(40)})
        m.stop()
    with StoreReader(str(db_path)) as r:
        assert len(r.metric_names("wide")) == 10_000
        cols = r.metrics("wide", ["layer9999/grad_norm", "layer0/grad_norm"])
        assert list(cols["layer9999/grad_norm"]) == [9999.0, 10000.0, 10001.0]
        for k in range(3):
            data = r.metrics(f"ordinary{k}", ["entropy", "kl_divergence", "loss", f"extra{k}_39"])
            assert len(data["step"]) == 25
            assert all(list(data[name]) == [v] * 25 for name, v in
                       (("entropy", 2.0), ("kl_divergence", 0.01), ("loss", 0.5), (f"extra{k}_39", 1.0)))
            run = r.run(f"ordinary{k}")
            assert run is not None and run.skipped == {} and run.dropped_rows == 0
        assert r.health() == "ok"


def test_a_repeated_step_in_one_flush_keeps_the_later_call(log_dir: Path, db_path: Path) -> None:
    m = rlwatch.attach(log_dir=str(log_dir), run_id="repeat", flush_interval_seconds=30)
    for step in range(10):
        m.log_step(step, entropy=1.0, loss=1.0)
    m.log_step(5, entropy=2.0)  # a different metric set: a different buffer group, written later
    m.log_step(5, entropy=3.0, loss=float("nan"))
    m.log_step(7, loss=4.0)
    m.stop()
    with StoreReader(str(db_path)) as r:
        rows = {row["step"]: row for row in r.iter_rows("repeat")}
    assert rows[5]["entropy"] == 3.0 and rows[5]["loss"] != rows[5]["loss"]  # the last call, NaN included
    assert rows[7]["entropy"] == 1.0 and rows[7]["loss"] == 4.0  # what the later call did not name stays


def test_a_metrics_dict_holding_step_never_raises(log_dir: Path, db_path: Path) -> None:
    m = rlwatch.attach(log_dir=str(log_dir), run_id="stepkey")
    logs = {"step": 3, "loss": 1.0, "entropy": 2.0}
    assert m.log_step(3, **logs) == []  # TypeError("got multiple values for argument 'step'") before
    assert rlwatch.log_step(4, **{**logs, "step": 4}) == []
    assert m.log_step(**{"step": 5, "loss": 1.0}) == []  # step given only by keyword still numbers the row
    m.stop()
    with StoreReader(str(db_path)) as r:
        assert list(r.metrics("stepkey")["step"]) == [3, 4, 5]
        assert "step" not in r.metric_names("stepkey")


def test_named_sql_views_read_with_plain_sqlite(log_dir: Path, db_path: Path) -> None:
    m = rlwatch.attach(log_dir=str(log_dir), run_id="x")
    for step in range(5):
        m.log_step(step, entropy=2.0 - step * 0.1, loss=float("nan") if step == 2 else 1.0)
    m.stop()
    conn = sqlite3.connect(db_path)
    rows = conn.execute(
        "select step, value from metric_points where run_id='x' and metric='entropy' order by step").fetchall()
    assert rows == [(s, 2.0 - s * 0.1) for s in range(5)]
    nan = conn.execute("select step, value, is_nan from metric_points where run_id='x' and metric='loss' "
                       "and is_nan = 1").fetchall()
    assert nan == [(2, None, 1)]


def test_blocked_stderr_never_blocks_the_training_loop(tmp_path: Path) -> None:
    """Warnings used to be written on the training thread: a full pipe stopped training for good."""
    code = """
        import sys, time, rlwatch
        m = rlwatch.attach(log_dir=sys.argv[1], run_id="blocked", alerts={"console": {"enabled": True}})
        t0 = time.perf_counter()
        worst = 0.0
        for i in range(3000):
            t = time.perf_counter()
            # a new unusable metric every step: one warning each, ~150 bytes, far more than a pipe holds
            m.log_step(i, loss=1.0, **{f"bad_{i}": "text"})
            worst = max(worst, time.perf_counter() - t)
        print("done", time.perf_counter() - t0, worst, flush=True)
        m.stop()
        print("stopped", flush=True)
    """
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    t0 = time.monotonic()
    line = proc.stdout.readline()  # stderr is never read while it runs: the pipe fills up
    assert line.startswith("done"), line
    _, total, worst = line.split()
    assert float(total) < 20 and float(worst) < 1.0
    assert proc.stdout.readline().strip() == "stopped"
    proc.kill()
    proc.communicate()
    assert time.monotonic() - t0 < 60
