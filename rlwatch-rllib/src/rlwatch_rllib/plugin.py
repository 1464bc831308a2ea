"""rlwatch plugin of rlwatch-rllib (entry point ``rlwatch: rllib``).

* `rlwatch_detect_framework`: ``"rllib"`` when RLlib is imported (looks in
  ``sys.modules``; never imports Ray).
* `rlwatch_adapt_trainer`: ``rlwatch.attach(trainer=x)`` with an
  ``AlgorithmConfig`` (adds `RLWatchCallbacks` bound to that monitor, keeping
  the user's callbacks) or a built ``Algorithm`` (driver-side metrics only).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from rlwatch.hookspecs import hookimpl

if TYPE_CHECKING:
    from rlwatch.core import RLWatch


@hookimpl
def rlwatch_detect_framework() -> str | None:
    """``"rllib"`` if ``ray.rllib`` has been imported in this process."""
    return "rllib" if "ray.rllib" in sys.modules else None


@hookimpl
def rlwatch_adapt_trainer(monitor: RLWatch, trainer: Any) -> bool | None:
    """Wire `monitor` into an RLlib AlgorithmConfig or Algorithm; None for anything else."""
    if "ray.rllib" not in sys.modules:  # not an RLlib object, and do not import Ray for nothing
        return None
    from ray.rllib.algorithms.algorithm import Algorithm
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

    from rlwatch_rllib.wiring import adapt_algorithm, add_to_config

    if isinstance(trainer, AlgorithmConfig):
        add_to_config(trainer, monitor=monitor)
        return True
    if isinstance(trainer, Algorithm):
        return adapt_algorithm(trainer, monitor) or None
    return None
