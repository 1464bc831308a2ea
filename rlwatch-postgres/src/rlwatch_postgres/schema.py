"""The PostgreSQL schema of the team store, its version and forward migrations.

Every object lives in the connection's current schema (the first existing
schema of ``search_path``, ``public`` by default). To keep rlwatch in a
schema of its own, create it and put it in the URL:
``postgresql://.../db?options=-csearch_path%3Drlwatch``.

Tables (version 1) mirror the SQLite spool, keyed by the global ``run_uid``:

- ``runs``: one row per run (``run_uid`` unique; ``run_key`` is its compact
  integer alias used by the big tables), with ``n_steps`` and alert counts kept
  current by the shipper so the runs list is one small scan;
- ``run_metrics``: metric name -> (part, slot) of the run's slot rows;
- ``metric_rows``: one row per (run, part, step), ``v0..v31`` as in the spool,
  ``nan_mask`` bit i set when slot i was logged as NaN;
- ``alerts``, ``deliveries``: every alert with its status, delivery outcomes;
- ``ship_progress``: per (spool file, run), the last journal row shipped;
- ``rlwatch_schema_migrations``: one row per applied version.

Views and functions for people: ``metric_points(run_id, step, wall_time,
metric, value, is_nan, host, run_uid)`` and ``wide_metrics_sql(run_ref)``,
which writes the per-run wide SELECT (one column per metric name) for psql's
``\\gexec``.

Migrations run under an exclusive advisory lock, inside one transaction; every
shipping transaction holds the same lock shared and re-checks the version, so
a write never interleaves with a migration, and a database migrated by a
newer rlwatch-postgres is refused with `SchemaTooNewError`, before anything is
written.
"""

from __future__ import annotations

from typing import Any

import psycopg
from rlwatch.errors import SchemaTooNewError, StoreError

SCHEMA_VERSION = 1
"""The version this package writes and reads."""

VERSION_TABLE = "rlwatch_schema_migrations"
"""Table holding one row per applied schema version."""

LOCK_CLASS = 0x726C77
"""First key of rlwatch's advisory locks ("rlw"), keeping them apart from other applications'."""

SCHEMA_LOCK = (LOCK_CLASS, 0)
"""Advisory lock: exclusive while migrating, shared while shipping."""

_VALUES = ", ".join(f"v{i} double precision" for i in range(32))
_SLOT_CASE = "CASE rm.slot " + " ".join(f"WHEN {i} THEN m.v{i}" for i in range(32)) + " END"

_V1: tuple[str, ...] = (
    f"""CREATE TABLE {VERSION_TABLE} (
        version integer PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now(),
        applied_by text
    )""",
    """CREATE TABLE runs (
        run_key bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_uid text NOT NULL UNIQUE,
        run_id text NOT NULL,
        status text NOT NULL DEFAULT 'running',
        started_at double precision,
        updated_at double precision,
        ended_at double precision,
        framework text, host text, pid integer, rank integer, world_size integer,
        rlwatch_version text,
        config_json text,
        last_step bigint,
        n_steps bigint NOT NULL DEFAULT 0,
        dropped_rows bigint NOT NULL DEFAULT 0,
        skipped_json text NOT NULL DEFAULT '{}',
        detector_state_json text,
        source text, source_path text, end_reason text,
        alerts_info integer NOT NULL DEFAULT 0,
        alerts_warning integer NOT NULL DEFAULT 0,
        alerts_critical integer NOT NULL DEFAULT 0,
        spool text,
        shipped_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX runs_by_run_id ON runs (run_id, started_at DESC)",
    "CREATE INDEX runs_by_start ON runs (started_at DESC)",
    """CREATE TABLE run_metrics (
        run_key bigint NOT NULL REFERENCES runs ON DELETE CASCADE,
        name text NOT NULL,
        part integer NOT NULL,
        slot integer NOT NULL CHECK (slot BETWEEN 0 AND 31),
        PRIMARY KEY (run_key, name),
        UNIQUE (run_key, part, slot)
    )""",
    # No foreign key on metric_rows: it is the big table, an RI check per row would
    # halve the upsert rate, and the shipper writes the run row first in the same
    # transaction anyway.
    f"""CREATE TABLE metric_rows (
        run_key bigint NOT NULL,
        part integer NOT NULL,
        step bigint NOT NULL,
        wall_time double precision,
        nan_mask bigint NOT NULL DEFAULT 0,
        {_VALUES},
        PRIMARY KEY (run_key, part, step)
    )""",
    "CREATE INDEX metric_rows_with_nan ON metric_rows (run_key) WHERE nan_mask <> 0",
    """CREATE TABLE alerts (
        run_key bigint NOT NULL REFERENCES runs ON DELETE CASCADE,
        alert_id integer NOT NULL,
        detector text NOT NULL,
        severity text NOT NULL,
        step bigint,
        message text, recommendation text, metric_values_json text,
        created_at double precision,
        status text NOT NULL,
        reason text,
        PRIMARY KEY (run_key, alert_id)
    )""",
    "CREATE INDEX alerts_by_time ON alerts (created_at)",
    """CREATE TABLE deliveries (
        run_key bigint NOT NULL REFERENCES runs ON DELETE CASCADE,
        alert_id integer NOT NULL,
        channel text NOT NULL,
        status text NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        detail text,
        updated_at double precision,
        PRIMARY KEY (run_key, alert_id, channel)
    )""",
    """CREATE TABLE ship_progress (
        spool text NOT NULL,
        run_uid text NOT NULL,
        last_seq bigint NOT NULL,
        last_seq_at double precision,
        rows_shipped bigint NOT NULL DEFAULT 0,
        shipped_at timestamptz NOT NULL DEFAULT now(),
        shipper text,
        PRIMARY KEY (spool, run_uid)
    )""",
    f"""CREATE VIEW metric_points AS
        SELECT run_id, step, wall_time, metric, value, is_nan, host, run_uid FROM (
            SELECT r.run_id, m.step, m.wall_time, rm.name AS metric, {_SLOT_CASE} AS value,
                   ((m.nan_mask >> rm.slot) & 1)::integer AS is_nan, r.host, r.run_uid
            FROM runs r
            JOIN run_metrics rm ON rm.run_key = r.run_key
            JOIN metric_rows m ON m.run_key = rm.run_key AND m.part = rm.part
        ) points
        WHERE value IS NOT NULL OR is_nan = 1""",
    # The wide SELECT of one run: one column per metric, named as logged, NaN as
    # 'NaN' (PostgreSQL has it), one join per 32 metrics on the step.
    """CREATE FUNCTION wide_metrics_sql(run_ref text) RETURNS text
        LANGUAGE sql STABLE AS $fn$
        WITH target AS (
            SELECT run_key FROM runs
            WHERE run_id = run_ref OR run_uid = run_ref
               OR (length(run_ref) >= 8 AND run_uid LIKE lower(run_ref) || '%')
               OR (position('@' in run_ref) > 0 AND run_id || '@' || coalesce(host, '') = run_ref)
            ORDER BY (run_id = run_ref) DESC, started_at DESC NULLS LAST
            LIMIT 1
        ), parts AS (
            SELECT rm.part,
                   string_agg(format('CASE WHEN (p%s.nan_mask >> %s) & 1 = 1 THEN %L::float8 ELSE p%s.v%s END AS %I',
                                     rm.part, rm.slot, 'NaN', rm.part, rm.slot, rm.name), ', '
                              ORDER BY rm.slot) AS columns
            FROM run_metrics rm JOIN target t ON t.run_key = rm.run_key
            GROUP BY rm.part
        )
        SELECT format('SELECT step, %s FROM %s ORDER BY step',
                      string_agg(columns, ', ' ORDER BY part),
                      string_agg(format(CASE WHEN part = 0 THEN '%s' ELSE 'FULL JOIN %s USING (step)' END,
                                        format('(SELECT * FROM metric_rows WHERE run_key = %s AND part = %s) p%s',
                                               (SELECT run_key FROM target), part, part)),
                                 ' ' ORDER BY part))
        FROM parts
        $fn$""",
)

MIGRATIONS: dict[int, tuple[str, ...]] = {1: _V1}
"""Statements that bring a database from version N-1 to N."""


def current_version(conn: psycopg.Connection[Any]) -> int:
    """The schema version of the database (0: no rlwatch tables in the current schema).

    Raises:
        StoreError: the search_path names no existing schema.
    """
    # pg_class through the statement's snapshot, not to_regclass: a table another
    # session created a moment ago must be seen (to_regclass may use a stale catalog cache).
    row = conn.execute(
        "SELECT current_schema(), EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname = %s)",
        (VERSION_TABLE,),
    ).fetchone()
    assert row is not None  # a SELECT without FROM returns one row
    if row[0] is None:
        raise StoreError("the search_path of this connection names no existing schema; create it first")
    if not row[1]:
        return 0
    found = conn.execute(f"SELECT COALESCE(MAX(version), 0) FROM {VERSION_TABLE}").fetchone()
    return int(found[0]) if found else 0


def check_version(version: int, readable: bool = False) -> None:
    """Raise when `version` is not one this package may write (or, with `readable`, read).

    Raises:
        SchemaTooNewError: written by a newer rlwatch-postgres.
        StoreError: no rlwatch tables, or (readers) an older schema not migrated yet.
    """
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"the PostgreSQL store has schema version {version}, newer than this rlwatch-postgres understands "
            f"({SCHEMA_VERSION}); upgrade rlwatch-postgres (nothing was written)"
        )
    if readable and version == 0:
        raise StoreError("no rlwatch tables in this PostgreSQL database yet (nothing was shipped to it)")
    if readable and version < SCHEMA_VERSION:
        raise StoreError(
            f"the PostgreSQL store has schema version {version}; migrate it to {SCHEMA_VERSION} with "
            "`rlwatch sync --init --to URL`"
        )


def _foreign_tables(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname = ANY(%s)",
        (["runs", "run_metrics", "metric_rows", "alerts", "deliveries", "metric_points"],),
    ).fetchall()
    return sorted(str(r[0]) for r in rows)


def ensure_schema(conn: psycopg.Connection[Any], applied_by: str = "") -> int:
    """Create or migrate the schema; returns the version now in place.

    `conn` must be in autocommit mode: the migration is its own transaction.

    Safe to call from many processes at once: the first takes the exclusive
    advisory lock and migrates; the others wait and then find it done.

    Raises:
        SchemaTooNewError: the database is newer than this package.
        StoreError: the current schema holds tables of the same names that are not rlwatch's.
        psycopg.Error: the server refused (no CREATE right, connection lost...).
    """
    version = current_version(conn)
    check_version(version)
    if version == SCHEMA_VERSION:
        return version
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", SCHEMA_LOCK)
        # Re-read under the lock: another process may have migrated meanwhile.
        version = current_version(conn)
        check_version(version)
        if version == 0:
            clash = _foreign_tables(conn)
            if clash:
                raise StoreError(
                    f"the current schema already has tables named {', '.join(clash)} that are not rlwatch's; "
                    "give rlwatch a schema of its own (add options=-csearch_path%3Drlwatch to the URL)"
                )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[target]:
                conn.execute(statement)
            conn.execute(
                f"INSERT INTO {VERSION_TABLE} (version, applied_by) VALUES (%s, %s)", (target, applied_by or None)
            )
    return SCHEMA_VERSION
