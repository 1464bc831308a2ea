"""Read-only access to a local rlwatch SQLite spool (schema version 4), for shipping.

The training process's writer thread is the only writer of the spool; this
module opens it with ``mode=ro``, so under WAL it never blocks the writer and
can never change the file. What a shipper needs:

* the ``changes`` journal: one row per run per committed batch, with the step
  range written (``changes_after``);
* a light projection of the runs (`run_heads`), to notice new runs and run-row
  updates cheaply every pass, and the full row of a run when it is shipped;
* a run's metric rows over a step range, part by part, in bounded chunks
  (`metric_rows`), its metric-name slots, alerts and deliveries.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rlwatch.errors import SchemaTooNewError, StoreError

SPOOL_SCHEMA_VERSION = 4
"""The spool layout this module reads (``PRAGMA user_version``)."""

VALUE_COLUMNS: tuple[str, ...] = tuple(f"v{i}" for i in range(32))
"""The value columns of a slot row."""

RUN_COLUMNS: tuple[str, ...] = (
    "run_pk", "run_id", "run_uid", "status", "started_at", "updated_at", "ended_at", "framework", "host", "pid",
    "rank", "world_size", "rlwatch_version", "config_json", "last_step", "dropped_rows", "skipped_json",
    "detector_state_json", "source", "source_path", "end_reason",
)  # fmt: skip
"""Columns of the spool's runs table that are shipped, in this order."""

ALERT_COLUMNS: tuple[str, ...] = (
    "alert_id", "detector", "severity", "step", "message", "recommendation", "metric_values_json", "created_at",
    "status", "reason",
)  # fmt: skip
"""Columns of an alert row, in this order (the same names in PostgreSQL)."""

DELIVERY_COLUMNS: tuple[str, ...] = ("alert_id", "channel", "status", "attempts", "detail", "updated_at")
"""Columns of a delivery row, in this order."""


@dataclass(frozen=True)
class Change:
    """One row of the spool's ``changes`` journal."""

    seq: int
    run_pk: int
    first_step: int | None
    last_step: int | None
    alerts: bool
    at: float


@dataclass(frozen=True)
class RunHead:
    """The few columns of a spool run that tell whether its row changed."""

    run_pk: int
    run_uid: str
    run_id: str
    version: tuple[Any, ...]
    """(updated_at, status, ended_at, last_step, end_reason): differs once the row changed."""


def spool_key(path: str) -> str:
    """The name progress is recorded under: ``host:/real/path/of/metrics.db``."""
    return f"{socket.gethostname()}:{os.path.realpath(path)}"


def derived_run_uid(run_id: str, host: str | None, pid: int | None, started_at: float | None) -> str:
    """A stable identity for a spool run without ``run_uid`` (32 hex chars).

    Built from what makes a run distinct (id, host, process, start time), so
    the same run shipped from a copy of its spool gets the same identity.
    """
    digest = hashlib.sha256(f"{run_id}\0{host}\0{pid}\0{started_at!r}".encode()).hexdigest()
    return digest[:32]


class Spool:
    """One spool file, opened read-only.

    Raises (from the constructor):
        StoreError: missing, not SQLite, or not an rlwatch spool of version 4.
        SchemaTooNewError: written by a newer rlwatch than this module reads.
    """

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        if not os.path.exists(self.path):
            raise StoreError(f"no rlwatch spool at {self.path}")
        st = os.stat(self.path)
        self.inode = (st.st_dev, st.st_ino)
        uri = "file:" + urllib.parse.quote(self.path) + "?mode=ro"
        try:
            self._conn = sqlite3.connect(uri, uri=True, timeout=5.0, check_same_thread=False)
            version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a readable SQLite database: {exc}") from None
        if version > SPOOL_SCHEMA_VERSION:
            self._conn.close()
            raise SchemaTooNewError(
                f"{self.path} has spool schema {version}, newer than rlwatch-postgres reads "
                f"({SPOOL_SCHEMA_VERSION}); upgrade rlwatch-postgres"
            )
        if version < SPOOL_SCHEMA_VERSION:
            self._conn.close()
            raise StoreError(
                f"{self.path} has spool schema {version}; shipping needs schema {SPOOL_SCHEMA_VERSION} "
                "(open it once with a monitor of this rlwatch-core to migrate it)"
            )

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def replaced(self) -> bool:
        """True when the file was deleted or replaced since it was opened."""
        try:
            st = os.stat(self.path)
        except OSError:
            return True
        return (st.st_dev, st.st_ino) != self.inode

    # -- the journal ---------------------------------------------------------------

    def changes_after(self, seq: int, limit: int) -> list[Change]:
        """Journal rows with ``seq > seq``, oldest first, at most `limit`."""
        rows = self._conn.execute(
            "SELECT seq, run_pk, first_step, last_step, alerts, at FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        ).fetchall()
        return [Change(int(r[0]), int(r[1]), r[2], r[3], bool(r[4]), float(r[5])) for r in rows]

    def change_at(self, seq: int) -> float | None:
        """Commit time of journal row `seq`, None when there is no such row."""
        row = self._conn.execute("SELECT at FROM changes WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else float(row[0])

    def last_seq_by_run(self) -> dict[int, int]:
        """The newest journal row of every run that has one (one scan; used at start-up)."""
        rows = self._conn.execute("SELECT run_pk, MAX(seq) FROM changes GROUP BY run_pk")
        return {int(pk): int(seq) for pk, seq in rows}

    def max_seq(self) -> int:
        """The newest journal row (0 when the journal is empty)."""
        return int(self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()[0])

    # -- runs ------------------------------------------------------------------------

    def run_heads(self) -> list[RunHead]:
        """Every run, with just enough to see whether it changed."""
        out = []
        for pk, uid, run_id, host, pid, started, updated, status, ended, last, reason in self._conn.execute(
            "SELECT run_pk, run_uid, run_id, host, pid, started_at, updated_at, status, ended_at, last_step, "
            "end_reason FROM runs"
        ):
            uid = uid or derived_run_uid(run_id, host, pid, started)
            out.append(RunHead(int(pk), str(uid), str(run_id), (updated, status, ended, last, reason)))
        return out

    def run_row(self, run_pk: int) -> dict[str, Any] | None:
        """The full runs row (`RUN_COLUMNS`), ``run_uid`` filled in when the spool has none."""
        row = self._conn.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE run_pk = ?", (run_pk,)).fetchone()
        if row is None:
            return None
        out = dict(zip(RUN_COLUMNS, row, strict=True))
        if not out["run_uid"]:
            out["run_uid"] = derived_run_uid(out["run_id"], out["host"], out["pid"], out["started_at"])
        return out

    def slots(self, run_pk: int) -> list[tuple[str, int, int]]:
        """``(name, part, slot)`` of every metric name of the run."""
        return [
            (str(n), int(p), int(s))
            for n, p, s in self._conn.execute("SELECT name, part, slot FROM run_metrics WHERE run_pk = ?", (run_pk,))
        ]

    # -- metric rows ---------------------------------------------------------------------

    def metric_rows(
        self, run_pk: int, part: int, first: int, last: int, chunk: int, width: int = 32
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Rows ``(step, wall_time, nan_mask, v0..v<width-1>)`` of one part with ``first <= step <= last``.

        Yields lists of at most `chunk` rows, in step order; each chunk is a
        fresh primary-key range query, so no read transaction stays open
        between chunks (the writer's checkpoints are never held back).
        `width` leaves out the value columns above the highest slot in use.
        """
        sql = (
            f"SELECT step, wall_time, nan_mask, {', '.join(VALUE_COLUMNS[:width])} FROM metric_rows "
            "WHERE run_pk = ? AND part = ? AND step >= ? AND step <= ? ORDER BY step LIMIT ?"
        )
        start = first
        while True:
            rows = self._conn.execute(sql, (run_pk, part, start, last, chunk)).fetchall()
            if not rows:
                return
            yield rows
            if len(rows) < chunk:
                return
            start = int(rows[-1][0]) + 1

    # -- alerts --------------------------------------------------------------------------

    def alerts(self, run_pk: int, after_alert_id: int) -> list[tuple[Any, ...]]:
        """Alert rows (`ALERT_COLUMNS`) of the run with ``alert_id > after_alert_id``."""
        return self._conn.execute(
            f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts WHERE run_pk = ? AND alert_id > ? ORDER BY alert_id",
            (run_pk, after_alert_id),
        ).fetchall()

    def deliveries(self, run_pk: int, since: float) -> list[tuple[Any, ...]]:
        """Delivery rows (`DELIVERY_COLUMNS`) of the run updated at or after `since`."""
        return self._conn.execute(
            f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM deliveries WHERE run_pk = ? AND COALESCE(updated_at, 0) >= ?",
            (run_pk, since),
        ).fetchall()
