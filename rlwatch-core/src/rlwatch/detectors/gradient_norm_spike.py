"""`gradient_norm_spike`: sustained gradient growth or a very large spike.

Gradient norms are heavy-tailed: a healthy run shows isolated single-step
spikes of 2-4x its typical level. Those are not worth waking anyone for, so
the sustained rule needs ``sustained_k`` of the last ``sustained_n`` steps
above ``warning_ratio`` x the rolling (log-scale) median; only a single spike
beyond ``spike_warning_ratio`` warns alone, and one beyond
``spike_critical_ratio`` is critical alone.

Steps that carry no gradient signal never define the baseline: an exact
zero (TRL logs ``grad_norm = 0.0`` when every group of a GRPO batch had the
same reward; in some runs half the steps), a step whose
``frac_reward_zero_std`` is 1, and a value under 1 % of the baseline (only a
KL term left). Were they part of it, the baseline would sink to the floor
and the next ordinary norm would read as a 1e12-fold spike. Non-finite
gradient norms are ``loss_nan``'s business, never fed to the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rlwatch.alerts import Alert
from rlwatch.detectors.bands import LevelWatch
from rlwatch.detectors.base import Detector, DetectorConfig, StepArrays, StepValues
from rlwatch.detectors.wording import level_summary, ratio_alert
from rlwatch.hookspecs import hookimpl
from rlwatch.options import require, require_k_of_n

RECOMMENDATION = (
    "1) Make sure gradient clipping is on (max_grad_norm around 1.0) and look at the "
    "batch of the spike for degenerate samples (empty or extremely long completions, "
    "extreme rewards). "
    "2) Lower the learning rate (or lengthen warmup); check the loss scale and mixed "
    "precision overflow counters. "
    "3) If the growth is sustained, roll back to the last checkpoint before it and "
    "restart with a smaller learning rate. "
    "4) Watch kl_divergence and entropy: a gradient blow-up usually shows there next."
)


@dataclass
class GradientNormSpikeConfig(DetectorConfig):
    """Options of the `gradient_norm_spike` detector.

    Attributes:
        warning_ratio: Sustained level (multiple of baseline) that warns.
        critical_ratio: Sustained level (multiple of baseline) that is critical.
        spike_warning_ratio: A single step above this multiple warns.
        spike_critical_ratio: A single step above this multiple is critical.
        min_sigmas: The rise must also exceed this many robust log-sigmas.
        baseline_window: Number of recent values the baseline median uses.
        sustained_k: The sustained rules need ``sustained_k`` values above
            their level within the last ``sustained_n`` observations.
        sustained_n: See ``sustained_k``.
    """

    warning_ratio: float = 3.0
    critical_ratio: float = 6.0
    spike_warning_ratio: float = 10.0
    spike_critical_ratio: float = 50.0
    min_sigmas: float = 3.0
    baseline_window: int = 64
    sustained_k: int = 4
    sustained_n: int = 6

    def validate(self) -> None:
        """Raise `rlwatch.config.ConfigError` for impossible values."""
        super().validate()
        require(
            1.0 < self.warning_ratio < self.critical_ratio,
            "gradient_norm_spike: need 1 < warning_ratio < critical_ratio, got "
            f"warning_ratio={self.warning_ratio}, critical_ratio={self.critical_ratio}",
        )
        require(
            self.warning_ratio < self.spike_warning_ratio < self.spike_critical_ratio,
            "gradient_norm_spike: need warning_ratio < spike_warning_ratio < "
            f"spike_critical_ratio, got {self.warning_ratio}, {self.spike_warning_ratio}, "
            f"{self.spike_critical_ratio}",
        )
        require(self.min_sigmas >= 0.0, "gradient_norm_spike.min_sigmas must be >= 0")
        require(self.baseline_window >= 8, "gradient_norm_spike.baseline_window must be >= 8")
        require_k_of_n(self.sustained_k, self.sustained_n, "gradient_norm_spike.sustained")


class GradientNormSpikeDetector(Detector[GradientNormSpikeConfig]):
    """Gradient norm persistently or wildly above its rolling log-scale baseline."""

    id: ClassVar[str] = "gradient_norm_spike"
    config_class = GradientNormSpikeConfig
    metrics: ClassVar[tuple[str, ...]] = ("grad_norm",)
    arrays: ClassVar[tuple[str, ...]] = ()
    missing_hint: ClassVar[str] = (
        "no grad_norm logged; log the global gradient norm before clipping (HF Trainer "
        "logs 'grad_norm'; clip_grad_norm_ returns it) or pass grad_norm=... to log_step"
    )

    def __init__(self, config: GradientNormSpikeConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self._watch = LevelWatch(
            side="high",
            ratio_warning=cfg.warning_ratio,
            ratio_critical=cfg.critical_ratio,
            spike_warning=cfg.spike_warning_ratio,
            spike_critical=cfg.spike_critical_ratio,
            min_sigmas=cfg.min_sigmas,
            warning_k=cfg.sustained_k,
            warning_n=cfg.sustained_n,
            critical_k=cfg.sustained_k,
            critical_n=cfg.sustained_n,
            reference_floor=1e-12,
            warmup_steps=cfg.warmup_steps,
            warmup_observations=cfg.warmup_steps,
            window=cfg.baseline_window,
            log_scale=True,
            min_rel_sigma=0.05,
        )

    def update(self, step: int, values: StepValues, arrays: StepArrays) -> list[Alert] | None:
        """Consume one step's gradient norm (absent or non-finite: ignored)."""
        x = values.get("grad_norm")
        if x is None or x - x != 0.0 or x <= 0.0:
            return None  # absent, non-finite (loss_nan's business), or exactly zero (no gradient at all)
        f = values.get("frac_reward_zero_std")
        if f is not None and f >= 0.999:
            return None  # every GRPO group degenerate: no policy gradient, the norm says nothing
        w = self._watch
        if w.live and x < 0.01 * w.median:
            return None  # a near-empty step (only a KL term left): it cannot be a spike and must not set the level
        sev = w.observe(x, step)
        if sev == 0:
            return None
        cfg = self.config
        single = x / w.reference() >= (cfg.spike_critical_ratio if sev == 2 else cfg.spike_warning_ratio)
        rule = (
            "single spike"
            if single
            else f"{cfg.sustained_k} of the last {cfg.sustained_n} steps above "
            f"{cfg.critical_ratio if sev == 2 else cfg.warning_ratio:g}x"
        )
        return [ratio_alert(self, step, sev, "Gradient norm", "grad_norm", x, w, rule, RECOMMENDATION)]

    def summary(self) -> dict[str, float]:
        """Baseline, log-sigma and the current thresholds."""
        return level_summary(self._watch, edge_prefix="sustained_")


@hookimpl
def rlwatch_detectors() -> list[type[Detector[GradientNormSpikeConfig]]]:
    """Register `gradient_norm_spike`."""
    return [GradientNormSpikeDetector]
