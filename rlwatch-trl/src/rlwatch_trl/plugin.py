"""rlwatch plugin hooks of rlwatch-trl (entry point ``trl`` in group ``rlwatch``).

Loaded by rlwatch-core when it builds its plugin manager. Importing this
module is cheap: transformers is imported only when a trainer is adapted.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from rlwatch.hookspecs import hookimpl

if TYPE_CHECKING:
    from rlwatch.core import RLWatch


def _is_transformers_trainer(obj: Any) -> bool:
    module = sys.modules.get("transformers.trainer")
    trainer_cls = getattr(module, "Trainer", None) if module is not None else None
    return isinstance(trainer_cls, type) and isinstance(obj, trainer_cls)


@hookimpl
def rlwatch_adapt_trainer(monitor: RLWatch, trainer: Any) -> bool | None:
    """Wire `monitor` into a transformers/TRL ``Trainer`` via one `RLWatchCallback`.

    The callback the automatic registration already added (or the user's
    own) is reused and pointed at `monitor`; otherwise one is added. Returns
    None for objects that are not transformers trainers.
    """
    if not _is_transformers_trainer(trainer):
        return None
    from rlwatch_trl.autopatch import ensure_callback

    ensure_callback(trainer, monitor=monitor)
    return True


@hookimpl
def rlwatch_detect_framework() -> str | None:
    """``"trl"`` when trl is imported, ``"transformers"`` when only its Trainer is."""
    if "trl" in sys.modules:
        return "trl"
    if "transformers.trainer" in sys.modules:
        return "transformers"
    return None


@hookimpl
def rlwatch_detect_rank() -> tuple[int, int] | None:
    """Rank and world size from accelerate's state, once something initialised it.

    transformers' TrainingArguments and TRL's trainers set up accelerate's
    ``PartialState``; it is never created here (that would initialise the
    distributed backend as a side effect).
    """
    state_module = sys.modules.get("accelerate.state")
    partial_state = getattr(state_module, "PartialState", None) if state_module is not None else None
    if partial_state is None or not getattr(partial_state, "_shared_state", None):
        return None
    state = partial_state()
    return int(state.process_index), int(state.num_processes)
