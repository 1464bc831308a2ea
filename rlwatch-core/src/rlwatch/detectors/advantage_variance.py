"""`advantage_variance`: the spread of advantages jumps far above its baseline.

Advantage std reflects the scale of returns/rewards the update sees. With
group-normalised GRPO advantages it sits near 1; in PPO it follows the value
function's error. A sustained jump means the update is suddenly driven by
much larger signals (a reward scale bug, a diverging value function, a few
outlier returns). Compared on a log scale with a rolling median baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rlwatch.alerts import Alert
from rlwatch.detectors.bands import BandOptions
from rlwatch.detectors.base import Detector, StepArrays, StepValues
from rlwatch.detectors.wording import k_of_n_rule, level_summary, ratio_alert
from rlwatch.hookspecs import hookimpl

RECOMMENDATION = (
    "1) Inspect the rewards/returns of the last batches for outliers or a scale change "
    "(a reward function bug, an unnormalised reward component). "
    "2) Normalise or clip rewards and advantages (per-group or batch whitening, "
    "reward clipping). "
    "3) PPO: check the value loss; a diverging critic inflates advantages - lower the "
    "critic learning rate or clip the value loss. "
    "4) Lower the learning rate until the spread returns to its baseline."
)


@dataclass
class AdvantageVarianceConfig(BandOptions, warning_ratio=3.0, critical_ratio=8.0, min_sigmas=4.0, baseline_window=64,
                              warning_k=3, warning_n=5, critical_k=2, critical_n=3):
    """Options of the `advantage_variance` detector (all of them are `BandOptions`')."""


class AdvantageVarianceDetector(Detector[AdvantageVarianceConfig]):
    """Advantage std far above its rolling log-scale baseline, persistently."""

    id: ClassVar[str] = "advantage_variance"
    config_class = AdvantageVarianceConfig
    metrics: ClassVar[tuple[str, ...]] = ("advantage_std",)
    arrays: ClassVar[tuple[str, ...]] = ("advantages",)
    missing_hint: ClassVar[str] = (
        "no advantage_std logged; pass advantage_std=... (std of the batch advantages) or "
        "the advantages array to log_step; GRPO with scale_rewards keeps it near 1"
    )

    def __init__(self, config: AdvantageVarianceConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self._watch = cfg.rising_watch(reference_floor=1e-12)

    def update(self, step: int, values: StepValues, arrays: StepArrays) -> list[Alert] | None:
        """Consume one step's advantage std (absent: derived from ``advantages``)."""
        x = values.get("advantage_std")
        if x is None:
            adv = arrays.get("advantages")
            if adv is None or adv.size < 2:
                return None
            x = float(adv.std())
        if x - x != 0.0:
            return None
        if x < 1e-12:
            x = 1e-12
        sev = self._watch.observe(x, step)
        if sev == 0:
            return None
        rule = k_of_n_rule(self.config, sev)
        return [ratio_alert(self, step, sev, "Advantage std", "advantage_std", x, self._watch, rule, RECOMMENDATION)]

    def summary(self) -> dict[str, float]:
        """Baseline, log-sigma and the current thresholds."""
        return level_summary(self._watch)


@hookimpl
def rlwatch_detectors() -> list[type[Detector[AdvantageVarianceConfig]]]:
    """Register `advantage_variance`."""
    return [AdvantageVarianceDetector]
