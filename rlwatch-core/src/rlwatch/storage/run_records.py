"""The writer's bookkeeping of runs: their rows, keys, layouts, and the SQL that records them.

Used only on the writer thread, inside its transactions.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from rlwatch.storage.layout import RunLayout
from rlwatch.storage.schema import HEARTBEAT_SECONDS

logger = logging.getLogger("rlwatch")

ALERT, DELIVERY, RUN_UPDATE, OPEN_RUN, RELEASE, DISCARD = range(6)
"""Kinds of records queued beside the metric rows."""


@dataclass
class ResumeInfo:
    """What a monitor needs to continue an existing run (or to know it is new)."""

    existed: bool
    last_step: int | None
    max_alert_id: int
    run_uid: str = ""


@dataclass
class OpenRequest:
    row: dict[str, Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: ResumeInfo | None = None


@dataclass
class RunState:
    """The writer's knowledge of one open run."""

    row: dict[str, Any]
    pk: int | None = None
    layout: RunLayout | None = None
    beat: float = 0.0
    dropped: int = 0
    announced_drops: int = 0
    lost_rows: int = 0
    lost_alerts: int = 0



class RunBook:
    """Every run the writer knows, by run_id, and how to record each kind of item for them."""

    def __init__(self) -> None:
        self.runs: dict[str, RunState] = {}

    def forget_keys(self) -> None:
        """The file changed (recreated, fallback): every run is looked up or recreated again."""
        for run in self.runs.values():
            run.pk = None
            run.layout = None

    def get(self, conn: sqlite3.Connection, run_id: str) -> RunState:
        run = self.runs.get(run_id)
        if run is None:
            now = time.time()
            run = self.runs[run_id] = RunState({"run_id": run_id, "status": "running", "started_at": now,
                                             "updated_at": now})
        if run.pk is None:
            # Not yet in this file (it was deleted under us, or we moved to a fallback): recreate it as opened.
            found = conn.execute("SELECT run_pk FROM runs WHERE run_id=?", (run_id,)).fetchone()
            run.pk = int(found[0]) if found else insert_run(conn, run.row)
            run.layout = RunLayout.load(conn, run.pk)
        return run

    def apply(self, conn: sqlite3.Connection, items: list[tuple[Any, ...]]) -> list[tuple[OpenRequest, ResumeInfo]]:
        opened: list[tuple[OpenRequest, ResumeInfo]] = []
        for item in items:
            kind = item[0]
            if kind == ALERT:
                _, run_id, alert, status, reason = item
                run = self.get(conn, run_id)
                conn.execute(
                    "INSERT OR REPLACE INTO alerts(run_pk, alert_id, detector, severity, step, message, "
                    "recommendation, metric_values_json, created_at, status, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (run.pk, alert.alert_id, alert.detector, alert.severity, alert.step, alert.message,
                     alert.recommendation, json.dumps(alert.metric_values, default=str, allow_nan=True),
                     alert.timestamp, status, reason),
                )
                conn.execute("INSERT INTO changes(run_pk, alerts, at) VALUES (?, 1, ?)", (run.pk, time.time()))
            elif kind == DELIVERY:
                _, run_id, alert_id, channel, status, attempts, detail, ts = item
                run = self.get(conn, run_id)
                conn.execute(
                    "INSERT OR REPLACE INTO deliveries(run_pk, alert_id, channel, status, attempts, detail, "
                    "updated_at) VALUES (?,?,?,?,?,?,?)",
                    (run.pk, alert_id, channel, status, attempts, detail, ts),
                )
                conn.execute("INSERT INTO changes(run_pk, alerts, at) VALUES (?, 1, ?)", (run.pk, ts))
            elif kind == RUN_UPDATE:
                _, run_id, fields = item
                if run_id is None or not fields:
                    continue
                run = self.get(conn, run_id)
                run.row.update(fields)
                assignments = ", ".join(f"{k}=?" for k in fields)
                conn.execute(f"UPDATE runs SET {assignments} WHERE run_pk=?", (*fields.values(), run.pk))
                conn.execute("INSERT INTO changes(run_pk, at) VALUES (?, ?)", (run.pk, time.time()))
            elif kind == OPEN_RUN:
                _, run_id, req = item
                opened.append((req, self.open(conn, req.row)))
            elif kind == RELEASE:
                self.runs.pop(item[1], None)
            elif kind == DISCARD:
                self.discard(conn, item[1])
        return opened

    def discard(self, conn: sqlite3.Connection, run_id: str) -> None:
        """Delete a run and everything recorded for it (a replay that failed half way)."""
        run = self.runs.pop(run_id, None)
        found = conn.execute("SELECT run_pk FROM runs WHERE run_id=?", (run_id,)).fetchone()
        pk = int(found[0]) if found else (run.pk if run is not None else None)
        if pk is None:
            return
        for table in ("metric_rows", "run_metrics", "alerts", "deliveries", "changes", "runs"):
            conn.execute(f"DELETE FROM {table} WHERE run_pk=?", (pk,))

    def open(self, conn: sqlite3.Connection, row: dict[str, Any]) -> ResumeInfo:
        run = self.runs.setdefault(row["run_id"], RunState(dict(row)))
        existing = conn.execute(
            "SELECT run_pk, last_step, run_uid FROM runs WHERE run_id=?", (row["run_id"],)
        ).fetchone()
        if existing is None:
            run.pk = insert_run(conn, row)
            run.layout = RunLayout(run.pk)
            run.row = dict(row)
            conn.execute("INSERT INTO changes(run_pk, at) VALUES (?, ?)", (run.pk, time.time()))
            return ResumeInfo(existed=False, last_step=None, max_alert_id=0, run_uid=str(row.get("run_uid", "")))
        pk, last_step, uid = existing
        run.pk = int(pk)
        run.layout = RunLayout.load(conn, run.pk)
        update = {k: v for k, v in row.items() if k not in ("run_id", "started_at", "run_uid")}
        update["ended_at"] = None
        update["end_reason"] = None
        conn.execute(f"UPDATE runs SET {', '.join(f'{k}=?' for k in update)} WHERE run_pk=?", (*update.values(), pk))
        run.row = {**row, "run_uid": uid}
        conn.execute("INSERT INTO changes(run_pk, at) VALUES (?, ?)", (run.pk, time.time()))
        max_alert = conn.execute("SELECT COALESCE(MAX(alert_id), 0) FROM alerts WHERE run_pk=?", (pk,)).fetchone()[0]
        return ResumeInfo(existed=True, last_step=last_step, max_alert_id=int(max_alert), run_uid=str(uid or ""))

    def note_written(self, conn: sqlite3.Connection, touched: dict[str, tuple[int, int]]) -> None:
        now = time.time()
        for run_id, (lo, hi) in touched.items():
            run = self.runs[run_id]
            conn.execute(
                "UPDATE runs SET updated_at=?, last_step=MAX(COALESCE(last_step, ?), ?), dropped_rows=? WHERE run_pk=?",
                (now, hi, hi, run.dropped, run.pk),
            )
            conn.execute("INSERT INTO changes(run_pk, first_step, last_step, at) VALUES (?,?,?,?)",
                         (run.pk, lo, hi, now))
            run.beat = now
        for run_id, run in self.runs.items():
            if run.pk is not None and run_id not in touched and now - run.beat > HEARTBEAT_SECONDS:
                conn.execute("UPDATE runs SET updated_at=? WHERE run_pk=? AND status='running'", (now, run.pk))
                run.beat = now

    def announce_drops(self, path: str, capacity: str) -> None:
        """Log (on the writer thread) how many rows each run has lost to a full buffer since last time."""
        for run_id, run in self.runs.items():
            if run.dropped > run.announced_drops:
                logger.warning(
                    "rlwatch: %d rows of run %r were dropped so far because the training loop logged faster than "
                    "%s could be written (buffer of %s full); training continues. Raise "
                    "storage.queue_max_rows or use log_every_n_steps.",
                    run.dropped, run_id, path, capacity,
                )
                run.announced_drops = run.dropped


def insert_run(conn: sqlite3.Connection, row: dict[str, Any]) -> int:
    """Insert a runs row from a column -> value dict; returns its run_pk."""
    cur = conn.execute(f"INSERT INTO runs({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                       tuple(row.values()))
    assert cur.lastrowid is not None
    return int(cur.lastrowid)
