"""SQLite storage: schema, migrations, crash safety, concurrency, faults."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import rlwatch
from rlwatch import logsink
from rlwatch.storage import SCHEMA_VERSION, StoreReader
from rlwatch.storage.migrations import ensure_schema

LEGACY_DDL = """
CREATE TABLE runs (run_id TEXT PRIMARY KEY, framework TEXT, started_at REAL, config_json TEXT);
CREATE TABLE metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, step INTEGER NOT NULL,
  timestamp REAL NOT NULL, entropy REAL, kl_divergence REAL, reward_mean REAL, reward_std REAL, reward_min REAL,
  reward_max REAL, advantage_std REAL, loss REAL, learning_rate REAL, clip_fraction REAL, grad_norm REAL,
  extra_json TEXT);
CREATE TABLE alerts (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, step INTEGER NOT NULL,
  timestamp REAL NOT NULL, detector TEXT NOT NULL, severity TEXT NOT NULL, message TEXT NOT NULL,
  metric_values_json TEXT, recommendation TEXT);
CREATE TABLE schema_version (version INTEGER PRIMARY KEY);
INSERT INTO schema_version VALUES (2);
"""


def run_py(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=timeout)


def test_fresh_file_has_wal_and_version(log_dir: Path, db_path: Path) -> None:
    m = rlwatch.attach(log_dir=str(log_dir), run_id="v")
    m.log_step(0, loss=1.0)
    m.stop()
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "metric_rows", "alerts", "deliveries", "run_metrics", "changes"} <= tables
    views = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='view'")}
    assert "metric_points" in views


def test_migrates_an_rlwatch_05_file_keeping_its_data(db_path: Path, log_dir: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.executescript(LEGACY_DDL)
    conn.execute("INSERT INTO runs VALUES ('old', 'trl', 100.0, '{}')")
    for i in range(5):
        conn.execute(
            "INSERT INTO metrics(run_id, step, timestamp, entropy, loss, extra_json) VALUES ('old', ?, ?, ?, ?, ?)",
            (i, 100.0 + i, 2.0 - i * 0.1, 0.5, json.dumps({"custom": i})),
        )
    conn.execute("INSERT INTO alerts(run_id, step, timestamp, detector, severity, message, metric_values_json, "
                 "recommendation) VALUES ('old', 3, 103.0, 'entropy_collapse', 'warning', 'low', '{}', 'fix')")
    conn.commit()
    conn.close()
    m = rlwatch.attach(log_dir=str(log_dir), run_id="new")
    m.log_step(0, loss=1.0)
    m.stop()
    with StoreReader(str(db_path)) as r:
        assert {x.run_id for x in r.runs()} == {"old", "new"}
        old = r.metrics("old")
        assert list(old["step"]) == [0, 1, 2, 3, 4]
        assert list(old["custom"]) == [0, 1, 2, 3, 4]
        assert old["entropy"][1] == pytest.approx(1.9)
        assert [a.detector for a in r.alerts("old")] == ["entropy_collapse"]
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT COUNT(*) FROM legacy_metrics").fetchone()[0] == 5  # original kept


@pytest.mark.parametrize("version", list(range(1, SCHEMA_VERSION)))
def test_migrates_every_older_version(tmp_path: Path, version: int) -> None:
    from rlwatch.storage.migrations import SCRIPTS

    log_dir = tmp_path / f"v{version}"
    log_dir.mkdir()
    db_path = log_dir / "metrics.db"
    conn = sqlite3.connect(db_path)
    for v in range(1, version + 1):
        conn.executescript(SCRIPTS[v])
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute("INSERT INTO runs(run_id, status) VALUES ('old', 'finished')")
    conn.commit()
    conn.close()
    m = rlwatch.attach(log_dir=str(log_dir), run_id="new")
    for i in range(30):
        m.log_step(i, loss=1.0, entropy=2.0)
    m.log_step(30, loss=float("nan"))
    m.stop()
    with StoreReader(str(db_path)) as r:
        assert {x.run_id for x in r.runs()} == {"old", "new"}
        assert r.alerts("new")[0].detector == "loss_nan"
        assert "entropy_collapse" in r.run("new").detector_state  # type: ignore[union-attr]
    assert sqlite3.connect(db_path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_newer_schema_is_refused_not_damaged(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    with pytest.raises(RuntimeError, match="newer"):
        ensure_schema(conn)


WRITER = """
import sys, time, rlwatch
m = rlwatch.attach(log_dir=sys.argv[1], run_id=sys.argv[2], flush_interval_seconds=0.2)
print("ready", flush=True)
i = 0
while True:
    m.log_step(i, loss=float(i), entropy=1.0)
    if i % 100 == 0:
        print(i, time.time(), flush=True)
    i += 1
    time.sleep(0.0005)
"""


def test_sigkill_loses_at_most_the_last_flush_interval(log_dir: Path, db_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(log_dir), "killed"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    last = (0, 0.0)
    deadline = time.time() + 2.0
    while time.time() < deadline:
        parts = proc.stdout.readline().split()
        last = (int(parts[0]), float(parts[1]))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with StoreReader(str(db_path)) as r:
        assert r.integrity_check() == "ok"
        steps = r.metrics("killed")["step"]
        assert r.run("killed").status == "running"  # type: ignore[union-attr]
    assert len(steps) > 0 and list(steps) == list(range(len(steps)))
    # printed step `last[0]` was logged at `last[1]`; rows older than one interval (+ slack) must be there
    rate = last[0] / 2.0
    assert steps[-1] >= last[0] - rate * (0.2 + 0.3)


def test_processes_write_different_runs_into_one_file_while_reading(log_dir: Path, db_path: Path) -> None:
    code = """
import sys, rlwatch
m = rlwatch.attach(log_dir=sys.argv[1], run_id=sys.argv[2], flush_interval_seconds=0.05)
for i in range(2000):
    m.log_step(i, loss=1.0, entropy=2.0, extra=float(i))
m.stop()
"""
    procs = [subprocess.Popen([sys.executable, "-c", code, str(log_dir), f"p{k}"]) for k in range(4)]
    seen = 0
    while any(p.poll() is None for p in procs):
        if db_path.exists():
            try:
                with StoreReader(str(db_path)) as r:
                    seen = max(seen, sum(x.n_steps for x in r.runs()))
            except Exception:  # the file may not have its schema yet
                pass
        time.sleep(0.05)
    assert all(p.returncode == 0 for p in procs)
    with StoreReader(str(db_path)) as r:
        assert sorted((x.run_id, x.n_steps, x.status) for x in r.runs()) == [
            (f"p{k}", 2000, "finished") for k in range(4)
        ]
        assert r.integrity_check() == "ok"


def test_uncaught_exception_marks_run_crashed(log_dir: Path, db_path: Path) -> None:
    out = run_py("""
import sys, rlwatch
m = rlwatch.attach(log_dir=sys.argv[1], run_id="crash")
for i in range(10):
    m.log_step(i, loss=1.0)
m.log_step(10, loss=float("nan"))
raise RuntimeError("training blew up")
""", str(log_dir))
    assert out.returncode == 1 and "training blew up" in out.stderr
    with StoreReader(str(db_path)) as r:
        run = r.run("crash")
        assert run is not None and run.status == "crashed" and run.n_steps == 11
        assert [a.detector for a in r.alerts("crash")] == ["loss_nan"]


@pytest.mark.parametrize(("how", "status", "reason"), [
    ("sys.exit(0)", "finished", None),
    ("sys.exit(3)", "failed", "exit code 3"),
    ("sys.exit('bad config')", "failed", "exit code 1 (sys.exit with a message)"),
    ("os.kill(os.getpid(), signal.SIGTERM)", "interrupted", "SIGTERM"),
    ("raise KeyboardInterrupt", "interrupted", "KeyboardInterrupt"),
])
def test_exit_paths_flush_and_record_how_the_run_ended(
    log_dir: Path, db_path: Path, how: str, status: str, reason: str | None
) -> None:
    out = run_py(f"""
import os, signal, sys, rlwatch
m = rlwatch.attach(log_dir=sys.argv[1], run_id="exit", flush_interval_seconds=30)
for i in range(100):
    m.log_step(i, loss=1.0)
{how}
""", str(log_dir))
    assert out.returncode in (0, 1, 3, -signal.SIGTERM, -signal.SIGINT), out.stderr
    with StoreReader(str(db_path)) as r:
        run = r.run("exit")
        assert run is not None and run.n_steps == 100
        assert (run.status, run.end_reason) == (status, reason)


def test_a_framework_sigterm_handler_is_chained_and_the_run_is_interrupted(log_dir: Path, db_path: Path) -> None:
    out = run_py("""
import os, signal, sys, rlwatch
def graceful(signum, frame):
    print("framework saw SIGTERM", flush=True)
    sys.exit(0)  # a framework's graceful shutdown
signal.signal(signal.SIGTERM, graceful)
m = rlwatch.attach(log_dir=sys.argv[1], run_id="exit", flush_interval_seconds=30)
for i in range(10):
    m.log_step(i, loss=1.0)
os.kill(os.getpid(), signal.SIGTERM)
""", str(log_dir))
    assert out.returncode == 0 and "framework saw SIGTERM" in out.stdout, out.stderr
    with StoreReader(str(db_path)) as r:
        run = r.run("exit")
        assert run is not None and (run.status, run.end_reason) == ("interrupted", "SIGTERM")


def test_a_process_that_vanishes_stays_running_then_shows_as_lost(log_dir: Path, db_path: Path) -> None:
    out = run_py("""
import os, sys, rlwatch
m = rlwatch.attach(log_dir=sys.argv[1], run_id="gone", flush_interval_seconds=0.05)
for i in range(10):
    m.log_step(i, loss=1.0)
m.flush()
os._exit(0)
""", str(log_dir))
    assert out.returncode == 0, out.stderr
    with StoreReader(str(db_path)) as r:
        run = r.run("gone")
        assert run is not None and run.status == "running" and run.display_status == "running"
    from rlwatch.storage.records import LOST_AFTER_SECONDS

    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE runs SET updated_at = updated_at - ?", (LOST_AFTER_SECONDS + 1,))
    conn.commit()
    conn.close()
    with StoreReader(str(db_path)) as r:
        run = r.run("gone")
        assert run is not None and run.status == "running" and run.display_status == "lost"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory_is_logged_not_raised(tmp_path: Path) -> None:  # pragma: no cover - non-root only
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    m = rlwatch.attach(log_dir=str(ro / "logs"), run_id="ro")
    assert m.log_step(0, loss=1.0) == []
    m.stop()


def test_not_a_database_at_start_training_continues_and_recovers(log_dir: Path, db_path: Path) -> None:
    db_path.write_bytes(b"this is not sqlite" * 100)
    code = """
import logging, os, sys, time, rlwatch
logging.basicConfig(level=logging.WARNING)
m = rlwatch.attach(log_dir=sys.argv[1], run_id="bad-file", flush_interval_seconds=0.1)
for i in range(50):
    assert m.log_step(i, loss=1.0) == []
time.sleep(0.3)
os.replace(sys.argv[2], sys.argv[2] + ".broken")  # the user moves the bad file away
for i in range(50, 60):
    m.log_step(i, loss=1.0)
m.stop()
"""
    out = run_py(code, str(log_dir), str(db_path))
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("cannot write to") == 1
    assert "works again" in out.stderr
    with StoreReader(str(db_path)) as r:
        assert r.run("bad-file").n_steps == 60  # type: ignore[union-attr]


def test_lock_held_by_another_process_delays_but_loses_nothing(log_dir: Path, db_path: Path) -> None:
    m = rlwatch.attach(log_dir=str(log_dir), run_id="locked", flush_interval_seconds=0.1)
    m.log_step(0, loss=1.0)
    assert m.flush()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sqlite3, sys, time
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute("BEGIN IMMEDIATE")
        print("locked", flush=True)
        time.sleep(3)
        c.execute("COMMIT")
    """), str(db_path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    t0 = time.perf_counter()
    for i in range(1, 500):
        m.log_step(i, loss=1.0)
    assert time.perf_counter() - t0 < 1.0  # the training thread never waits for the lock
    holder.wait()
    m.stop()
    with StoreReader(str(db_path)) as r:
        assert r.run("locked").n_steps == 500  # type: ignore[union-attr]


def test_rows_that_cannot_be_buffered_are_counted_and_announced(
    log_dir: Path, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process holds the write lock; a tiny buffer overflows: every row is stored or counted."""
    m = rlwatch.attach(log_dir=str(log_dir), run_id="overflow", storage={"queue_max_rows": 100,
                                                                        "flush_interval_seconds": 0.05})
    m.log_step(0, loss=1.0)
    assert m.flush()
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    for i in range(1, 1000):
        m.log_step(i, loss=1.0)
    time.sleep(1.5)
    blocker.execute("COMMIT")
    blocker.close()
    m.stop()
    with StoreReader(str(db_path)) as r:
        run = r.run("overflow")
        assert run is not None
        assert run.n_steps + run.dropped_rows == 1000 and run.dropped_rows > 0
    logsink.flush()  # rlwatch logs from a background thread
    assert any("were dropped" in rec.getMessage() for rec in caplog.records)


def test_fork_child_does_not_write(log_dir: Path, db_path: Path) -> None:
    out = run_py("""
import os, sys, rlwatch
m = rlwatch.attach(log_dir=sys.argv[1], run_id="fork")
m.log_step(0, loss=1.0)
pid = os.fork()
if pid == 0:
    for i in range(100, 200):
        m.log_step(i, loss=2.0)
    os._exit(0)
os.waitpid(pid, 0)
m.log_step(1, loss=1.0)
m.stop()
""", str(log_dir))
    assert out.returncode == 0, out.stderr
    with StoreReader(str(db_path)) as r:
        assert list(r.metrics("fork")["step"]) == [0, 1]
        assert r.integrity_check() == "ok"
