"""The SQLite schema, its version (``PRAGMA user_version``) and migrations.

Layout (version 3):

- ``runs``: one row per run (identity, status, provenance, counters, and
  each detector's current baselines/thresholds in ``detector_state_json``).
- ``metric_columns``: metric name → column of ``metrics`` (``m1``, ``m2``...).
  Metric names are arbitrary user strings, so they never become SQL
  identifiers themselves.
- ``metrics``: one row per (run, step) with one REAL column per metric name.
  Wide rows are ~7x faster to insert and ~3x smaller than one row per value.
  NaN cannot be stored as REAL in SQLite (it becomes NULL), so the names of
  metrics that were NaN at a step are listed in ``nan_metrics``.
- ``alerts``: every alert, including suppressed ones, with status and reason.
- ``deliveries``: per alert and channel, the delivery outcome.
- ``run_metrics``: which metric names each run has (so readers need no scan).

Version 0 with a ``schema_version`` table is the file written by rlwatch 0.5.x
(same default path); it is migrated in place, keeping its data.
"""

from __future__ import annotations

import json
import sqlite3

SCHEMA_VERSION = 3
MAX_METRIC_COLUMNS = 1800
"""SQLite allows 2000 columns per table by default; keep a margin."""

_V1 = """
CREATE TABLE runs (
    run_pk INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'running',
    started_at REAL, updated_at REAL, ended_at REAL,
    framework TEXT, host TEXT, pid INTEGER, rank INTEGER, world_size INTEGER,
    rlwatch_version TEXT, config_json TEXT,
    last_step INTEGER,
    dropped_rows INTEGER NOT NULL DEFAULT 0,
    skipped_json TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE metric_columns (name TEXT PRIMARY KEY, col TEXT NOT NULL UNIQUE);
CREATE TABLE metrics (
    run_pk INTEGER NOT NULL, step INTEGER NOT NULL, wall_time REAL,
    PRIMARY KEY (run_pk, step)
) WITHOUT ROWID;
CREATE TABLE alerts (
    alert_pk INTEGER PRIMARY KEY,
    run_pk INTEGER NOT NULL, alert_id INTEGER NOT NULL,
    detector TEXT NOT NULL, severity TEXT NOT NULL, step INTEGER,
    message TEXT, recommendation TEXT, metric_values_json TEXT,
    created_at REAL, status TEXT NOT NULL, reason TEXT,
    UNIQUE (run_pk, alert_id)
);
CREATE INDEX alerts_by_detector ON alerts(detector, severity);
"""

_V2 = """
ALTER TABLE metrics ADD COLUMN nan_metrics TEXT;
CREATE TABLE deliveries (
    run_pk INTEGER NOT NULL, alert_id INTEGER NOT NULL, channel TEXT NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, detail TEXT,
    updated_at REAL,
    PRIMARY KEY (run_pk, alert_id, channel)
) WITHOUT ROWID;
CREATE TABLE run_metrics (
    run_pk INTEGER NOT NULL, name TEXT NOT NULL, PRIMARY KEY (run_pk, name)
) WITHOUT ROWID;
"""

_V3 = """
ALTER TABLE runs ADD COLUMN detector_state_json TEXT;
"""

MIGRATIONS: dict[int, str] = {1: _V1, 2: _V2, 3: _V3}
"""Script that brings a file from version N-1 to N."""


class SchemaTooNewError(RuntimeError):
    """The file was written by a newer rlwatch; we do not downgrade it."""


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    """True if `name` is a table of the open database."""
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
    return row is not None


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create or migrate the schema of an open, writable connection."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"database schema version {version} is newer than this rlwatch understands "
            f"({SCHEMA_VERSION}); upgrade rlwatch-core"
        )
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have migrated meanwhile.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        legacy = version == 0 and table_exists(conn, "schema_version")
        if legacy:
            for table in ("runs", "metrics", "alerts", "schema_version"):
                if table_exists(conn, table):
                    conn.execute(f"ALTER TABLE {table} RENAME TO legacy_{table}")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target].split(";"):
                if statement.strip():
                    conn.execute(statement)
        if legacy:
            _import_legacy(conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def column_for(conn: sqlite3.Connection, name: str, cache: dict[str, str]) -> str | None:
    """Column holding metric `name`, adding it if new; None when the table is full."""
    col = cache.get(name)
    if col is not None:
        return col
    row = conn.execute("SELECT col FROM metric_columns WHERE name=?", (name,)).fetchone()
    if row is None:
        count = conn.execute("SELECT COUNT(*) FROM metric_columns").fetchone()[0]
        if count >= MAX_METRIC_COLUMNS:
            return None
        col = f"m{count + 1}"
        conn.execute(f"ALTER TABLE metrics ADD COLUMN {col} REAL")
        conn.execute("INSERT INTO metric_columns(name, col) VALUES (?, ?)", (name, col))
    else:
        col = row[0]
    cache[name] = col
    return col


def _import_legacy(conn: sqlite3.Connection) -> None:
    """Copy the runs, metrics and alerts of an rlwatch 0.5.x file."""
    cache: dict[str, str] = {}
    if table_exists(conn, "legacy_runs"):
        conn.execute(
            "INSERT OR IGNORE INTO runs(run_id, status, started_at, updated_at, framework, config_json) "
            "SELECT run_id, 'finished', started_at, started_at, framework, config_json FROM legacy_runs"
        )
    if table_exists(conn, "legacy_metrics"):
        cols = [r[1] for r in conn.execute("PRAGMA table_info(legacy_metrics)")]
        values = [c for c in cols if c not in ("id", "run_id", "step", "timestamp", "extra_json")]
        conn.execute(
            "INSERT OR IGNORE INTO runs(run_id, status) SELECT DISTINCT run_id, 'finished' FROM legacy_metrics"
        )
        targets = [column_for(conn, name, cache) for name in values]
        rows = conn.execute(
            f"SELECT r.run_pk, m.step, m.timestamp, {', '.join('m.' + v for v in values)}, m.extra_json "
            "FROM legacy_metrics m JOIN runs r ON r.run_id = m.run_id"
        ).fetchall()
        for row in rows:
            names = [t for t in targets if t is not None]
            vals = [v for t, v in zip(targets, row[3:-1], strict=False) if t is not None]
            extra = _legacy_extra(row[-1])
            for key, value in extra.items():
                col = column_for(conn, key, cache)
                if col is not None and col not in names:
                    names.append(col)
                    vals.append(value)
            placeholders = ", ".join("?" for _ in range(3 + len(names)))
            conn.execute(
                f"INSERT OR REPLACE INTO metrics(run_pk, step, wall_time, {', '.join(names)}) "
                f"VALUES ({placeholders})",
                (row[0], row[1], row[2], *vals),
            )
    if table_exists(conn, "legacy_alerts"):
        conn.execute(
            "INSERT OR IGNORE INTO runs(run_id, status) SELECT DISTINCT run_id, 'finished' FROM legacy_alerts"
        )
        conn.execute(
            "INSERT INTO alerts(run_pk, alert_id, detector, severity, step, message, recommendation, "
            "metric_values_json, created_at, status, reason) "
            "SELECT r.run_pk, a.id, a.detector, a.severity, a.step, a.message, a.recommendation, "
            "a.metric_values_json, a.timestamp, 'sent', 'imported from rlwatch 0.5' "
            "FROM legacy_alerts a JOIN runs r ON r.run_id = a.run_id"
        )
    conn.execute(
        "UPDATE runs SET last_step = (SELECT MAX(step) FROM metrics WHERE metrics.run_pk = runs.run_pk) "
        "WHERE last_step IS NULL"
    )
    for name, col in conn.execute("SELECT name, col FROM metric_columns").fetchall():
        conn.execute(
            f"INSERT OR IGNORE INTO run_metrics(run_pk, name) "
            f"SELECT DISTINCT run_pk, ? FROM metrics WHERE {col} IS NOT NULL",
            (name,),
        )


def _legacy_extra(raw: str | None) -> dict[str, float]:
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    out: dict[str, float] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[str(key)] = float(value)
    return out
