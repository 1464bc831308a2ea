"""`KeyMap`: how one framework's logged keys become rlwatch metric names.

A key map is pure data plus one translation function. The live adapter of a
framework and the offline importer of its log files use the same map, so a
key means the same thing whether rlwatch watched the run or reads it later.
Nothing here imports a framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Key:
    """One mapped key.

    Attributes:
        source: The key as the framework logs it (``"actor/entropy"``).
        target: The rlwatch metric it is stored as: a canonical name
            (``"entropy"``) or a deliberately chosen extra name
            (``"sequence_entropy"``) when the value must not reach a detector
            that would misread it.
        meaning: One line for the generated key table in the docs: what the
            framework computes and why it maps where it does.
    """

    source: str
    target: str
    meaning: str


def usable(value: Any) -> bool:
    """True for values that may be metrics (numbers of any kind, NaN included).

    None (a window with no value), strings, containers and booleans are not
    metrics; anything else is left to rlwatch's coercion, which counts what
    it cannot read.
    """
    return value is not None and not isinstance(value, (str, bytes, bytearray, dict, list, tuple, set, bool))


@dataclass(frozen=True)
class KeyMap:
    """The key table of one framework (or one trainer family of a framework).

    Translation rules (`translate`):

    1. Mapped keys, in table order: the first source key present fills its
       target. When several source keys map to one target (a per-token and a
       per-sequence entropy, say), table order is the preference; a later key
       whose target is already filled is kept under its own name, so nothing
       logged is lost.
    2. Keys in `drop_keys` or starting with one of `drop_prefixes` are not
       per-step training metrics (evaluation, end-of-run totals) and are
       dropped.
    3. Every other usable key is kept under its own name, as an extra metric.
    4. A row holding only `bookkeeping` keys (epoch counters...) is empty.

    Attributes:
        name: Identifier, e.g. ``"trl-grpo"``; `rlwatch import --format`
            and the docs use it.
        framework: The framework it belongs to (``"trl"``, ``"verl"``...).
        description: One paragraph for the docs: which trainers log this way.
        keys: The mapped keys, most preferred first.
        drop_prefixes: Prefixes of keys that are not training metrics.
        drop_keys: Exact keys that are not training metrics.
        bookkeeping: Keys that ride along with every log call and are not
            worth a row on their own.
        signature: Keys whose presence in a log identifies this map (used by
            the importer's format detection; more matches win).
    """

    name: str
    framework: str
    description: str
    keys: tuple[Key, ...]
    drop_prefixes: tuple[str, ...] = ()
    drop_keys: frozenset[str] = frozenset()
    bookkeeping: frozenset[str] = frozenset()
    signature: tuple[str, ...] = ()
    _sources: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_sources", frozenset(k.source for k in self.keys))

    def target_of(self, source: str) -> str | None:
        """The metric a source key maps to (first entry wins), or None if unmapped."""
        for key in self.keys:
            if key.source == source:
                return key.target
        return None

    def is_dropped(self, source: str) -> bool:
        """True when `source` is not a per-step training metric for this framework."""
        return source in self.drop_keys or source.startswith(self.drop_prefixes)

    def translate(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """One logged row (key -> value) as rlwatch metrics (name -> value).

        Values are passed through untouched (NaN stays NaN: that is what the
        loss_nan detector is for); only unusable values are left out.
        """
        out: dict[str, Any] = {}
        for key in self.keys:
            value = row.get(key.source)
            if value is None or not usable(value):
                continue
            if key.target in out:
                out[key.source] = value
            else:
                out[key.target] = value
        sources = self._sources
        for name, value in row.items():
            if name in sources or not isinstance(name, str) or not usable(value):
                continue
            if self.is_dropped(name) or name == "step":
                continue
            out.setdefault(name, value)
        if self.bookkeeping and all(k in self.bookkeeping for k in out):
            return {}
        return out

    def score(self, keys: set[str]) -> int:
        """How many of this map's signature keys appear in `keys` (format detection)."""
        return sum(1 for k in self.signature if k in keys)
