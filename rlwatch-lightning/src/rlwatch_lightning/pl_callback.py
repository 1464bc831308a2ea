"""`RLWatchCallback` for the standalone ``pytorch_lightning`` package.

Same behaviour as `rlwatch_lightning.RLWatchCallback`, subclassing
``pytorch_lightning.Callback`` for code that imports ``pytorch_lightning``::

    from rlwatch_lightning.pl_callback import RLWatchCallback
    trainer = pytorch_lightning.Trainer(callbacks=[RLWatchCallback()])
"""

from __future__ import annotations

from pytorch_lightning.callbacks import Callback

from rlwatch_lightning.hooks import RLWatchHooks


class RLWatchCallback(RLWatchHooks, Callback):
    """Feed rlwatch from a ``pytorch_lightning`` Trainer (arguments: `RLWatchHooks`)."""
