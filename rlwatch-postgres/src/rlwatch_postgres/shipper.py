"""The shipper: replicates one SQLite spool to PostgreSQL, in batches, off the training thread.

The training process never waits for PostgreSQL. Its writer thread commits to
the local spool as always; the shipper, a daemon thread, reads what is new
through the spool's ``changes`` journal and upserts it into PostgreSQL, one
transaction per batch (`rlwatch_postgres.batches` says what a batch is).

Outages: when PostgreSQL is unreachable, restarting or refusing, the pass
fails, the connection is dropped, and the shipper sleeps with exponential
backoff (0.5 s doubling to `max_backoff`, with jitter: no busy loop). The
spool keeps everything meanwhile; memory stays bounded because nothing is
buffered in the shipper. One warning is logged when an outage starts and one
when it ends. The progress recorded in PostgreSQL says where to resume, and a
recorded position is only trusted when the spool still has that journal row
with the same commit time (a spool file deleted and recreated, or copied
from elsewhere, is shipped whole again, idempotently).

Several processes logging to one spool each start a shipper; a session-level
advisory lock per spool lets one of them ship while the others stand by.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import sqlite3
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import psycopg
from rlwatch.errors import SchemaTooNewError, StoreError

from rlwatch_postgres.batches import Batcher
from rlwatch_postgres.connection import connect
from rlwatch_postgres.redact import describe_error, display_url, remember_secrets, scrub
from rlwatch_postgres.schema import LOCK_CLASS, ensure_schema
from rlwatch_postgres.spool import Spool, spool_key

logger = logging.getLogger("rlwatch")


class _Retry(Exception):
    """Nothing is wrong with PostgreSQL; try again after a pause (e.g. the spool is not there yet)."""


@dataclass
class ShipResult:
    """What one `Shipper.ship_until_idle` call did."""

    passes: int = 0
    runs: int = 0
    rows: int = 0
    alerts: int = 0
    caught_up: bool = False
    error: str | None = None
    clashes: list[str] = field(default_factory=list)


class Shipper:
    """Replicates the spool at `spool_path` to the PostgreSQL database at `url`.

    Use it as a background replicator (`start`, `status`, `stop`), or
    synchronously (`ship_until_idle`, what ``rlwatch sync`` does).

    Args:
        url: ``postgresql://...``; credentials as libpq takes them (URL,
            ``PGPASSWORD``, ``.pgpass``). Never logged or shown unredacted.
        spool_path: The local SQLite spool (schema version 4).
        poll_interval: Seconds between looks at the journal when caught up.
        batch_rows: Metric rows (estimated) per PostgreSQL transaction.
        chunk_rows: Rows read from the spool and sent per statement; with
            `batch_rows` this bounds the shipper's memory.
        max_backoff: Longest pause between attempts while PostgreSQL is down.
        exclusive: Take the per-spool advisory lock (background shippers do;
            ``rlwatch sync`` ships even when a live shipper holds it).
    """

    def __init__(
        self,
        url: str,
        spool_path: str,
        *,
        poll_interval: float = 0.5,
        batch_rows: int = 50_000,
        chunk_rows: int = 2_000,
        max_backoff: float = 10.0,
        exclusive: bool = True,
    ) -> None:
        remember_secrets(url)
        self.url = url
        self.display_url = display_url(url)
        self.spool_path = os.path.abspath(spool_path)
        self.spool_key = spool_key(self.spool_path)
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.exclusive = exclusive
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._conn: psycopg.Connection[Any] | None = None
        self._spool: Spool | None = None
        self._has_lock = False
        # Progress, valid for the open (connection, spool) pair; reloaded when either is reopened.
        self._batcher = Batcher(self.spool_key, self.name, self.display_url, batch_rows, chunk_rows)
        # Connection state, read by other threads (doctor) under the lock.
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {"connected": False, "role": "starting", "last_error": None, "outage_since": None}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._deadline: float | None = None

    # -- background replicator -----------------------------------------------------------

    def start(self) -> Shipper:
        """Start the daemon thread (idempotent); returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="rlwatch-postgres-shipper", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float) -> None:
        """Ship what the spool holds now (bounded by `timeout` seconds), then stop. Never raises."""
        try:
            self._deadline = time.monotonic() + max(0.0, timeout)
            self._stop.set()
            self._wake.set()
            if self._thread is not None:
                self._thread.join(max(0.0, timeout) + 1.0)
            else:
                self._close()
        except Exception as exc:  # noqa: BLE001 - stop() is called at exit; it must not raise
            self._report("stop", exc)

    def status(self) -> dict[str, Any]:
        """State for ``rlwatch doctor``; secrets redacted. Never raises.

        Keys: ``url`` (redacted), ``spool``, ``connected``, ``role`` (active /
        standby / outage / stopped...), ``lag_seconds`` (age of the oldest
        journal row not shipped, 0 when caught up), ``lag_p99_seconds`` (over
        recent batches), ``last_seq_shipped``, ``last_shipped_at``,
        ``rows_shipped``, ``runs_shipped``, ``alerts_shipped``,
        ``outage_since``, ``last_error``, ``clashes``.
        """
        try:
            batcher = self._batcher
            with self._lock:
                state = dict(self._state)
            with batcher.lock:
                lags = sorted(batcher.lags)
                pending = batcher.pending_since
                state.update(
                    last_shipped_at=batcher.last_shipped_at, rows_shipped=batcher.rows_shipped,
                    runs_shipped=batcher.runs_shipped, alerts_shipped=batcher.alerts_shipped,
                    clashes=list(batcher.clashes),
                )  # fmt: skip
            state["lag_seconds"] = round(max(0.0, time.time() - pending), 3) if pending else 0.0
            state["lag_p99_seconds"] = round(lags[min(len(lags) - 1, int(0.99 * len(lags)))], 3) if lags else None
            state["last_seq_shipped"] = batcher.scan_from
            state["url"] = self.display_url
            state["spool"] = self.spool_path
            return {k: scrub(v) if isinstance(v, str) else v for k, v in state.items()}
        except Exception as exc:  # noqa: BLE001 - doctor must still print the rest
            return {"url": self.display_url, "error": describe_error(exc)}

    def lag_samples(self) -> list[float]:
        """Replication lag (seconds from spool commit to PostgreSQL commit) of recent journal rows."""
        with self._batcher.lock:
            return list(self._batcher.lags)

    def _run(self) -> None:
        failures = 0
        while True:
            if self._stop.is_set():
                self._final_catch_up()
                return
            try:
                shipped = self._pass()
                failures = 0
                pause = 0.0 if shipped else self.poll_interval
                if self.exclusive and not self._has_lock:
                    pause = self.poll_interval * 4
            except SchemaTooNewError as exc:
                self._fault("schema", exc, level=logging.ERROR)
                pause = 60.0
            except _Retry as exc:
                self._note(role="waiting", last_error=str(exc))
                pause = self.poll_interval * 4
            except (psycopg.Error, StoreError, sqlite3.Error, OSError, ValueError) as exc:
                failures += 1
                self._fault("outage", exc)
                pause = min(self.max_backoff, 0.5 * 2 ** min(failures - 1, 10)) * random.uniform(0.8, 1.2)
            except Exception as exc:  # noqa: BLE001 - the shipper thread must survive its own bugs
                failures += 1
                self._close()
                self._report("shipper", exc)
                pause = min(self.max_backoff, 0.5 * 2 ** min(failures - 1, 10))
            self._wake.wait(pause)
            self._wake.clear()

    def _final_catch_up(self) -> None:
        try:
            remaining = (self._deadline or time.monotonic()) - time.monotonic()
            if remaining > 0.2:
                self.ship_until_idle(self._deadline)
        except Exception as exc:  # noqa: BLE001 - the last pass is best effort; the spool keeps the rest
            self._report("final catch-up", exc)
        finally:
            self._close()
            self._note(role="stopped", connected=False)

    # -- synchronous use -----------------------------------------------------------------

    def ship_until_idle(self, deadline: float | None = None) -> ShipResult:
        """Ship passes until nothing is left or `deadline` (``time.monotonic()``) passes.

        Errors end the call and are returned in ``error`` (redacted), not raised.
        """
        result = ShipResult()
        before = self._counters()
        try:
            while deadline is None or time.monotonic() < deadline:
                result.passes += 1
                if not self._pass(deadline):
                    result.caught_up = True
                    break
        except (psycopg.Error, StoreError, sqlite3.Error, OSError, ValueError, _Retry) as exc:
            result.error = describe_error(exc)
            self._fault("outage", exc, log=False)
        after = self._counters()
        result.rows = after[0] - before[0]
        result.runs = after[1] - before[1]
        result.alerts = after[2] - before[2]
        with self._batcher.lock:
            result.clashes = list(self._batcher.clashes)
        return result

    def close(self) -> None:
        """Close the connections of a synchronously used shipper."""
        self._close()

    # -- one pass ------------------------------------------------------------------------

    def _pass(self, deadline: float | None = None) -> int:
        """Ship one bounded batch; returns how much was done (0: nothing left to do)."""
        spool = self._open_spool()
        first = spool.changes_after(self._batcher.scan_from, 1)
        with self._batcher.lock:
            self._batcher.pending_since = first[0].at if first else None
        conn = self._connect(deadline)
        if self.exclusive and not self._take_lock(conn):
            self._note(role="standby")
            return 0
        return self._batcher.run_pass(conn, spool)

    # -- connections -------------------------------------------------------------------

    def _open_spool(self) -> Spool:
        if self._spool is not None and self._spool.replaced():
            self._spool.close()
            self._spool = None
        if self._spool is None:
            if not os.path.exists(self.spool_path):
                raise _Retry(f"no spool at {self.spool_path} yet")
            self._spool = Spool(self.spool_path)
            self._reload_progress()
        return self._spool

    def _connect(self, deadline: float | None) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._close_conn()
        timeout = 5.0 if deadline is None else max(1.0, min(5.0, deadline - time.monotonic()))
        # Autocommit, so that every transaction is an explicit `conn.transaction()` block.
        conn = connect(self.url, "rlwatch-shipper", autocommit=True, connect_timeout=round(timeout))
        try:
            conn.execute("SET statement_timeout = '120s'")
            ensure_schema(conn, applied_by=f"rlwatch-postgres shipper {self.name}")
            if self._spool is not None:
                self._batcher.load(conn, self._spool)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._has_lock = False
        recovered = self._state["outage_since"]
        if recovered is not None:
            logger.warning(
                "rlwatch: PostgreSQL at %s is reachable again after %.0f s; shipping the backlog from %s",
                self.display_url, time.time() - recovered, self.spool_path,
            )
        self._note(connected=True, role="active", outage_since=None, last_error=None)
        return conn

    def _take_lock(self, conn: psycopg.Connection[Any]) -> bool:
        if not self._has_lock:
            key = zlib.crc32(self.spool_key.encode()) & 0x7FFFFFFF or 1
            # A session lock: held until this connection closes (or dies with its process).
            row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, key)).fetchone()
            self._has_lock = bool(row and row[0])
            if self._has_lock:
                self._note(role="active")
                # Another shipper may have moved the progress while we stood by.
                self._reload_progress()
        return self._has_lock

    def _reload_progress(self) -> None:
        """Progress for the open spool, from PostgreSQL when connected (else at the next connect)."""
        if self._conn is not None and not self._conn.closed and self._spool is not None:
            try:
                self._batcher.load(self._conn, self._spool)
            except psycopg.Error:
                self._close_conn()

    def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        self._has_lock = False
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail; it is gone either way
                pass
        self._note(connected=False)

    def _close(self) -> None:
        self._close_conn()
        if self._spool is not None:
            try:
                self._spool.close()
            except sqlite3.Error:
                pass
            self._spool = None

    # -- status and logging ------------------------------------------------------------

    def _counters(self) -> tuple[int, int, int]:
        with self._batcher.lock:
            return self._batcher.rows_shipped, self._batcher.runs_shipped, self._batcher.alerts_shipped

    def _note(self, **fields: Any) -> None:
        with self._lock:
            self._state.update(fields)

    def _fault(self, kind: str, exc: BaseException, level: int = logging.WARNING, log: bool = True) -> None:
        """An outage or refusal: drop the connection, remember it, log once per outage."""
        self._close_conn()
        if isinstance(exc, (StoreError, sqlite3.Error)) and self._spool is not None:
            self._spool.close()
            self._spool = None
        message = describe_error(exc)
        first = self._state["outage_since"] is None
        self._note(role="outage", last_error=message, outage_since=self._state["outage_since"] or time.time())
        if log and first:
            logger.log(
                level,
                "rlwatch: cannot ship %s to PostgreSQL at %s (%s); training continues, the spool keeps "
                "everything, and shipping resumes by itself (retrying with backoff up to %.0f s)",
                self.spool_path, self.display_url, message, self.max_backoff,
            )
        del kind

    def _report(self, where: str, exc: BaseException) -> None:
        """Hand an unexpected error to rlwatch's guard, with any secret scrubbed from its message."""
        from rlwatch.integration import report

        safe = RuntimeError(describe_error(exc)).with_traceback(exc.__traceback__)
        report(f"rlwatch_postgres.{where}", safe)
