"""Read-only access to an rlwatch SQLite file, for the CLI, dashboard and tests.

Opens the file read-only (`rlwatch.storage.readonly`: ``mode=ro``, and on a
read-only filesystem as immutable or from a private copy). Every problem
(missing, not a database, damaged pages, missing tables, a newer schema) is
one `StoreError` (`SchemaTooNewError` for a newer schema) with a clear
message, never a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ParamSpec, TypeVar

import numpy as np

from rlwatch.errors import SchemaTooNewError, StoreError
from rlwatch.storage.readonly import connect_readonly
from rlwatch.storage.records import AlertRow, RunInfo, row_keys
from rlwatch.storage.schema import SCHEMA_VERSION, SLOTS, table_exists

__all__ = ["AlertRow", "RunInfo", "StoreError", "StoreReader"]

_P = ParamSpec("_P")
_R = TypeVar("_R")

_SELECT_RUNS = (
    "SELECT run_pk, run_id, status, started_at, updated_at, ended_at, framework, host, pid, rank, world_size, "
    "rlwatch_version, config_json, last_step, dropped_rows, skipped_json, detector_state_json, run_uid, "
    "source, source_path, end_reason FROM runs"
)
"""Columns of the runs table in the order `StoreReader._run_info` reads them."""

_REQUIRED_TABLES = ("runs", "run_metrics", "metric_rows", "alerts", "deliveries")

_MAX_DETAIL = 160
"""Characters of an SQLite error message kept in a `StoreError`."""


def _damaged(path: str, exc: sqlite3.Error) -> StoreError:
    # SQLite quotes the bad value in some messages (a damaged text column): keep the line short.
    detail = str(exc) if len(str(exc)) <= _MAX_DETAIL else str(exc)[:_MAX_DETAIL] + "..."
    if getattr(exc, "sqlite_errorcode", 0) & 0xFF in (5, 6):  # SQLITE_BUSY, SQLITE_LOCKED: not damage
        return StoreError(f"{path} cannot be read right now ({detail}); try again")
    return StoreError(f"{path} cannot be read, it is damaged ({type(exc).__name__}: {detail}); "
                      f"`rlwatch doctor --db {path}` checks the whole file")


def _readable(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn SQLite errors of a read (a damaged page, a missing table) into one clear `StoreError`."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as exc:
            raise _damaged(getattr(args[0], "path", "?"), exc) from None

    return wrapper


def _readable_rows(
    method: Callable[_P, Iterator[dict[str, Any]]],
) -> Callable[_P, Iterator[dict[str, Any]]]:
    """`_readable` for a generator: a damaged page met halfway through the rows is a `StoreError` too."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Iterator[dict[str, Any]]:
        try:
            yield from method(*args, **kwargs)
        except sqlite3.Error as exc:
            raise _damaged(getattr(args[0], "path", "?"), exc) from None

    return wrapper


class StoreReader:
    """Read API over one rlwatch database file (`rlwatch.storage.protocol.Store`)."""

    def __init__(self, path: str) -> None:
        self.path = str(path)
        if not os.path.exists(self.path):
            raise StoreError(f"no rlwatch database at {self.path}")
        if os.path.isdir(self.path):
            raise StoreError(f"{self.path} is a folder, not an rlwatch database (try {self.path}/metrics.db)")
        self._file = connect_readonly(self.path)
        self._conn = self._file.conn
        try:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            has_runs = table_exists(self._conn, "runs")
            missing = [t for t in _REQUIRED_TABLES if not table_exists(self._conn, t)]
        except sqlite3.DatabaseError as exc:
            self._file.close()
            raise StoreError(f"{self.path} is not a readable SQLite database: {exc}") from None
        if version > SCHEMA_VERSION:
            self._file.close()
            raise SchemaTooNewError(
                f"{self.path} has schema {version}, newer than this rlwatch ({SCHEMA_VERSION}); upgrade rlwatch-core"
            )
        if version == 0 or not has_runs:
            self._file.close()
            raise StoreError(f"{self.path} is not an rlwatch database (no runs table, schema {version})")
        if version < SCHEMA_VERSION:
            self._file.close()
            raise StoreError(
                f"{self.path} has the older schema {version}; open it once with a monitor "
                f"(rlwatch.attach(log_dir=...)) to migrate it to {SCHEMA_VERSION}"
            )
        if missing:
            self._file.close()
            raise StoreError(f"{self.path} is damaged: table(s) {', '.join(missing)} missing")

    def close(self) -> None:
        """Close the connection (and remove the private copy of a read-only file, if one was made)."""
        self._file.close()

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ---------------------------------------------------------------------------------

    @_readable
    def runs(self) -> list[RunInfo]:
        """Every run, newest first."""
        rows = self._conn.execute(f"{_SELECT_RUNS} ORDER BY COALESCE(started_at, 0) DESC, run_pk DESC").fetchall()
        counts: dict[int, dict[str, int]] = {}
        for pk, sev, n in self._conn.execute(
            "SELECT run_pk, severity, COUNT(*) FROM alerts WHERE status != 'suppressed' GROUP BY run_pk, severity"
        ):
            counts.setdefault(pk, {})[sev] = n
        steps = dict(self._conn.execute(
            "SELECT run_pk, COUNT(*) FROM metric_rows WHERE part = 0 GROUP BY run_pk").fetchall())
        return [self._run_info(r, counts.get(r[0], {}), steps.get(r[0], 0)) for r in rows]

    @_readable
    def run(self, run_ref: str) -> RunInfo | None:
        """One run by id (or by a unique run_uid prefix of >= 8 hex digits), or None."""
        row = self._find(run_ref)
        if row is None:
            return None
        counts = dict(self._conn.execute(
            "SELECT severity, COUNT(*) FROM alerts WHERE run_pk=? AND status != 'suppressed' GROUP BY severity",
            (row[0],)).fetchall())
        n = self._conn.execute("SELECT COUNT(*) FROM metric_rows WHERE run_pk=? AND part=0", (row[0],)).fetchone()[0]
        return self._run_info(row, counts, n)

    def _find(self, run_ref: str) -> Any:
        row = self._conn.execute(f"{_SELECT_RUNS} WHERE run_id=?", (run_ref,)).fetchone()
        if row is None and len(run_ref) >= 8 and all(c in "0123456789abcdef" for c in run_ref.lower()):
            found = self._conn.execute(f"{_SELECT_RUNS} WHERE run_uid LIKE ? LIMIT 2",
                                       (run_ref.lower() + "%",)).fetchall()
            row = found[0] if len(found) == 1 else None
        return row

    @staticmethod
    def _run_info(row: Sequence[Any], counts: dict[str, int], n_steps: int) -> RunInfo:
        return RunInfo(
            run_id=row[1], status=row[2], started_at=row[3], updated_at=row[4], ended_at=row[5],
            framework=row[6], host=row[7], pid=row[8], rank=row[9], world_size=row[10],
            rlwatch_version=row[11], config=_loads(row[12], {}), last_step=row[13], n_steps=n_steps,
            dropped_rows=row[14] or 0, skipped=_loads(row[15], {}), detector_state=_loads(row[16], {}),
            alert_counts={"warning": counts.get("warning", 0), "critical": counts.get("critical", 0),
                          "info": counts.get("info", 0)},
            run_uid=row[17] or "", source=row[18], source_path=row[19], end_reason=row[20],
        )

    def _run_pk(self, run_ref: str) -> int | None:
        row = self._find(run_ref)
        return None if row is None else int(row[0])

    def _layout(self, pk: int) -> dict[str, tuple[int, int]]:
        return {name: (int(part), int(slot)) for name, part, slot in self._conn.execute(
            "SELECT name, part, slot FROM run_metrics WHERE run_pk=?", (pk,))}

    # -- metrics ------------------------------------------------------------------------------

    @_readable
    def metric_names(self, run_ref: str) -> list[str]:
        """Names of the metrics logged in this run."""
        pk = self._run_pk(run_ref)
        if pk is None:
            return []
        return sorted(r[0] for r in self._conn.execute("SELECT name FROM run_metrics WHERE run_pk=?", (pk,)))

    @_readable
    def metrics(
        self,
        run_ref: str,
        names: Sequence[str] | None = None,
        start: int | None = None,
        end: int | None = None,
        max_points: int | None = None,
    ) -> dict[str, np.ndarray[Any, np.dtype[Any]]]:
        """Columns of a run: ``"step"`` (int64) and one float64 array per metric.

        Steps are those at which any of the asked metrics was logged (so a
        metric logged every 10 steps is not padded with NaN when asked
        alone). Missing values and stored NaN both read as NaN; use
        `iter_rows` to tell them apart. `max_points` is accepted for the
        `Store` protocol; this local store returns every row (the dashboard
        downsamples what it draws).
        """
        pk = self._run_pk(run_ref)
        wanted = list(names) if names is not None else self.metric_names(run_ref)
        out: dict[str, np.ndarray[Any, np.dtype[Any]]] = {}
        layout = self._layout(pk) if pk is not None else {}
        present = [n for n in wanted if n in layout]
        if pk is None or not present:
            out["step"] = np.zeros(0, dtype=np.int64)
            for n in wanted:
                out[n] = np.zeros(0)
            return out
        by_part: dict[int, list[str]] = {}
        for n in present:
            by_part.setdefault(layout[n][0], []).append(n)
        pieces: list[tuple[np.ndarray[Any, np.dtype[Any]], list[str], np.ndarray[Any, np.dtype[Any]]]] = []
        for part, part_names in by_part.items():
            slots = [layout[n][1] for n in part_names]
            bits = sum(1 << s for s in slots)
            logged = " OR ".join([f"v{s} IS NOT NULL" for s in slots] + [f"(nan_mask & {bits}) != 0"])
            where, params = _range(pk, part, start, end)
            rows = self._conn.execute(
                f"SELECT step, {', '.join(f'v{s}' for s in slots)} FROM metric_rows "
                f"WHERE {where} AND ({logged}) ORDER BY step", params).fetchall()
            data = np.array(rows, dtype=np.float64) if rows else np.zeros((0, len(slots) + 1))
            pieces.append((data[:, 0].astype(np.int64), part_names, data[:, 1:]))
        if len(pieces) == 1:
            steps, part_names, values = pieces[0]
            out["step"] = steps
            for i, n in enumerate(part_names):
                out[n] = values[:, i]
        else:
            steps = functools.reduce(np.union1d, [p[0] for p in pieces]).astype(np.int64)
            out["step"] = steps
            for part_steps, part_names, values in pieces:
                at = np.searchsorted(steps, part_steps)
                for i, n in enumerate(part_names):
                    col = np.full(steps.size, np.nan)
                    col[at] = values[:, i]
                    out[n] = col
        for n in wanted:
            if n not in out:
                out[n] = np.full(out["step"].size, np.nan)
        return out

    @_readable
    def nan_counts(self, run_ref: str) -> dict[str, int]:
        """How many times each metric was logged as NaN in this run."""
        pk = self._run_pk(run_ref)
        counts: dict[str, int] = {}
        if pk is None:
            return counts
        names = {where: name for name, where in self._layout(pk).items()}
        for part, mask in self._conn.execute(
            "SELECT part, nan_mask FROM metric_rows WHERE run_pk=? AND nan_mask != 0", (pk,)
        ):
            for slot in range(SLOTS):
                if mask >> slot & 1:
                    name = names.get((part, slot))
                    if name is not None:
                        counts[name] = counts.get(name, 0) + 1
        return counts

    @_readable_rows
    def iter_rows(self, run_ref: str, start: int | None = None, end: int | None = None) -> Iterator[dict[str, Any]]:
        """Rows as dicts: step, wall_time and every metric (None = missing, nan = NaN).

        A metric named like a row field (``wall_time``...) is under its
        `rlwatch.storage.records.row_keys` key (``metric/wall_time``).
        """
        pk = self._run_pk(run_ref)
        if pk is None:
            return
        stored = self._layout(pk)
        keys = row_keys(stored)
        layout = {keys[name]: where for name, where in stored.items()}
        names = sorted(layout)
        where, params = _range(pk, None, start, end)
        cursor = self._conn.execute(
            f"SELECT step, part, wall_time, nan_mask, {', '.join(f'v{i}' for i in range(SLOTS))} "
            f"FROM metric_rows WHERE {where} ORDER BY step, part", params)
        record: dict[str, Any] | None = None
        by_slot = {where: name for name, where in layout.items()}
        for row in cursor:
            step, part, wall, mask = row[0], row[1], row[2], row[3]
            if record is None or record["step"] != step:
                if record is not None:
                    yield record
                record = {"step": step, "wall_time": wall, **dict.fromkeys(names)}
            for slot in range(SLOTS):
                name = by_slot.get((part, slot))
                if name is None:
                    continue
                v = row[4 + slot]
                if v is None and mask >> slot & 1:
                    v = float("nan")
                if v is not None:
                    record[name] = v
        if record is not None:
            yield record

    # -- alerts -------------------------------------------------------------------------------

    @_readable
    def alerts(self, run_ref: str | None = None, include_suppressed: bool = True) -> list[AlertRow]:
        """Alerts of one run (or all runs), oldest first, with deliveries."""
        where: list[str] = []
        params: list[Any] = []
        if run_ref is not None:
            pk = self._run_pk(run_ref)
            if pk is None:
                return []
            where.append("a.run_pk=?")
            params.append(pk)
        if not include_suppressed:
            where.append("a.status != 'suppressed'")
        sql = (
            "SELECT r.run_id, a.alert_id, a.detector, a.severity, a.step, a.message, a.recommendation, "
            "a.metric_values_json, a.created_at, a.status, a.reason, a.run_pk "
            "FROM alerts a JOIN runs r ON r.run_pk = a.run_pk"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY a.created_at, a.alert_pk"
        )
        rows = self._conn.execute(sql, params).fetchall()
        deliveries: dict[tuple[int, int], list[dict[str, Any]]] = {}
        dsql = "SELECT run_pk, alert_id, channel, status, attempts, detail, updated_at FROM deliveries"
        for pk_, aid, channel, status, attempts, detail, ts in self._conn.execute(
            dsql + (" WHERE run_pk=?" if run_ref is not None else ""), params[:1] if run_ref is not None else []
        ):
            deliveries.setdefault((pk_, aid), []).append(
                {"channel": channel, "status": status, "attempts": attempts, "detail": detail, "updated_at": ts}
            )
        return [
            AlertRow(
                run_id=r[0], alert_id=r[1], detector=r[2], severity=r[3], step=r[4], message=r[5] or "",
                recommendation=r[6] or "", metric_values=_loads(r[7], {}), created_at=r[8], status=r[9],
                reason=r[10], deliveries=deliveries.get((r[11], r[1]), []),
            )
            for r in rows
        ]

    # -- health -------------------------------------------------------------------------------

    def integrity_check(self) -> str:
        """Result of ``PRAGMA integrity_check`` ("ok" when healthy)."""
        try:
            return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])
        except sqlite3.Error as exc:
            return f"{type(exc).__name__}: {exc}"

    def health(self) -> str:
        """``"ok"``, or one line saying what is wrong with the file."""
        result = self.integrity_check()
        return "ok" if result == "ok" else f"integrity check failed: {result}"


def _range(pk: int, part: int | None, start: int | None, end: int | None) -> tuple[str, list[Any]]:
    where = "run_pk=?"
    params: list[Any] = [pk]
    if part is not None:
        where += " AND part=?"
        params.append(part)
    if start is not None:
        where += " AND step >= ?"
        params.append(int(start))
    if end is not None:
        where += " AND step <= ?"
        params.append(int(end))
    return where, params


def _loads(raw: str | None, default: Any) -> Any:
    if not raw:
        return default
    try:
        return json.loads(raw)
    except ValueError:
        return default
