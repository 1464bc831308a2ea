"""Robust running statistics for the training thread.

Everything here is built to be called on every logged step: the per-step path
is a handful of float operations in plain Python (no numpy per scalar), and
any work proportional to a window is amortised (done once every ``refresh``
pushes).

* `RollingBaseline` -- median and robust spread (from the inter-quartile
  range, optionally on a log scale) of the last ``window`` finite values,
  refreshed every ``refresh`` pushes. Values outside the clip band set by the
  owner enter the window winsorised.
* `Persistence` -- "k of the last n observations" without per-step cost:
  only flagged observations are recorded.
* `saturating_exp` -- exp() that saturates instead of overflowing.

Non-finite values must never reach these: callers drop them first.
"""

from __future__ import annotations

import itertools
import math
from collections import deque

_IQR_TO_SIGMA = 1.0 / 1.349
"""IQR of a normal distribution is 1.349 sigma."""


_PHASES = itertools.count()


YOUNG = 4
"""A baseline with fewer than ``YOUNG * refresh`` values is young: it refreshes every quarter of its values."""


class RollingBaseline:
    """Median and robust sigma of the last ``window`` values, amortised.

    Args:
        window: Number of recent values the baseline describes.
        refresh: Recompute median and sigma every ``refresh`` pushes (the
            sort costs O(window log window), so amortised cost is tiny).
        min_count: Values needed before the baseline is `ready`.
        log_scale: Describe the values on a log scale (for positive metrics
            whose noise is multiplicative: KL, gradient norm, std, length).
            Values must then be > 0; callers floor them first.
        min_rel_sigma: Lower bound on sigma, relative: on the log scale an
            absolute bound in log units, on the linear scale a fraction of
            ``|median|``. Keeps a constant metric from having zero spread.
        min_abs_sigma: Lower bound on sigma on the linear scale.

    Attributes:
        median: Current baseline level (linear units, also for log scale).
        sigma: Robust standard deviation (log units when ``log_scale``).
        ready: True once ``min_count`` values arrived and a refresh ran.
        lo_clip: Values below are pushed as ``lo_clip`` (owner sets it).
        hi_clip: Values above are pushed as ``hi_clip`` (owner sets it).
        count: Number of values pushed so far.
    """

    __slots__ = (
        "_i",
        "_last",
        "_next",
        "_phase",
        "_ring",
        "count",
        "hi_clip",
        "lo_clip",
        "log_scale",
        "median",
        "min_abs_sigma",
        "min_count",
        "min_rel_sigma",
        "ready",
        "refresh",
        "sigma",
        "window",
    )

    def __init__(
        self,
        window: int = 64,
        refresh: int = 32,
        min_count: int = 8,
        log_scale: bool = False,
        min_rel_sigma: float = 0.0,
        min_abs_sigma: float = 0.0,
    ) -> None:
        self.window = max(4, int(window))
        self.refresh = max(1, int(refresh))
        self.min_count = max(2, min(int(min_count), self.window))
        self.log_scale = log_scale
        self.min_rel_sigma = min_rel_sigma
        self.min_abs_sigma = min_abs_sigma
        # preallocated ring; ``count`` says how much of it is filled
        self._ring: list[float] = [0.0] * self.window
        self._last = self.window - 1
        self._i = 0
        self._next = self.min_count  # count at which the next refresh runs
        # Baselines fed on the same steps would all re-sort on the same step
        # every `refresh` values; a per-instance phase spreads that cost out
        # (it shortens only the first full-size interval).
        self._phase = (next(_PHASES) * 7) % self.refresh
        self.count = 0
        self.median = math.nan
        self.sigma = math.nan
        self.ready = False
        self.lo_clip = -math.inf
        self.hi_clip = math.inf

    def push(self, x: float) -> bool:
        """Add one finite value; return True when the baseline was refreshed.

        The caller recomputes its thresholds only on True, so the common
        step costs one call and a few comparisons.
        """
        if x > self.hi_clip:
            x = self.hi_clip
        elif x < self.lo_clip:
            x = self.lo_clip
        i = self._i
        self._ring[i] = x
        self._i = i + 1 if i < self._last else 0
        count = self.count + 1
        self.count = count
        if count >= self._next:
            self._recompute()
            return True
        return False

    def _recompute(self) -> None:
        count = self.count
        # A young baseline (few values, sparse logging) refreshes sooner: every quarter of its values, at most
        # every `refresh`; otherwise a median taken at the end of warm-up would stand for `refresh` more values.
        if count < YOUNG * self.refresh:
            self._next = count + max(1, count // 4)
        else:
            # the phase is spent on the first full-size gap: young gaps are too short to hold it
            self._next = count + max(1, self.refresh - self._phase)
            self._phase = 0
        s = sorted(self._ring if count >= self.window else self._ring[:count])
        n = len(s)
        # quartiles by linear interpolation, inlined: this runs every refresh
        last = n - 1
        pos = 0.25 * last
        i = int(pos)
        q1 = s[i] + (s[i + 1] - s[i]) * (pos - i) if i < last else s[i]
        pos = 0.5 * last
        i = int(pos)
        med = s[i] + (s[i + 1] - s[i]) * (pos - i) if i < last else s[i]
        pos = 0.75 * last
        i = int(pos)
        q3 = s[i] + (s[i + 1] - s[i]) * (pos - i) if i < last else s[i]
        if self.log_scale:
            # quantiles commute with the monotone log, so no per-value log
            sig = math.log(q3 / q1) * _IQR_TO_SIGMA if q1 > 0.0 else 0.0
            if sig < self.min_rel_sigma:
                sig = self.min_rel_sigma
        else:
            sig = (q3 - q1) * _IQR_TO_SIGMA
            floor = self.min_rel_sigma * abs(med)
            if floor < self.min_abs_sigma:
                floor = self.min_abs_sigma
            if sig < floor:
                sig = floor
        if n < 16:
            # a few values give a noisy IQR; widen a little rather than alarm
            sig *= 1.0 + 4.0 / n
        self.median = med
        self.sigma = sig
        self.ready = True

    def schedule_refresh(self, at_count: int) -> None:
        """Make the next refresh happen when ``count`` reaches ``at_count``."""
        self._next = max(at_count, self.count + 1)

    def refresh_now(self) -> None:
        """Recompute median and sigma now (e.g. at the end of warmup)."""
        if self.count >= 2:
            self._recompute()

    def reset(self) -> None:
        """Forget every value (used when a run restarts its own numbering)."""
        self._i = 0
        self._next = self.min_count
        self.count = 0
        self.median = math.nan
        self.sigma = math.nan
        self.ready = False
        self.lo_clip = -math.inf
        self.hi_clip = math.inf

    def values(self) -> list[float]:
        """The stored window, oldest first (copy; for diagnostics/tests)."""
        if self.count < self.window:
            return self._ring[: self.count]
        return self._ring[self._i :] + self._ring[: self._i]


class Persistence:
    """k-of-n persistence rule, paid for only on flagged observations.

    ``hit(t)`` records that observation number ``t`` (a per-detector counter
    of observations, not the training step, so gaps in step numbers do not
    matter) met the condition, and returns True when at least ``k`` of the
    last ``n`` observations did.
    """

    __slots__ = ("_hits", "k", "n")

    def __init__(self, k: int, n: int) -> None:
        self.k = max(1, int(k))
        self.n = max(self.k, int(n))
        self._hits: deque[int] = deque(maxlen=self.k)

    def hit(self, t: int) -> bool:
        """Record a flagged observation; True when the rule holds."""
        hits = self._hits
        hits.append(t)
        return len(hits) >= self.k and t - hits[0] < self.n

    def clear(self) -> None:
        """Forget recorded hits (e.g. after the condition resolved)."""
        self._hits.clear()


def saturating_exp(x: float) -> float:
    """exp() that saturates instead of raising OverflowError.

    A log-scale baseline of hostile data (values from 1e-300 to 1e300) has a
    huge sigma; thresholds then become inf/0, which simply never trip.
    """
    if x > 700.0:
        return math.inf
    if x < -700.0:
        return 0.0
    return math.exp(x)
