"""`degenerate_groups`: GRPO groups with zero reward variance come to dominate.

In GRPO the advantage of a sample is its reward relative to its group; a
group whose samples all got the same reward (all solved, all failed) gives
no gradient, so the rollouts spent on it are wasted. Some such groups are
normal. When their share *rises* to dominate (``warning_fraction`` /
``critical_fraction`` of the groups, and ``warning_rise`` / ``critical_rise``
above the run's own share, for ``window_k`` of the last ``window_n`` steps),
the run has started paying for nothing: the policy outgrew its prompts, or
the reward function got stuck at one value.

A share that is that high from the first step on is a property of the
set-up (prompts far too easy or too hard for this model): one ``info``
finding says so, and only a further rise is judged.

Why the groups went flat decides how bad it is. Groups that are all solved,
with the reward at the top of the run's own range and a policy that still
samples diversely, mean the policy outgrew its prompts: learning worked, and
the rollouts are now wasted. That is worth a warning (a prompt-mix or
curriculum change), never a page. Groups that went flat any other way (all
failed, a reward stuck at one value, or a policy that collapsed onto one
answer the reward happens to like, which its entropy shows) are a run going
wrong, and stay critical. The position is read from ``reward_mean`` (or the
mean of the ``rewards`` array): the median of the last ``window_n`` values,
placed in the range the run's reward has covered so far. Diversity is read
from ``entropy`` when it is logged: it must hold at least half of its level
over the first logged values.

The share comes from ``frac_reward_zero_std`` (TRL logs it) or is computed
from a 2-D ``rewards`` array (groups x samples per group).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from statistics import median
from typing import ClassVar

from rlwatch.alerts import Alert
from rlwatch.detectors.base import Detector, DetectorConfig, StepArrays, StepValues
from rlwatch.detectors.rates import CHRONIC_FROM_START, RateWatch
from rlwatch.hookspecs import hookimpl
from rlwatch.options import option, require, require_k_of_n

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


SOLVED_POSITION = 0.8
"""Recent reward median at or above this point of the run's reward range (0 = its lowest, 1 = its
highest) reads as "the flat groups are solved ones": the alert is capped at warning."""

ENTROPY_HELD = 0.5
"""... unless entropy fell below this fraction of its early level: then the groups are flat because
the policy emits one answer, which is a collapse, not a solved prompt set."""

_EARLY_ENTROPY_VALUES = 5
"""Entropy values whose median is the early level."""

CONFIGURATION_FINDING = (
    "This is how the run was set up, not a change: the prompts are too easy or too hard for this model "
    "(see reward_mean). Filter prompts by difficulty, use dynamic sampling (drop zero-variance groups and "
    "refill the batch), or raise num_generations. rlwatch will alert if the share rises further."
)


@dataclass
class DegenerateGroupsConfig(DetectorConfig):
    """Options of the `degenerate_groups` detector."""

    warning_fraction: float = option(0.8, "A rising share of zero-variance groups warns at this level ...")
    warning_rise: float = option(0.2, "... when it is also this much above the run's own share.")
    critical_fraction: float = option(0.95, "A rising share is critical at this level ...")
    critical_rise: float = option(0.3, "... when it is also this much above the run's own share.")
    window_k: int = option(6, "Alerts need window_k of the last window_n steps beyond them ...")
    window_n: int = option(8, "... (see window_k).")
    tolerance: float = option(
        0.0, "With a rewards array: a group whose reward range is at most this counts as zero-variance."
    )

    def validate(self) -> None:
        """Raise `rlwatch.errors.ConfigError` for impossible values."""
        super().validate()
        require(
            0.0 < self.warning_fraction <= self.critical_fraction <= 1.0,
            "degenerate_groups: need 0 < warning_fraction <= critical_fraction <= 1, got "
            f"{self.warning_fraction}, {self.critical_fraction}",
        )
        require(0.0 < self.warning_rise <= self.critical_rise < 1.0,
                "degenerate_groups: need 0 < warning_rise <= critical_rise < 1")
        require(self.tolerance >= 0.0, "degenerate_groups.tolerance must be >= 0")
        require_k_of_n(self.window_k, self.window_n, "degenerate_groups.window")


class DegenerateGroupsDetector(Detector[DegenerateGroupsConfig]):
    """A rising share of zero-reward-variance groups."""

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
        self._share = RateWatch(cfg.warning_fraction, cfg.critical_fraction, cfg.warning_rise, cfg.critical_rise,
                                cfg.window_k, cfg.window_n, cfg.warmup_steps)
        self._rewards: deque[float] = deque(maxlen=cfg.window_n)
        self._reward_low = float("inf")
        self._reward_high = float("-inf")
        self._early_entropy: list[float] = []
        self._entropy = float("nan")

    def _note_context(self, values: StepValues, arrays: StepArrays) -> None:
        """Where the reward stands and whether the policy still samples diversely (see the module doc)."""
        e = values.get("entropy")
        if e is not None and e > 0.0 and e - e == 0.0:
            self._entropy = e
            if len(self._early_entropy) < _EARLY_ENTROPY_VALUES:
                self._early_entropy.append(e)
        r = values.get("reward_mean")
        if r is None:
            a = arrays.get("rewards")
            if a is None or a.size == 0:
                return
            r = float(a.mean())
        if r - r != 0.0:  # NaN or inf says nothing about where the reward stands
            return
        self._rewards.append(r)
        if r < self._reward_low:
            self._reward_low = r
        if r > self._reward_high:
            self._reward_high = r

    def reward_position(self) -> float | None:
        """Where the recent reward median sits in the run's reward range (0 lowest, 1 highest), or None."""
        span = self._reward_high - self._reward_low
        if not self._rewards or not span > 0.0:
            return None
        return (median(self._rewards) - self._reward_low) / span

    def entropy_held(self) -> bool:
        """False when entropy is logged and fell below `ENTROPY_HELD` of its early level."""
        if not self._early_entropy:
            return True
        return not self._entropy < ENTROPY_HELD * median(self._early_entropy)

    def update(self, step: int, values: StepValues, arrays: StepArrays) -> list[Alert] | None:
        """Consume one step's share of degenerate groups."""
        f = values.get("frac_reward_zero_std")
        if f is None:
            r = arrays.get("rewards")
            if r is None or r.ndim != 2 or r.shape[1] < 2 or r.shape[0] < 1:
                return None
            import numpy as np  # deferred: keeps `import rlwatch` light (already loaded: r is an ndarray)

            # NaN spreads compare False: a group with a NaN reward is not counted
            f = np.count_nonzero(np.ptp(r, axis=1) <= self.config.tolerance) / r.shape[0]
        if f - f != 0.0 or not 0.0 <= f <= 1.0:
            return None
        self._note_context(values, arrays)
        sev, chronic_now = self._share.observe(f, step)
        out: list[Alert] = []
        if chronic_now:
            out.append(self.alert(
                step, "info",
                f"{f:.0%} of GRPO groups have zero reward variance from the first step on (in each of the first "
                f"{CHRONIC_FROM_START} logged steps): most rollouts give no gradient with this prompt set.",
                {"frac_reward_zero_std": f}, CONFIGURATION_FINDING,
            ))
        if sev:
            cfg = self.config
            ref = self._share.reference()
            rule = f"{cfg.window_k} of the last {cfg.window_n} steps"
            message = (f"{f:.0%} of GRPO groups have zero reward variance, up from the run's own {ref:.0%} "
                       f"({rule}): those rollouts give no gradient.")
            evidence = {"frac_reward_zero_std": f, "baseline": ref}
            position = self.reward_position()
            if position is not None:
                evidence["reward_position"] = position
                if position >= SOLVED_POSITION and self.entropy_held():
                    # Solved groups: the policy outgrew its prompts. Wasted rollouts, not a failing run.
                    sev = 1
                    message += (f" The reward sits at the top of the run's range ({position:.0%} of the way up): "
                                "the groups are solved, the prompts have become too easy.")
                elif position >= SOLVED_POSITION:
                    message += (f" The reward is at the top of its range but entropy fell to {self._entropy:.3g} "
                                f"from {median(self._early_entropy):.3g}: the policy collapsed onto one answer.")
            out.append(self.alert(step, "critical" if sev == 2 else "warning", message, evidence, RECOMMENDATION))
        return out or None

    def summary(self) -> dict[str, float]:
        """The last share seen, the run's own share, the levels and where the reward stands in its range."""
        cfg = self.config
        out = {
            "last_fraction": self._share.last,
            "baseline_fraction": self._share.reference(),
            "warning_at": cfg.warning_fraction,
            "critical_at": cfg.critical_fraction,
            "degenerate_from_start": float(bool(self._share.chronic)),
        }
        position = self.reward_position()
        if position is not None:
            out["reward_position"] = position
        return out


@hookimpl
def rlwatch_detectors() -> list[type[Detector[DegenerateGroupsConfig]]]:
    """Register `degenerate_groups`."""
    return [DegenerateGroupsDetector]
