"""`degenerate_groups`: GRPO groups with zero reward variance dominate.

In GRPO the advantage of a sample is its reward relative to its group; a
group whose samples all got the same reward (all solved, all failed) gives
no gradient, so the rollouts spent on it are wasted. Some such groups are
normal; when they dominate for a sustained window the run pays for nothing
(prompts too easy/too hard, or a reward function stuck at one value).

The fraction comes from ``frac_reward_zero_std`` (TRL logs it) or is computed
from a 2-D ``rewards`` array (groups x samples per group).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rlwatch.alerts import Alert
from rlwatch.detectors.base import Detector, DetectorConfig, StepArrays, StepValues
from rlwatch.hookspecs import hookimpl
from rlwatch.options import require, require_k_of_n
from rlwatch.stats.robust import Persistence

if TYPE_CHECKING:
    pass

RECOMMENDATION = (
    "1) Look at whether the degenerate groups are all-correct or all-wrong (reward_mean "
    "near its max or min): the prompts are too easy or too hard for the policy now. "
    "2) Filter or resample prompts: dynamic sampling (DAPO-style: drop zero-variance "
    "groups and refill the batch), a difficulty curriculum, or a fresh prompt mix. "
    "3) Raise samples per prompt (num_generations) or the sampling temperature so groups "
    "disagree more often. "
    "4) Check the reward function is not returning a constant (a crashed verifier, a "
    "parser that always fails)."
)


@dataclass
class DegenerateGroupsConfig(DetectorConfig):
    """Options of the `degenerate_groups` detector.

    Attributes:
        warning_fraction: Warn when at least this fraction of groups has zero
            reward variance ...
        critical_fraction: ... critical when at least this fraction does ...
        window_k: ... for ``window_k`` of the last ``window_n`` observations.
        window_n: See ``window_k``.
        tolerance: Reward spread (max - min) within a group at or below
            which the group counts as degenerate, for 2-D ``rewards``.
    """

    warning_fraction: float = 0.8
    critical_fraction: float = 0.95
    window_k: int = 6
    window_n: int = 8
    tolerance: float = 0.0

    def validate(self) -> None:
        """Raise `rlwatch.config.ConfigError` for impossible values."""
        super().validate()
        require(
            0.0 < self.warning_fraction <= self.critical_fraction <= 1.0,
            "degenerate_groups: need 0 < warning_fraction <= critical_fraction <= 1, got "
            f"{self.warning_fraction}, {self.critical_fraction}",
        )
        require(self.tolerance >= 0.0, "degenerate_groups.tolerance must be >= 0")
        require_k_of_n(self.window_k, self.window_n, "degenerate_groups.window")


class DegenerateGroupsDetector(Detector[DegenerateGroupsConfig]):
    """Sustained high fraction of zero-reward-variance groups."""

    id: ClassVar[str] = "degenerate_groups"
    config_class = DegenerateGroupsConfig
    metrics: ClassVar[tuple[str, ...]] = ("frac_reward_zero_std",)
    arrays: ClassVar[tuple[str, ...]] = ("rewards",)
    missing_hint: ClassVar[str] = (
        "no frac_reward_zero_std logged and no grouped rewards; TRL's GRPOTrainer logs "
        "'frac_reward_zero_std', or pass rewards as a 2-D array (groups x samples)"
    )

    def __init__(self, config: DegenerateGroupsConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self._warn_at = cfg.warning_fraction
        self._warn = Persistence(cfg.window_k, cfg.window_n)
        self._crit = Persistence(cfg.window_k, cfg.window_n)
        self._n = 0
        self.last_fraction = float("nan")

    def update(self, step: int, values: StepValues, arrays: StepArrays) -> list[Alert] | None:
        """Consume one step's fraction of degenerate groups."""
        f = values.get("frac_reward_zero_std")
        if f is None:
            r = arrays.get("rewards")
            if r is None or r.ndim != 2 or r.shape[1] < 2 or r.shape[0] < 1:
                return None
            import numpy as np  # deferred: keeps `import rlwatch` light (already loaded: r is an ndarray)

            # NaN spreads compare False: a group with a NaN reward is not counted
            f = np.count_nonzero(np.ptp(r, axis=1) <= self.config.tolerance) / r.shape[0]
        if f - f != 0.0:
            return None
        self._n += 1
        self.last_fraction = f
        if f < self._warn_at:
            return None
        cfg = self.config
        t = self._n
        if t <= cfg.warmup_steps:
            return None
        crit = f >= cfg.critical_fraction and self._crit.hit(t)
        warn = self._warn.hit(t)
        if not (crit or warn):
            return None
        return [
            self.alert(
                step,
                "critical" if crit else "warning",
                f"{f:.0%} of GRPO groups have zero reward variance (>= "
                f"{cfg.critical_fraction if crit else cfg.warning_fraction:.0%} for "
                f"{cfg.window_k} of the last {cfg.window_n} steps): those rollouts give "
                "no gradient.",
                {"frac_reward_zero_std": f},
                RECOMMENDATION,
            )
        ]

    def summary(self) -> dict[str, float]:
        """The last fraction seen and the thresholds."""
        return {
            "last_fraction": self.last_fraction,
            "warning_at": self.config.warning_fraction,
            "critical_at": self.config.critical_fraction,
            "observations": float(self._n),
        }


@hookimpl
def rlwatch_detectors() -> list[type[Detector[DegenerateGroupsConfig]]]:
    """Register `degenerate_groups`."""
    return [DegenerateGroupsDetector]
