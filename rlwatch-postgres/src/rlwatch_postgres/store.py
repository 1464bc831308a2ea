"""`PostgresStore`: the read API of rlwatch over the PostgreSQL team store.

The same methods and return types as the SQLite reader
(`rlwatch.storage.reader.StoreReader`): `RunInfo` and `AlertRow`
dataclasses, numpy arrays, so the CLI, `diagnose`, the report and the
dashboard run unchanged on either store. The connection is read-only
(``default_transaction_read_only``), like the SQLite reader's ``mode=ro``.

Speed at team scale comes from the schema and from doing the heavy work in
SQL: the runs list reads the counters the shipper keeps on each run (no count
over metric rows); a series comes back as one packed byte string per column
(`rlwatch_postgres.series`), and with ``max_points`` it is downsampled in SQL,
keeping each bucket's minimum and maximum.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
import psycopg
from rlwatch.errors import StoreError
from rlwatch.storage.records import AlertRow, RunInfo, row_keys

from rlwatch_postgres import series
from rlwatch_postgres.connection import connect
from rlwatch_postgres.identity import looks_like_uid_prefix, split_host_ref
from rlwatch_postgres.redact import describe_error, display_url
from rlwatch_postgres.schema import check_version, current_version

_T = TypeVar("_T")

_RUN_SELECT = (
    "SELECT run_key, run_id, status, started_at, updated_at, ended_at, framework, host, pid, rank, world_size, "
    "rlwatch_version, config_json, last_step, n_steps, dropped_rows, skipped_json, detector_state_json, "
    "alerts_warning, alerts_critical, alerts_info, run_uid, source, source_path, end_reason FROM runs"
)

_ORDER = "ORDER BY started_at DESC NULLS LAST, run_key DESC"

_RESOLVE_TTL = 5.0
"""Seconds a resolved run reference is reused (a page load asks for the same run several times)."""

_RUNINFO_FIELDS = frozenset(f.name for f in dataclasses.fields(RunInfo))
_ALERT_FIELDS = frozenset(f.name for f in dataclasses.fields(AlertRow))


def _loads(raw: str | None, default: Any) -> Any:
    if not raw:
        return default
    try:
        return json.loads(raw)
    except ValueError:
        return default


class PostgresStore:
    """Read-only access to an rlwatch team store in PostgreSQL.

    Args:
        url: ``postgresql://...``; credentials as libpq takes them.

    Raises:
        StoreError: unreachable, refused, no rlwatch tables, or an older schema
            (message redacted).
        SchemaTooNewError: written by a newer rlwatch-postgres.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self.path = display_url(url)
        """Where the store is, for display: the URL without credentials."""
        self._lock = threading.Lock()
        self._resolved: dict[str, tuple[float, int | None]] = {}
        self._conn = self._open()

    def _open(self) -> psycopg.Connection[Any]:
        try:
            conn = connect(self._url, "rlwatch-reader", autocommit=True)
        except (psycopg.Error, ValueError) as exc:
            raise StoreError(f"cannot open the PostgreSQL store {self.path}: {describe_error(exc)}") from None
        try:
            conn.execute("SET default_transaction_read_only = on")
            conn.execute("SET statement_timeout = '60s'")
            check_version(current_version(conn), readable=True)
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(f"cannot read the PostgreSQL store {self.path}: {describe_error(exc)}") from None
        except BaseException:
            conn.close()
            raise
        return conn

    def _query(self, run: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        """Run `run` on the connection; reconnect once if the server went away meanwhile."""
        for attempt in (1, 2):
            conn = self._conn
            try:
                return run(conn)
            except psycopg.OperationalError as exc:
                if attempt == 2 or not conn.broken:
                    raise StoreError(f"PostgreSQL store {self.path}: {describe_error(exc)}") from None
                with self._lock:
                    if self._conn is conn:
                        self._conn = self._open()
            except psycopg.Error as exc:
                raise StoreError(f"PostgreSQL store {self.path}: {describe_error(exc)}") from None
        raise AssertionError("unreachable")

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._query(lambda conn: conn.execute(sql, params).fetchall())

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs --------------------------------------------------------------------------

    def runs(self) -> list[RunInfo]:
        """Every run of every machine, most recently started first."""
        return [self._run_info(row) for row in self._rows(f"{_RUN_SELECT} {_ORDER}")]

    def run(self, run_ref: str) -> RunInfo | None:
        """One run by reference (`rlwatch_postgres.identity`), or None."""
        key = self.resolve(run_ref)
        if key is None:
            return None
        rows = self._rows(f"{_RUN_SELECT} WHERE run_key = %s", (key,))
        return self._run_info(rows[0]) if rows else None

    def resolve(self, run_ref: str) -> int | None:
        """The internal key of the run `run_ref` names: run_id, run_id@host, or a run_uid prefix."""
        now = time.monotonic()
        cached = self._resolved.get(run_ref)
        if cached is not None and now - cached[0] < _RESOLVE_TTL:
            return cached[1]
        key = self._resolve(run_ref)
        if len(self._resolved) > 1000:
            self._resolved.clear()
        self._resolved[run_ref] = (now, key)
        return key

    def _resolve(self, ref: str) -> int | None:
        rows = self._rows(f"SELECT run_key FROM runs WHERE run_id = %s {_ORDER} LIMIT 1", (ref,))
        if rows:
            return int(rows[0][0])
        at_host = split_host_ref(ref)
        if at_host is not None:
            rows = self._rows(f"SELECT run_key FROM runs WHERE run_id = %s AND host = %s {_ORDER} LIMIT 1", at_host)
            if rows:
                return int(rows[0][0])
        if looks_like_uid_prefix(ref):
            rows = self._rows("SELECT run_key FROM runs WHERE run_uid LIKE %s LIMIT 2", (ref.lower() + "%",))
            if len(rows) == 1:
                return int(rows[0][0])
        return None

    def matching_runs(self, run_id: str) -> list[RunInfo]:
        """Every run with this user-facing id (more than one: a clash), most recent first."""
        return [self._run_info(r) for r in self._rows(f"{_RUN_SELECT} WHERE run_id = %s {_ORDER}", (run_id,))]

    @staticmethod
    def _run_info(row: Sequence[Any]) -> RunInfo:
        values: dict[str, Any] = {
            "run_id": row[1], "status": row[2], "started_at": row[3], "updated_at": row[4], "ended_at": row[5],
            "framework": row[6], "host": row[7], "pid": row[8], "rank": row[9], "world_size": row[10],
            "rlwatch_version": row[11], "config": _loads(row[12], {}), "last_step": row[13],
            "n_steps": int(row[14] or 0), "dropped_rows": int(row[15] or 0), "skipped": _loads(row[16], {}),
            "detector_state": _loads(row[17], {}),
            "alert_counts": {"warning": int(row[18] or 0), "critical": int(row[19] or 0), "info": int(row[20] or 0)},
            "run_uid": row[21], "source": row[22], "source_path": row[23], "end_reason": row[24],
        }  # fmt: skip
        # RunInfo gains fields over versions; pass those this rlwatch-core has.
        return RunInfo(**{k: v for k, v in values.items() if k in _RUNINFO_FIELDS})

    # -- metrics -----------------------------------------------------------------------

    def _slots(self, key: int) -> dict[str, tuple[int, int]]:
        rows = self._rows("SELECT name, part, slot FROM run_metrics WHERE run_key = %s", (key,))
        return {str(n): (int(p), int(s)) for n, p, s in rows}

    def metric_names(self, run_ref: str) -> list[str]:
        """Names of the run's metrics, sorted."""
        key = self.resolve(run_ref)
        return [] if key is None else sorted(self._slots(key))

    def metrics(
        self,
        run_ref: str,
        names: Sequence[str] | None = None,
        start: int | None = None,
        end: int | None = None,
        max_points: int | None = None,
    ) -> dict[str, np.ndarray[Any, np.dtype[Any]]]:
        """Columns of a run: ``"step"`` (int64) and one float64 array per metric (NaN: missing or NaN).

        With `max_points`, a range holding more steps than that is downsampled in
        SQL: each of ``max_points // 2`` equal step buckets keeps its minimum and
        its maximum finite value per metric, so spikes survive; ``"step"`` is then
        the union of the kept steps and each metric is NaN where it kept nothing.
        """
        key = self.resolve(run_ref)
        slots = self._slots(key) if key is not None else {}
        wanted = list(names) if names is not None else sorted(slots)
        if key is None:
            return {"step": np.zeros(0, dtype=np.int64), **{n: np.zeros(0) for n in wanted}}
        present = {n: slots[n] for n in wanted if n in slots}
        return self._query(lambda conn: series.fetch(conn, key, wanted, present, start, end, max_points))

    def nan_counts(self, run_ref: str) -> dict[str, int]:
        """How many steps each metric was logged as NaN."""
        key = self.resolve(run_ref)
        if key is None:
            return {}
        by_slot = {(p, s): n for n, (p, s) in self._slots(key).items()}
        counts: dict[str, int] = {}
        for part, mask, n in self._rows(
            "SELECT part, nan_mask, count(*) FROM metric_rows WHERE run_key = %s AND nan_mask <> 0 "
            "GROUP BY part, nan_mask",
            (key,),
        ):
            for slot in range(32):
                if (int(mask) >> slot) & 1 and (int(part), slot) in by_slot:
                    name = by_slot[(int(part), slot)]
                    counts[name] = counts.get(name, 0) + int(n)
        return counts

    def iter_rows(self, run_ref: str, start: int | None = None, end: int | None = None) -> Iterator[dict[str, Any]]:
        """Rows as dicts in step order: step, wall_time and every metric (None: missing, nan: NaN).

        Streams in pages of a few thousand steps per part, so a long run is never
        held in memory and no server-side cursor stays open between pages. A
        metric named like a row field (``wall_time``...) is under its
        `rlwatch.storage.records.row_keys` key (``metric/wall_time``), as in
        the local store.
        """
        key = self.resolve(run_ref)
        if key is None:
            return
        stored = self._slots(key)
        renamed = row_keys(stored)
        slots = {renamed[name]: where for name, where in stored.items()}
        names = sorted(slots)
        by_part: dict[int, list[tuple[str, int]]] = {}
        for name, (part, slot) in slots.items():
            by_part.setdefault(part, []).append((name, slot))
        pages = [self._part_rows(key, part, start, end) for part in sorted(by_part)]
        record: dict[str, Any] | None = None
        for step, part, wall_time, mask, values in heapq.merge(*pages, key=lambda r: r[0]):
            if record is None or record["step"] != step:
                if record is not None:
                    yield record
                record = {"step": step, "wall_time": wall_time, **dict.fromkeys(names)}
            if record["wall_time"] is None:
                record["wall_time"] = wall_time
            for name, slot in by_part[part]:
                value = values[slot]
                record[name] = math.nan if value is None and (mask >> slot) & 1 else value
        if record is not None:
            yield record

    def _part_rows(
        self, key: int, part: int, start: int | None, end: int | None, page: int = 5000
    ) -> Iterator[tuple[int, int, float | None, int, tuple[Any, ...]]]:
        columns = ", ".join(f"v{i}" for i in range(32))
        low = -(2**63) if start is None else int(start)
        high = 2**63 - 1 if end is None else int(end)
        while True:
            rows = self._rows(
                f"SELECT step, wall_time, nan_mask, {columns} FROM metric_rows WHERE run_key = %s AND part = %s "
                "AND step >= %s AND step <= %s ORDER BY step LIMIT %s",
                (key, part, low, high, page),
            )
            for row in rows:
                yield int(row[0]), part, row[1], int(row[2]), tuple(row[3:])
            if len(rows) < page:
                return
            low = int(rows[-1][0]) + 1

    # -- alerts ------------------------------------------------------------------------

    def alerts(self, run_ref: str | None = None, include_suppressed: bool = True) -> list[AlertRow]:
        """Alerts of one run (or of every run), oldest first, with their deliveries."""
        where: list[str] = []
        params: list[Any] = []
        if run_ref is not None:
            key = self.resolve(run_ref)
            if key is None:
                return []
            where.append("a.run_key = %s")
            params.append(key)
        if not include_suppressed:
            where.append("a.status <> 'suppressed'")
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        rows = self._rows(
            "SELECT r.run_id, a.alert_id, a.detector, a.severity, a.step, a.message, a.recommendation, "
            "a.metric_values_json, a.created_at, a.status, a.reason, a.run_key "
            f"FROM alerts a JOIN runs r ON r.run_key = a.run_key{clause} "
            "ORDER BY a.created_at NULLS FIRST, a.run_key, a.alert_id",
            params,
        )
        delivery_where = " WHERE run_key = %s" if run_ref is not None else ""
        deliveries: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for key_, aid, channel, status, attempts, detail, ts in self._rows(
            f"SELECT run_key, alert_id, channel, status, attempts, detail, updated_at FROM deliveries{delivery_where}",
            params[:1] if run_ref is not None else (),
        ):
            deliveries.setdefault((int(key_), int(aid)), []).append(
                {"channel": channel, "status": status, "attempts": attempts, "detail": detail, "updated_at": ts}
            )
        out = []
        for r in rows:
            values: dict[str, Any] = {
                "run_id": r[0], "alert_id": int(r[1]), "detector": r[2], "severity": r[3], "step": r[4],
                "message": r[5] or "", "recommendation": r[6] or "", "metric_values": _loads(r[7], {}),
                "created_at": r[8], "status": r[9], "reason": r[10],
                "deliveries": deliveries.get((int(r[11]), int(r[1])), []),
            }  # fmt: skip
            out.append(AlertRow(**{k: v for k, v in values.items() if k in _ALERT_FIELDS}))
        return out

    # -- health ------------------------------------------------------------------------

    def health(self) -> str:
        """``"ok"``, or what is wrong (redacted). Never raises."""
        try:
            version = self._query(current_version)
            check_version(version, readable=True)
        except Exception as exc:  # noqa: BLE001 - health reports problems, it does not raise them
            return describe_error(exc)
        return "ok"

    def integrity_check(self) -> str:
        """Same as `health` (the SQLite reader's name for it)."""
        return self.health()
