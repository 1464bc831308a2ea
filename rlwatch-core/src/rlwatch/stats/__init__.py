"""Statistics used by rlwatch's detectors, in pure Python and numpy.

* `rlwatch.stats.robust`: rolling median/IQR baselines, k-of-n persistence,
  EWMA (pure Python, for the per-step path).
* `rlwatch.stats.trend`: Mann-Kendall z and Theil-Sen slope of a window.
* `rlwatch.stats.dip`: Hartigan & Hartigan's dip test of unimodality
  (``dip_test``, used by ``reward_hacking``).

Nothing here is imported eagerly: ``dip_test`` (and numpy with it) loads on
first use, so ``import rlwatch`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rlwatch.stats.dip import DipResult, dip_statistic, dip_test

__all__ = ["DipResult", "dip_statistic", "dip_test"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from rlwatch.stats import dip

        return getattr(dip, name)
    raise AttributeError(name)
