"""Per-framework key maps: logged key -> rlwatch metric, one table per framework.

The live adapters (rlwatch-trl, rlwatch-verl, ...) and the offline importer
(`rlwatch import`) read the same tables, so a key means the same thing in a
watched run and in a replayed log. The tables are documented key by key in
docs/keymaps.md (generated from them).
"""

from __future__ import annotations

from collections.abc import Iterable

from rlwatch.keymaps.base import Key, KeyMap, usable

__all__ = ["Key", "KeyMap", "all_keymaps", "by_name", "detect", "usable"]


def all_keymaps() -> tuple[KeyMap, ...]:
    """Every built-in key map, in the order format detection tries them."""
    from rlwatch.keymaps import openrlhf, trl, verl

    return (*trl.KEYMAPS, *verl.KEYMAPS, *openrlhf.KEYMAPS)


def by_name(name: str) -> KeyMap | None:
    """The key map called `name` (``"trl-grpo"``, ``"verl"``...), or None."""
    for km in all_keymaps():
        if km.name == name:
            return km
    return None


def detect(keys: Iterable[str]) -> KeyMap | None:
    """The map whose signature keys best match the keys of a log, or None if none match."""
    present = set(keys)
    best: KeyMap | None = None
    best_score = 0
    for km in all_keymaps():
        score = km.score(present)
        if score > best_score:
            best, best_score = km, score
    return best
