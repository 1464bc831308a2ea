"""Forward migrations of the SQLite file, oldest first; each runs inside `ensure_schema`'s transaction.

* 0.5.x files (``schema_version`` table, version 0): their tables are renamed
  ``legacy_*`` and their runs, metrics and alerts copied in.
* 1 -> 2 -> 3: added tables and columns (deliveries, NaN names, detector state).
* 3 -> 4: the per-file metric columns of ``metrics`` become per-run slot rows
  (``metric_rows``); runs get a global ``run_uid``; the ``changes`` journal and
  the ``metric_points`` view appear.
"""

from __future__ import annotations

import json
import sqlite3

from rlwatch.errors import SchemaTooNewError
from rlwatch.storage.schema import SCHEMA_VERSION, SLOTS, run_script, table_exists

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

_SLOT_COLUMNS = ", ".join(f"v{i} REAL" for i in range(SLOTS))
_SLOT_CASES = " ".join(f"WHEN {i} THEN m.v{i}" for i in range(SLOTS))

_V4_TABLES = f"""
ALTER TABLE runs ADD COLUMN run_uid TEXT;
ALTER TABLE runs ADD COLUMN source TEXT;
ALTER TABLE runs ADD COLUMN source_path TEXT;
ALTER TABLE runs ADD COLUMN end_reason TEXT;
UPDATE runs SET run_uid = lower(hex(randomblob(16))) WHERE run_uid IS NULL;
CREATE UNIQUE INDEX runs_by_uid ON runs(run_uid);
ALTER TABLE run_metrics RENAME TO v3_run_metrics;
CREATE TABLE run_metrics (
    run_pk INTEGER NOT NULL, name TEXT NOT NULL, part INTEGER NOT NULL, slot INTEGER NOT NULL,
    PRIMARY KEY (run_pk, name), UNIQUE (run_pk, part, slot)
) WITHOUT ROWID;
CREATE TABLE metric_rows (
    run_pk INTEGER NOT NULL, part INTEGER NOT NULL, step INTEGER NOT NULL, wall_time REAL,
    nan_mask INTEGER NOT NULL DEFAULT 0, {_SLOT_COLUMNS},
    PRIMARY KEY (run_pk, part, step)
) WITHOUT ROWID;
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY, run_pk INTEGER NOT NULL, first_step INTEGER, last_step INTEGER,
    alerts INTEGER NOT NULL DEFAULT 0, at REAL NOT NULL
);
"""

_V4_VIEWS = f"""
CREATE VIEW metric_points AS
SELECT run_id, step, wall_time, metric, value, is_nan FROM (
    SELECT r.run_id AS run_id, m.step AS step, m.wall_time AS wall_time, rm.name AS metric,
           CASE rm.slot {_SLOT_CASES} END AS value,
           (m.nan_mask >> rm.slot) & 1 AS is_nan
    FROM runs r JOIN run_metrics rm ON rm.run_pk = r.run_pk
    JOIN metric_rows m ON m.run_pk = rm.run_pk AND m.part = rm.part
) WHERE value IS NOT NULL OR is_nan = 1;
"""
"""Named SQL for people: one row per logged value (see docs/storage.md)."""

SCRIPTS: dict[int, str] = {1: _V1, 2: _V2, 3: _V3, 4: _V4_TABLES + _V4_VIEWS}
"""The DDL that brought a file to each version (the history; tests build old files with it)."""


def check_not_newer(conn: sqlite3.Connection) -> int:
    """The file's schema version; raises `SchemaTooNewError` when a newer rlwatch wrote it."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"database schema version {version} is newer than this rlwatch understands "
            f"({SCHEMA_VERSION}); upgrade rlwatch-core"
        )
    return version


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create or migrate the schema of an open, writable connection.

    Raises:
        SchemaTooNewError: the file was written by a newer rlwatch.
    """
    version = check_not_newer(conn)
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have migrated meanwhile.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            migrate(conn, version)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring an open file (inside a write transaction) from `version` to the current one."""
    legacy = version == 0 and table_exists(conn, "schema_version")
    if legacy:
        for table in ("runs", "metrics", "alerts", "schema_version"):
            if table_exists(conn, table):
                conn.execute(f"ALTER TABLE {table} RENAME TO legacy_{table}")
    for target in range(version + 1, 4):
        run_script(conn, SCRIPTS[target])
    if legacy:
        _import_legacy(conn)
    if version < 4:
        run_script(conn, _V4_TABLES)
        _move_v3_metrics(conn)
        run_script(conn, _V4_VIEWS)


def _move_v3_metrics(conn: sqlite3.Connection) -> None:
    """Copy v3's wide ``metrics`` rows into per-run slot rows, then drop the v3 tables."""
    columns = dict(conn.execute("SELECT name, col FROM metric_columns").fetchall())
    runs = [r[0] for r in conn.execute("SELECT DISTINCT run_pk FROM v3_run_metrics ORDER BY run_pk")]
    for run_pk in runs:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM v3_run_metrics WHERE run_pk=? ORDER BY name", (run_pk,)) if r[0] in columns]
        for k, name in enumerate(names):
            conn.execute("INSERT INTO run_metrics(run_pk, name, part, slot) VALUES (?,?,?,?)",
                         (run_pk, name, k // SLOTS, k % SLOTS))
        for part in range((len(names) + SLOTS - 1) // SLOTS):
            chunk = names[part * SLOTS:(part + 1) * SLOTS]
            cols = [columns[n] for n in chunk]
            targets = ", ".join(f"v{i}" for i in range(len(chunk)))
            present = " OR ".join(f"{c} IS NOT NULL" for c in cols)
            nan_hit = " OR ".join("instr(',' || nan_metrics || ',', ',' || ? || ',') > 0" for _ in chunk)
            conn.execute(
                f"INSERT INTO metric_rows(run_pk, part, step, wall_time, {targets}) "
                f"SELECT run_pk, {part}, step, wall_time, {', '.join(cols)} FROM metrics "
                f"WHERE run_pk=? AND ({present} OR (nan_metrics IS NOT NULL AND ({nan_hit})))",
                (run_pk, *chunk),
            )
        _move_nan_marks(conn, run_pk, names)
    for table in ("metrics", "metric_columns", "v3_run_metrics"):
        conn.execute(f"DROP TABLE {table}")


def _move_nan_marks(conn: sqlite3.Connection, run_pk: int, names: list[str]) -> None:
    where = {name: (k // SLOTS, k % SLOTS) for k, name in enumerate(names)}
    rows = conn.execute("SELECT step, nan_metrics FROM metrics WHERE run_pk=? AND nan_metrics IS NOT NULL",
                        (run_pk,)).fetchall()
    for step, nans in rows:
        masks: dict[int, int] = {}
        for name in str(nans).split(","):
            if name in where:
                part, slot = where[name]
                masks[part] = masks.get(part, 0) | (1 << slot)
        for part, mask in masks.items():
            conn.execute("UPDATE metric_rows SET nan_mask=? WHERE run_pk=? AND part=? AND step=?",
                         (mask, run_pk, part, step))


_MAX_LEGACY_COLUMNS = 1800
"""v3 kept every metric of a file in one table; SQLite allows 2000 columns."""


def _column_for(conn: sqlite3.Connection, name: str, cache: dict[str, str]) -> str | None:
    """Column holding metric `name`, adding it if new; None when the table is full."""
    col = cache.get(name)
    if col is not None:
        return col
    row = conn.execute("SELECT col FROM metric_columns WHERE name=?", (name,)).fetchone()
    if row is None:
        count = conn.execute("SELECT COUNT(*) FROM metric_columns").fetchone()[0]
        if count >= _MAX_LEGACY_COLUMNS:
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
        targets = [_column_for(conn, name, cache) for name in values]
        rows = conn.execute(
            f"SELECT r.run_pk, m.step, m.timestamp, {', '.join('m.' + v for v in values)}, m.extra_json "
            "FROM legacy_metrics m JOIN runs r ON r.run_id = m.run_id"
        ).fetchall()
        for row in rows:
            names = [t for t in targets if t is not None]
            vals = [v for t, v in zip(targets, row[3:-1], strict=False) if t is not None]
            extra = _legacy_extra(row[-1])
            for key, value in extra.items():
                col = _column_for(conn, key, cache)
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
