"""`reward_mean_drift`: a sustained decline (collapse) of the mean reward.

Reward that rises because the policy learns is the point of training, so
only a decline is an alert. Per step the detector keeps O(1) state: a fast
EWMA of the reward mean, a rolling median of the last ``baseline_window``
values (the reference level), and the step-to-step noise, estimated robustly
from first differences (which a rising trend does not inflate). Only when
the EWMA sits ``precheck_sigmas`` of its own noise below the reference does
it run the robust trend statistics on the last ``trend_window`` values:
Mann-Kendall (z score; significance of a monotone decline) and Theil-Sen
(slope; size of the decline). A warning needs a significant decline; a
critical one needs a stronger decline that also lost ``critical_drop_sigmas``
step-noise units over the window.

Materiality: a reward mean averaged over a large batch can have tiny step
noise, and a noisy one large step noise; neither says whether a decline
matters to the user. When the per-sample reward spread is known
(``reward_std``, or the ``rewards`` array), a decline of
``min_drop_spread`` x that spread is material even if it is fewer step-noise
units than ``warning_drop_sigmas`` (a success rate sliding from 0.36 to
0.18 over 80 steps, step noise 0.065: two-thirds of the way down it has lost
only 2 step-noise units, and a quarter of the per-sample spread).

The reward mean comes from ``reward_mean``, else from the ``rewards`` array.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass
from typing import ClassVar

from rlwatch.alerts import Alert
from rlwatch.detectors.base import Detector, DetectorConfig, StepArrays, StepValues
from rlwatch.hookspecs import hookimpl
from rlwatch.options import require
from rlwatch.stats.robust import Persistence, RollingBaseline
from rlwatch.stats.trend import trend_statistics

RECOMMENDATION = (
    "1) Read recent samples and rewards: a falling reward after progress often means the "
    "policy degraded (repetition, truncation, language drift) - check entropy, KL and "
    "completion length alerts at the same steps. "
    "2) Roll back to the checkpoint at the reward peak and lower the learning rate or "
    "raise the KL coefficient. "
    "3) Check the data pipeline: did the prompt mix or curriculum change (harder "
    "prompts lower the reward without a training problem)? "
    "4) Check the reward function/model for a change or a failing dependency "
    "(timeouts in a verifier return 0)."
)


@dataclass
class RewardMeanDriftConfig(DetectorConfig):
    """Options of the `reward_mean_drift` detector.

    Attributes:
        trend_window: Number of recent values the (short) trend test uses.
        long_trend_window: A second, longer trend test for slow declines
            (0 disables it); must fit in ``baseline_window``.
        baseline_window: Number of recent values the reference median uses.
        ewma_alpha: Weight of the newest value in the fast EWMA.
        precheck_sigmas: The EWMA must sit this many of its own standard
            deviations below the reference before the trend test runs.
        warning_z: Warn when the Mann-Kendall z score is below -warning_z ...
        warning_drop_sigmas: ... and the Theil-Sen decline over the trend
            window is at least this many step-noise standard deviations.
        critical_z: Critical when it is below -critical_z ...
        critical_drop_sigmas: ... and the Theil-Sen decline over the trend
            window exceeds this many step-noise standard deviations.
        min_drop: Smallest decline over the trend window (reward units) that
            can alert at all; 0 lets noise statistics decide alone.
        min_drop_spread: A decline of this fraction of the per-sample reward
            spread (median ``reward_std``) is enough for a warning even when
            it is fewer than ``warning_drop_sigmas`` step-noise units (0
            disables).
        confirm: Warnings need this many trend tests in a row to agree.
    """

    trend_window: int = 20
    long_trend_window: int = 40
    baseline_window: int = 64
    ewma_alpha: float = 0.3
    precheck_sigmas: float = 3.0
    warning_z: float = 3.0
    critical_z: float = 4.0
    warning_drop_sigmas: float = 3.0
    critical_drop_sigmas: float = 6.0
    min_drop: float = 0.0
    min_drop_spread: float = 0.25
    confirm: int = 2

    def validate(self) -> None:
        """Raise `rlwatch.config.ConfigError` for impossible values."""
        super().validate()
        require(self.trend_window >= 8, "reward_mean_drift.trend_window must be >= 8")
        require(
            self.baseline_window >= max(self.trend_window, self.long_trend_window),
            "reward_mean_drift.baseline_window must be >= trend_window and long_trend_window",
        )
        require(
            self.long_trend_window == 0 or self.long_trend_window >= 8,
            "reward_mean_drift.long_trend_window must be 0 (off) or >= 8",
        )
        require(0.0 < self.ewma_alpha <= 1.0, "reward_mean_drift.ewma_alpha must be in (0, 1]")
        require(self.precheck_sigmas >= 0.0, "reward_mean_drift.precheck_sigmas must be >= 0")
        require(
            0.0 < self.warning_z <= self.critical_z,
            "reward_mean_drift: need 0 < warning_z <= critical_z",
        )
        require(
            0.0 <= self.warning_drop_sigmas <= self.critical_drop_sigmas,
            "reward_mean_drift: need 0 <= warning_drop_sigmas <= critical_drop_sigmas",
        )
        require(self.min_drop >= 0.0, "reward_mean_drift.min_drop must be >= 0")
        require(self.min_drop_spread >= 0.0, "reward_mean_drift.min_drop_spread must be >= 0")
        require(self.confirm >= 1, "reward_mean_drift.confirm must be >= 1")


class RewardMeanDriftDetector(Detector[RewardMeanDriftConfig]):
    """Sustained decline of the mean reward (Mann-Kendall + Theil-Sen, gated O(1))."""

    id: ClassVar[str] = "reward_mean_drift"
    config_class = RewardMeanDriftConfig
    metrics: ClassVar[tuple[str, ...]] = ("reward_mean",)
    arrays: ClassVar[tuple[str, ...]] = ("rewards",)
    missing_hint: ClassVar[str] = (
        "no reward_mean logged; pass reward_mean=... or the per-sample rewards array to log_step (TRL logs 'reward')"
    )

    def __init__(self, config: RewardMeanDriftConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self._level = RollingBaseline(window=cfg.baseline_window, refresh=32, min_count=8)
        self._alpha = cfg.ewma_alpha
        # sd of the EWMA relative to the per-step noise (white-noise approx.)
        self._ewma_sd = math.sqrt(cfg.ewma_alpha / (2.0 - cfg.ewma_alpha))
        self._ewma = math.nan
        self._gate = math.inf  # EWMA below this runs the trend test
        self._push = self._level.push  # bound once: called every step
        self._noise = math.nan
        self._noise_estimates: deque[float] = deque(maxlen=9)
        self._streak = Persistence(cfg.confirm, cfg.confirm)
        self._spread = RollingBaseline(window=cfg.baseline_window, refresh=32, min_count=8)
        self._first_step = -1
        self._warm = False
        self.last_z = math.nan
        self.last_slope = math.nan

    def update(self, step: int, values: StepValues, arrays: StepArrays) -> list[Alert] | None:
        """Consume one step's reward mean (or the mean of ``rewards``)."""
        x = values.get("reward_mean")
        r = arrays.get("rewards")
        if x is None:
            if r is None or not r.size:
                return None
            x = float(r.mean())
        if x - x != 0.0:
            return None
        spread = values.get("reward_std")
        if spread is None and r is not None and r.size > 1:
            spread = float(r.std())
        if spread is not None and spread - spread == 0.0 and spread > 0.0:
            self._spread.push(spread)
        e = self._ewma
        e = x if e != e else e + self._alpha * (x - e)
        self._ewma = e
        if self._first_step < 0:
            self._first_step = step
        if self._push(x):
            self._set_gate()
        elif not self._warm and self._level.count >= 8 and step - self._first_step >= self.config.warmup_steps:
            # sparse logging: warm-up is counted in training steps, not in logged values
            self._warm = True
            self._level.refresh_now()
            self._set_gate()
        if e >= self._gate:
            return None
        return self._trend(step, x)

    def _set_gate(self) -> None:
        cfg = self.config
        level = self._level
        if level.count < cfg.warmup_steps and not self._warm:
            # the next refresh comes exactly at the end of warmup
            level.schedule_refresh(cfg.warmup_steps)
            return
        self._warm = True
        # step noise from first differences of the window (a rising trend
        # shifts them but barely widens them); white-noise diffs have
        # sqrt(2) x its sd. O(window), once per refresh.
        w = level.values()
        diffs = sorted([b - a for a, b in itertools.pairwise(w)])
        m = len(diffs)
        iqr = diffs[(3 * m) // 4] - diffs[m // 4]
        estimates = self._noise_estimates
        estimates.append(max(iqr / 1.349 / math.sqrt(2.0), 1e-9))
        # one window's IQR is itself noisy (+-20%): use the median of the
        # last few windows' estimates
        noise = sorted(estimates)[len(estimates) // 2]
        self._noise = noise
        self._gate = level.median - cfg.precheck_sigmas * self._ewma_sd * noise

    def _trend(self, step: int, x: float) -> list[Alert] | None:
        cfg = self.config
        history = self._level.values()
        best: tuple[bool, float, float, int] | None = None
        # short window: fast on steep declines; long window: slower declines
        # whose total drop is only a few noise sigmas
        for size in (cfg.trend_window, cfg.long_trend_window):
            if size <= 0 or len(history) < size:
                continue
            z, slope = trend_statistics(history[-size:])
            self.last_z, self.last_slope = z, slope
            drop = -slope * (size - 1)
            if z > -cfg.warning_z or slope >= 0.0 or drop <= cfg.min_drop or drop < self._material():
                continue
            critical = z <= -cfg.critical_z and drop >= cfg.critical_drop_sigmas * self._noise
            if best is None or (critical and not best[0]):
                best = (critical, z, slope, size)
        if best is None:
            self._streak.clear()
            return None
        critical, z, slope, size = best
        confirmed = self._streak.hit(self._level.count)
        if not (critical or confirmed):
            return None
        ref = self._level.median
        drop = -slope * (size - 1)
        return [
            self.alert(
                step,
                "critical" if critical else "warning",
                f"Reward mean is falling: {x:.4g} vs reference {ref:.4g}; Theil-Sen slope "
                f"{slope:.3g}/step over the last {size} steps (Mann-Kendall z={z:.1f}).",
                {
                    "reward_mean": x,
                    "reference": ref,
                    "slope_per_step": slope,
                    "mann_kendall_z": z,
                    "drop": drop,
                },
                RECOMMENDATION,
            )
        ]

    def _material(self) -> float:
        """The smallest decline over a trend window that may warn: noise units, or a share of the sample spread."""
        by_noise = self.config.warning_drop_sigmas * self._noise
        spread = self._spread
        if not self.config.min_drop_spread or spread.count < 8:
            return by_noise
        if spread.median != spread.median:
            spread.refresh_now()
        return min(by_noise, self.config.min_drop_spread * spread.median)

    def summary(self) -> dict[str, float]:
        """Reference level, step noise, gate and the last trend statistics."""
        return {
            "reference": self._level.median,
            "step_noise": self._noise,
            "ewma": self._ewma,
            "trend_test_below": self._gate,
            "last_mann_kendall_z": self.last_z,
            "last_theil_sen_slope": self.last_slope,
            "observations": float(self._level.count),
        }


@hookimpl
def rlwatch_detectors() -> list[type[Detector[RewardMeanDriftConfig]]]:
    """Register `reward_mean_drift`."""
    return [RewardMeanDriftDetector]
