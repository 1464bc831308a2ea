"""Statistics used by rlwatch's detectors, in pure Python and numpy.

``dip_test`` is Hartigan & Hartigan's dip test of unimodality (used by the
``reward_hacking`` detector). Importing this package does not import scipy
and does not read the dip null table; that happens on the first p-value.
"""

from __future__ import annotations

from rlwatch.stats.dip import DipResult, dip_statistic, dip_test

__all__ = ["DipResult", "dip_statistic", "dip_test"]
