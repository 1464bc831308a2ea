"""Storage faults: training continues, the error is logged once, writing resumes, nothing stored is lost."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from rlwatch.storage import StoreReader

from ._helpers import integrity

# A training loop in a child process: logs steps until told to stop by a file,
# reports progress on stdout, and proves log_step never raised or stalled.
TRAINER = """
import logging, os, sys, time, rlwatch
logging.basicConfig(level=logging.WARNING, format="%(message)s")
log_dir, stop_file = sys.argv[1], sys.argv[2]
m = rlwatch.attach(log_dir=log_dir, run_id="fault", flush_interval_seconds=0.1, alerts={"console": {"enabled": False}},
                   storage={"queue_max_rows": 1000000})
i, worst = 0, 0.0
while not os.path.exists(stop_file):
    t0 = time.perf_counter()
    m.log_step(i, loss=1.0, entropy=2.0, padding=float(i), more=float(i) * 2, other=3.0)
    worst = max(worst, time.perf_counter() - t0)
    i += 1
    if i % 200 == 0:
        print("progress", i, flush=True)
    time.sleep(0.0002)
m.stop()
print("done", i, worst, flush=True)
"""


def _start(log_dir: Path, stop: Path, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", TRAINER, str(log_dir), str(stop)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _wait_progress(proc: subprocess.Popen[str], at_least: int) -> int:
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError("trainer exited early: " + (proc.stderr.read() if proc.stderr else ""))
        if line.startswith("progress") and int(line.split()[1]) >= at_least:
            return int(line.split()[1])


def _finish(proc: subprocess.Popen[str], stop: Path) -> tuple[int, float, str]:
    stop.touch()
    out, err = proc.communicate(timeout=120)
    done = [line for line in out.splitlines() if line.startswith("done")]
    assert proc.returncode == 0 and done, err[-3000:]
    _, n, worst = done[0].split()
    return int(n), float(worst), err


def _steps(db: Path) -> list[int]:
    with StoreReader(str(db)) as r:
        return [int(s) for s in r.metrics("fault")["step"]]


def _make_unwritable(path: Path) -> str:
    """Make a directory unwritable even for root (chattr +i), else by permissions."""
    if os.geteuid() == 0:
        out = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if out.returncode != 0:
            pytest.skip(f"running as root and chattr +i is not available here: {out.stderr.strip()}")
        return "immutable (chattr +i)"
    path.chmod(0o555)
    return "no write permission"


def _make_writable(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        path.chmod(0o755)


def test_unwritable_directory_then_fixed(tmp_path: Path, record: Any) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    how = _make_unwritable(log_dir)
    stop = tmp_path / "stop"
    try:
        proc = _start(log_dir, stop)
        _wait_progress(proc, 1000)
        time.sleep(0.5)
    finally:
        _make_writable(log_dir)  # the operator fixes the directory
    _wait_progress(proc, 3000)
    n, worst, err = _finish(proc, stop)
    steps = _steps(log_dir / "metrics.db")
    record(tried=f"log dir unwritable ({how}) at start, fixed mid-run", steps=n, stored=len(steps),
           error_lines=err.count("cannot write to"), worst_log_step_ms=worst * 1e3)
    assert err.count("cannot write to") == 1, err[-2000:]
    assert "works again" in err
    assert steps == list(range(n))


def test_file_size_limit_hit_then_lifted(tmp_path: Path, record: Any) -> None:
    code = textwrap.dedent("""
        import logging, resource, signal, sys, time, rlwatch
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG write errors instead of being killed
        m = rlwatch.attach(log_dir=sys.argv[1], run_id="fault", flush_interval_seconds=0.1,
                           storage={"queue_max_rows": 1000000}, alerts={"console": {"enabled": False}})
        m.log_step(0, loss=1.0)
        m.flush()
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, hard))  # the disk is "full" at 256 KiB
        worst = 0.0
        for i in range(1, 40001):
            t0 = time.perf_counter()
            m.log_step(i, loss=1.0, entropy=2.0, a=float(i), b=float(i), c=float(i), d=float(i))
            worst = max(worst, time.perf_counter() - t0)
            if i == 30000:
                time.sleep(0.5)
                resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # space freed
        m.stop()
        print("done", worst)
    """)
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    steps = _steps(tmp_path / "metrics.db")
    worst = float(out.stdout.split()[1])
    record(tried="RLIMIT_FSIZE 256 KiB mid-run (real EFBIG), lifted after 30k steps", steps=40001,
           stored=len(steps), error_lines=out.stderr.count("cannot write to"), worst_log_step_ms=worst * 1e3,
           integrity=integrity(tmp_path / "metrics.db"))
    assert out.stderr.count("cannot write to") == 1, out.stderr[-2000:]
    # The real cause is named: SQLite rolls back by itself on a full disk, and a second ROLLBACK
    # used to replace it with "cannot rollback - no transaction is active".
    assert "cannot rollback" not in out.stderr
    assert "disk is full" in out.stderr or "disk I/O error" in out.stderr, out.stderr[-2000:]
    assert "works again" in out.stderr
    assert steps == list(range(40001))
    assert integrity(tmp_path / "metrics.db") == "ok"


@pytest.mark.parametrize("how", ["deleted", "replaced-by-junk"])
def test_db_file_deleted_or_replaced_while_running(tmp_path: Path, record: Any, how: str) -> None:
    stop = tmp_path / "stop"
    proc = _start(tmp_path, stop)
    _wait_progress(proc, 1000)
    db = tmp_path / "metrics.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    if how == "replaced-by-junk":
        db.write_bytes(b"junk" * 1000)
        time.sleep(0.5)
        db.unlink()  # the operator removes the junk
    at = _wait_progress(proc, 3000)
    n, worst, _err = _finish(proc, stop)
    steps = _steps(db)
    with StoreReader(str(db)) as r:
        run = r.run("fault")
    record(tried=f"DB file {how} while writing", steps=n, stored_in_new_file=len(steps),
           run_row_recreated=run is not None and run.framework is not None, worst_log_step_ms=worst * 1e3)
    assert run is not None and run.status == "finished" and run.framework == "manual"
    assert steps and steps[-1] == n - 1 and len(steps) >= n - at
    assert integrity(db) == "ok"


def test_write_lock_held_for_10s(tmp_path: Path, record: Any) -> None:
    stop = tmp_path / "stop"
    proc = _start(tmp_path, stop)
    _wait_progress(proc, 500)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sqlite3, sys, time
        c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
        c.execute("BEGIN IMMEDIATE")
        print("locked", flush=True)
        time.sleep(10)
        c.execute("COMMIT")
    """), str(tmp_path / "metrics.db")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    holder.wait(timeout=60)
    _wait_progress(proc, 0)
    time.sleep(0.5)
    n, worst, _err = _finish(proc, stop)
    steps = _steps(tmp_path / "metrics.db")
    record(tried="another process holds the write lock for 10 s", steps=n, stored=len(steps),
           worst_log_step_ms=worst * 1e3)
    assert steps == list(range(n))


def test_corrupt_file_at_start(tmp_path: Path, record: Any) -> None:
    db = tmp_path / "metrics.db"
    good = tmp_path / "good.db"
    conn = sqlite3.connect(good)
    conn.execute("CREATE TABLE t(x)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    conn.close()
    data = bytearray(good.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # a damaged SQLite file
    db.write_bytes(bytes(data))
    original = db.read_bytes()
    stop = tmp_path / "stop"
    proc = _start(tmp_path, stop)
    _wait_progress(proc, 1000)
    n, worst, err = _finish(proc, stop)
    record(tried="damaged SQLite file at the DB path at start", steps=n, error_lines=err.count("cannot write to"),
           file_untouched=db.read_bytes() == original, worst_log_step_ms=worst * 1e3)
    assert err.count("cannot write to") == 1
    assert db.read_bytes() == original  # we never "repair" (destroy) a user's file
    shutil.copy(db, tmp_path / "kept.db")


# A run whose storage fails from the first to the last step: nothing may vanish without a word.
WHOLE_RUN = """
import logging, os, resource, signal, sys, time, rlwatch
logging.basicConfig(level=logging.WARNING, format="%(message)s")
if sys.argv[2] == "fsize":
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))  # no file can grow at all
m = rlwatch.attach(log_dir=sys.argv[1], run_id="doomed", flush_interval_seconds=0.1,
                   alerts={"console": {"enabled": False}})
for i in range(3000):
    m.log_step(i, loss=1.0, entropy=2.0)
m.log_step(3000, loss=float("nan"))  # one alert too
t0 = time.monotonic()
m.stop()
print("stopped", time.monotonic() - t0, flush=True)
"""


def _whole_run(tmp_path: Path, log_dir: Path, how: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", WHOLE_RUN, str(log_dir), how], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})


@pytest.mark.parametrize("how", ["corrupt", "newer-schema", "read-only-folder"])
def test_a_store_that_fails_all_run_long_goes_to_an_announced_fallback(tmp_path: Path, record: Any, how: str) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    db = log_dir / "metrics.db"
    temp = tmp_path / "tmp"
    temp.mkdir()
    if how == "corrupt":
        db.write_bytes(b"this is not a database" * 500)
    elif how == "newer-schema":
        conn = sqlite3.connect(db)
        conn.execute("PRAGMA user_version = 99")
        conn.execute("CREATE TABLE runs(x)")
        conn.commit()
        conn.close()
    before = db.read_bytes() if db.exists() else None
    unwritable = how == "read-only-folder"
    if unwritable:
        _make_unwritable(log_dir)
    try:
        out = _whole_run(tmp_path, log_dir, how, TMPDIR=str(temp))
    finally:
        if unwritable:
            _make_writable(log_dir)
    assert out.returncode == 0, out.stderr[-3000:]
    stop_seconds = float(out.stdout.split()[1])
    # the fallback is named in the log, and holds the whole run, closed
    sibling = log_dir / "metrics.fallback.db"
    fallbacks = [sibling] if sibling.exists() else list((temp / "rlwatch-fallback").glob("*.db"))
    assert len(fallbacks) == 1, out.stderr[-3000:]
    fallback = fallbacks[0]
    assert str(fallback) in out.stderr and "instead" in out.stderr
    with StoreReader(str(fallback)) as r:
        run = r.run("doomed")
        stored = len(r.metrics("doomed")["step"])
        alerts = r.alerts("doomed")
    record(tried=f"storage fails all run long ({how}): the writer moves to a fallback file at the end",
           rows=3001, stored_in_fallback=stored, alerts=len(alerts), fallback=fallback.name,
           stop_seconds=stop_seconds)
    assert run is not None and run.status == "finished" and stored == 3001
    assert [a.detector for a in alerts] == ["loss_nan"]
    if before is not None:
        assert db.read_bytes() == before  # the user's file is never "repaired" (destroyed)
    assert stop_seconds < 15


def test_when_nothing_can_be_written_the_loss_is_said_exactly(tmp_path: Path, record: Any) -> None:
    """RLIMIT_FSIZE 0: no file anywhere can grow; stop() says how many rows and alerts were lost, and why."""
    out = _whole_run(tmp_path, tmp_path / "logs", "fsize", TMPDIR=str(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    lost = [line for line in out.stderr.splitlines() if "LOST" in line]
    record(tried="no file can be written at all (RLIMIT_FSIZE 0): the loss is reported", message=lost[:1])
    assert len(lost) == 1, out.stderr[-3000:]
    assert "LOST 3001 rows and 1 alerts" in lost[0] and "doomed: 3001 rows" in lost[0]
    # the real error from the disk, not "cannot rollback - no transaction is active"
    assert any(why in lost[0].lower() for why in ("disk is full", "too large", "disk i/o error")), lost[0]
    assert "cannot rollback" not in out.stderr
