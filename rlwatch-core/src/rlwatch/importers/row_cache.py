"""`RowCache`: the rows a scan parsed, kept compactly so the replay need not parse them again.

Reading a text log twice (once to check it, once to replay it) doubles the
slowest part of an import, the parsing. The scan keeps what it parsed here
instead: every row whose values are all plain numbers goes into one flat
array of doubles (8 bytes a value), its keys stored once per distinct key
set; the rare row holding anything else is kept as it is. The replay then
also sees exactly the rows that were checked, even if the file grows in
between. Past `max_values` the cache gives up and the reader reads the file
again.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import Any

_EXACT_INT = 2**53
"""Integers up to this size survive the round trip through a double."""


class RowCache:
    """Rows ``(position, {key: value})`` in the order they were added.

    Args:
        max_values: Most numbers kept (8 bytes each) before the cache gives up.
    """

    def __init__(self, max_values: int = 32_000_000) -> None:
        self.max_values = max_values
        self.complete = True
        self._values = array("d")
        self._keysets: dict[tuple[str, ...], int] = {}
        self._keys: list[tuple[str, ...]] = []
        self._rows: list[tuple[int, int, int]] = []
        self._others: list[dict[str, Any]] = []

    def add(self, position: int, row: dict[str, Any]) -> None:
        """Keep one row (a no-op once the cache has given up)."""
        if not self.complete:
            return
        values = self._values
        if len(values) + len(row) > self.max_values:
            self.drop()
            return
        for value in row.values():
            kind = type(value)
            if kind is not float and not (kind is int and -_EXACT_INT <= value <= _EXACT_INT):
                self._rows.append((position, -1, len(self._others)))
                self._others.append(row)
                return
        keys = tuple(row)
        keyset = self._keysets.get(keys)
        if keyset is None:
            keyset = self._keysets[keys] = len(self._keys)
            self._keys.append(keys)
        self._rows.append((position, keyset, len(values)))
        values.extend(row.values())

    def drop(self) -> None:
        """Give up: forget everything (the reader will read its file again)."""
        self.complete = False
        self._values = array("d")
        self._keysets.clear()
        self._keys.clear()
        self._rows.clear()
        self._others.clear()

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        values, keys, others = self._values, self._keys, self._others
        for position, keyset, offset in self._rows:
            if keyset < 0:
                yield position, others[offset]
            else:
                names = keys[keyset]
                yield position, dict(zip(names, values[offset:offset + len(names)], strict=True))

    def __len__(self) -> int:
        return len(self._rows)
