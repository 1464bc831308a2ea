"""`kl_explosion`: KL to the reference policy jumps or runs away.

KL is positive with multiplicative, heavy-tailed noise, and in a healthy run
it grows slowly and smoothly over thousands of steps. So the detector works
on a log scale against a rolling median of the last ``baseline_window``
values: a value is high when it exceeds ``warning_ratio`` x baseline AND
``min_sigmas`` robust log-sigmas above it. Slow growth moves the rolling
median along with it; a jump or a runaway (orders of magnitude within tens
of steps) outpaces it. Isolated single-step spikes are absorbed by the k-of-n
persistence rule. KL values under ``min_kl`` (the first steps, when the
policy still equals the reference) are treated as ``min_kl`` so that growth
from ~0 is not read as an explosion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rlwatch.alerts import Alert
from rlwatch.detectors.bands import BandOptions, LevelWatch
from rlwatch.detectors.base import Detector, StepArrays, StepValues
from rlwatch.detectors.wording import k_of_n_rule, level_summary, ratio_alert
from rlwatch.hookspecs import hookimpl
from rlwatch.options import option, require

RECOMMENDATION = (
    "1) Stop or pause and keep the last checkpoint before the jump; a runaway KL rarely "
    "recovers on its own. "
    "2) Lower the learning rate and/or raise the KL coefficient (beta); check that the "
    "reference model is the intended one and did not change. "
    "3) Tighten the policy update: smaller clip range, fewer PPO/GRPO epochs per batch, "
    "gradient clipping. "
    "4) Check for a reward exploit driving the policy away (reward up while samples degrade)."
)


@dataclass
class KLExplosionConfig(BandOptions, warning_ratio=4.0, critical_ratio=10.0, min_sigmas=3.0, baseline_window=64,
                        warning_k=3, warning_n=5, critical_k=2, critical_n=3):
    """Options of the `kl_explosion` detector (the band options are `BandOptions`')."""

    spike_critical_ratio: float = option(
        100.0, "A single value above this multiple of the baseline is critical at once (0 disables)."
    )
    min_kl: float = option(
        0.02, "KL values below this count as this value (nats): tiny early KL does not make tiny thresholds."
    )

    def validate(self) -> None:
        """Raise `rlwatch.errors.ConfigError` for impossible values."""
        super().validate()
        require(
            self.spike_critical_ratio == 0.0 or self.spike_critical_ratio > 1.0,
            "kl_explosion.spike_critical_ratio must be 0 (off) or > 1",
        )
        require(self.min_kl > 0.0, "kl_explosion.min_kl must be > 0")


class KLExplosionDetector(Detector[KLExplosionConfig]):
    """KL far above its rolling log-scale baseline, persistently."""

    id: ClassVar[str] = "kl_explosion"
    config_class = KLExplosionConfig
    metrics: ClassVar[tuple[str, ...]] = ("kl_divergence",)
    arrays: ClassVar[tuple[str, ...]] = ()
    missing_hint: ClassVar[str] = (
        "no kl_divergence logged; GRPO logs KL only when beta > 0 (TRL: 'kl'); PPO "
        "trainers log an approximate KL; or pass kl_divergence=... to log_step"
    )

    def __init__(self, config: KLExplosionConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self._floor = cfg.min_kl
        self._watch = LevelWatch(
            side="high",
            ratio_warning=cfg.warning_ratio,
            ratio_critical=cfg.critical_ratio,
            spike_critical=cfg.spike_critical_ratio,
            min_sigmas=cfg.min_sigmas,
            warning_k=cfg.warning_k,
            warning_n=cfg.warning_n,
            critical_k=cfg.critical_k,
            critical_n=cfg.critical_n,
            reference_floor=cfg.min_kl,
            warmup=cfg.warmup_steps,
            window=cfg.baseline_window,
            log_scale=True,
            min_rel_sigma=0.05,
        )

    def update(self, step: int, values: StepValues, arrays: StepArrays) -> list[Alert] | None:
        """Consume one step's KL (absent or non-finite: ignored)."""
        x = values.get("kl_divergence")
        if x is None or x - x != 0.0:
            return None
        if x < self._floor:
            # also covers negative k1-estimator values
            x = self._floor
        sev = self._watch.observe(x)
        if sev == 0:
            return None
        return [self._alert(step, x, sev)]

    def _alert(self, step: int, x: float, sev: int) -> Alert:
        rule = k_of_n_rule(self.config, sev)
        return ratio_alert(self, step, sev, "KL divergence", "kl_divergence", x, self._watch, rule, RECOMMENDATION)

    def summary(self) -> dict[str, float]:
        """Baseline, log-sigma and the current thresholds."""
        return level_summary(self._watch)


@hookimpl
def rlwatch_detectors() -> list[type[Detector[KLExplosionConfig]]]:
    """Register `kl_explosion`."""
    return [KLExplosionDetector]
