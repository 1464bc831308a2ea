"""The SQLite schema: its version (``PRAGMA user_version``), tables, views and migrations.

Layout (version 4):

- ``runs``: one row per run: identity (``run_id`` chosen by the user, unique
  in the file; ``run_uid`` globally unique), status and how it ended,
  provenance (host, pid, version, redacted config, import source), counters
  and each detector's current baselines/thresholds.
- ``run_metrics``: which metric names a run has and where each is stored:
  the run's k-th name (in order of first appearance) sits in slot ``k % 32``
  of slot row ``k // 32``. Names are arbitrary user strings; they never
  become SQL identifiers.
- ``metric_rows``: one row per (run, slot row, step) with 32 REAL value
  columns ``v0..v31``. Slots are assigned per run, so runs of one file share
  no column budget: any number of runs with any metric names coexist, and a
  run with a few dozen metrics writes one row per step (as fast as one wide
  row per step, ~1/8 of one row per value). NaN cannot be stored as REAL in
  SQLite (it becomes NULL): bit ``i`` of ``nan_mask`` marks slot ``i`` as
  logged NaN; +/-inf are stored as they are.
- ``alerts``: every alert, including suppressed ones, with status and reason.
- ``deliveries``: per alert and channel, the delivery outcome.
- ``changes``: one row per run per committed batch (step range written,
  whether alerts changed): what a replicator (rlwatch-postgres) ships next.
- view ``metric_points(run_id, step, wall_time, metric, value, is_nan)``:
  named SQL for people with ``sqlite3``.

Version 0 with a ``schema_version`` table is the file written by rlwatch 0.5.x
(same default path); it is migrated in place, keeping its data, as are files
of versions 1 to 3 (`rlwatch.storage.migrations`).
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 4
SLOTS = 32
"""Value columns per slot row (``v0`` .. ``v31``); also the width of ``nan_mask``."""

HEARTBEAT_SECONDS = 30.0
"""A running run's ``updated_at`` is refreshed at least this often while its process lives."""

def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    """True if `name` is a table of the open database."""
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
    return row is not None


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Execute the statements of a DDL script one by one (inside the caller's transaction)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)
