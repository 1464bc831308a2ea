"""rlwatch for PyTorch Lightning: one callback, or nothing at all.

Installing ``rlwatch-lightning`` registers `RLWatchCallback` with every
Lightning ``Trainer`` through Lightning's ``callbacks_factory`` entry points,
so ``trainer.fit`` is monitored with no code change. To configure it, pass
one yourself (the zero-code one then steps aside)::

    from rlwatch_lightning import RLWatchCallback
    trainer = L.Trainer(callbacks=[RLWatchCallback(name_map={"policy_kl": "kl_divergence"})])

Or wire a monitor you created: ``rlwatch.attach(trainer=trainer)``.

What is recorded, once per optimizer step, as step ``trainer.global_step``:
the ``training_step`` loss, the gradient norm before clipping, the learning
rate, the logged keys of `DEFAULT_NAME_MAP` (entropy, kl, reward, ...), and
``pl_module.rlwatch_rewards`` as the per-sample rewards array. Only the
global-rank-0 process writes.

Off switch: ``RLWATCH_DISABLE=1`` (nothing is recorded), or
``RLWATCH_DISABLE_PLUGINS=lightning`` (the zero-code callback is not added).

Importing this package does not import Lightning; `RLWatchCallback` is
loaded on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rlwatch_lightning._version import __version__
from rlwatch_lightning.names import DEFAULT_NAME_MAP

if TYPE_CHECKING:
    from rlwatch_lightning.callback import RLWatchCallback

__all__ = ["DEFAULT_NAME_MAP", "RLWatchCallback", "__version__"]


def __getattr__(name: str) -> Any:
    # The rlwatch core imports rlwatch_lightning.plugin in every process that
    # attaches, Lightning user or not: keep `import lightning` out of that path.
    if name == "RLWatchCallback":
        from rlwatch_lightning.callback import RLWatchCallback

        return RLWatchCallback
    raise AttributeError(f"module 'rlwatch_lightning' has no attribute {name!r}")
