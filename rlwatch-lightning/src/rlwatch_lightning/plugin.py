"""The rlwatch plugin of rlwatch-lightning (entry point ``rlwatch: lightning``).

- `rlwatch_adapt_trainer`: ``rlwatch.attach(trainer=lightning_trainer)``
  makes the trainer's RLWatchCallback (the zero-code one, or a new one) feed
  the attached monitor.
- `rlwatch_detect_framework`: ``"lightning"`` when Lightning is imported.

Nothing here imports Lightning: the core loads this module in every process
that attaches, and a Lightning Trainer can only exist if Lightning is already
in ``sys.modules``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from rlwatch import hookimpl

if TYPE_CHECKING:
    from rlwatch.core import RLWatch

# Import name of each Lightning namespace -> our callback module for it.
_NAMESPACES = {
    "lightning.pytorch": "rlwatch_lightning.callback",
    "pytorch_lightning": "rlwatch_lightning.pl_callback",
}


def _namespace_of(trainer: Any) -> str | None:
    for namespace in _NAMESPACES:
        module = sys.modules.get(namespace)
        trainer_class = getattr(module, "Trainer", None) if module is not None else None
        if isinstance(trainer_class, type) and isinstance(trainer, trainer_class):
            return namespace
    return None


@hookimpl
def rlwatch_adapt_trainer(monitor: RLWatch, trainer: Any) -> bool | None:
    """Bind `monitor` to a Lightning Trainer's RLWatchCallback (added if absent)."""
    namespace = _namespace_of(trainer)
    if namespace is None:
        return None
    import importlib

    from rlwatch_lightning.hooks import RLWatchHooks

    ours = [cb for cb in trainer.callbacks if isinstance(cb, RLWatchHooks)]
    explicit = [cb for cb in ours if not cb._from_factory]
    if explicit or ours:
        (explicit or ours)[0].bind_monitor(monitor)
        return True
    callback_class = importlib.import_module(_NAMESPACES[namespace]).RLWatchCallback
    trainer.callbacks.append(callback_class(monitor=monitor))
    return True


@hookimpl
def rlwatch_detect_framework() -> str | None:
    """``"lightning"`` if either Lightning namespace has been imported."""
    if any(namespace in sys.modules for namespace in _NAMESPACES):
        return "lightning"
    return None
