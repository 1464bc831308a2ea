"""Which key map a TRL/transformers trainer's logs go through (the tables live in `rlwatch.keymaps.trl`).

The adapter and ``rlwatch import`` of a ``trainer_state.json`` share those
tables, so a key means the same thing live and offline. Here only the choice
is made: by the trainer's class (GRPOTrainer, PPOTrainer, OnlineDPOTrainer,
and their subclasses), else, for a TRL trainer this table does not know, by
the keys of its first log call; a plain transformers Trainer, SFT, DPO and
reward-model trainers use the offline map.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rlwatch.keymaps import KeyMap
from rlwatch.keymaps.trl import KEYMAPS, TRAINER_FAMILIES, TRL_OFFLINE


def family_of(trainer: Any) -> KeyMap | None:
    """The key map of a trainer known by class (along its MRO); None when its class is not in the table.

    A trainer from the ``transformers`` package itself is always offline.
    """
    if trainer is None:
        return None
    cls = type(trainer)
    if cls.__module__.startswith("transformers"):
        return TRL_OFFLINE
    for klass in cls.__mro__:
        found = TRAINER_FAMILIES.get(klass.__name__)
        if found is not None:
            return found
    return None


def guess_from_keys(keys: Mapping[str, Any]) -> KeyMap:
    """For a trainer of unknown class: the TRL map whose signature keys its first log matches best.

    A tie goes to the offline map: a key shared by both (``entropy``, which SFT logs about its data)
    is no evidence of a sampling policy.
    """
    present = set(keys)
    best, best_score = TRL_OFFLINE, TRL_OFFLINE.score(present)
    for keymap in KEYMAPS:
        score = keymap.score(present)
        if score > best_score:
            best, best_score = keymap, score
    return best


def map_logs(logs: Mapping[str, Any], keymap: KeyMap) -> dict[str, Any]:
    """Translate one ``on_log`` dict into rlwatch metrics with `keymap`."""
    return keymap.translate(logs)
