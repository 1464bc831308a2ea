"""Stream a run's metrics as CSV or JSON Lines (the dashboard's export buttons)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from rlwatch.dashboard.data import NotFound, Reader, json_safe, ordered_metric_names
from rlwatch.storage.records import row_keys


def _csv_cell(name: str) -> str:
    # A header cell starting with = + - @ would run as a formula in a
    # spreadsheet; metric names come from user code, so defuse them.
    return "'" + name if name[:1] in ("=", "+", "-", "@", "\t", "\r") else name


def _csv_value(value: Any) -> str:
    if value is None:
        return ""  # not logged at this step
    return repr(float(value)) if isinstance(value, float) else str(value)


def export_chunks(reader: Reader, run_id: str, fmt: str, chunk_rows: int = 5000) -> Iterator[str]:
    """Yield a run's metrics as CSV or JSON Lines text, a few thousand rows a chunk.

    Columns: ``step``, ``wall_time`` and every metric (JSON Lines: ``run_id``
    first). A metric named like one of those columns keeps its own column,
    as ``metric/<name>`` (`rlwatch.storage.records.row_keys`), so it never
    overwrites the row's step, wall time or run id. A metric not logged at
    a step is an empty CSV cell / JSON ``null``; a logged NaN or infinity is
    ``nan``/``inf`` in CSV and the string ``"nan"``/``"inf"`` in JSON.

    Args:
        reader: An open reader.
        run_id: The run (must exist).
        fmt: ``"csv"`` or ``"jsonl"``.
        chunk_rows: Rows per yielded chunk.

    Raises:
        NotFound: No run with this id.
        ValueError: Unknown format.
    """
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"unknown export format {fmt!r}; valid: csv, jsonl")
    if reader.run(run_id) is None:
        raise NotFound(run_id)
    names = reader.metric_names(run_id)
    keys = row_keys(names)  # the same keys the reader's rows use
    columns = ["step", "wall_time", *(keys[n] for n in ordered_metric_names(names))]
    rows = reader.iter_rows(run_id)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if fmt == "csv":
        writer.writerow([_csv_cell(c) for c in columns])
    for i, row in enumerate(rows, start=1):
        if fmt == "csv":
            writer.writerow([_csv_value(row.get(c)) for c in columns])
        else:
            record = {"run_id": run_id, **{c: json_safe(row.get(c)) for c in columns}}
            buf.write(json.dumps(record, allow_nan=False) + "\n")
        if i % chunk_rows == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()
