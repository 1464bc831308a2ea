"""`RLWatchCallback` for ``lightning.pytorch`` (``import lightning as L``).

Usage::

    from rlwatch_lightning import RLWatchCallback
    trainer = L.Trainer(callbacks=[RLWatchCallback()])

See `rlwatch_lightning.hooks.RLWatchHooks` for what each hook records.
"""

from __future__ import annotations

from lightning.pytorch.callbacks import Callback

from rlwatch_lightning.hooks import RLWatchHooks


class RLWatchCallback(RLWatchHooks, Callback):
    """Feed rlwatch from a ``lightning.pytorch`` Trainer (arguments: `RLWatchHooks`)."""
