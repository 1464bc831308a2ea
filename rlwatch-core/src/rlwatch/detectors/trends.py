"""A short window of recent values for trend rules: is a metric moving steadily, not just noisily?

A level rule ("below half the baseline, 3 of the last 5 values") catches a
change once it is large. A slow collapse or a runaway is visible earlier as
a *steady* move: most pairs of recent values ordered the same way
(Mann-Kendall) with a robust slope (Theil-Sen) that is large enough to
matter. `TrendWindow` keeps the last values and their training steps and
computes both, cheaply: the statistics cost ~20 us, so a detector first
applies its own O(1) gate (the value is already well off its baseline) and
the window then evaluates the first gated value at once and every other
after it while the gate stays open.
"""

from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

from rlwatch.stats.trend import trend_statistics

EVERY = 2
"""While a detector's gate stays open, the statistics run on every this-many-th value."""


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


class Trend(NamedTuple):
    """A window's trend: Mann-Kendall z (< 0: falling), the Theil-Sen change across it, and its step span."""

    z: float
    change: float
    steps: int


class TrendWindow:
    """The last ``size`` values (log values with ``log_scale``) and their training steps.

    With ``keep_before`` it also keeps the ``size`` values before those, so a
    rule can ask whether the metric was settled before it started to move
    (`before`): a departure from a stable level is a change, a metric that has
    been climbing since the run began is still settling.

    Args:
        size: Values in the window (>= 3).
        log_scale: Judge log values (multiplicative metrics such as KL).
        keep_before: Also keep the preceding window.
    """

    __slots__ = ("_gated", "_steps", "_values", "log_scale", "size")

    def __init__(self, size: int, log_scale: bool = False, keep_before: bool = False) -> None:
        self.size = max(3, size)
        self.log_scale = log_scale
        kept = 2 * self.size if keep_before else self.size
        self._values: deque[float] = deque(maxlen=kept)
        self._steps: deque[int] = deque(maxlen=kept)
        self._gated = 0

    @property
    def first(self) -> float:
        """The oldest value of the current window (log with ``log_scale``); nan when empty."""
        n = len(self._values)
        return self._values[max(0, n - self.size)] if n else math.nan

    def push(self, x: float, step: int) -> None:
        """Add one finite value (> 0 with ``log_scale``) logged at training step ``step``."""
        self._values.append(math.log(x) if self.log_scale else x)
        self._steps.append(step)

    def due(self, gate_open: bool) -> bool:
        """Whether to compute the trend now: the window is full, the gate open, and it is this value's turn."""
        if not gate_open:
            self._gated = 0
            return False
        self._gated += 1
        return len(self._values) == self._values.maxlen and self._gated % EVERY == 1

    def trend(self) -> Trend:
        """Mann-Kendall z and Theil-Sen change over the window (in log units with ``log_scale``)."""
        return self._trend_of(len(self._values) - self.size, len(self._values))

    def before_level(self) -> float:
        """The median of the preceding window, for ``keep_before`` windows."""
        return _median(list(self._values)[: self.size])

    def before_sigma(self, level: float) -> float:
        """The robust sigma (MAD x 1.4826) of the preceding window around its median `level`."""
        return 1.4826 * _median([abs(v - level) for v in list(self._values)[: self.size]])

    def before_trend(self) -> Trend:
        """The preceding window's trend, for ``keep_before`` windows: was the metric settled before it moved?"""
        return self._trend_of(0, self.size)

    def _trend_of(self, lo: int, hi: int) -> Trend:
        lo = max(0, lo)
        values = list(self._values)[lo:hi]
        z, slope = trend_statistics(values)
        return Trend(z, slope * (len(values) - 1), max(1, self._steps[hi - 1] - self._steps[lo]))
