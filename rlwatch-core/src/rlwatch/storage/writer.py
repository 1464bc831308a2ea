"""The writer thread: the only code that writes to the SQLite file.

Callers (the training thread) only append to in-memory buffers; a daemon
thread drains them at least every ``flush_interval`` seconds (or on `flush`).
Everything slow happens on that thread: SQL, commits, WAL checkpoints.

Promises, and how they are kept:

* Bounded loss on SIGKILL, for any training loop. Transactions are bounded
  (`rows.TXN_VALUES` values or `rows.TXN_SECONDS`); while the writer writes,
  the caller releases the GIL every few steps, so the writer's re-acquire after
  each statement never waits a 5 ms switch interval.
* No stall on the caller's thread: the writer holds the GIL in slices well
  under a millisecond (`rows.STATEMENT_VALUES` values bound per statement,
  written rows freed `rows.RELEASE_ROWS` at a time).
* Back-pressure instead of silent loss. When the writer is behind, the caller
  yields now and then; past three quarters of its values (wide rows) it waits
  for the writer's next take. Only a full buffer drops rows, each drop counted
  on its run and announced from the writer thread. Memory is capped in rows
  and in values.
* Faults (read-only folder, disk full, file deleted, lock held, not a
  database, newer schema) are logged once with the real error; rows are
  kept and retried. Before anything would be dropped, and at close, the
  writer moves to a fallback file (announced; `rlwatch.storage.fallback`),
  and whatever still cannot be written is reported with exact counts.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections import deque
from typing import Any

from rlwatch.errors import SchemaTooNewError
from rlwatch.storage.connection import is_transient, open_fallback, open_writable
from rlwatch.storage.rows import Key, Work, insert_work, release, trim_oldest
from rlwatch.storage.run_records import (
    ALERT,
    DELIVERY,
    DISCARD,
    OPEN_RUN,
    RELEASE,
    RUN_UPDATE,
    OpenRequest,
    ResumeInfo,
    RunBook,
    RunState,
)
from rlwatch.storage.schema import HEARTBEAT_SECONDS

logger = logging.getLogger("rlwatch")

_YIELD_EVERY = 8
"""When the writer is behind, the caller yields the GIL once every this many steps."""
_WIDE = 64
"""Steps with at least this many values check for back-pressure on every call."""
_WRITING_YIELD_EVERY = 16
"""While the writer writes, the caller releases the GIL once every this many steps (SIGKILL loss 0.75 -> 0.32 s)."""


class StoreWriter:
    """Batches rows, alerts and run updates into one SQLite file.

    One instance per file per process, shared by every monitor writing there
    (see `get_writer`). Methods named ``put_*`` are cheap and never block or
    raise; `open_run`, `flush` and `close` wait (bounded) for the thread. The
    writer holds no reference to any monitor: monitors push what they want
    stored, and `release_run` forgets a run once it is closed.
    """

    def __init__(self, path: str, flush_interval: float, queue_max_rows: int, max_values: int = 1_000_000) -> None:
        self.path = os.path.abspath(path)
        self.primary_path = self.path
        self.flush_interval = flush_interval
        self.queue_max_rows = queue_max_rows
        self.max_values = max(max_values, queue_max_rows)
        self._high_water = queue_max_rows // 2
        self._values_high_water = self.max_values // 2
        self._values_full = 3 * self.max_values // 4
        self._capacity = f"{queue_max_rows} rows or {self.max_values} values"
        # The writer counts as behind when it has not taken the buffer for this long.
        self._lag_limit = 1.5 * flush_interval
        self._taken_at = time.monotonic()
        self._queue: deque[tuple[Any, ...]] = deque()
        self._groups: dict[Key, list[tuple[Any, ...]]] = {}
        self._ordered: list[tuple[Key, tuple[Any, ...]]] = []
        self._lock = threading.Lock()
        self._nrows = 0
        self._nvalues = 0
        self._puts = 0
        # While the writer writes, each statement gives the GIL away and must get it back from a
        # CPU-bound caller that releases it only every 5 ms switch interval: the caller lets it through.
        self._writing = False
        self._retry_items: list[tuple[Any, ...]] = []
        self._retry_rows: Work = []
        self._wake = threading.Event()
        self._taken = threading.Event()  # set by each take: what a caller waits for under back-pressure
        self._cond = threading.Condition()
        self._requested = 0
        self._completed = 0
        self._stopping = False
        self._conn: sqlite3.Connection | None = None
        self._inode: tuple[int, int] | None = None
        self._book = RunBook()
        self._max_variables = 999
        self._error_logged: str | None = None
        self.last_error: str | None = None
        self._rescuing = False
        self.refcount = 0
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._loop, name="rlwatch-writer", daemon=True)
        self._thread.start()

    # -- caller side: cheap, never raises -------------------------------------------------

    def put_step(
        self, run_id: str, step: int, wall_time: float | None, values: dict[str, float], repeated: bool = False
    ) -> None:
        """Queue one step's values (`repeated`: a step at or before the run's last one).

        Repeated steps are written after everything queued before them, in
        arrival order, so a later call for a step wins.
        """
        vals = tuple(values.values())
        total = sum(vals)
        key = (run_id, tuple(values), total != total)  # NaN anywhere (or inf - inf): the slow, exact path
        row = (step, wall_time, *vals)
        with self._lock:
            if self._nrows >= self.queue_max_rows or self._nvalues >= self.max_values:
                run = self._book.runs.get(run_id)
                if run is not None:
                    run.dropped += 1
                return
            self._nrows += 1
            self._nvalues += len(vals)
            if repeated:
                self._ordered.append((key, row))
            else:
                rows = self._groups.get(key)
                if rows is None:
                    self._groups[key] = [row]
                else:
                    rows.append(row)
            self._puts += 1
            puts = self._puts
        if (puts % _YIELD_EVERY == 0 or len(vals) >= _WIDE) and (
            self._nrows > self._high_water
            or self._nvalues > self._values_high_water
            or time.monotonic() - self._taken_at > self._lag_limit
        ):
            # The writer is behind (a loop that never releases the GIL makes every one of its
            # statements wait for it): yield the GIL now and then. Back-pressure, not loss. A
            # buffer three quarters full of values (a tight loop of wide rows, which the writer
            # cannot match) makes the caller wait for the writer's next take (at most one flush
            # interval) instead of dropping rows.
            self._wake.set()
            if self._nvalues > self._values_full:
                self._taken.clear()
                self._taken.wait(self.flush_interval)
            else:
                time.sleep(0)
        elif self._writing and puts % _WRITING_YIELD_EVERY == 0:
            time.sleep(0)  # not behind, but writing: let each statement's GIL re-acquire through

    def put_alert(self, run_id: str, alert: Any, status: str, reason: str) -> None:
        """Queue an alert record (alerts are never dropped for buffer space)."""
        self._queue.append((ALERT, run_id, alert, status, reason))

    def put_delivery(self, run_id: str, alert_id: int, channel: str, status: str, attempts: int, detail: str) -> None:
        """Queue a delivery outcome."""
        self._queue.append((DELIVERY, run_id, alert_id, channel, status, attempts, detail, time.time()))

    def put_run_update(self, run_id: str, **fields: Any) -> None:
        """Queue an update of run columns (status, ended_at, skipped_json, detector_state_json...)."""
        self._queue.append((RUN_UPDATE, run_id, fields))

    def discard_run(self, run_id: str) -> None:
        """Delete the run and everything written for it, in one transaction, once what is queued is written."""
        self._queue.append((DISCARD, run_id))
        self._wake.set()

    def release_run(self, run_id: str) -> None:
        """Forget a run once everything queued for it is written (the monitor stopped)."""
        self._queue.append((RELEASE, run_id))
        self._wake.set()

    # -- synchronous, bounded ----------------------------------------------------------------

    def open_run(self, row: dict[str, Any], timeout: float = 10.0) -> ResumeInfo | None:
        """Insert or resume a run; None if the store did not answer in time (it is retried)."""
        req = OpenRequest(dict(row))
        with self._lock:
            self._book.runs.setdefault(row["run_id"], RunState(dict(row)))
        self._queue.append((OPEN_RUN, row["run_id"], req))
        self._wake.set()
        req.done.wait(timeout)
        return req.result

    def flush(self, timeout: float = 5.0) -> bool:
        """Write everything queued so far; True if it is all on disk within `timeout`."""
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
        return not self._retry_items and not self._retry_rows

    def close(self, timeout: float = 5.0) -> None:
        """Flush, move to a fallback file if the store still fails, stop the thread."""
        self.flush(timeout)
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)

    def pending(self) -> int:
        """Rows and records not yet written."""
        return (len(self._queue) + len(self._retry_items) + self._nrows
                + sum(len(rows) for _, rows in self._retry_rows))

    def crowded(self) -> bool:
        """The buffer is past half full: a producer that may wait (a replay) should `flush` first."""
        return self._nrows > self._high_water or self._nvalues > self.max_values // 2

    def dropped(self, run_id: str) -> int:
        """Rows of `run_id` dropped so far because the buffer was full."""
        run = self._book.runs.get(run_id)
        return run.dropped if run is not None else 0

    # -- writer thread ------------------------------------------------------------------------

    def _loop(self) -> None:
        next_take = time.monotonic()
        while True:
            # Takes are scheduled from the previous take, not from the end of its writing: a long
            # write is followed at once by the next take, so no row waits more than one interval
            # plus one write.
            delay = next_take - time.monotonic()
            if delay > 0:
                self._wake.wait(delay)
            self._wake.clear()
            next_take = time.monotonic() + self.flush_interval
            with self._cond:
                target = self._requested
            self._writing = True
            try:
                self._write_pending()
                if self._stopping and (self._retry_items or self._retry_rows):
                    self._rescue()
            except Exception as exc:  # noqa: BLE001 - the writer thread must survive
                from rlwatch.guard import report

                report("storage.writer", exc)
            self._writing = False
            with self._cond:
                self._completed = max(self._completed, target)
                self._cond.notify_all()
            if self._stopping:
                self._close_conn()
                return

    def _take(self) -> tuple[list[tuple[Any, ...]], Work]:
        items = self._retry_items
        self._retry_items = []
        queue = self._queue
        while queue:
            items.append(queue.popleft())
        with self._lock:
            groups, self._groups = self._groups, {}
            ordered, self._ordered = self._ordered, []
            self._nrows = 0
            self._nvalues = 0
            self._taken_at = time.monotonic()
        self._taken.set()
        work = self._retry_rows
        self._retry_rows = []
        work.extend(groups.items())
        work.extend((key, [row]) for key, row in ordered)
        return items, work

    def _write_pending(self) -> None:
        items, work = self._take()
        self._book.announce_drops(self.path, self._capacity)
        now = time.time()
        if not items and not work:
            if any(r.pk is not None and now - r.beat > HEARTBEAT_SECONDS for r in self._book.runs.values()):
                items = [(RUN_UPDATE, None, {})]  # a heartbeat-only transaction
            else:
                return
        first = True
        while first or work:
            try:
                conn = self._connect()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    opened = self._book.apply(conn, items) if first else []
                    touched, consumed = insert_work(conn, self._book, work, self._max_variables)
                    self._book.note_written(conn, touched)
                    conn.execute("COMMIT")
                except BaseException:
                    # SQLite may already have rolled back (disk full): a second ROLLBACK would
                    # replace the real error with "cannot rollback - no transaction is active".
                    if conn.in_transaction:
                        try:
                            conn.execute("ROLLBACK")
                        except sqlite3.Error:
                            pass
                    raise
            except (sqlite3.Error, OSError, SchemaTooNewError) as exc:
                self._on_fault(exc, items if first else [], work)
                return
            for req, info in opened:
                req.result = info
                req.done.set()
            release(work, consumed)
            items = []
            first = False
        if self._error_logged is not None:
            logger.warning("rlwatch: writing to %s works again; nothing buffered was lost", self.path)
            self._error_logged = None
            self.last_error = None

    # -- connection ------------------------------------------------------------------------

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
        conn = open_writable(self.path)
        st = os.stat(self.path)
        self._inode = (st.st_dev, st.st_ino)
        self._conn = conn
        self._book.forget_keys()
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

    # -- faults --------------------------------------------------------------------------------

    def _on_fault(
        self, exc: BaseException, items: list[tuple[Any, ...]], work: Work
    ) -> None:
        if not is_transient(exc):
            # Reopen next time (the file may have been fixed, moved or re-permissioned).
            self._close_conn()
        message = f"{type(exc).__name__}: {exc}"
        self.last_error = message
        if self._error_logged is None:
            logger.error(
                "rlwatch cannot write to %s (%s); training continues, rows are kept in memory and retried "
                "every %.1fs (up to %d rows; before any would be dropped, they go to a fallback file)",
                self.path, message, self.flush_interval, self.queue_max_rows,
            )
            self._error_logged = message
        # Open requests answer now (None) rather than wait: start() must not hang on a bad disk.
        # They stay queued, so the run row is still written once the fault clears.
        for item in items:
            if item[0] == OPEN_RUN:
                item[2].done.set()
        self._retry_items = items + self._retry_items
        self._retry_rows = work + self._retry_rows
        overflow = sum(len(rows) for _, rows in self._retry_rows) - self.queue_max_rows
        if overflow <= 0:
            return
        if is_transient(exc):
            # Another process holds the lock: it will let go. Keep the newest rows, count the oldest.
            self._trim(overflow)
        else:
            self._rescue()

    def _trim(self, overflow: int) -> None:
        self._retry_rows = trim_oldest(self._retry_rows, overflow, self._book)
        self._book.announce_drops(self.path, self._capacity)

    def _rescue(self) -> None:
        """Move to a fallback file rather than lose buffered data; say exactly what could not be saved."""
        if self._rescuing:
            return
        self._rescuing = True
        try:
            self._rescue_once()
        finally:
            self._rescuing = False

    def _rescue_once(self) -> None:
        reason = self.last_error or "unknown error"
        failed_path = self.path
        target = None if self.path != self.primary_path else open_fallback(self.primary_path)
        if target is not None:
            path, conn = target
            self._close_conn()
            self.path = path
            self._conn = conn
            st = os.stat(path)
            self._inode = (st.st_dev, st.st_ino)
            self._max_variables = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            self._book.forget_keys()
            logger.error(
                "rlwatch: %s cannot be written (%s); writing run(s) %s to %s instead. Read it with "
                "`rlwatch runs --db %s`.", failed_path, reason, ", ".join(sorted(self._book.runs)) or "-", path, path,
            )
            self._error_logged = None
            self._write_pending()
            if not self._retry_items and not self._retry_rows:
                return
        rows = sum(len(r) for _, r in self._retry_rows)
        alerts = sum(1 for item in self._retry_items if item[0] == ALERT)
        by_run: dict[str, int] = {}
        for (run_id, _, _), r in self._retry_rows:
            by_run[run_id] = by_run.get(run_id, 0) + len(r)
        logger.error(
            "rlwatch: LOST %d rows and %d alerts (runs: %s) that could not be written to %s or a fallback "
            "location: %s", rows, alerts, ", ".join(f"{k}: {v} rows" for k, v in sorted(by_run.items())) or "-",
            failed_path, reason,
        )
        for run_id, n in by_run.items():
            run = self._book.runs.get(run_id)
            if run is not None:
                run.lost_rows += n
                run.dropped += n
        self._retry_rows = []
        self._retry_items = [item for item in self._retry_items if item[0] == OPEN_RUN]
