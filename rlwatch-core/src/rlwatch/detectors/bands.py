"""Rule logic shared by the level detectors: bands around a rolling baseline.

`LevelWatch` judges one scalar per step against a rolling robust baseline
(`rlwatch.stats.robust.RollingBaseline`): a warning band and a critical band
on the bad side, each with k-of-n persistence, optional single-step spike
levels and absolute limits. `BandOptions` declares, once, the options of the
detectors built on it (kl_explosion, advantage_variance, ...); each of them
only sets its own defaults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rlwatch.detectors.base import DetectorConfig
from rlwatch.options import option, require, require_k_of_n
from rlwatch.stats.robust import YOUNG, Persistence, RollingBaseline, saturating_exp


@dataclass
class BandOptions(DetectorConfig):
    """Options of a detector that watches a positive metric rise above its own baseline."""

    warning_ratio: float = option(4.0, "Warn when the value exceeds this multiple of its rolling baseline.")
    critical_ratio: float = option(10.0, "Critical when the value exceeds this multiple of its baseline.")
    min_sigmas: float = option(
        3.0, "The rise must also exceed this many robust (log-scale) standard deviations of the baseline window."
    )
    baseline_window: int = option(64, "Number of recent values the rolling baseline median describes.")
    warning_k: int = option(3, "A warning needs warning_k values above the warning band ...")
    warning_n: int = option(5, "... within the last warning_n observations.")
    critical_k: int = option(2, "A critical needs critical_k values above the critical band ...")
    critical_n: int = option(3, "... within the last critical_n observations.")

    def validate(self) -> None:
        """Raise `rlwatch.errors.ConfigError` for impossible values."""
        super().validate()
        name = self.section_name
        require(
            1.0 < self.warning_ratio < self.critical_ratio,
            f"{name}: need 1 < warning_ratio < critical_ratio, got "
            f"warning_ratio={self.warning_ratio}, critical_ratio={self.critical_ratio}",
        )
        require(self.min_sigmas >= 0.0, f"{name}.min_sigmas must be >= 0")
        require(self.baseline_window >= 8, f"{name}.baseline_window must be >= 8")
        require_k_of_n(self.warning_k, self.warning_n, f"{name}.warning")
        require_k_of_n(self.critical_k, self.critical_n, f"{name}.critical")

    def rising_watch(self, **extra: Any) -> LevelWatch:
        """The log-scale `LevelWatch` these options describe, for a metric that must not rise; `extra` adds to it."""
        return LevelWatch(
            side="high",
            ratio_warning=self.warning_ratio,
            ratio_critical=self.critical_ratio,
            min_sigmas=self.min_sigmas,
            warning_k=self.warning_k,
            warning_n=self.warning_n,
            critical_k=self.critical_k,
            critical_n=self.critical_n,
            warmup_steps=self.warmup_steps,
            warmup_observations=self.warmup_steps,
            window=self.baseline_window,
            log_scale=True,
            **{"min_rel_sigma": 0.05, **extra},
        )


class LevelWatch(RollingBaseline):
    """One scalar judged against the run's own level: cold start, then bands around a rolling baseline.

    **Warm-up is counted in training steps**, so that sparse logging does not
    blind it: the rolling baseline takes over once it has
    ``warmup_observations`` values, or ``min_observations`` values spanning
    ``warmup_steps`` training steps, whichever comes first (with
    ``logging_steps=10`` that is 5 logged values, not 20).

    **Cold start** (before that): each value is compared with an *anchor*,
    the healthiest of the first three values that were not themselves out
    (the lowest on the high side, the highest on the low side), and
    a value beyond ``early_ratio`` x anchor that is also ``early_min_delta``
    away from it is out. Two such values in a row are critical: a run that
    blows up in its first logged steps (entropy 2.9 -> 0.01, KL 0 -> 1.4,
    length 53 -> 2.6 tokens) gets its critical within a few logged steps,
    while the ordinary fast changes of early training (entropy halving,
    KL growing from 0) stay under these extreme ratios.

    **Then**, a value is out when it lies beyond the warning band on the bad
    side (``side="high"``: above, ``"low"``: below). The band edge is the
    stricter of a ratio to the reference (``ratio_warning`` x baseline) and a
    distance of ``min_sigmas`` robust standard deviations, then at least
    ``min_delta`` away from the reference in absolute units (so a low, stable
    level, whose relative noise is large, cannot trip a ratio by a few
    hundredths), bounded by the absolute limits. Out values enter the
    baseline winsorised at the band edge. Warning and critical need k-of-n
    persistence; single values beyond the spike ratios alert at once.

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
        min_delta: Smallest absolute distance from the reference that can be
            out, for both bands.
        max_delta_warning, max_delta_critical: High side: a rise of this
            many units above the reference is out whatever the ratio, once
            it is also ``min_sigmas`` above the noise (0: ratios only).
        warmup_steps: Training steps the baseline must span (see above).
        warmup_observations: Values after which the baseline takes over anyway.
        min_observations: Fewest values a baseline is built from.
        early_ratio: Cold-start ratio to the anchor (``0`` disables the cold
            start rule).
        early_min_delta: Cold-start absolute distance from the anchor.
        window, refresh, min_count, log_scale, min_rel_sigma, min_abs_sigma:
            As in `RollingBaseline`.

    Attributes:
        warning_edge: Current warning threshold (linear units).
        critical_edge: Current critical threshold (linear units).
        live: The rolling baseline judges (warm-up is over).
    """

    __slots__ = (
        "_anchor",
        "_anchor_values",
        "_crit",
        "_early_streak",
        "_first_step",
        "_s_crit",
        "_s_warn",
        "_sign",
        "_spike_c",
        "_spike_w",
        "_warn",
        "absolute_critical",
        "absolute_warning",
        "critical_edge",
        "early_min_delta",
        "early_ratio",
        "live",
        "max_delta_critical",
        "max_delta_warning",
        "min_delta",
        "min_observations",
        "min_sigmas",
        "ratio_critical",
        "ratio_warning",
        "reference_floor",
        "side",
        "spike_critical",
        "spike_warning",
        "warmup_observations",
        "warmup_steps",
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
        min_delta: float = 0.0,
        max_delta_warning: float = 0.0,
        max_delta_critical: float = 0.0,
        warmup_steps: int = 20,
        warmup_observations: int = 20,
        min_observations: int = 5,
        early_ratio: float = 0.0,
        early_min_delta: float = 0.0,
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
        self.min_delta = min_delta
        self.max_delta_warning = max_delta_warning
        self.max_delta_critical = max_delta_critical
        self.warmup_steps = warmup_steps
        self.warmup_observations = max(1, warmup_observations)
        self.min_observations = max(2, min(min_observations, self.warmup_observations))
        self.early_ratio = early_ratio
        self.early_min_delta = early_min_delta
        self._warn = Persistence(warning_k, warning_n)
        self._crit = Persistence(critical_k, critical_n)
        self._next = 1 << 62  # no refresh before the warm-up ends (then one at once)
        self._first_step = -1
        self._anchor_values: list[float] = []
        self._anchor = math.nan
        self._early_streak = 0
        self.live = False
        self.warning_edge = math.nan
        self.critical_edge = math.nan
        # signed thresholds: "out" is always  sign * x > _s_warn
        self._s_warn = math.inf
        self._s_crit = math.inf
        self._spike_w = math.inf
        self._spike_c = math.inf
        self._absolute_only()

    def observe(self, x: float, step: int = 0) -> int:
        """Judge one finite value logged at training step `step`, then add it to the baseline.

        Returns:
            0 (fine, the common case), 1 (warning) or 2 (critical).
        """
        count = self.count + 1
        self.count = count
        sev = 0
        out = False
        if not self.live:
            sev = self._early(x, step, count)
            if self._early_streak:
                # The failure itself must not become the first baseline: count it at the anchor, and let
                # the live persistence rule start from the values already out.
                x = self._anchor
                self._warn.hit(count)
                out = True
        elif self._sign * x > self._s_warn:
            sev = self._judge(x, count)
            out = True
        # inlined RollingBaseline.push: this runs on every step
        if x > self.hi_clip:
            x = self.hi_clip
        elif x < self.lo_clip:
            x = self.lo_clip
        i = self._i
        self._ring[i] = x
        self._i = i + 1 if i < self._last else 0
        if count >= self._next:
            if out and count < YOUNG * self.refresh:
                # A young baseline refreshes every few values; values that are out would soon be most of
                # it (and widen its spread until nothing is out): wait for a value back in the band.
                self._next = count + 1
            else:
                self._recompute()
                self._edges()
        elif not self.live and self._warmed(step, count):
            self.live = True
            self._next = count + 1  # the baseline (with this value) is computed now, then every `refresh`
            self._recompute()
            self._edges()
        return sev

    @property
    def n(self) -> int:
        """Observations so far."""
        return self.count

    @property
    def anchor(self) -> float:
        """The cold-start reference (nan before the first value)."""
        return self._anchor

    def reference(self) -> float:
        """The level ratios are taken against (floored baseline median, or the anchor before warm-up ends)."""
        med = self.median if self.live else self._anchor
        if self.side == "high":
            return max(med, self.reference_floor)
        return med

    def ratio(self, x: float) -> float:
        """``x`` relative to the reference (nan before one exists)."""
        ref = self.reference()
        if not ref or ref != ref:
            return math.nan
        return x / ref

    def _warmed(self, step: int, count: int) -> bool:
        if count >= self.warmup_observations:
            return True
        return count >= self.min_observations and step - self._first_step >= self.warmup_steps

    def _early(self, x: float, step: int, count: int) -> int:
        if count == 1:
            self._first_step = step
        sign = self._sign
        absolute = self._s_warn
        if sign * x > absolute:  # an absolute limit needs no baseline
            return 2 if sign * x > self._s_crit else 1
        anchor = self._anchor
        out = False
        if self.early_ratio > 0.0 and anchor == anchor:
            if self.side == "high":
                ref = max(anchor, self.reference_floor)
                out = x > self.early_ratio * ref and x - ref >= self.early_min_delta
            else:
                out = x < self.early_ratio * anchor and anchor - x >= self.early_min_delta
        if out:
            self._early_streak += 1
            return 2 if self._early_streak >= 2 else 0
        self._early_streak = 0
        values = self._anchor_values
        if len(values) < 3:
            # The healthiest of the first values (lowest KL, highest entropy): a blow-up that is already
            # under way at the second logged step must not become the reference it is measured against.
            values.append(x)
            self._anchor = min(values) if self.side == "high" else max(values)
        return 0

    def refresh_edges(self) -> None:
        """Recompute the thresholds now (after a change of `reference_floor`)."""
        self._edges()

    def _judge(self, x: float, t: int) -> int:
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
        if not self.live or not self.ready:
            return
        med, sig, z = self.median, self.sigma, self.min_sigmas
        high = self.side == "high"
        ref = max(med, self.reference_floor) if high else med
        if self.log_scale:
            if high:
                warn = ref * max(self.ratio_warning, saturating_exp(z * sig))
                crit = ref * max(self.ratio_critical, saturating_exp((z + 2.0) * sig))
            else:
                warn = ref * min(self.ratio_warning, saturating_exp(-z * sig))
                crit = ref * min(self.ratio_critical, saturating_exp(-(z + 2.0) * sig))
        elif high:
            warn = max(ref * self.ratio_warning, ref + z * sig)
            crit = max(ref * self.ratio_critical, ref + (z + 2.0) * sig)
        else:
            warn = min(ref * self.ratio_warning, ref - z * sig)
            crit = min(ref * self.ratio_critical, ref - (z + 2.0) * sig)
        if high and (self.max_delta_warning > 0.0 or self.max_delta_critical > 0.0):
            # a rise of this many units is out whatever the ratio (a level that starts high cannot multiply)
            noise = ref * saturating_exp(z * sig) if self.log_scale else ref + z * sig
            if self.max_delta_warning > 0.0:
                warn = min(warn, max(ref + self.max_delta_warning, noise))
            if self.max_delta_critical > 0.0:
                crit = min(crit, max(ref + self.max_delta_critical, noise))
        if self.min_delta > 0.0:
            if high:
                warn, crit = max(warn, ref + self.min_delta), max(crit, ref + self.min_delta)
            else:
                warn, crit = min(warn, ref - self.min_delta), min(crit, ref - self.min_delta)
        # winsorise out values at the (relative) warning edge, and cap
        # the good side loosely so single wild values cannot move the median
        if high:
            self.hi_clip = warn
            self.lo_clip = med * saturating_exp(-8.0 * sig) if self.log_scale else med - 8.0 * sig
        else:
            self.lo_clip = warn
            self.hi_clip = med * saturating_exp(8.0 * sig) if self.log_scale else med + 8.0 * sig
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
