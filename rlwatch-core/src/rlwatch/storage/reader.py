"""Read-only access to an rlwatch SQLite file, for the CLI, dashboard and tests.

Opens the file with ``mode=ro``: readers can never modify it, and under WAL
they never block the writer (nor it them).
"""

from __future__ import annotations

import json
import os
import sqlite3
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlwatch.storage.schema import SCHEMA_VERSION, table_exists


class StoreError(RuntimeError):
    """The file is missing, unreadable or not an rlwatch database."""


@dataclass
class RunInfo:
    """One row of the runs table, with derived counts."""

    run_id: str
    status: str
    started_at: float | None
    updated_at: float | None
    ended_at: float | None
    framework: str | None
    host: str | None
    pid: int | None
    rank: int | None
    world_size: int | None
    rlwatch_version: str | None
    config: dict[str, Any]
    last_step: int | None
    n_steps: int
    dropped_rows: int
    skipped: dict[str, int]
    alert_counts: dict[str, int] = field(default_factory=dict)
    detector_state: dict[str, dict[str, float]] = field(default_factory=dict)
    """Each detector's latest baselines/thresholds (as of the last flush)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON output)."""
        return dict(self.__dict__)


@dataclass
class AlertRow:
    """One stored alert, with its delivery outcomes."""

    run_id: str
    alert_id: int
    detector: str
    severity: str
    step: int | None
    message: str
    recommendation: str
    metric_values: dict[str, Any]
    created_at: float | None
    status: str
    reason: str | None
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON output)."""
        return dict(self.__dict__)


_SELECT_RUNS = (
    "SELECT run_pk, run_id, status, started_at, updated_at, ended_at, framework, host, pid, rank, world_size, "
    "rlwatch_version, config_json, last_step, dropped_rows, skipped_json, detector_state_json FROM runs"
)
"""Columns of the runs table in the order `StoreReader._run_info` reads them."""


class StoreReader:
    """Read API over one rlwatch database file."""

    def __init__(self, path: str) -> None:
        if not os.path.exists(path):
            raise StoreError(f"no rlwatch database at {path}")
        self.path = path
        uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
        try:
            self._conn = sqlite3.connect(uri, uri=True, timeout=5.0, check_same_thread=False)
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path} is not a readable SQLite database: {exc}") from None
        if version == 0 or not table_exists(self._conn, "runs"):
            raise StoreError(
                f"{path} is not an rlwatch database of this version (schema {version}); "
                "open it once with a monitor to migrate it"
            )
        if version > SCHEMA_VERSION:
            raise StoreError(f"{path} has schema {version}, newer than this rlwatch ({SCHEMA_VERSION})")

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _columns(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT name, col FROM metric_columns").fetchall())

    def runs(self) -> list[RunInfo]:
        """Every run, newest first."""
        rows = self._conn.execute(
            f"{_SELECT_RUNS} ORDER BY COALESCE(started_at, 0) DESC, run_pk DESC"
        ).fetchall()
        counts: dict[int, dict[str, int]] = {}
        for pk, sev, n in self._conn.execute(
            "SELECT run_pk, severity, COUNT(*) FROM alerts WHERE status != 'suppressed' GROUP BY run_pk, severity"
        ):
            counts.setdefault(pk, {})[sev] = n
        steps = dict(self._conn.execute("SELECT run_pk, COUNT(*) FROM metrics GROUP BY run_pk").fetchall())
        return [self._run_info(r, counts.get(r[0], {}), steps.get(r[0], 0)) for r in rows]

    def run(self, run_id: str) -> RunInfo | None:
        """One run by id, or None."""
        row = self._conn.execute(f"{_SELECT_RUNS} WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            return None
        counts = dict(
            self._conn.execute(
                "SELECT severity, COUNT(*) FROM alerts WHERE run_pk=? AND status != 'suppressed' GROUP BY severity",
                (row[0],),
            ).fetchall()
        )
        n = self._conn.execute("SELECT COUNT(*) FROM metrics WHERE run_pk=?", (row[0],)).fetchone()[0]
        return self._run_info(row, counts, n)

    @staticmethod
    def _run_info(row: Sequence[Any], counts: dict[str, int], n_steps: int) -> RunInfo:
        return RunInfo(
            run_id=row[1], status=row[2], started_at=row[3], updated_at=row[4], ended_at=row[5],
            framework=row[6], host=row[7], pid=row[8], rank=row[9], world_size=row[10],
            rlwatch_version=row[11], config=_loads(row[12], {}), last_step=row[13], n_steps=n_steps,
            dropped_rows=row[14] or 0, skipped=_loads(row[15], {}), detector_state=_loads(row[16], {}),
            alert_counts={"warning": counts.get("warning", 0), "critical": counts.get("critical", 0)},
        )

    def _run_pk(self, run_id: str) -> int | None:
        row = self._conn.execute("SELECT run_pk FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return None if row is None else int(row[0])

    def metric_names(self, run_id: str) -> list[str]:
        """Names of the metrics that have at least one value in this run."""
        pk = self._run_pk(run_id)
        if pk is None:
            return []
        rows = self._conn.execute("SELECT name FROM run_metrics WHERE run_pk=?", (pk,)).fetchall()
        return sorted(r[0] for r in rows)

    def metrics(
        self,
        run_id: str,
        names: Sequence[str] | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> dict[str, np.ndarray[Any, np.dtype[Any]]]:
        """Columns of a run: ``"step"`` (int64) and one float64 array per metric.

        Missing values and stored NaN both read as NaN; use `iter_rows` to
        tell them apart.
        """
        pk = self._run_pk(run_id)
        columns = self._columns()
        wanted = list(names) if names is not None else self.metric_names(run_id)
        present = [n for n in wanted if n in columns]
        out: dict[str, np.ndarray[Any, np.dtype[Any]]] = {}
        if pk is None:
            out["step"] = np.zeros(0, dtype=np.int64)
            for n in wanted:
                out[n] = np.zeros(0)
            return out
        select = ", ".join(["step"] + [columns[n] for n in present])
        where, params = _range(pk, start, end)
        rows = self._conn.execute(f"SELECT {select} FROM metrics WHERE {where} ORDER BY step", params).fetchall()
        data = np.array(rows, dtype=np.float64) if rows else np.zeros((0, len(present) + 1))
        out["step"] = data[:, 0].astype(np.int64)
        for i, n in enumerate(present):
            out[n] = data[:, i + 1]
        for n in wanted:
            if n not in out:
                out[n] = np.full(len(rows), np.nan)
        return out

    def nan_counts(self, run_id: str) -> dict[str, int]:
        """How many times each metric was logged as NaN in this run (stored as NULL + a note)."""
        pk = self._run_pk(run_id)
        counts: dict[str, int] = {}
        if pk is None:
            return counts
        for (names,) in self._conn.execute(
            "SELECT nan_metrics FROM metrics WHERE run_pk=? AND nan_metrics IS NOT NULL", (pk,)
        ):
            for name in str(names).split(","):
                counts[name] = counts.get(name, 0) + 1
        return counts

    def iter_rows(self, run_id: str, start: int | None = None, end: int | None = None) -> Iterator[dict[str, Any]]:
        """Rows as dicts: step, wall_time and every metric (None = missing, nan = NaN)."""
        pk = self._run_pk(run_id)
        if pk is None:
            return
        columns = self._columns()
        names = self.metric_names(run_id)
        select = ", ".join(["step", "wall_time", "nan_metrics"] + [columns[n] for n in names])
        where, params = _range(pk, start, end)
        for row in self._conn.execute(f"SELECT {select} FROM metrics WHERE {where} ORDER BY step", params):
            nans = set(row[2].split(",")) if row[2] else set()
            record: dict[str, Any] = {"step": row[0], "wall_time": row[1]}
            for n, v in zip(names, row[3:], strict=False):
                record[n] = float("nan") if (v is None and n in nans) else v
            yield record

    def alerts(self, run_id: str | None = None, include_suppressed: bool = True) -> list[AlertRow]:
        """Alerts of one run (or all runs), oldest first, with deliveries."""
        where, params = [], []
        if run_id is not None:
            where.append("r.run_id=?")
            params.append(run_id)
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
        for pk, aid, channel, status, attempts, detail, ts in self._conn.execute(
            "SELECT run_pk, alert_id, channel, status, attempts, detail, updated_at FROM deliveries"
        ):
            deliveries.setdefault((pk, aid), []).append(
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

    def integrity_check(self) -> str:
        """Result of ``PRAGMA integrity_check`` ("ok" when healthy)."""
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])


def _range(pk: int, start: int | None, end: int | None) -> tuple[str, list[Any]]:
    where = "run_pk=?"
    params: list[Any] = [pk]
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
