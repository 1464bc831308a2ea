"""The PostgreSQL side of shipping: idempotent upserts and recorded progress.

Every function here runs inside the shipper's transaction. Each write is an
upsert keyed by the row's identity (run_uid; run, part, step; run, alert;
run, alert, channel), so shipping the same spool rows twice (a retry after a
lost commit acknowledgement, a second shipper, ``rlwatch sync`` over a live
job) changes nothing. Two guards keep a slower shipper from undoing a faster
one: a row is only overwritten by one at least as new (``wall_time`` /
``updated_at``), and progress only moves forward.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from rlwatch_postgres.schema import SCHEMA_LOCK, VERSION_TABLE, check_version
from rlwatch_postgres.spool import ALERT_COLUMNS, DELIVERY_COLUMNS, RUN_COLUMNS, VALUE_COLUMNS

Cursor = psycopg.Cursor[Any]

_RUN_FIELDS = tuple(c for c in RUN_COLUMNS if c != "run_pk")
_RUN_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in _RUN_FIELDS if c != "run_uid")

UPSERT_RUN = (
    f"INSERT INTO runs AS r ({', '.join(_RUN_FIELDS)}, spool) VALUES ({', '.join(['%s'] * (len(_RUN_FIELDS) + 1))}) "
    f"ON CONFLICT (run_uid) DO UPDATE SET {_RUN_UPDATES}, spool = excluded.spool, shipped_at = now() "
    # An older copy of the row (a slower shipper) never overwrites a newer one.
    "WHERE r.updated_at IS NULL OR excluded.updated_at IS NULL OR excluded.updated_at >= r.updated_at "
    "RETURNING run_key, (xmax = 0) AS inserted"
)

_ROW_COLUMNS = ("step", "wall_time", "nan_mask", *VALUE_COLUMNS)

ROWS_TABLE = "rlwatch_ship_rows"
"""Session-local staging table: rows arrive by binary COPY, then one INSERT ... SELECT upserts them.

COPY is about four times faster than a multi-row INSERT with the same rows.
The table is created (if missing) in every shipping transaction rather than
once per connection, so a transaction-pooling proxy in front of PostgreSQL
cannot hand us a session without it; ON COMMIT DELETE ROWS empties it.
"""

CREATE_ROWS_TABLE = f"CREATE TEMP TABLE IF NOT EXISTS {ROWS_TABLE} (LIKE metric_rows) ON COMMIT DELETE ROWS"

UPSERT_METRIC_ROWS = (
    f"INSERT INTO metric_rows AS m (run_key, part, {', '.join(_ROW_COLUMNS)}) "
    f"SELECT run_key, part, {', '.join(_ROW_COLUMNS)} FROM {ROWS_TABLE} "
    f"ON CONFLICT (run_key, part, step) DO UPDATE SET "
    f"{', '.join(f'{c} = excluded.{c}' for c in _ROW_COLUMNS[1:])} "
    # The spool row is the merged truth of that step: take it unless ours is newer,
    # and skip identical rows so a retry writes no new row versions.
    "WHERE (m.wall_time IS NULL OR excluded.wall_time IS NULL OR excluded.wall_time >= m.wall_time) "
    f"AND ({', '.join('m.' + c for c in _ROW_COLUMNS[1:])}) IS DISTINCT FROM "
    f"({', '.join('excluded.' + c for c in _ROW_COLUMNS[1:])})"
)

COUNT_STEPS = (
    "SELECT count(DISTINCT step) FROM metric_rows WHERE run_key = %s AND part = ANY(%s) AND step BETWEEN %s AND %s"
)

UPSERT_ALERT = (
    f"INSERT INTO alerts AS a (run_key, {', '.join(ALERT_COLUMNS)}) "
    f"VALUES (%s, {', '.join(['%s'] * len(ALERT_COLUMNS))}) "
    f"ON CONFLICT (run_key, alert_id) DO UPDATE SET "
    f"{', '.join(f'{c} = excluded.{c}' for c in ALERT_COLUMNS[1:])} "
    f"WHERE ({', '.join('a.' + c for c in ALERT_COLUMNS[1:])}) IS DISTINCT FROM "
    f"({', '.join('excluded.' + c for c in ALERT_COLUMNS[1:])})"
)

UPSERT_DELIVERY = (
    f"INSERT INTO deliveries AS d (run_key, {', '.join(DELIVERY_COLUMNS)}) "
    f"VALUES (%s, {', '.join(['%s'] * len(DELIVERY_COLUMNS))}) "
    "ON CONFLICT (run_key, alert_id, channel) DO UPDATE SET status = excluded.status, attempts = excluded.attempts, "
    "detail = excluded.detail, updated_at = excluded.updated_at "
    "WHERE d.updated_at IS NULL OR excluded.updated_at >= d.updated_at"
)

ALERT_COUNTS = (
    "UPDATE runs SET "
    "alerts_info = c.info, alerts_warning = c.warning, alerts_critical = c.critical FROM ("
    "SELECT count(*) FILTER (WHERE severity = 'info') AS info, "
    "count(*) FILTER (WHERE severity = 'warning') AS warning, "
    "count(*) FILTER (WHERE severity = 'critical') AS critical "
    "FROM alerts WHERE run_key = %s AND status <> 'suppressed') c WHERE runs.run_key = %s"
)

SAVE_PROGRESS = (
    "INSERT INTO ship_progress AS p (spool, run_uid, last_seq, last_seq_at, rows_shipped, shipper) "
    "VALUES (%s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (spool, run_uid) DO UPDATE SET last_seq = excluded.last_seq, last_seq_at = excluded.last_seq_at, "
    "rows_shipped = p.rows_shipped + excluded.rows_shipped, shipped_at = now(), shipper = excluded.shipper "
    # Progress never moves back (a slower second shipper of the same spool).
    "WHERE excluded.last_seq >= p.last_seq"
)


def lock_and_check(cur: Cursor) -> None:
    """Hold the schema lock shared for this transaction and refuse a newer schema.

    Raises:
        SchemaTooNewError: a newer rlwatch-postgres migrated the database since we connected.
    """
    row = cur.execute(
        f"SELECT pg_advisory_xact_lock_shared(%s, %s), (SELECT COALESCE(MAX(version), 0) FROM {VERSION_TABLE})",
        SCHEMA_LOCK,
    ).fetchone()
    check_version(int(row[1]) if row else 0)


def upsert_run(cur: Cursor, run: dict[str, Any], spool: str) -> tuple[int, bool]:
    """Insert or update the run row; returns ``(run_key, inserted)``."""
    row = cur.execute(UPSERT_RUN, (*(run[c] for c in _RUN_FIELDS), spool)).fetchone()
    if row is not None:
        return int(row[0]), bool(row[1])
    # The stored row was newer, so nothing was updated and nothing returned.
    found = cur.execute("SELECT run_key FROM runs WHERE run_uid = %s", (run["run_uid"],)).fetchone()
    assert found is not None  # the conflict that skipped the update is this very row
    return int(found[0]), False


def other_runs_with_id(cur: Cursor, run_id: str, run_uid: str) -> list[tuple[str | None, float | None, str]]:
    """``(host, started_at, run_uid)`` of other runs using the same user-facing id."""
    rows = cur.execute(
        "SELECT host, started_at, run_uid FROM runs WHERE run_id = %s AND run_uid <> %s ORDER BY started_at",
        (run_id, run_uid),
    ).fetchall()
    return [(r[0], r[1], str(r[2])) for r in rows]


def upsert_slots(cur: Cursor, run_key: int, slots: Sequence[tuple[str, int, int]]) -> None:
    """Record which (part, slot) holds each metric name of the run."""
    if slots:
        cur.executemany(
            "INSERT INTO run_metrics (run_key, name, part, slot) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [(run_key, name, part, slot) for name, part, slot in slots],
        )


def count_steps(cur: Cursor, run_key: int, parts: Sequence[int], first: int, last: int) -> int:
    """Distinct steps of the run stored in ``[first, last]`` (index range scans, one per part)."""
    row = cur.execute(COUNT_STEPS, (run_key, list(parts), first, last)).fetchone()
    return int(row[0]) if row else 0


def stage_metric_rows(cur: Cursor, run_key: int, part: int, width: int, rows: Sequence[tuple[Any, ...]]) -> None:
    """Copy spool rows ``(step, wall_time, nan_mask, v0..v<width-1>)`` of one part into the staging table."""
    columns = ", ".join(_ROW_COLUMNS[: 3 + width])
    with cur.copy(f"COPY {ROWS_TABLE} (run_key, part, {columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["int8", "int4", "int8", "float8", "int8", *(["float8"] * width)])
        prefix = (run_key, part)
        for row in rows:
            copy.write_row(prefix + tuple(row))


def upsert_staged_rows(cur: Cursor) -> None:
    """Upsert everything staged into metric_rows, then empty the staging table."""
    cur.execute(UPSERT_METRIC_ROWS)
    cur.execute(f"TRUNCATE {ROWS_TABLE}")


def add_steps(cur: Cursor, run_key: int, delta: int) -> None:
    """Keep ``runs.n_steps`` current (the runs list then needs no count over metric_rows)."""
    if delta:
        cur.execute("UPDATE runs SET n_steps = n_steps + %s WHERE run_key = %s", (delta, run_key))


def max_alert_id(cur: Cursor, run_key: int) -> int:
    """The highest alert id stored for the run (0 when none)."""
    row = cur.execute("SELECT COALESCE(MAX(alert_id), 0) FROM alerts WHERE run_key = %s", (run_key,)).fetchone()
    return int(row[0]) if row else 0


def upsert_alerts(
    cur: Cursor, run_key: int, alerts: Sequence[tuple[Any, ...]], deliveries: Sequence[tuple[Any, ...]]
) -> None:
    """Upsert alert and delivery rows of the run, then refresh its alert counts."""
    if alerts:
        cur.executemany(UPSERT_ALERT, [(run_key, *a) for a in alerts])
    if deliveries:
        cur.executemany(UPSERT_DELIVERY, [(run_key, *d) for d in deliveries])
    if alerts:
        cur.execute(ALERT_COUNTS, (run_key, run_key))


def save_progress(
    cur: Cursor, spool: str, run_uid: str, last_seq: int, last_seq_at: float | None, rows: int, shipper: str
) -> None:
    """Record that the spool's journal is shipped up to `last_seq` for this run."""
    cur.execute(SAVE_PROGRESS, (spool, run_uid, last_seq, last_seq_at, rows, shipper))


def load_progress(cur: Cursor, spool: str) -> dict[str, tuple[int, float | None]]:
    """``run_uid -> (last_seq, last_seq_at)`` recorded for this spool."""
    rows = cur.execute("SELECT run_uid, last_seq, last_seq_at FROM ship_progress WHERE spool = %s", (spool,))
    return {str(uid): (int(seq), at) for uid, seq, at in rows.fetchall()}
