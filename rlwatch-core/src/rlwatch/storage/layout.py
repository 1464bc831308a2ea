"""Where a run's metrics live in ``metric_rows``, and the upserts that put them there.

A run's metric names get slots in order of first appearance: the k-th name
sits in value column ``v{k % 32}`` of slot row ``part = k // 32``. A step's
values arrive as a tuple in the order of the names tuple the caller built
(`StoreWriter.put_step`), so one names tuple maps to, per part, a fixed list
of target columns: rows are bound as they were queued, with no per-row
Python on the writer thread unless a step spans several parts or holds a
NaN (both rare).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field

from rlwatch.storage.schema import SLOTS


@dataclass(frozen=True)
class PartPlan:
    """How the values of one names tuple go into one slot row.

    Attributes:
        part: The slot row.
        positions: Indexes into the values tuple, in the order they are bound.
        slots: The value column (slot) of each position.
        contiguous: The positions are one unbroken range ``first..first+len``
            (then rows are bound by slicing, or as they are when it covers all).
    """

    part: int
    positions: tuple[int, ...]
    slots: tuple[int, ...]
    contiguous: bool

    @property
    def mask(self) -> int:
        """The slots this plan writes, as a bit mask (for the NaN-mask merge)."""
        bits = 0
        for slot in self.slots:
            bits |= 1 << slot
        return bits


@dataclass
class RunLayout:
    """Slot assignment of one run (loaded from ``run_metrics`` on resume)."""

    run_pk: int
    where: dict[str, tuple[int, int]] = field(default_factory=dict)
    plans: dict[tuple[str, ...], tuple[PartPlan, ...]] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: sqlite3.Connection, run_pk: int) -> RunLayout:
        """The layout of an existing run."""
        layout = cls(run_pk)
        for name, part, slot in conn.execute("SELECT name, part, slot FROM run_metrics WHERE run_pk=?", (run_pk,)):
            layout.where[name] = (int(part), int(slot))
        return layout

    def plan(self, conn: sqlite3.Connection, names: tuple[str, ...]) -> tuple[PartPlan, ...]:
        """The per-part plans of a names tuple, assigning (and recording) slots to new names."""
        found = self.plans.get(names)
        if found is not None:
            return found
        new = [n for n in dict.fromkeys(names) if n not in self.where]
        if new:
            k = len(self.where)
            rows = []
            for name in new:
                self.where[name] = (k // SLOTS, k % SLOTS)
                rows.append((self.run_pk, name, k // SLOTS, k % SLOTS))
                k += 1
            conn.executemany("INSERT OR IGNORE INTO run_metrics(run_pk, name, part, slot) VALUES (?,?,?,?)", rows)
        by_part: dict[int, list[tuple[int, int]]] = {}
        for position, name in enumerate(names):
            part, slot = self.where[name]
            by_part.setdefault(part, []).append((position, slot))
        plans = []
        for part in sorted(by_part):
            entries = by_part[part]
            positions = tuple(p for p, _ in entries)
            contiguous = positions == tuple(range(positions[0], positions[0] + len(positions)))
            plans.append(PartPlan(part, positions, tuple(s for _, s in entries), contiguous))
        result = tuple(plans)
        if len(self.plans) > 4096:  # a run whose metric sets never repeat: bound the cache
            self.plans.clear()
        self.plans[names] = result
        return result


_SQL_CACHE: dict[tuple[int, int, tuple[int, ...], bool, int, bool], str] = {}


SQL_CACHE_MAX = 128
"""SQL texts kept; a wide run's texts are ~9 KB each and (32 parts x chunk sizes) rarely repeat."""


def upsert_sql(run_pk: int, plan: PartPlan, with_mask: bool, nrows: int, merge: bool = True) -> str:
    """A multi-row insert of `nrows` rows ``(step, wall_time[, nan_mask], v...)`` for one part plan.

    With `merge`, an upsert: a later row for the same (run, part, step), in
    this statement or a later one, replaces the values it names and keeps the
    others ("the later call wins", per metric). Without, a plain insert (a
    conflict raises IntegrityError). run_pk and part are our own integers,
    inlined.
    """
    key = (run_pk, plan.part, plan.slots, with_mask, nrows, merge)
    sql = _SQL_CACHE.get(key)
    if sql is None:
        cols = ", ".join(f"v{s}" for s in plan.slots)
        marks = ", ".join("?" for _ in plan.slots)
        mask = "?" if with_mask else "0"
        one = f"({int(run_pk)}, {int(plan.part)}, ?, ?, {mask}, {marks})"
        updates = ", ".join(f"v{s}=excluded.v{s}" for s in plan.slots)
        sql = (
            f"INSERT INTO metric_rows(run_pk, part, step, wall_time, nan_mask, {cols}) "
            f"VALUES {', '.join([one] * nrows)}"
        )
        if merge:
            sql += (
                f" ON CONFLICT(run_pk, part, step) DO UPDATE SET wall_time=excluded.wall_time, "
                f"nan_mask=(nan_mask & {~plan.mask & ((1 << SLOTS) - 1)}) | excluded.nan_mask, {updates}"
            )
        if len(_SQL_CACHE) > SQL_CACHE_MAX:
            _SQL_CACHE.clear()
        _SQL_CACHE[key] = sql
    return sql


def bind_rows(rows: Iterable[tuple[object, ...]], plan: PartPlan, whole: bool) -> list[tuple[object, ...]]:
    """Rows ``(step, wall, *values)`` cut down to one part plan (`whole`: the plan covers every value)."""
    if whole:
        return rows if isinstance(rows, list) else list(rows)
    if plan.contiguous:
        lo = 2 + plan.positions[0]
        hi = lo + len(plan.positions)
        return [(r[0], r[1], *r[lo:hi]) for r in rows]
    picks = [2 + p for p in plan.positions]
    return [(r[0], r[1], *(r[i] for i in picks)) for r in rows]


def nan_rows(rows: Iterable[tuple[object, ...]], plan: PartPlan) -> list[tuple[object, ...]]:
    """Rows of a step set holding NaN: ``(step, wall, nan_mask, *values)`` for one part plan."""
    out = []
    for r in rows:
        values = [r[2 + p] for p in plan.positions]
        mask = 0
        for slot, v in zip(plan.slots, values, strict=True):
            if v != v:
                mask |= 1 << slot
        out.append((r[0], r[1], mask, *values))
    return out
