"""A small in-memory cache of computed API payloads, keyed by run state."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


def run_state(info: Any) -> tuple[Any, ...]:
    """What identifies the contents of a run: any new row or status changes it."""
    return (info.run_id, info.n_steps, info.last_step, info.updated_at, info.status)


def metrics_key(names: list[str] | None, start: int | None, end: int | None, points: int) -> tuple[Any, ...]:
    """Cache key part of one ``/api/metrics`` question."""
    return ("metrics", tuple(names or ()), start, end, points)



class PayloadCache:
    """A small thread-safe LRU of computed API payloads.

    Keys include the run's step count, last step and update time, so an
    entry is never stale: a run that writes gets a new key on its next row.
    Reading 100k rows out of SQLite takes a few hundred milliseconds; this
    makes every load after the first of a finished run instant.
    """

    def __init__(self, max_entries: int = 32) -> None:
        self._items: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

    def get_or_compute(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """The cached value of ``key``, computing (outside the lock) on a miss."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._max:
                self._items.popitem(last=False)
        return value
