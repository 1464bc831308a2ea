"""rlwatch for Hugging Face TRL and transformers.

Installing ``rlwatch-trl`` is all it takes: a start-up hook (``rlwatch_trl.pth``)
waits, at no cost, until ``transformers.trainer`` is imported, then makes every
``Trainer`` (GRPOTrainer, RLOOTrainer, DPOTrainer, SFTTrainer, ...) carry one
`RLWatchCallback`. The run appears in ``./rlwatch_logs/metrics.db`` and alerts
fire as it trains. ``RLWATCH_DISABLE=1`` turns it off.

Explicit ways, for those who prefer them::

    trainer = GRPOTrainer(..., callbacks=[RLWatchCallback()])
    rlwatch.attach(trainer=trainer)
    GRPOConfig(..., report_to=["rlwatch"])

See docs/adapters/trl.md for what is recorded and under which names.
"""

# The start-up hook imports this package in every Python process: keep it to
# sys/os-only modules (no typing, no __future__, no transformers).
from rlwatch_trl import _bootstrap

TYPE_CHECKING = False  # type checkers treat this name as True
if TYPE_CHECKING:
    from rlwatch_trl._version import __version__
    from rlwatch_trl.callback import RLWatchCallback

__all__ = ["RLWatchCallback", "__version__"]

# Importing the package (e.g. for RLWatchCallback) also arms the automatic
# registration, for environments where the .pth file is not processed.
_bootstrap.install()


def __getattr__(name: str) -> object:
    # Lazy: importing rlwatch_trl must not import transformers (the start-up
    # hook imports this package in every Python process).
    if name == "RLWatchCallback":
        from rlwatch_trl.callback import RLWatchCallback

        return RLWatchCallback
    if name == "__version__":
        from rlwatch_trl._version import __version__

        return __version__
    raise AttributeError(f"module 'rlwatch_trl' has no attribute {name!r}")
