"""`entropy_collapse`: policy entropy falls far below the run's own level.

Healthy entropy differs by an order of magnitude between runs (2-3 nats for
open-ended chat, 0.3-0.6 nats for math/RLVR), so the detector compares each
value with a baseline learned from the run itself: the rolling median of the
last ``baseline_window`` values (after warmup). A value is low when it is
below ``warning_ratio`` x baseline AND more than ``min_drop_sigmas`` robust
standard deviations below it (so noisy runs need a real drop), or below the
absolute ``absolute_floor``. Low values enter the baseline winsorised, so a
collapse is not learned as the new normal within a few steps, while the
slow, steady entropy decline of a healthy run is followed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from rlwatch.alerts import Alert
from rlwatch.detectors.bands import LevelWatch
from rlwatch.detectors.base import Detector, DetectorConfig, StepArrays, StepValues
from rlwatch.hookspecs import hookimpl
from rlwatch.options import require, require_k_of_n

RECOMMENDATION = (
    "1) Read recent samples: a collapsed policy repeats one answer or template; if so, "
    "roll back to the last checkpoint before the drop. "
    "2) Slow the policy down: lower the learning rate, raise the KL coefficient (beta) or "
    "add an entropy bonus. "
    "3) Keep exploration alive: asymmetric clipping (clip-higher, e.g. epsilon_high=0.28), "
    "a higher sampling temperature, or more samples per prompt. "
    "4) Check the reward for an exploit that pays one fixed output."
)


@dataclass
class EntropyCollapseConfig(DetectorConfig):
    """Options of the `entropy_collapse` detector.

    Attributes:
        warning_ratio: Warn when entropy < this fraction of the baseline.
        critical_ratio: Critical when entropy < this fraction of the baseline.
        min_drop_sigmas: The drop must also exceed this many robust standard
            deviations of the baseline window (guards noisy runs).
        absolute_floor: Entropy (nats) under which the policy counts as
            collapsed whatever its baseline (critical when persistent).
        baseline_window: Number of recent values the baseline median uses.
        warning_k: Warning needs ``warning_k`` low values within the last
            ``warning_n`` observations.
        warning_n: See ``warning_k``.
        critical_k: Critical needs ``critical_k`` values beyond the critical
            band within the last ``critical_n`` observations.
        critical_n: See ``critical_k``.
    """

    warning_ratio: float = 0.5
    critical_ratio: float = 0.25
    min_drop_sigmas: float = 4.0
    absolute_floor: float = 0.03
    baseline_window: int = 100
    warning_k: int = 3
    warning_n: int = 5
    critical_k: int = 3
    critical_n: int = 5

    def validate(self) -> None:
        """Raise `rlwatch.config.ConfigError` for impossible values."""
        super().validate()
        require(
            0.0 < self.critical_ratio < self.warning_ratio < 1.0,
            "entropy_collapse: need 0 < critical_ratio < warning_ratio < 1, got "
            f"critical_ratio={self.critical_ratio}, warning_ratio={self.warning_ratio}",
        )
        require(self.min_drop_sigmas >= 0.0, "entropy_collapse.min_drop_sigmas must be >= 0")
        require(self.absolute_floor >= 0.0, "entropy_collapse.absolute_floor must be >= 0")
        require(self.baseline_window >= 8, "entropy_collapse.baseline_window must be >= 8")
        require_k_of_n(self.warning_k, self.warning_n, "entropy_collapse.warning")
        require_k_of_n(self.critical_k, self.critical_n, "entropy_collapse.critical")


class EntropyCollapseDetector(Detector[EntropyCollapseConfig]):
    """Policy entropy far below its learned baseline or under an absolute floor."""

    id: ClassVar[str] = "entropy_collapse"
    config_class = EntropyCollapseConfig
    metrics: ClassVar[tuple[str, ...]] = ("entropy",)
    arrays: ClassVar[tuple[str, ...]] = ()
    missing_hint: ClassVar[str] = (
        "no entropy logged; log the policy's mean token entropy (TRL >= 0.19 logs "
        "'entropy'; otherwise pass entropy=... to log_step)"
    )

    def __init__(self, config: EntropyCollapseConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        floor = cfg.absolute_floor if cfg.absolute_floor > 0.0 else math.nan
        self._watch = LevelWatch(
            side="low",
            ratio_warning=cfg.warning_ratio,
            ratio_critical=cfg.critical_ratio,
            min_sigmas=cfg.min_drop_sigmas,
            warning_k=cfg.warning_k,
            warning_n=cfg.warning_n,
            critical_k=cfg.critical_k,
            critical_n=cfg.critical_n,
            absolute_warning=floor,
            absolute_critical=floor,
            warmup=cfg.warmup_steps,
            window=cfg.baseline_window,
            min_rel_sigma=0.02,
        )

    def update(self, step: int, values: StepValues, arrays: StepArrays) -> list[Alert] | None:
        """Consume one step's entropy (absent or non-finite: ignored)."""
        x = values.get("entropy")
        if x is None or x - x != 0.0:
            return None
        sev = self._watch.observe(x)
        if sev == 0:
            return None
        return [self._alert(step, x, sev)]

    def _alert(self, step: int, x: float, sev: int) -> Alert:
        cfg = self.config
        w = self._watch
        base = w.median
        if sev == 2:
            severity, k, n = "critical", cfg.critical_k, cfg.critical_n
        else:
            severity, k, n = "warning", cfg.warning_k, cfg.warning_n
        if x < cfg.absolute_floor or base != base:
            why = f"below the absolute floor {cfg.absolute_floor:g} nats"
        else:
            why = f"{x / base:.0%} of the run's baseline {base:.3g} nats"
        return self.alert(
            step,
            severity,
            f"Policy entropy {x:.3g} nats is {why} ({k} of the last {n} values low).",
            {"entropy": x, "baseline": base, "warning_below": w.warning_edge},
            RECOMMENDATION,
        )

    def summary(self) -> dict[str, float]:
        """Baseline median and sigma, and the current thresholds."""
        w = self._watch
        return {
            "baseline": w.median,
            "sigma": w.sigma,
            "warning_below": w.warning_edge,
            "critical_below": w.critical_edge,
            "observations": float(w.n),
        }


@hookimpl
def rlwatch_detectors() -> list[type[Detector[EntropyCollapseConfig]]]:
    """Register `entropy_collapse`."""
    return [EntropyCollapseDetector]
