"""The writer thread: the only code that writes to the SQLite file.

Callers (the training thread) only append to an in-memory deque; a daemon
thread drains it every ``flush_interval`` seconds (or on `flush`) and writes
one transaction per batch. WAL checkpoints happen on that thread too, so the
training thread never waits on the disk.

Faults (read-only directory, disk full, file deleted, lock held by another
process, not a database) are logged once with a clear message; rows are kept
and retried each interval up to the queue cap, after which the oldest are
dropped and counted on their run. Writing resumes by itself when the fault
clears.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from rlwatch.storage.schema import SchemaTooNewError, column_for, ensure_schema

logger = logging.getLogger("rlwatch")

_ALERT, _DELIVERY, _RUN_UPDATE, _OPEN_RUN = range(4)


@dataclass
class ResumeInfo:
    """What a monitor needs to continue an existing run."""

    existed: bool
    last_step: int | None
    max_alert_id: int


@dataclass
class _OpenRequest:
    row: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: ResumeInfo | None = None


class StoreWriter:
    """Batches rows, alerts and run updates into one SQLite file.

    One instance per file per process, shared by every monitor writing there
    (see `get_writer`). Methods named ``put_*`` are cheap and never block or
    raise; `open_run`, `flush` and `close` wait (bounded) for the thread.
    """

    def __init__(self, path: str, flush_interval: float, queue_max_rows: int) -> None:
        self.path = os.path.abspath(path)
        self.flush_interval = flush_interval
        self.queue_max_rows = queue_max_rows
        self._queue: deque[tuple[Any, ...]] = deque()
        self._retry: list[tuple[Any, ...]] = []
        self._groups: dict[tuple[str, tuple[str, ...], bool], list[tuple[Any, ...]]] = {}
        self._retry_groups: dict[tuple[str, tuple[str, ...], bool], list[tuple[Any, ...]]] = {}
        self._groups_lock = threading.Lock()
        self._nrows = 0
        self._wake = threading.Event()
        self._cond = threading.Condition()
        self._requested = 0
        self._completed = 0
        self._stopping = False
        self._conn: sqlite3.Connection | None = None
        self._inode: tuple[int, int] | None = None
        self._columns: dict[str, str] = {}
        self._run_pks: dict[str, int] = {}
        self._known_sets: set[tuple[int, tuple[str, ...]]] = set()
        self._run_rows: dict[str, dict[str, Any]] = {}
        self._max_variables = 999  # SQLite's historic minimum; read from the connection when it opens
        self._touched: dict[str, int] = {}
        self.dropped: dict[str, int] = {}
        self.too_many_metrics: dict[str, int] = {}  # values not stored because the metric table is full
        self.skipped_providers: dict[str, Callable[[], dict[str, int]]] = {}
        self.state_providers: dict[str, Callable[[], dict[str, dict[str, float]]]] = {}
        self._error_logged: str | None = None
        self.last_error: str | None = None
        self.refcount = 0
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._loop, name="rlwatch-writer", daemon=True)
        self._thread.start()

    # -- caller side: cheap, never raises ------------------------------------

    def put_step(self, run_id: str, step: int, wall_time: float, values: dict[str, float]) -> None:
        """Queue one step's values; counts a drop when the queue is full.

        The row is built here, in its final form, so that the writer thread
        does no per-row Python work: it only hands lists of rows to
        ``executemany`` (C code that releases the GIL between rows). Per-row
        Python on the writer thread is what makes a training thread stall.
        """
        vals = tuple(values.values())
        total = sum(vals)
        if total != total:  # a NaN somewhere (or inf - inf): name the NaN metrics for readers
            nans = ",".join(n for n, v in values.items() if v != v)
            key = (run_id, tuple(values), True)
            row: tuple[Any, ...] = (step, wall_time, *vals, nans or None)
        else:
            key = (run_id, tuple(values), False)
            row = (step, wall_time, *vals)
        with self._groups_lock:
            if self._nrows >= self.queue_max_rows:
                self.dropped[run_id] = self.dropped.get(run_id, 0) + 1
                return
            self._nrows += 1
            rows = self._groups.get(key)
            if rows is None:
                self._groups[key] = [row]
            else:
                rows.append(row)

    def put_alert(self, run_id: str, alert: Any, status: str, reason: str) -> None:
        """Queue an alert record (alerts are never dropped for queue space)."""
        self._queue.append((_ALERT, run_id, alert, status, reason))

    def put_delivery(self, run_id: str, alert_id: int, channel: str, status: str, attempts: int, detail: str) -> None:
        """Queue a delivery outcome."""
        self._queue.append((_DELIVERY, run_id, alert_id, channel, status, attempts, detail, time.time()))

    def put_run_update(self, run_id: str, **fields: Any) -> None:
        """Queue an update of run columns (status, ended_at, ...)."""
        self._queue.append((_RUN_UPDATE, run_id, fields))

    # -- synchronous, bounded --------------------------------------------------

    def open_run(self, row: dict[str, Any], timeout: float = 10.0) -> ResumeInfo | None:
        """Insert or resume a run; returns None if the store did not answer in time."""
        req = _OpenRequest(row)
        self._queue.append((_OPEN_RUN, row["run_id"], req))
        self._wake.set()
        req.done.wait(timeout)
        return req.result

    def flush(self, timeout: float = 5.0) -> bool:
        """Write everything queued so far; True if done within `timeout`."""
        if not self._thread.is_alive():
            return False
        with self._cond:
            self._requested += 1
            target = self._requested
        self._wake.set()
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._completed < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return not self._retry and not self._retry_groups

    def close(self, timeout: float = 5.0) -> None:
        """Flush, stop the thread and close the connection."""
        self.flush(timeout)
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)

    def pending(self) -> int:
        """Items not yet written."""
        return len(self._queue) + len(self._retry) + self._nrows + sum(map(len, self._retry_groups.values()))

    # -- writer thread -----------------------------------------------------------

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            with self._cond:
                target = self._requested
            try:
                self._write_batch()
            except Exception as exc:  # noqa: BLE001 - the writer thread must survive
                from rlwatch.guard import report

                report("storage.writer", exc)
            with self._cond:
                self._completed = max(self._completed, target)
                self._cond.notify_all()
            if self._stopping:
                self._close_conn()
                return

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None and self._inode is not None:
            try:
                st = os.stat(self.path)
                if (st.st_dev, st.st_ino) == self._inode:
                    return self._conn
            except OSError:
                pass
            # The file was deleted or replaced under us: start a fresh one.
            logger.warning("rlwatch: %s was deleted or replaced; writing to a new file there", self.path)
            self._close_conn()
        if self._conn is not None:
            return self._conn
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=1.0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            ensure_schema(conn)
        except BaseException:
            conn.close()
            raise
        st = os.stat(self.path)
        self._inode = (st.st_dev, st.st_ino)
        self._conn = conn
        self._columns = {}
        self._run_pks = {}
        self._known_sets = set()
        self._max_variables = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        return conn

    def _close_conn(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
        self._conn = None
        self._inode = None

    def _write_batch(self) -> None:
        items = self._retry
        self._retry = []
        queue = self._queue
        while queue:
            items.append(queue.popleft())
        with self._groups_lock:
            groups, self._groups = self._groups, {}
            self._nrows = 0
        if self._retry_groups:
            for key, rows in groups.items():
                self._retry_groups.setdefault(key, []).extend(rows)
            groups, self._retry_groups = self._retry_groups, {}
        if not items and not groups:
            return
        try:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                opened = self._apply(conn, items)
                self._insert_groups(conn, groups)
                self._update_runs(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except (sqlite3.Error, OSError, SchemaTooNewError) as exc:
            self._on_fault(exc, items, groups)
            return
        for req, info in opened:
            req.result = info
            req.done.set()
        if self._error_logged is not None:
            logger.warning("rlwatch: writing to %s works again; nothing queued was lost", self.path)
            self._error_logged = None
            self.last_error = None

    def _insert_groups(
        self, conn: sqlite3.Connection, groups: dict[tuple[str, tuple[str, ...], bool], list[tuple[Any, ...]]]
    ) -> None:
        for (run_id, names, has_nan), rows in groups.items():
            run_pk = self._run_pk(conn, run_id)
            cols = self._columns_for(conn, names)
            if cols is None:  # the metric table is full: store the columns that fit, count the rest
                cols, rows = self._fit_rows(conn, names, rows, run_id, has_nan)
            if (run_pk, names) not in self._known_sets:
                self._note_names(conn, run_pk, names)
            # Many rows per statement, not executemany: sqlite3 releases the GIL
            # around every statement, and against a CPU-bound training thread each
            # re-acquire can wait a whole switch interval (5 ms). One release per
            # few hundred rows keeps the writer ahead of any training loop.
            width = len(rows[0])
            per = max(1, min(_MAX_ROWS_PER_STATEMENT, self._max_variables // width))
            for start in range(0, len(rows), per):
                chunk = rows[start : start + per]
                conn.execute(_upsert_sql(run_pk, cols, has_nan, len(chunk)), list(chain.from_iterable(chunk)))
            self._touched[run_id] = run_pk

    def _on_fault(
        self,
        exc: BaseException,
        items: list[tuple[Any, ...]],
        groups: dict[tuple[str, tuple[str, ...], bool], list[tuple[Any, ...]]],
    ) -> None:
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
            self._close_conn()
        elif isinstance(exc, sqlite3.OperationalError) and "locked" not in str(exc) and "busy" not in str(exc):
            # Reopen next time (the file may have been fixed, moved or re-permissioned).
            self._close_conn()
        # Columns/runs created inside the rolled-back transaction do not exist.
        self._columns = {}
        self._run_pks = {}
        self._known_sets = set()
        message = f"{type(exc).__name__}: {exc}"
        self.last_error = message
        if self._error_logged is None:
            logger.error(
                "rlwatch cannot write to %s (%s); training continues, rows are kept in memory "
                "and retried every %.1fs (up to %d, then the oldest are dropped and counted)",
                self.path, message, self.flush_interval, self.queue_max_rows,
            )
            self._error_logged = message
        # Open requests answer now (None) rather than wait: start() must not hang on a bad disk.
        # They stay queued, so the run row is still written once the fault clears.
        for item in items:
            if item[0] == _OPEN_RUN:
                item[2].done.set()
        # Keep at most queue_max_rows step rows for the retry; drop the oldest (counted).
        total = sum(len(rows) for rows in groups.values())
        overflow = total - self.queue_max_rows
        for (run_id, _names, _nan), rows in groups.items():
            if overflow <= 0:
                break
            cut = min(overflow, len(rows))
            del rows[:cut]
            self.dropped[run_id] = self.dropped.get(run_id, 0) + cut
            overflow -= cut
        self._retry_groups = {k: v for k, v in groups.items() if v}
        self._retry = items + self._retry

    def _run_pk(self, conn: sqlite3.Connection, run_id: str) -> int:
        pk = self._run_pks.get(run_id)
        if pk is None:
            # Known from open_run (e.g. the file was deleted under us): recreate the run as it was opened.
            now = time.time()
            row = self._run_rows.get(run_id) or {"run_id": run_id, "status": "running", "started_at": now,
                                                  "updated_at": now}
            _insert_run(conn, row, ignore=True)
            pk = conn.execute("SELECT run_pk FROM runs WHERE run_id=?", (run_id,)).fetchone()[0]
            self._run_pks[run_id] = pk
        return pk

    def _apply(self, conn: sqlite3.Connection, items: list[tuple[Any, ...]]) -> list[tuple[_OpenRequest, ResumeInfo]]:
        opened: list[tuple[_OpenRequest, ResumeInfo]] = []
        for item in items:
            kind = item[0]
            if kind == _ALERT:
                _, run_id, alert, status, reason = item
                run_pk = self._run_pk(conn, run_id)
                conn.execute(
                    "INSERT OR REPLACE INTO alerts(run_pk, alert_id, detector, severity, step, message, "
                    "recommendation, metric_values_json, created_at, status, reason) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        run_pk, alert.alert_id, alert.detector, alert.severity,
                        alert.step, alert.message, alert.recommendation,
                        json.dumps(alert.metric_values, default=str, allow_nan=True),
                        alert.timestamp, status, reason,
                    ),
                )
                self._touched.setdefault(run_id, run_pk)
            elif kind == _DELIVERY:
                _, run_id, alert_id, channel, status, attempts, detail, ts = item
                conn.execute(
                    "INSERT OR REPLACE INTO deliveries(run_pk, alert_id, channel, status, attempts, detail, "
                    "updated_at) VALUES (?,?,?,?,?,?,?)",
                    (self._run_pk(conn, run_id), alert_id, channel, status, attempts, detail, ts),
                )
            elif kind == _RUN_UPDATE:
                _, run_id, fields = item
                self._run_pk(conn, run_id)
                assignments = ", ".join(f"{k}=?" for k in fields)
                conn.execute(f"UPDATE runs SET {assignments} WHERE run_id=?", (*fields.values(), run_id))
            elif kind == _OPEN_RUN:
                _, run_id, req = item
                opened.append((req, self._open_run(conn, req.row)))
        return opened

    def _note_names(self, conn: sqlite3.Connection, run_pk: int, names: tuple[str, ...]) -> None:
        conn.executemany(
            "INSERT OR IGNORE INTO run_metrics(run_pk, name) VALUES (?, ?)", [(run_pk, n) for n in names]
        )
        self._known_sets.add((run_pk, names))

    def _columns_for(self, conn: sqlite3.Connection, names: tuple[str, ...]) -> tuple[str, ...] | None:
        cols = []
        for name in names:
            col = column_for(conn, name, self._columns)
            if col is None:
                return None
            cols.append(col)
        return tuple(cols)

    def _fit_rows(
        self,
        conn: sqlite3.Connection,
        names: tuple[str, ...],
        rows: list[tuple[Any, ...]],
        run_id: str,
        has_nan: bool,
    ) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        """Rows cut down to the metrics that still have a column; the others are counted."""
        keep: list[int] = []
        cols: list[str] = []
        for i, name in enumerate(names):
            col = column_for(conn, name, self._columns)
            if col is not None:
                keep.append(i)
                cols.append(col)
        missing = len(names) - len(keep)
        self.too_many_metrics[run_id] = self.too_many_metrics.get(run_id, 0) + missing * len(rows)
        tail = (-1,) if has_nan else ()
        fitted = [(r[0], r[1], *(r[2 + i] for i in keep), *(r[t] for t in tail)) for r in rows]
        return tuple(cols), fitted

    def _open_run(self, conn: sqlite3.Connection, row: dict[str, Any]) -> ResumeInfo:
        self._run_rows[row["run_id"]] = dict(row)
        existing = conn.execute(
            "SELECT run_pk, last_step FROM runs WHERE run_id=?", (row["run_id"],)
        ).fetchone()
        if existing is None:
            new_pk = _insert_run(conn, row, ignore=False)
            assert new_pk is not None  # a plain INSERT inserts or raises
            self._run_pks[row["run_id"]] = new_pk
            return ResumeInfo(existed=False, last_step=None, max_alert_id=0)
        pk, last_step = existing
        self._run_pks[row["run_id"]] = pk
        update = {k: v for k, v in row.items() if k not in ("run_id", "started_at")}
        update["ended_at"] = None
        conn.execute(
            f"UPDATE runs SET {', '.join(f'{k}=?' for k in update)} WHERE run_pk=?", (*update.values(), pk)
        )
        max_alert = conn.execute("SELECT COALESCE(MAX(alert_id), 0) FROM alerts WHERE run_pk=?", (pk,)).fetchone()[0]
        return ResumeInfo(existed=True, last_step=last_step, max_alert_id=int(max_alert))

    def _update_runs(self, conn: sqlite3.Connection) -> None:
        now = time.time()
        for run_id, run_pk in self._touched.items():
            skipped: dict[str, int] = {}
            provider = self.skipped_providers.get(run_id)
            if provider is not None:
                try:
                    skipped = provider()
                except Exception:  # noqa: BLE001 - counters are best effort
                    skipped = {}
            too_many = self.too_many_metrics.get(run_id, 0)
            if too_many:
                skipped = {**skipped, "<metric table full>": too_many}
            # MAX over the primary-key prefix is an index lookup, not a scan.
            state: str | None = None
            state_provider = self.state_providers.get(run_id)
            if state_provider is not None:
                try:
                    state = json.dumps(state_provider(), allow_nan=False, default=str)
                except Exception:  # noqa: BLE001 - best effort; NaN baselines simply are not shown
                    state = None
            conn.execute(
                "UPDATE runs SET updated_at=?, last_step=(SELECT MAX(step) FROM metrics WHERE run_pk=?), "
                "dropped_rows=?, skipped_json=?, detector_state_json=COALESCE(?, detector_state_json) "
                "WHERE run_pk=?",
                (now, run_pk, self.dropped.get(run_id, 0), json.dumps(skipped), state, run_pk),
            )
        self._touched = {}


def _insert_run(conn: sqlite3.Connection, row: dict[str, Any], ignore: bool) -> int | None:
    """Insert a runs row from a column -> value dict; returns its run_pk (None if ignored)."""
    cur = conn.execute(
        f"INSERT {'OR IGNORE ' if ignore else ''}INTO runs({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
        tuple(row.values()),
    )
    return cur.lastrowid if cur.rowcount == 1 else None


_MAX_ROWS_PER_STATEMENT = 256
_SQL_CACHE: dict[tuple[int, tuple[str, ...], bool, int], str] = {}


def _upsert_sql(run_pk: int, cols: tuple[str, ...], has_nan: bool, nrows: int) -> str:
    """Upsert of `nrows` rows of one (run, column set); run_pk is our own integer, safe to inline."""
    key = (run_pk, cols, has_nan, nrows)
    sql = _SQL_CACHE.get(key)
    if sql is None:
        all_cols = ("step", "wall_time", *cols, *(("nan_metrics",) if has_nan else ()))
        updates = ", ".join(f"{c}=excluded.{c}" for c in all_cols[1:])
        one = f"({int(run_pk)}, {', '.join('?' for _ in all_cols)})"
        # A later row with the same step in the same statement updates the earlier one.
        sql = (
            f"INSERT INTO metrics(run_pk, {', '.join(all_cols)}) VALUES {', '.join([one] * nrows)} "
            f"ON CONFLICT(run_pk, step) DO UPDATE SET {updates}"
        )
        if len(_SQL_CACHE) > 4096:
            _SQL_CACHE.clear()
        _SQL_CACHE[key] = sql
    return sql


_writers: dict[str, StoreWriter] = {}
_writers_lock = threading.Lock()


def get_writer(path: str, flush_interval: float, queue_max_rows: int) -> StoreWriter:
    """The shared writer of `path` in this process (created on first use)."""
    key = os.path.abspath(path)
    with _writers_lock:
        writer = _writers.get(key)
        if writer is None or not writer._thread.is_alive() or writer._pid != os.getpid():
            writer = StoreWriter(key, flush_interval, queue_max_rows)
            _writers[key] = writer
        writer.refcount += 1
        return writer


def release_writer(writer: StoreWriter, timeout: float) -> None:
    """Drop one reference; the last one flushes and closes the writer."""
    with _writers_lock:
        writer.refcount -= 1
        last = writer.refcount <= 0
        if last and _writers.get(writer.path) is writer:
            del _writers[writer.path]
    if last:
        writer.close(timeout)
    else:
        writer.flush(timeout)
