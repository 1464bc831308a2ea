"""Metric series out of PostgreSQL, full or downsampled in SQL, as numpy arrays.

Full resolution: one binary ``COPY (SELECT ...) TO STDOUT`` per slot-row
part, NULL sent as NaN so that every field is 8 bytes, which numpy reads as a
structured array with one ``frombuffer``: a 100 000-step series becomes an
array without a Python object per value.

Downsampled (``max_points``): the step range is cut into ``max_points // 2``
equal buckets and, per bucket and metric, SQL keeps the minimum and the
maximum finite value with their steps (``min(ARRAY[value, step])``: arrays
compare element by element, so the pair with the smallest value wins). Spikes
survive, and only a few thousand numbers leave the server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import psycopg
from rlwatch.errors import StoreError

Array = np.ndarray[Any, np.dtype[Any]]

_FINITE = "{v} > '-Infinity'::float8 AND {v} < 'Infinity'::float8"


def fetch(
    conn: psycopg.Connection[Any],
    run_key: int,
    wanted: Sequence[str],
    present: Mapping[str, tuple[int, int]],
    start: int | None,
    end: int | None,
    max_points: int | None,
) -> dict[str, Array]:
    """The ``metrics()`` result for one run.

    Args:
        conn: An open connection.
        run_key: The run.
        wanted: Metric names asked for (an absent one comes back all NaN).
        present: ``name -> (part, slot)`` of the wanted names the run has.
        start: First step (inclusive) or None.
        end: Last step (inclusive) or None.
        max_points: Downsample when the range holds more steps than this.
    """
    low = -(2**63) if start is None else int(start)
    high = 2**63 - 1 if end is None else int(end)
    by_part: dict[int, list[tuple[str, int]]] = {}
    for name, (part, slot) in present.items():
        by_part.setdefault(part, []).append((name, slot))
    if not by_part:
        by_part[0] = []
    parts = sorted(by_part)
    if max_points is not None and max_points > 0:
        # Rows, not distinct steps: an upper bound that costs no sort (several parts may share a step).
        row = conn.execute(
            "SELECT min(step), max(step), count(*) FROM metric_rows "
            "WHERE run_key = %s AND part = ANY(%s) AND step BETWEEN %s AND %s",
            (run_key, parts, low, high),
        ).fetchone()
        if row is not None and row[2] and int(row[2]) > max_points and by_part != {0: []}:
            return _downsampled(conn, run_key, wanted, by_part, int(row[0]), int(row[1]), max(1, max_points // 2))
    return _full(conn, run_key, wanted, by_part, low, high)


def _full(
    conn: psycopg.Connection[Any],
    run_key: int,
    wanted: Sequence[str],
    by_part: dict[int, list[tuple[str, int]]],
    low: int,
    high: int,
) -> dict[str, Array]:
    per_part: list[tuple[Array, dict[str, Array]]] = []
    for part, columns in sorted(by_part.items()):
        select = ", ".join(["step", *(f"COALESCE(v{slot}, 'NaN'::float8)" for _name, slot in columns)])
        table = _copy_out(
            conn,
            f"SELECT {select} FROM metric_rows WHERE run_key = %s AND part = %s AND step BETWEEN %s AND %s "
            "ORDER BY step",
            (run_key, part, low, high),
            len(columns),
        )
        steps = table["c0"]["val"].astype(np.int64)
        values = {name: table[f"c{i + 1}"]["val"].astype(np.float64) for i, (name, _s) in enumerate(columns)}
        per_part.append((steps, values))
    return _align(wanted, per_part)


_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def _copy_out(conn: psycopg.Connection[Any], select: str, params: Sequence[Any], n_values: int) -> Array:
    """Rows of `select` (a bigint, then `n_values` non-null float8) as one structured array.

    Binary COPY frames every row as a field count and, per field, a length and
    the value; with fixed 8-byte fields that is a fixed-size record numpy reads
    in place. Fields ``c0`` (the step, int64) and ``c1``.. (values, float64).
    """
    buffer = bytearray()
    with conn.cursor() as cur, cur.copy(f"COPY ({select}) TO STDOUT (FORMAT BINARY)", params) as copy:
        for data in copy:
            buffer += data
    fields = [("n", ">i2"), ("c0", [("len", ">i4"), ("val", ">i8")])]
    fields += [(f"c{i}", [("len", ">i4"), ("val", ">f8")]) for i in range(1, n_values + 1)]
    record = np.dtype(fields)
    if not buffer.startswith(_COPY_SIGNATURE) or len(buffer) < 21:
        raise StoreError("unexpected reply to a binary COPY (no PGCOPY header)")
    start = 19 + int.from_bytes(buffer[15:19], "big")
    body = memoryview(buffer)[start : len(buffer) - 2]  # the trailer is a field count of -1
    if len(body) % record.itemsize:
        raise StoreError("unexpected binary COPY layout (a NULL or a field that is not 8 bytes)")
    table: Array = np.frombuffer(body, dtype=record)
    if len(table) and (np.any(table["n"] != n_values + 1) or np.any(table["c0"]["len"] != 8)):
        raise StoreError("unexpected binary COPY layout (field count or width)")
    return table


def _downsampled(
    conn: psycopg.Connection[Any],
    run_key: int,
    wanted: Sequence[str],
    by_part: dict[int, list[tuple[str, int]]],
    first: int,
    last: int,
    buckets: int,
) -> dict[str, Array]:
    points: dict[str, tuple[Array, Array]] = {}
    for part, columns in sorted(by_part.items()):
        if not columns:
            continue
        aggregates = []
        for _name, slot in columns:
            v = f"v{slot}"
            keep = _FINITE.format(v=v)
            aggregates.append(f"min(ARRAY[{v}, step::float8]) FILTER (WHERE {keep})")
            aggregates.append(f"max(ARRAY[{v}, step::float8]) FILTER (WHERE {keep})")
        # Binary results: float8[] pairs arrive as arrays, not as text to parse.
        with conn.cursor(binary=True) as cur:
            rows = cur.execute(
                f"SELECT {', '.join(aggregates)} FROM metric_rows "
                "WHERE run_key = %s AND part = %s AND step BETWEEN %s AND %s "
                "GROUP BY width_bucket(step::float8, %s, %s, %s)",
                (run_key, part, first, last, float(first), float(last) + 1.0, buckets),
            ).fetchall()
        for i, (name, _slot) in enumerate(columns):
            pairs = [pair for row in rows for pair in (row[2 * i], row[2 * i + 1]) if pair is not None]
            if not pairs:
                points[name] = (np.zeros(0, dtype=np.int64), np.zeros(0))
                continue
            both = np.array(pairs, dtype=np.float64)
            steps, where = np.unique(both[:, 1].astype(np.int64), return_index=True)
            points[name] = (steps, both[where, 0])
    all_steps = np.unique(np.concatenate([s for s, _v in points.values()])) if points else np.zeros(0, dtype=np.int64)
    out: dict[str, Array] = {"step": all_steps.astype(np.int64)}
    for name in wanted:
        column = np.full(len(all_steps), np.nan)
        if name in points:
            steps, values = points[name]
            column[np.searchsorted(all_steps, steps)] = values
        out[name] = column
    return out


def _align(wanted: Sequence[str], per_part: list[tuple[Array, dict[str, Array]]]) -> dict[str, Array]:
    """Put the parts' columns on one step axis (the union of their steps)."""
    if len(per_part) == 1:
        steps, values = per_part[0]
    else:
        steps = np.unique(np.concatenate([s for s, _v in per_part]))
        values = {}
        for part_steps, part_values in per_part:
            where = np.searchsorted(steps, part_steps)
            for name, column in part_values.items():
                full = np.full(len(steps), np.nan)
                full[where] = column
                values[name] = full
    out: dict[str, Array] = {"step": steps}
    for name in wanted:
        out[name] = values[name] if name in values else np.full(len(steps), np.nan)
    return out
