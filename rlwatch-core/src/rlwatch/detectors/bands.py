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

from rlwatch.detectors.base import DetectorConfig
from rlwatch.options import option, require, require_k_of_n
from rlwatch.stats.robust import Persistence, RollingBaseline, saturating_exp


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
