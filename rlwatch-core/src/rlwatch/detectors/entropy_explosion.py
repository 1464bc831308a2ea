"""`entropy_explosion`: policy entropy rises many-fold above the run's own level.

The opposite failure of a collapse: the policy turns to noise (a learning
rate far too high, a broken reference or loss sign, a reward that pays
randomness). A run whose entropy goes from 0.06 to 5.4 nats produces
gibberish. Healthy training moves entropy down slowly, and an entropy bonus
or clip-higher lets it rise a little; a four- to ten-fold rise is neither.

The rolling baseline is on a log scale (entropy's noise is multiplicative);
a value is high when it is above ``warning_ratio`` / ``critical_ratio`` x the
baseline, ``min_sigmas`` robust log-sigmas above it and at least
``min_rise`` nats above it (so 0.01 -> 0.05 nats, five-fold but nothing, is
not an explosion). A run that already sits at 2-3 nats cannot rise four-fold
(a uniform distribution over a 150k vocabulary is 11.9 nats), so a rise of
``warning_rise`` / ``critical_rise`` nats is high whatever the ratio. Before
the baseline exists, two values in a row above
``early_ratio`` x the run's first values and ``early_min_rise`` nats above
them are critical. Baselines below ``min_baseline`` nats count as that much.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rlwatch.alerts import Alert
from rlwatch.detectors.bands import BandOptions
from rlwatch.detectors.base import Detector, StepArrays, StepValues
from rlwatch.detectors.wording import k_of_n_rule, level_summary, ratio_alert
from rlwatch.hookspecs import hookimpl
from rlwatch.options import option, require

RECOMMENDATION = (
    "1) Read recent samples: rising entropy with falling reward means the policy is turning to noise "
    "(gibberish, mixed languages, random tokens); stop the run and keep the last checkpoint before the rise. "
    "2) Lower the learning rate; check the loss sign, the advantage normalisation and that the old/ref "
    "log-probabilities are the ones intended (a mismatched reference pushes the policy away). "
    "3) If an entropy bonus is on, lower its coefficient. "
    "4) Check the sampling settings (temperature, top-p) did not change."
)


@dataclass
class EntropyExplosionConfig(BandOptions, warning_ratio=4.0, critical_ratio=10.0, min_sigmas=3.0,
                             baseline_window=100, warning_k=3, warning_n=5, critical_k=2, critical_n=3):
    """Options of the `entropy_explosion` detector (the band options are `BandOptions`')."""

    min_rise: float = option(0.3, "A high value must also be at least this many nats above the baseline.")
    warning_rise: float = option(
        2.0, "A rise of this many nats is high whatever the ratio (a run at 2.5 nats cannot rise 4-fold) ..."
    )
    critical_rise: float = option(4.0, "... and this many nats is in the critical band.")
    min_baseline: float = option(0.05, "Baselines below this many nats count as this much (ratios of near zero).")
    early_ratio: float = option(10.0, "Cold start: two values in a row above this multiple of the first values ...")
    early_min_rise: float = option(1.0, "... and this many nats above them are critical.")

    def validate(self) -> None:
        """Raise `rlwatch.errors.ConfigError` for impossible values."""
        super().validate()
        require(self.min_rise >= 0.0, "entropy_explosion.min_rise must be >= 0")
        require(0.0 <= self.warning_rise <= self.critical_rise, "entropy_explosion: need 0 <= warning_rise <= "
                "critical_rise")
        require(self.min_baseline > 0.0, "entropy_explosion.min_baseline must be > 0")
        require(self.early_ratio == 0.0 or self.early_ratio > 1.0, "entropy_explosion.early_ratio must be 0 or > 1")
        require(self.early_min_rise >= 0.0, "entropy_explosion.early_min_rise must be >= 0")


class EntropyExplosionDetector(Detector[EntropyExplosionConfig]):
    """Policy entropy many times its rolling (log-scale) baseline, persistently."""

    id: ClassVar[str] = "entropy_explosion"
    config_class = EntropyExplosionConfig
    metrics: ClassVar[tuple[str, ...]] = ("entropy",)
    arrays: ClassVar[tuple[str, ...]] = ()
    missing_hint: ClassVar[str] = (
        "no entropy logged; log the policy's mean per-token entropy (TRL logs 'entropy', veRL "
        "'actor/entropy'; otherwise pass entropy=... to log_step)"
    )

    def __init__(self, config: EntropyExplosionConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self._watch = cfg.rising_watch(
            reference_floor=cfg.min_baseline, min_delta=cfg.min_rise, max_delta_warning=cfg.warning_rise,
            max_delta_critical=cfg.critical_rise, early_ratio=cfg.early_ratio, early_min_delta=cfg.early_min_rise,
        )

    def update(self, step: int, values: StepValues, arrays: StepArrays) -> list[Alert] | None:
        """Consume one step's entropy (absent, non-finite or negative: ignored)."""
        x = values.get("entropy")
        if x is None or x - x != 0.0 or x <= 0.0:
            return None
        sev = self._watch.observe(x, step)
        if sev == 0:
            return None
        rule = k_of_n_rule(self.config, sev) if self._watch.live else "two values in a row, at the start of the run"
        return [ratio_alert(self, step, sev, "Policy entropy", "entropy", x, self._watch, rule, RECOMMENDATION)]

    def summary(self) -> dict[str, float]:
        """Baseline, log-sigma and the current thresholds."""
        return level_summary(self._watch)


@hookimpl
def rlwatch_detectors() -> list[type[Detector[EntropyExplosionConfig]]]:
    """Register `entropy_explosion`."""
    return [EntropyExplosionDetector]
