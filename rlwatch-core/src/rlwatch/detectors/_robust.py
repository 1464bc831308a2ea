"""Robust running statistics shared by the built-in detectors.

Everything here is built for the training thread: the per-step path is a
handful of float operations in plain Python (no numpy per scalar), and any
work proportional to a window is amortised (done once every ``refresh``
pushes, or only when a cheap O(1) pre-check has already tripped).

The pieces:

* `RollingBaseline` -- median and robust spread (from the inter-quartile
  range, optionally on a log scale) of the last ``window`` finite values,
  refreshed every ``refresh`` pushes. Values outside the clip band set by the
  owner enter the window winsorised, so an anomaly cannot drag the baseline
  towards itself quickly, yet a genuine regime change is absorbed in time.
* `Persistence` -- "k of the last n observations" without per-step cost:
  only flagged observations are recorded.
* `Ewma` -- exponentially weighted mean.
* `trend_statistics` -- Mann-Kendall z and Theil-Sen slope of a short
  window, run only when a detector's O(1) pre-check asks for them.
* `LevelWatch` -- a `RollingBaseline` with ratio/sigma bands and k-of-n
  persistence: the one-call-per-step core of most scalar detectors.

Non-finite values never reach any of these: detectors drop them first (the
``loss_nan`` detector is the one that reports them), so one NaN cannot
poison a baseline for the rest of the run.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from typing import Any

_IQR_TO_SIGMA = 1.0 / 1.349
"""IQR of a normal distribution is 1.349 sigma."""


_PHASES = itertools.count()


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
        # (it shortens only the interval after the first refresh).
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
        self._next = count + self.refresh - self._phase
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


class Ewma:
    """Exponentially weighted moving average seeded by the first value.

    Attributes:
        alpha: Weight of the newest value (0 < alpha <= 1).
        value: Current average (NaN before the first update).
    """

    __slots__ = ("alpha", "value")

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.value = math.nan

    def update(self, x: float) -> float:
        """Fold in one finite value and return the new average."""
        v = self.value
        if v != v:
            self.value = x
        else:
            self.value = v + self.alpha * (x - v)
        return self.value


_PAIRS: dict[int, tuple[Any, Any, Any]] = {}


def _pairs(n: int) -> tuple[Any, Any, Any]:
    """Cached (i, j, j - i) index arrays of all pairs i < j of a window."""
    import numpy as np  # deferred: keeps `import rlwatch` light
    got = _PAIRS.get(n)
    if got is None:
        i, j = np.triu_indices(n, 1)
        got = (i, j, (j - i).astype(np.float64))
        if len(_PAIRS) < 64:
            _PAIRS[n] = got
    return got


def trend_statistics(x: Any) -> tuple[float, float]:
    """Mann-Kendall z score and Theil-Sen slope of a short series.

    One pass over all pairs serves both statistics (O(n^2), meant for a few
    dozen values, run only when a detector's O(1) pre-check asks for it).

    Args:
        x: 1-D sequence of finite floats.

    Returns:
        ``(z, slope)``: the Mann-Kendall normal score with continuity and tie
        corrections (z < 0: decreasing) and the Theil-Sen slope per step.
        ``(0.0, 0.0)`` for fewer than 3 values.
    """
    import numpy as np  # deferred: keeps `import rlwatch` light
    a = np.asarray(x, dtype=np.float64)
    n = a.size
    if n < 3:
        return 0.0, 0.0
    i, j, gap = _pairs(n)
    d = a[j] - a[i]
    s = float(np.count_nonzero(d > 0.0)) - float(np.count_nonzero(d < 0.0))
    slope = float(np.median(d / gap))
    var = n * (n - 1) * (2 * n + 5) / 18.0
    ties = n - np.unique(a).size
    if ties:
        # exact tie correction needs group sizes; only then pay for them
        _, counts = np.unique(a, return_counts=True)
        t = counts[counts > 1].astype(np.float64)
        var -= float((t * (t - 1) * (2 * t + 5)).sum()) / 18.0
    if var <= 0.0 or s == 0.0:
        return 0.0, slope
    z = (s - 1.0 if s > 0 else s + 1.0) / math.sqrt(var)
    return z, slope


def require(condition: bool, message: str) -> None:
    """Raise `rlwatch.config.ConfigError(message)` unless ``condition``.

    Used by detector configs' ``validate``. The import is deferred because
    `rlwatch.config` imports the detector modules.
    """
    if not condition:
        from rlwatch.config import ConfigError

        raise ConfigError(message)


def validate_common(config: Any, detector_id: str) -> None:
    """Check the fields every `DetectorConfig` has."""
    require(config.warmup_steps >= 0, f"{detector_id}.warmup_steps must be >= 0, got {config.warmup_steps}")
    require(
        config.cooldown_steps >= 0,
        f"{detector_id}.cooldown_steps must be >= 0, got {config.cooldown_steps}",
    )


def validate_k_of_n(k: int, n: int, key: str) -> None:
    """Check a k-of-n persistence pair named ``<key>_k`` / ``<key>_n``."""
    require(k >= 1, f"{key}_k must be >= 1, got {k}")
    require(n >= k, f"{key}_n must be >= {key}_k ({k}), got {n}")
    require(n <= 10_000, f"{key}_n must be <= 10000, got {n}")


def _exp(x: float) -> float:
    """exp() that saturates instead of raising OverflowError.

    A log-scale baseline of hostile data (values from 1e-300 to 1e300) has a
    huge sigma; thresholds then become inf/0, which simply never trip.
    """
    if x > 700.0:
        return math.inf
    if x < -700.0:
        return 0.0
    return math.exp(x)


def validate_high_level(config: Any, detector_id: str) -> None:
    """Checks shared by detectors that watch a positive metric rise above its baseline.

    The config must have ``warning_ratio``, ``critical_ratio``, ``min_sigmas``,
    ``baseline_window`` and the ``warning_k/n`` and ``critical_k/n`` pairs.
    """
    validate_common(config, detector_id)
    require(
        1.0 < config.warning_ratio < config.critical_ratio,
        f"{detector_id}: need 1 < warning_ratio < critical_ratio, got "
        f"warning_ratio={config.warning_ratio}, critical_ratio={config.critical_ratio}",
    )
    require(config.min_sigmas >= 0.0, f"{detector_id}.min_sigmas must be >= 0")
    require(config.baseline_window >= 8, f"{detector_id}.baseline_window must be >= 8")
    validate_k_of_n(config.warning_k, config.warning_n, f"{detector_id}.warning")
    validate_k_of_n(config.critical_k, config.critical_n, f"{detector_id}.critical")


class LevelWatch(RollingBaseline):
    """Bands around a rolling baseline, with k-of-n persistence: one scalar.

    Subclasses `RollingBaseline` so the common step is a single call: one
    comparison against a precomputed threshold and a ring write. Thresholds
    are recomputed only when the baseline refreshes.

    A value is *out* when it lies beyond the warning band on the bad side
    (``side="high"``: above, ``"low"``: below). The band edge is the stricter
    of a ratio to the reference (``ratio_warning`` x baseline) and a
    distance of ``min_sigmas`` robust standard deviations, then bounded by
    the absolute limits (an absolute limit always counts as out). Out
    values enter the baseline winsorised at the band edge.

    Args:
        side: ``"high"`` or ``"low"``: which direction is bad.
        ratio_warning: Warning band as a ratio to the reference (> 1 for
            high, < 1 for low).
        ratio_critical: Critical band as a ratio (further out).
        min_sigmas: Minimum distance in robust sigmas (log units when
            ``log_scale``) for the warning band; critical adds 2.
        warning_k: Warning when ``warning_k`` of the last ``warning_n``
            observations were out ...
        warning_n: ... (see above).
        critical_k: Critical when ``critical_k`` of the last ``critical_n``
            observations were beyond the critical band.
        critical_n: ... (see above).
        spike_warning: Single observation beyond this ratio warns at once
            (``0`` disables).
        spike_critical: Single observation beyond this ratio is critical at
            once (``0`` disables).
        absolute_warning: Value beyond which it is always out (``nan``: none).
        absolute_critical: Value beyond which it always counts as critical.
        reference_floor: The ratio reference is ``max(median, floor)`` (high
            side) so tiny baselines (early KL) do not make tiny thresholds.
        warmup: Observations before any judgement.
        window, refresh, min_count, log_scale, min_rel_sigma, min_abs_sigma:
            As in `RollingBaseline`.

    Attributes:
        warning_edge: Current warning threshold (linear units).
        critical_edge: Current critical threshold (linear units).
    """

    __slots__ = (
        "_crit",
        "_s_crit",
        "_s_warn",
        "_sign",
        "_spike_c",
        "_spike_w",
        "_warn",
        "absolute_critical",
        "absolute_warning",
        "critical_edge",
        "min_sigmas",
        "ratio_critical",
        "ratio_warning",
        "reference_floor",
        "side",
        "spike_critical",
        "spike_warning",
        "warmup",
        "warning_edge",
    )

    def __init__(
        self,
        *,
        side: str,
        ratio_warning: float,
        ratio_critical: float,
        min_sigmas: float = 3.0,
        warning_k: int = 3,
        warning_n: int = 5,
        critical_k: int = 2,
        critical_n: int = 3,
        spike_warning: float = 0.0,
        spike_critical: float = 0.0,
        absolute_warning: float = math.nan,
        absolute_critical: float = math.nan,
        reference_floor: float = 0.0,
        warmup: int = 20,
        window: int = 64,
        refresh: int = 32,
        min_count: int = 8,
        log_scale: bool = False,
        min_rel_sigma: float = 0.0,
        min_abs_sigma: float = 0.0,
    ) -> None:
        super().__init__(window, refresh, min_count, log_scale, min_rel_sigma, min_abs_sigma)
        if side not in ("high", "low"):
            raise ValueError(f"side must be 'high' or 'low', got {side!r}")
        self.side = side
        self._sign = 1.0 if side == "high" else -1.0
        self.ratio_warning = ratio_warning
        self.ratio_critical = ratio_critical
        self.min_sigmas = min_sigmas
        self.spike_warning = spike_warning
        self.spike_critical = spike_critical
        self.absolute_warning = absolute_warning
        self.absolute_critical = absolute_critical
        self.reference_floor = reference_floor
        self.warmup = warmup
        self._warn = Persistence(warning_k, warning_n)
        self._crit = Persistence(critical_k, critical_n)
        # no thresholds are needed before warmup ends: first refresh then
        self._next = max(self.min_count, warmup)
        self.warning_edge = math.nan
        self.critical_edge = math.nan
        # signed thresholds: "out" is always  sign * x > _s_warn
        self._s_warn = math.inf
        self._s_crit = math.inf
        self._spike_w = math.inf
        self._spike_c = math.inf
        self._absolute_only()

    def observe(self, x: float) -> int:
        """Judge one finite value, then add it to the baseline.

        Returns:
            0 (fine, the common case), 1 (warning) or 2 (critical).
        """
        count = self.count + 1
        self.count = count
        sev = 0
        if self._sign * x > self._s_warn:
            sev = self._judge(x, count)
        # inlined RollingBaseline.push: this runs on every step
        if x > self.hi_clip:
            x = self.hi_clip
        elif x < self.lo_clip:
            x = self.lo_clip
        i = self._i
        self._ring[i] = x
        self._i = i + 1 if i < self._last else 0
        if count >= self._next:
            self._recompute()
            self._edges()
        return sev

    @property
    def n(self) -> int:
        """Observations so far."""
        return self.count

    def reference(self) -> float:
        """The level ratios are taken against (floored baseline median)."""
        med = self.median
        if self.side == "high":
            return max(med, self.reference_floor)
        return med

    def ratio(self, x: float) -> float:
        """``x`` relative to the reference (nan before a baseline exists)."""
        ref = self.reference()
        if not ref or ref != ref:
            return math.nan
        return x / ref

    def _judge(self, x: float, t: int) -> int:
        if t <= self.warmup:
            return 0
        s = self._sign * x
        crit = (s > self._s_crit and self._crit.hit(t)) or s > self._spike_c
        if crit:
            self._warn.hit(t)
            return 2
        if self._warn.hit(t) or s > self._spike_w:
            return 1
        return 0

    def _absolute_only(self) -> None:
        """Before the baseline is ready only absolute limits apply."""
        sign = self._sign
        aw, ac = self.absolute_warning, self.absolute_critical
        self._s_warn = sign * aw if aw == aw else math.inf
        self._s_crit = sign * ac if ac == ac else math.inf
        if ac == ac:
            self._s_warn = min(self._s_warn, self._s_crit)
        self.warning_edge = aw
        self.critical_edge = ac

    def _edges(self) -> None:
        if self.count < self.warmup or not self.ready:
            return
        med, sig, z = self.median, self.sigma, self.min_sigmas
        high = self.side == "high"
        ref = max(med, self.reference_floor) if high else med
        if self.log_scale:
            if high:
                warn = ref * max(self.ratio_warning, _exp(z * sig))
                crit = ref * max(self.ratio_critical, _exp((z + 2.0) * sig))
            else:
                warn = ref * min(self.ratio_warning, _exp(-z * sig))
                crit = ref * min(self.ratio_critical, _exp(-(z + 2.0) * sig))
        elif high:
            warn = max(ref * self.ratio_warning, ref + z * sig)
            crit = max(ref * self.ratio_critical, ref + (z + 2.0) * sig)
        else:
            warn = min(ref * self.ratio_warning, ref - z * sig)
            crit = min(ref * self.ratio_critical, ref - (z + 2.0) * sig)
        # winsorise out values at the (relative) warning edge, and cap
        # the good side loosely so single wild values cannot move the median
        if high:
            self.hi_clip = warn
            self.lo_clip = med * _exp(-8.0 * sig) if self.log_scale else med - 8.0 * sig
        else:
            self.lo_clip = warn
            self.hi_clip = med * _exp(8.0 * sig) if self.log_scale else med + 8.0 * sig
        sign = 1.0 if high else -1.0
        aw, ac = self.absolute_warning, self.absolute_critical
        if aw == aw:
            warn = min(warn, aw) if high else max(warn, aw)
        if ac == ac:
            crit = min(crit, ac) if high else max(crit, ac)
        self.warning_edge = warn
        self.critical_edge = crit
        self._s_warn = sign * min(warn, crit) if high else sign * max(warn, crit)
        self._s_crit = sign * crit
        if self.spike_warning > 0.0:
            self._spike_w = sign * ref * self.spike_warning
            self._s_warn = min(self._s_warn, self._spike_w)
        if self.spike_critical > 0.0:
            self._spike_c = sign * ref * self.spike_critical
            self._s_warn = min(self._s_warn, self._spike_c)


def coerce_config(config: Any, cls: type) -> Any:
    """Return ``config`` if it is a ``cls``; else a default ``cls`` keeping the
    common fields (a plugin host may hand a bare `DetectorConfig`)."""
    if isinstance(config, cls):
        return config
    return cls(
        enabled=getattr(config, "enabled", True),
        warmup_steps=getattr(config, "warmup_steps", 20),
        cooldown_steps=getattr(config, "cooldown_steps", 50),
    )


def k_of_n_rule(config: Any, severity: int) -> str:
    """The persistence rule that tripped, in words, for detectors with warning/critical k-of-n."""
    if severity == 2:
        return f"{config.critical_k} of the last {config.critical_n} above {config.critical_ratio:g}x"
    return f"{config.warning_k} of the last {config.warning_n} high"


def ratio_alert(
    detector: Any, step: int, severity: int, label: str, metric: str, x: float, watch: LevelWatch, rule: str,
    recommendation: str,
) -> Any:
    """The alert of a rising log-scale level: '<label> x is r times its baseline (rule).'"""
    ref = watch.reference()
    return detector.alert(
        step,
        "critical" if severity == 2 else "warning",
        f"{label} {x:.3g} is {x / ref:.1f}x its baseline {ref:.3g} ({rule}).",
        {metric: x, "baseline": ref, "warning_above": watch.warning_edge},
        recommendation,
    )


def level_summary(watch: LevelWatch, edge_prefix: str = "") -> dict[str, float]:
    """Baseline, log-sigma and the current thresholds of a log-scale level."""
    return {
        "baseline": watch.median,
        "log_sigma": watch.sigma,
        f"{edge_prefix}warning_above": watch.warning_edge,
        f"{edge_prefix}critical_above": watch.critical_edge,
        "observations": float(watch.n),
    }
