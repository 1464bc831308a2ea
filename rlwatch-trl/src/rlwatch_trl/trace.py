"""Optional JSON-lines copy of what the callback feeds rlwatch.

Set ``RLWATCH_TRL_TRACE=/path/run.jsonl`` and every step the callback logs
is also appended there as one JSON object: ``"step"`` plus the metrics under
their rlwatch names, with ``rewards``/``advantages`` as (nested) lists. NaN
and infinities are written as ``NaN``/``Infinity`` (what Python's json module
reads back), since a NaN is often the very thing worth replaying. Such a
file can be replayed through rlwatch offline (e.g. ``monitor.log_metrics``)
to tune detector settings on a real run, or shared in a bug report. Off
unless the variable is set.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

TRACE_ENV = "RLWATCH_TRL_TRACE"
"""Environment variable naming the trace file (appended to)."""


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, list):
        return [_plain(v) for v in value]
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def trace_path() -> str | None:
    """The trace file named by ``RLWATCH_TRL_TRACE``, or None."""
    path = os.environ.get(TRACE_ENV, "").strip()
    return path or None


def append_step(path: str, step: int, metrics: dict[str, Any]) -> None:
    """Append one step to the trace file at `path`."""
    row = {"step": int(step), **{name: _plain(v) for name, v in metrics.items()}}
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, sort_keys=True) + "\n")
