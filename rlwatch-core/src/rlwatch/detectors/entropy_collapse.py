"""`entropy_collapse`: policy entropy falls far below the run's own level.

Healthy entropy differs by two orders of magnitude between runs (2-3 nats for
open-ended chat, 0.3-0.6 for math/RLVR, 0.02-0.05 for a confident model on an
easy task), so **a low level is not a collapse**: the detector only ever
compares entropy with the run's own history, and a run that starts low and
stays low is never flagged. Three rules, all relative:

* **level**: the value is below ``warning_ratio`` / ``critical_ratio`` x the
  rolling median of the last ``baseline_window`` values, more than
  ``min_drop_sigmas`` robust standard deviations below it, and at least
  ``min_drop`` nats below it (at 0.03 nats, a wiggle to 0.01 is a 66 % fall
  but not a collapse), ``warning_k``/``critical_k`` times in the last n
  values;
* **trend**: a slow collapse (a ramp over 40-100 steps) is caught while it
  happens, not only once it crossed a ratio: Mann-Kendall finds a significant
  decline over the last ``trend_window`` values, whose Theil-Sen size is at
  least ``trend_drop`` of the baseline, with the value already below
  ``trend_ratio`` x baseline (warning), or below ``warning_ratio`` x baseline
  (critical);
* **cold start**: before the baseline exists (the first ``warmup_steps``
  training steps, at least 5 logged values), two values in a row below
  ``early_ratio`` x the first values' median, and ``min_drop`` below it, are
  critical: an early blow-up (2.9 -> 0.01 nats in five steps) is caught at
  the start of a run, even with sparse logging.

Values that cannot be an entropy (negative: a summed log-probability, a
mis-mapped key) are refused with one ``info`` finding instead of feeding a
baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rlwatch.alerts import Alert
from rlwatch.detectors.bands import LevelWatch
from rlwatch.detectors.base import Detector, DetectorConfig, StepArrays, StepValues
from rlwatch.detectors.trends import TrendWindow
from rlwatch.hookspecs import hookimpl
from rlwatch.options import option, require, require_k_of_n

RECOMMENDATION = (
    "1) Read recent samples: a collapsed policy repeats one answer or template; if so, "
    "roll back to the last checkpoint before the drop. "
    "2) Slow the policy down: lower the learning rate, raise the KL coefficient (beta) or "
    "add an entropy bonus. "
    "3) Keep exploration alive: asymmetric clipping (clip-higher, e.g. epsilon_high=0.28), "
    "a higher sampling temperature, or more samples per prompt. "
    "4) Check the reward for an exploit that pays one fixed output."
)

NOT_AN_ENTROPY = (
    "Map the per-token policy entropy to `entropy` (TRL PPO: policy/entropy_avg, not objective/entropy; "
    "veRL: actor/entropy), or leave it out; see docs/keymaps.md."
)


@dataclass
class EntropyCollapseConfig(DetectorConfig):
    """Options of the `entropy_collapse` detector."""

    warning_ratio: float = option(0.5, "Warn when entropy < this fraction of the run's baseline.")
    critical_ratio: float = option(0.25, "Critical when entropy < this fraction of the run's baseline.")
    min_drop_sigmas: float = option(
        4.0, "The drop must also exceed this many robust standard deviations of the baseline window."
    )
    min_drop: float = option(
        0.1, "The drop must also be at least this many nats: a low, stable entropy is not collapsing."
    )
    baseline_window: int = option(100, "Number of recent values the baseline median uses.")
    warning_k: int = option(3, "A warning needs warning_k low values ...")
    warning_n: int = option(5, "... within the last warning_n values.")
    critical_k: int = option(3, "A critical needs critical_k values beyond the critical band ...")
    critical_n: int = option(5, "... within the last critical_n values.")
    trend_window: int = option(24, "Values the trend rule (Mann-Kendall + Theil-Sen) looks at; 0 turns it off.")
    trend_z: float = option(3.0, "The decline must be this significant (Mann-Kendall z below -trend_z).")
    trend_drop: float = option(0.2, "... and lose at least this fraction of the baseline over the trend window ...")
    trend_ratio: float = option(0.8, "... with the value already below this fraction of the baseline (warning).")
    early_ratio: float = option(
        0.15, "Cold start: two values in a row below this fraction of the run's first values are critical."
    )

    def validate(self) -> None:
        """Raise `rlwatch.errors.ConfigError` for impossible values."""
        super().validate()
        require(
            0.0 < self.critical_ratio < self.warning_ratio < 1.0,
            "entropy_collapse: need 0 < critical_ratio < warning_ratio < 1, got "
            f"critical_ratio={self.critical_ratio}, warning_ratio={self.warning_ratio}",
        )
        require(self.min_drop_sigmas >= 0.0, "entropy_collapse.min_drop_sigmas must be >= 0")
        require(self.min_drop >= 0.0, "entropy_collapse.min_drop must be >= 0")
        require(self.baseline_window >= 8, "entropy_collapse.baseline_window must be >= 8")
        require_k_of_n(self.warning_k, self.warning_n, "entropy_collapse.warning")
        require_k_of_n(self.critical_k, self.critical_n, "entropy_collapse.critical")
        require(self.trend_window == 0 or self.trend_window >= 8, "entropy_collapse.trend_window must be 0 or >= 8")
        require(self.trend_z > 0.0, "entropy_collapse.trend_z must be > 0")
        require(0.0 < self.trend_drop < 1.0, "entropy_collapse.trend_drop must be in (0, 1)")
        require(self.warning_ratio <= self.trend_ratio < 1.0,
                "entropy_collapse: need warning_ratio <= trend_ratio < 1")
        require(0.0 <= self.early_ratio < 1.0, "entropy_collapse.early_ratio must be in [0, 1)")


class EntropyCollapseDetector(Detector[EntropyCollapseConfig]):
    """Policy entropy far below, or falling fast away from, the run's own level."""

    id: ClassVar[str] = "entropy_collapse"
    config_class = EntropyCollapseConfig
    metrics: ClassVar[tuple[str, ...]] = ("entropy",)
    arrays: ClassVar[tuple[str, ...]] = ()
    missing_hint: ClassVar[str] = (
        "no entropy logged; log the policy's mean per-token entropy (TRL >= 0.19 logs "
        "'entropy'; otherwise pass entropy=... to log_step)"
    )

    def __init__(self, config: EntropyCollapseConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self._watch = LevelWatch(
            side="low",
            ratio_warning=cfg.warning_ratio,
            ratio_critical=cfg.critical_ratio,
            min_sigmas=cfg.min_drop_sigmas,
            warning_k=cfg.warning_k,
            warning_n=cfg.warning_n,
            critical_k=cfg.critical_k,
            critical_n=cfg.critical_n,
            min_delta=cfg.min_drop,
            warmup_steps=cfg.warmup_steps,
            warmup_observations=cfg.warmup_steps,
            early_ratio=cfg.early_ratio,
            early_min_delta=cfg.min_drop,
            window=cfg.baseline_window,
            min_rel_sigma=0.02,
        )
        self._recent = TrendWindow(cfg.trend_window)
        self._refused = False

    def update(self, step: int, values: StepValues, arrays: StepArrays) -> list[Alert] | None:
        """Consume one step's entropy (absent or non-finite: ignored; negative: refused once)."""
        x = values.get("entropy")
        if x is None or x - x != 0.0:
            return None
        if x < 0.0:
            return self._refuse(step, x)
        w = self._watch
        sev = w.observe(x, step)
        self._recent.push(x, step)
        if sev == 0 and w.live and self.config.trend_window:
            sev = self._trend(x)
            if sev:
                return [self._alert(step, x, sev, "trend")]
        if sev == 0:
            return None
        return [self._alert(step, x, sev, "level" if w.live else "early")]

    def _trend(self, x: float) -> int:
        """Severity of the trend rule (0 when it does not hold); cheap unless the value is already low."""
        cfg, w = self.config, self._watch
        base = w.median
        gate = base > 0.0 and x <= cfg.trend_ratio * base and base - x >= cfg.min_drop
        if not self._recent.due(gate):
            return 0
        trend = self._recent.trend()
        if trend.z > -cfg.trend_z or -trend.change < cfg.trend_drop * base:
            return 0
        return 2 if x < cfg.warning_ratio * base else 1

    def _refuse(self, step: int, x: float) -> list[Alert] | None:
        if self._refused:
            return None
        self._refused = True
        return [self.alert(
            step, "info",
            f"Entropy values are negative ({x:.4g} at step {step}): that is not a policy entropy (a summed "
            "log-probability, or a mis-mapped key?). entropy_collapse ignores them.",
            {"entropy": x}, NOT_AN_ENTROPY,
        )]

    def _alert(self, step: int, x: float, sev: int, rule: str) -> Alert:
        cfg, w = self.config, self._watch
        base = w.reference()
        if sev == 2:
            severity, k, n = "critical", cfg.critical_k, cfg.critical_n
        else:
            severity, k, n = "warning", cfg.warning_k, cfg.warning_n
        if rule == "early":
            why = (f"{x / base:.0%} of the run's first values ({base:.3g} nats), two logged steps in a row, "
                   "right at the start of the run")
        elif rule == "trend":
            why = (f"{x / base:.0%} of the run's baseline {base:.3g} nats and still falling steadily "
                   f"(significant decline over the last {cfg.trend_window} values)")
        else:
            why = f"{x / base:.0%} of the run's baseline {base:.3g} nats ({k} of the last {n} values low)"
        values = {"entropy": x, "baseline": base}
        if w.live and w.warning_edge > 0.0:
            # an edge at or below zero (a baseline as wide as itself) is no threshold to draw
            values["warning_below"] = w.warning_edge
        return self.alert(
            step,
            severity,
            f"Policy entropy {x:.3g} nats is {why}.",
            values,
            RECOMMENDATION,
        )

    def summary(self) -> dict[str, float]:
        """Baseline median and sigma, and the current thresholds."""
        w = self._watch
        return {
            "baseline": w.median if w.live else w.anchor,
            "sigma": w.sigma,
            "warning_below": w.warning_edge,
            "critical_below": w.critical_edge,
            "observations": float(w.n),
            "live": float(w.live),
        }


@hookimpl
def rlwatch_detectors() -> list[type[Detector[EntropyCollapseConfig]]]:
    """Register `entropy_collapse`."""
    return [EntropyCollapseDetector]
