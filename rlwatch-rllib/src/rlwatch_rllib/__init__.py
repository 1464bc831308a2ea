"""rlwatch-rllib: watch RLlib training with rlwatch.

Hook it in with one line on the new API stack::

    from rlwatch_rllib import RLWatchCallbacks
    config = PPOConfig().environment("CartPole-v1").callbacks(RLWatchCallbacks)

Each ``algo.train()`` then logs one rlwatch step (step = RLlib's
``training_iteration``) with entropy, KL, losses, gradient norm, learning
rate, the episode-return mean and the returns of every episode finished in
that iteration. Options for the monitor: ``RLWatchCallbacks.configure(run_id=...,
log_dir=...)``. Next to your own callbacks: ``config.callbacks([Mine,
RLWatchCallbacks])`` or `add_to_config`. Turn it off with ``RLWATCH_DISABLE=1``.

Importing this package does not import Ray until a name below is used, so the
rlwatch plugin it registers costs nothing in processes that do not use RLlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rlwatch_rllib._version import __version__

if TYPE_CHECKING:
    from rlwatch_rllib.callbacks import RLWatchCallbacks, iter_rlwatch_callbacks, stop
    from rlwatch_rllib.mapping import metrics_from_result
    from rlwatch_rllib.wiring import add_to_config

__all__ = [
    "RLWatchCallbacks",
    "__version__",
    "add_to_config",
    "iter_rlwatch_callbacks",
    "metrics_from_result",
    "stop",
]

_LAZY = {
    "RLWatchCallbacks": "rlwatch_rllib.callbacks",
    "iter_rlwatch_callbacks": "rlwatch_rllib.callbacks",
    "stop": "rlwatch_rllib.callbacks",
    "add_to_config": "rlwatch_rllib.wiring",
    "metrics_from_result": "rlwatch_rllib.mapping",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rlwatch_rllib' has no attribute {name!r}")
    import importlib

    from rlwatch_rllib._compat import check_ray_version

    check_ray_version()
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
