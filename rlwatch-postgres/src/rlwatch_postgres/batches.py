"""What to ship next from a spool, and shipping it in one PostgreSQL transaction.

A `Batcher` holds the progress of one spool: per run, the last journal row
shipped (as recorded in PostgreSQL), and the position of the journal scan.
Each `Batcher.run_pass`:

1. ships whole, in one transaction, the runs that have no valid progress yet
   (new runs, or a spool that was replaced or copied): run row, metric-name
   slots, every metric row (read and sent in chunks), alerts, deliveries;
2. otherwise reads journal rows past the scan position, takes as many as fit
   in `batch_rows` estimated metric rows, and ships the step ranges they name
   (re-read from the spool, so a step updated twice ships its final state),
   the run rows, and alerts where the journal says they changed; run rows
   changed without a journal row (a heartbeat, a status) ship too.

Everything a pass ships and the progress of each run it touches commit
together; the in-memory marks move only after COMMIT, so a failed pass is
simply done again, which the idempotent upserts (`rlwatch_postgres.replica`)
make harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import psycopg

from rlwatch_postgres import replica
from rlwatch_postgres.redact import scrub
from rlwatch_postgres.spool import Change, RunHead, Spool

logger = logging.getLogger("rlwatch")

ALL_STEPS = (-(2**63), 2**63 - 1)
"""The step range of a whole run."""

_CHANGES_PER_PASS = 10_000
"""Journal rows read per pass (a pass then ships at most `Shipper.batch_rows` of their rows)."""

_RECENT_ALERTS = 64
"""Alerts re-read below the highest shipped id, in case a recent one was rewritten."""


@dataclass
class _RunWork:
    """One run of a batch: which step ranges, whether alerts, which journal position it reaches."""

    head: RunHead
    ranges: list[tuple[int, int]] = field(default_factory=list)
    alerts: bool = False
    whole: bool = False
    mark: tuple[int, float | None] | None = None
    """Journal position this batch brings the run to: (seq, commit time)."""


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted ranges with overlapping or adjacent ones joined."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


class Batcher:
    """Progress and batching of one spool (used by one `rlwatch_postgres.Shipper` at a time).

    Args:
        spool_key: Name the progress is recorded under (`rlwatch_postgres.spool.spool_key`).
        shipper_name: ``host:pid`` recorded with the progress.
        where: The store, redacted, for messages.
        batch_rows: Metric rows (estimated) per transaction.
        chunk_rows: Rows read from the spool and sent per COPY.
    """

    def __init__(self, spool_key: str, shipper_name: str, where: str, batch_rows: int, chunk_rows: int) -> None:
        self.spool_key = spool_key
        self.name = shipper_name
        self.where = where
        self.batch_rows = batch_rows
        self.chunk_rows = chunk_rows
        self.scan_from = 0
        """Every journal row up to this one is shipped (or not ours to ship)."""
        self._marks: dict[str, tuple[int, float | None]] = {}
        self._shipped_heads: dict[str, tuple[Any, ...]] = {}
        self._alert_marks: dict[str, int] = {}
        self._delivery_marks: dict[str, float] = {}
        self._slot_counts: dict[str, int] = {}
        self._checked_ids: set[str] = set()
        self._warned: set[str] = set()
        # Statistics, read by other threads (doctor) under the lock.
        self.lock = threading.Lock()
        self.lags: deque[float] = deque(maxlen=20_000)
        self.rows_shipped = 0
        self.runs_shipped = 0
        self.alerts_shipped = 0
        self.last_shipped_at: float | None = None
        self.pending_since: float | None = None
        self.clashes: list[str] = []

    def load(self, conn: psycopg.Connection[Any], spool: Spool) -> None:
        """Read this spool's recorded progress from PostgreSQL and keep what matches the file.

        A recorded position is kept only when the spool still has that journal
        row with the same commit time; runs without one are shipped whole.
        Also computes where the journal scan starts.
        """
        self._marks = replica.load_progress(conn.cursor(), self.spool_key)
        valid: dict[str, tuple[int, float | None]] = {}
        for uid, (seq, at) in self._marks.items():
            if seq == 0 or (at is not None and spool.change_at(seq) == at):
                valid[uid] = (seq, at)
        self._marks = valid
        heads = spool.run_heads()
        last_by_run = spool.last_seq_by_run()
        pending = [
            valid[h.run_uid][0]
            for h in heads
            if h.run_uid in valid and last_by_run.get(h.run_pk, 0) > valid[h.run_uid][0]
        ]
        self.scan_from = min(pending) if pending else spool.max_seq()
        self._shipped_heads = {}
        self._alert_marks = {}
        self._delivery_marks = {}
        self._slot_counts = {}

    def run_pass(self, conn: psycopg.Connection[Any], spool: Spool) -> int:
        """Ship one bounded batch from `spool`; returns how much was done (0: nothing left to do)."""
        heads = {h.run_pk: h for h in spool.run_heads()}
        whole = [h for h in heads.values() if h.run_uid not in self._marks]
        if whole:
            return self._ship_whole(conn, spool, whole)
        changes = spool.changes_after(self.scan_from, _CHANGES_PER_PASS)
        taken: list[Change] = []
        work: dict[int, _RunWork] = {}
        budget = 0
        for ch in changes:
            head = heads.get(ch.run_pk)
            if head is None:  # the run row is newer than our look at the runs: next pass
                break
            if ch.seq > self._marks.get(head.run_uid, (0, None))[0]:
                last = ch.last_step if ch.last_step is not None else ch.first_step
                rows = 0 if ch.first_step is None or last is None else int(last) - int(ch.first_step) + 1
                if work and budget + rows > self.batch_rows:
                    break
                budget += rows
                item = work.setdefault(ch.run_pk, _RunWork(head))
                if ch.first_step is not None and last is not None:
                    item.ranges.append((int(ch.first_step), int(last)))
                item.alerts = item.alerts or ch.alerts
                item.mark = (ch.seq, ch.at)
            taken.append(ch)
        # Run rows updated without a journal row (e.g. a status change) still ship.
        for head in heads.values():
            if head.run_pk not in work and self._shipped_heads.get(head.run_uid) != head.version:
                work[head.run_pk] = _RunWork(head)
        if work:
            self._ship(conn, spool, work, taken)
        if taken:
            self.scan_from = taken[-1].seq
        caught_up = len(taken) == len(changes) < _CHANGES_PER_PASS
        with self.lock:
            self.pending_since = None if caught_up else (changes[len(taken)].at if len(taken) < len(changes) else None)
        return len(taken) + len(work)

    def _ship_whole(self, conn: psycopg.Connection[Any], spool: Spool, heads: list[RunHead]) -> int:
        """Ship runs never shipped from this spool, whole, as many as fit in one batch."""
        # The journal position is read before any row: a batch committed after this
        # point is shipped again by the journal pass, never skipped.
        high = spool.max_seq()
        mark = (high, spool.change_at(high) if high else None)
        work: dict[int, _RunWork] = {}
        budget = 0
        for head in heads:
            rows = int(head.version[3] or 0) + 1  # last_step: a fair guess of the row count
            if work and budget + rows > self.batch_rows:
                break
            budget += rows
            work[head.run_pk] = _RunWork(head, [ALL_STEPS], alerts=True, whole=True, mark=mark)
        self._ship(conn, spool, work, [])
        return len(work)

    def _ship(
        self, conn: psycopg.Connection[Any], spool: Spool, work: dict[int, _RunWork], taken: list[Change]
    ) -> None:
        """One transaction: every run of `work`, with its progress."""
        done: list[tuple[_RunWork, int, int, float | None]] = []
        rows_total = 0
        n_alerts = 0
        with conn.transaction(), conn.cursor() as cur:
            replica.lock_and_check(cur)
            # One order for every shipper, so two never wait on each other's run rows in a cycle.
            for item in sorted(work.values(), key=lambda w: w.head.run_uid):
                uid = item.head.run_uid
                run = spool.run_row(item.head.run_pk)
                if run is None:
                    continue
                for column in ("config_json", "end_reason"):
                    if isinstance(run.get(column), str):
                        run[column] = scrub(run[column])
                run_key, inserted = replica.upsert_run(cur, run, self.spool_key)
                if inserted or uid not in self._checked_ids:
                    self._check_clash(cur, run)
                rows = self._ship_rows(cur, spool, item, run_key) if item.ranges else 0
                top_alert = -1
                newest_delivery: float | None = None
                if item.alerts:
                    mark = -1 if item.whole else self._alert_marks.get(uid)
                    if mark is None:
                        mark = replica.max_alert_id(cur, run_key)
                    alerts = spool.alerts(item.head.run_pk, max(-1, mark - _RECENT_ALERTS))
                    since = 0.0 if item.whole else self._delivery_marks.get(uid, 0.0)
                    deliveries = spool.deliveries(item.head.run_pk, since)
                    replica.upsert_alerts(cur, run_key, alerts, deliveries)
                    top_alert = max([mark, *(int(a[0]) for a in alerts)])
                    newest_delivery = max((float(d[5] or 0.0) for d in deliveries), default=None)
                    n_alerts += sum(1 for a in alerts if int(a[0]) > mark)
                if item.mark is not None:
                    replica.save_progress(cur, self.spool_key, uid, item.mark[0], item.mark[1], rows, self.name)
                rows_total += rows
                done.append((item, run_key, top_alert, newest_delivery))
        # Committed: only now do the in-memory marks move.
        now = time.time()
        for item, _key, top_alert, newest_delivery in done:
            uid = item.head.run_uid
            self._shipped_heads[uid] = item.head.version
            self._checked_ids.add(uid)
            if top_alert >= 0:
                self._alert_marks[uid] = max(self._alert_marks.get(uid, 0), top_alert)
            if newest_delivery is not None:
                self._delivery_marks[uid] = max(self._delivery_marks.get(uid, 0.0), newest_delivery)
            if item.mark is not None:
                self._marks[uid] = item.mark
        with self.lock:
            self.lags.extend(now - ch.at for ch in taken if ch.run_pk in work)
            # A whole-run batch: the age of the newest journal row it covers.
            self.lags.extend(now - w.mark[1] for w in work.values() if w.whole and w.mark and w.mark[1])
            self.rows_shipped += rows_total
            self.runs_shipped += len(done)
            self.alerts_shipped += n_alerts
            self.last_shipped_at = now

    def _ship_rows(self, cur: psycopg.Cursor[Any], spool: Spool, item: _RunWork, run_key: int) -> int:
        slots = spool.slots(item.head.run_pk)
        if len(slots) != self._slot_counts.get(item.head.run_uid):
            replica.upsert_slots(cur, run_key, slots)
            self._slot_counts[item.head.run_uid] = len(slots)
        # Per part, only the value columns up to the highest slot in use are read and sent.
        widths: dict[int, int] = {}
        for _name, part, slot in slots:
            widths[part] = max(widths.get(part, 0), slot + 1)
        parts = sorted(widths)
        if not parts:
            return 0
        cur.execute(replica.CREATE_ROWS_TABLE)
        shipped = 0
        delta = 0
        for first, last in _merge(item.ranges):
            before = replica.count_steps(cur, run_key, parts, first, last)
            staged = 0
            for part in parts:
                for chunk in spool.metric_rows(item.head.run_pk, part, first, last, self.chunk_rows, widths[part]):
                    replica.stage_metric_rows(cur, run_key, part, widths[part], chunk)
                    staged += len(chunk)
                    # Bounded staging: upsert every few chunks rather than once per range.
                    if staged >= 10 * self.chunk_rows:
                        replica.upsert_staged_rows(cur)
                        shipped += staged
                        staged = 0
            if staged:
                replica.upsert_staged_rows(cur)
                shipped += staged
            delta += replica.count_steps(cur, run_key, parts, first, last) - before
        replica.add_steps(cur, run_key, delta)
        return shipped

    def _check_clash(self, cur: psycopg.Cursor[Any], run: dict[str, Any]) -> None:
        others = replica.other_runs_with_id(cur, run["run_id"], run["run_uid"])
        if not others or run["run_uid"] in self._warned:
            return
        from rlwatch_postgres.identity import clash_message

        message = clash_message(run["run_id"], run["run_uid"], run.get("host"), others, self.where)
        self._warned.add(run["run_uid"])
        logger.warning("%s", message)
        with self.lock:
            if len(self.clashes) < 100:
                self.clashes.append(message)
