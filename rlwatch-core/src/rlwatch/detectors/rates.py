"""Rule logic for a rate in [0, 1] (share of truncated completions, of degenerate GRPO groups).

A rate that is high from the first step is a property of the run's set-up
(``max_completion_length`` too small for the task, a task too easy or too
hard for the model), not an instability: `RateWatch` reports it once, as a
finding, and from then on judges the rate against the run's own level. A rate
that *rises* to a high level from a lower one is the failure: warning when it
reaches ``warning_level`` and is ``warning_rise`` above the run's baseline,
critical at ``critical_level`` and ``critical_rise`` above it, each held for
k of the last n values.

Unlike the level watches, a rate has no cold-start rule: rates are often
computed over a handful of samples (one GRPO group of four completions makes
the degenerate share 0 or 1 and the truncated share move in quarters), so a
jump between two early values says nothing; judging starts once warm-up has
given the run a baseline, and then needs k of n.
"""

from __future__ import annotations

import math

from rlwatch.stats.robust import Persistence, RollingBaseline

CHRONIC_FROM_START = 3
"""A rate at or above the warning level in each of the first this many values is chronic."""


class RateWatch:
    """Judges one rate per step; see the module docstring.

    Args:
        warning_level, critical_level: Rates at which a rise may warn / be critical.
        warning_rise, critical_rise: How far above the run's baseline it must also be.
        k, n: Persistence: k of the last n values.
        warmup_steps: Training steps (with at least 5 values, or this many values) before the rolling
            baseline replaces the first values as the reference.
        window: Values the rolling baseline (a median) describes.

    Attributes:
        chronic: The rate was at or above ``warning_level`` from the first value (set after
            `CHRONIC_FROM_START` values).
        last: The last rate seen.
    """

    def __init__(
        self,
        warning_level: float,
        critical_level: float,
        warning_rise: float,
        critical_rise: float,
        k: int,
        n: int,
        warmup_steps: int,
        window: int = 100,
    ) -> None:
        self.warning_level = warning_level
        self.critical_level = critical_level
        self.warning_rise = warning_rise
        self.critical_rise = critical_rise
        self.warmup_steps = warmup_steps
        self._baseline = RollingBaseline(window=window, refresh=8, min_count=2)
        self._warn = Persistence(k, n)
        self._crit = Persistence(k, n)
        self._first: list[float] = []
        self._first_step = -1
        self._t = 0
        self.live = False
        self.chronic: bool | None = None
        self.last = math.nan

    def reference(self) -> float:
        """The run's own level: the rolling median once warm, else the median of the first values."""
        if self.live:
            return self._baseline.median
        if not self._first:
            return math.nan
        ordered = sorted(self._first)
        return ordered[(len(ordered) - 1) // 2]  # the lower median: a rise is measured from the lower level

    def run_began_earlier(self) -> None:
        """The run was watched before this rate's first value (it appeared later): it cannot be chronic."""
        if self._t == 0:
            self.chronic = False

    def observe(self, rate: float, step: int) -> tuple[int, bool]:
        """``(severity 0/1/2, chronic_now)``: chronic_now is True once, when the rate proves high from the start."""
        self._t += 1
        t = self._t
        if t == 1:
            self._first_step = step
        self.last = rate
        sev = self._judge(rate, t)  # against the values before this one
        chronic_now = False
        if self.chronic is None and len(self._first) < CHRONIC_FROM_START:
            self._first.append(rate)
            if len(self._first) == CHRONIC_FROM_START:
                self.chronic = all(r >= self.warning_level for r in self._first)
                chronic_now = self.chronic
        self._baseline.push(rate)
        if not self.live and (t >= max(self.warmup_steps, 5)
                              or (t >= 5 and step - self._first_step >= self.warmup_steps)):
            self.live = True
            self._baseline.refresh_now()
        return sev, chronic_now

    def _judge(self, rate: float, t: int) -> int:
        if rate < self.warning_level or not self.live:
            return 0
        rise = rate - self._baseline.median
        critical = rate >= self.critical_level and rise >= self.critical_rise
        if critical and self._crit.hit(t):
            self._warn.hit(t)
            return 2
        if rise >= self.warning_rise and self._warn.hit(t):
            return 1
        return 0
