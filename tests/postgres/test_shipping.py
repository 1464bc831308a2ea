"""The shipper: everything a monitor writes to its spool reaches PostgreSQL, once, and stays equal.

Monitors here are real (``rlwatch.attach`` with ``storage.url``); the
shipper is the one the core starts through the ``rlwatch_replicator`` hook.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

import psycopg
import pytest
import rlwatch
from rlwatch_postgres import PostgresStore, Shipper

from ._helpers import assert_same_run, count_rows, log_run


def test_a_run_arrives_whole_and_equal(log_dir: Path, pg_url: str) -> None:
    # 40 metrics: two slot rows per step; NaN and inf values; a loss_nan alert.
    log_run("whole", log_dir, pg_url, range(3000), metrics=40)
    n = assert_same_run(log_dir / "metrics.db", pg_url, "whole")
    assert n == 3000
    assert count_rows(pg_url, "SELECT count(DISTINCT part) FROM metric_rows") == 2
    with PostgresStore(pg_url) as store:
        (alert,) = [a for a in store.alerts("whole") if a.detector == "loss_nan"][:1]
        assert alert.step == 50


def test_resuming_a_run_in_its_spool_keeps_its_identity(log_dir: Path, pg_url: str) -> None:
    first = log_run("resumed", log_dir, pg_url, range(0, 100))
    second = log_run("resumed", log_dir, pg_url, range(100, 250))
    assert first == second
    assert count_rows(pg_url, "SELECT count(*) FROM runs") == 1
    assert assert_same_run(log_dir / "metrics.db", pg_url, "resumed") == 250


def test_shipping_again_writes_nothing(log_dir: Path, pg_url: str) -> None:
    log_run("again", log_dir, pg_url, range(2000))
    spool = str(log_dir / "metrics.db")
    versions = "SELECT count(*), sum(xmin::text::bigint) FROM metric_rows"
    with psycopg.connect(pg_url) as conn:
        before = conn.execute(versions).fetchone()
        # Forget the progress: a new shipper ships the whole spool again.
        conn.execute("DELETE FROM ship_progress")
    shipper = Shipper(pg_url, spool, exclusive=False)
    result = shipper.ship_until_idle(time.monotonic() + 60)
    shipper.close()
    assert result.caught_up and result.error is None
    assert result.rows == 2000  # read and sent again...
    with psycopg.connect(pg_url) as conn:
        after = conn.execute(versions).fetchone()
    assert after == before  # ...but no row was rewritten: same rows, same row versions
    assert assert_same_run(log_dir / "metrics.db", pg_url, "again") == 2000


def test_two_shippers_of_one_spool_never_duplicate(log_dir: Path, pg_url: str) -> None:
    # A live job's shipper plus two `rlwatch sync`-style shippers racing over the same spool.
    monitor = rlwatch.attach(run_id="raced", storage={"log_dir": str(log_dir), "url": pg_url})
    spool = str(log_dir / "metrics.db")
    stop = threading.Event()
    errors: list[str] = []

    def race() -> None:
        shipper = Shipper(pg_url, spool, exclusive=False, poll_interval=0.05)
        while not stop.is_set():
            outcome = shipper.ship_until_idle(time.monotonic() + 5)
            if outcome.error:
                errors.append(outcome.error)
        shipper.close()

    racers = [threading.Thread(target=race) for _ in range(2)]
    for thread in racers:
        thread.start()
    for step in range(6000):
        monitor.log_step(step, entropy=1.0, reward_mean=float(step))
        if step % 1000 == 999:
            monitor.flush()
    monitor.stop()
    stop.set()
    for thread in racers:
        thread.join(60)
    assert not errors
    assert assert_same_run(log_dir / "metrics.db", pg_url, "raced") == 6000
    assert count_rows(pg_url, "SELECT count(*) FROM metric_rows") == 6000


def test_progress_is_recorded_per_spool_and_run(log_dir: Path, pg_url: str) -> None:
    uid = log_run("progress", log_dir, pg_url, range(500))
    spool = log_dir / "metrics.db"
    with sqlite3.connect(spool) as conn:
        last_seq, last_at = conn.execute("SELECT seq, at FROM changes ORDER BY seq DESC LIMIT 1").fetchone()
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT spool, run_uid, last_seq, last_seq_at FROM ship_progress").fetchall()
    assert len(rows) == 1
    where, run_uid, seq, at = rows[0]
    assert where.endswith(":" + str(spool.resolve())) and run_uid == uid
    assert (seq, at) == (last_seq, last_at)


def test_a_copied_spool_ships_nothing_twice(log_dir: Path, pg_url: str, tmp_path: Path) -> None:
    log_run("copied", log_dir, pg_url, range(800))
    copy = tmp_path / "copy" / "metrics.db"
    copy.parent.mkdir()
    for path in log_dir.glob("metrics.db*"):  # with its WAL: the copy must be the same database
        shutil.copy(path, copy.parent / path.name)
    shipper = Shipper(pg_url, str(copy), exclusive=False)
    result = shipper.ship_until_idle(time.monotonic() + 60)
    shipper.close()
    assert result.caught_up
    # Same run_uid: the copy is the same run, not a second one.
    assert count_rows(pg_url, "SELECT count(*) FROM runs") == 1
    assert count_rows(pg_url, "SELECT count(*) FROM metric_rows") == 800


def test_a_spool_file_recreated_in_place_is_shipped_as_a_new_run(log_dir: Path, pg_url: str) -> None:
    first = log_run("recreated", log_dir, pg_url, range(300))
    for suffix in ("", "-wal", "-shm"):
        (log_dir / f"metrics.db{suffix}").unlink(missing_ok=True)
    second = log_run("recreated", log_dir, pg_url, range(100))
    assert first != second
    with PostgresStore(pg_url) as store:
        runs = store.matching_runs("recreated")
    assert sorted(r.n_steps for r in runs) == [100, 300]
    assert runs[0].run_uid == second  # the plain id names the newest


def test_status_tells_doctor_what_it_needs(log_dir: Path, pg_url: str) -> None:
    monitor = rlwatch.attach(run_id="status", storage={"log_dir": str(log_dir), "url": pg_url})
    for step in range(300):
        monitor.log_step(step, entropy=1.0)
    monitor.flush()
    from rlwatch import replication

    deadline = time.monotonic() + 20
    status: dict[str, object] = {}
    while time.monotonic() < deadline:
        (status,) = replication.statuses().values()
        if status.get("rows_shipped") == 300:
            break
        time.sleep(0.1)
    monitor.stop()
    assert status["connected"] is True and status["role"] == "active"
    assert status["rows_shipped"] == 300 and status["last_error"] is None
    assert status["lag_seconds"] == 0.0 and isinstance(status["lag_p99_seconds"], float)
    assert "@" in str(status["url"]) and ":" not in str(status["url"]).split("//")[1].split("@")[0]


@pytest.mark.parametrize("metrics", [1, 33, 70])
def test_any_number_of_metric_names(log_dir: Path, pg_url: str, metrics: int) -> None:
    log_run("wide", log_dir, pg_url, range(200), metrics=metrics)
    assert assert_same_run(log_dir / "metrics.db", pg_url, "wide") == 200
