"""Writing queued metric rows: bounded transactions of multi-row upserts.

A backlog is committed in pieces (`TXN_VALUES` values or `TXN_SECONDS`), so
a SIGKILL loses at most the piece in flight. Pieces are measured in values,
not rows: a piece of a run logging 1 000 metrics per step is 400 rows, so
binding it never copies more than a few MiB (rows of wide runs measured in
rows made a transaction copy 1.6 GB).

Everything the writer does while holding the GIL is cut into slices of well
under a millisecond, because a training thread that wants the GIL back waits
for the whole slice: a statement binds at most `STATEMENT_VALUES` values, and
written rows are freed a slice at a time (`release`). The writer does not pay
for the extra GIL hand-offs: while it writes, the caller lets it through every
few steps (see `writer`).
"""

from __future__ import annotations

import sqlite3
import time
from itertools import chain
from typing import Any

from rlwatch.storage.layout import bind_rows, nan_rows, upsert_sql
from rlwatch.storage.run_records import RunBook

TXN_VALUES = 400_000
"""Metric values per transaction at most: a backlog is committed in pieces (a SIGKILL loses one piece at most)."""
TXN_SECONDS = 0.25
"""Time per transaction at most, for the same reason."""
STATEMENT_VALUES = 8192
"""Values bound per statement at most: binding holds the GIL (~0.3 ms for 8192; 32 766 took ~1.6 ms)."""
RELEASE_ROWS = 2048
"""Rows freed at a time after a commit: freeing 20 000 rows at once held the GIL for ~4 ms."""

Key = tuple[str, tuple[str, ...], bool]
"""(run_id, metric names, has NaN): rows of one key share one statement shape."""
Work = list[tuple[Key, list[tuple[Any, ...]]]]
"""Queued rows, grouped by key, in the order they must be written."""


def insert_work(
    conn: sqlite3.Connection, book: RunBook, work: Work, max_variables: int
) -> tuple[dict[str, tuple[int, int]], int]:
    """Insert whole work entries (the first in pieces if huge) until the transaction's budget is spent.

    Returns:
        The step range written per run, and how many entries of `work` were
        consumed (the caller removes them once the transaction commits).
    """
    deadline = time.monotonic() + TXN_SECONDS
    budget = TXN_VALUES
    touched: dict[str, tuple[int, int]] = {}
    consumed = 0
    while consumed < len(work):
        if consumed and (budget <= 0 or time.monotonic() > deadline):
            break
        (run_id, names, has_nan), rows = work[consumed]
        piece = max(1, TXN_VALUES // max(1, len(names)))
        if len(rows) > piece:
            # A huge entry: this piece now, the rest in the next transaction.
            work.insert(consumed + 1, ((run_id, names, has_nan), rows[piece:]))
            rows = rows[:piece]
            work[consumed] = ((run_id, names, has_nan), rows)
        run = book.get(conn, run_id)
        layout = run.layout
        assert layout is not None
        plans = layout.plan(conn, names)
        whole = len(plans) == 1 and len(plans[0].positions) == len(names)
        for plan in plans:
            bound = nan_rows(rows, plan) if has_nan else bind_rows(rows, plan, whole)
            width = len(bound[0])
            per = max(1, min(STATEMENT_VALUES, max_variables) // width)
            for start in range(0, len(bound), per):
                chunk = bound[start:start + per]
                params = list(chain.from_iterable(chunk))
                try:
                    # New steps (the common case) are plain inserts; a step already stored
                    # (a resumed run) makes the statement fail as a whole, and it is redone as an upsert.
                    conn.execute(upsert_sql(layout.run_pk, plan, has_nan, len(chunk), merge=False), params)
                except sqlite3.IntegrityError:
                    conn.execute(upsert_sql(layout.run_pk, plan, has_nan, len(chunk)), params)
        # An entry's rows are in step order (a run's new steps only increase; repeated ones come one by one).
        lo, hi = rows[0][0], rows[-1][0]
        old = touched.get(run_id)
        touched[run_id] = (min(lo, old[0]), max(hi, old[1])) if old else (lo, hi)
        budget -= len(rows) * max(1, len(names))
        consumed += 1
    return touched, consumed


def release(work: Work, consumed: int) -> None:
    """Remove the first `consumed` entries of `work`, freeing their rows a slice at a time.

    Between slices the GIL is given away (``time.sleep(0)``), so a training
    thread never waits for the deallocation of a whole backlog.
    """
    done = work[:consumed]
    del work[:consumed]
    for _, rows in done:
        while len(rows) > RELEASE_ROWS:
            del rows[-RELEASE_ROWS:]
            time.sleep(0)


def trim_oldest(work: Work, overflow: int, book: RunBook) -> Work:
    """`work` without its oldest `overflow` rows, each dropped row counted on its run."""
    kept: Work = []
    for key, rows in work:
        if overflow > 0:
            cut = min(overflow, len(rows))
            run = book.runs.get(key[0])
            if run is not None:
                run.dropped += cut
            overflow -= cut
            rows = rows[cut:]
        if rows:
            kept.append((key, rows))
    return kept
