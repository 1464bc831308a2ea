"""`reward_hacking`: per-sample rewards split into clusters or their spread explodes.

The detector reads the per-sample ``rewards`` array of each step (1-D, or
2-D groups x samples, flattened) and asks two questions the data can carry:

* Spread: does the spread of rewards within a step explode relative to the
  run's baseline? For continuous rewards the statistic is the std (log-scale
  rolling median baseline); for few-valued rewards (verifiable 0/1
  correctness, a handful of partial-credit levels) it is the range
  max - min, which cannot grow while rewards stay on their usual levels (the
  std of 0/1 rewards grows tenfold as accuracy goes from 0.3% to 30%, which
  is learning, not hacking), but does when out-of-range values appear.
* Clusters: for continuous rewards only, Hartigan's dip test of unimodality
  (`rlwatch.stats.dip_test`) every ``dip_every`` steps (every step while a
  recent test was suspicious). Binary or few-valued rewards are not tested:
  they are "bimodal" by construction in GRPO. When the run's rewards were
  already multimodal during warmup (e.g. correctness + a continuous bonus),
  the dip test is not used for alerts either: only a change can be judged.

Rewards are classified as few-valued when they take at most ``max_levels``
distinct values or fewer than ``min_distinct_fraction`` x n distinct values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rlwatch.alerts import Alert
from rlwatch.detectors.bands import LevelWatch
from rlwatch.detectors.base import Detector, DetectorConfig, StepArrays, StepValues
from rlwatch.hookspecs import hookimpl
from rlwatch.offload import Offload
from rlwatch.options import require, require_k_of_n

if TYPE_CHECKING:
    pass

RECOMMENDATION = (
    "1) Read the highest-reward samples of the last steps: if they are degenerate (a "
    "repeated phrase, a format trick, an answer that games the verifier or reward "
    "model), the policy is hacking the reward - roll back to the checkpoint before it. "
    "2) Fix the reward: patch the verifier/parser, add the exploit as a negative case, "
    "or cap/clip the reward model's score. "
    "3) Raise the KL coefficient and lower the learning rate so the policy stays closer "
    "to the reference while the reward is fixed. "
    "4) If the reward is legitimately multimodal (e.g. correctness plus a continuous "
    "bonus that only now separates), set reward_hacking.dip_enabled: false."
)


@dataclass
class RewardHackingConfig(DetectorConfig):
    """Options of the `reward_hacking` detector.

    Attributes:
        spread_warning_ratio: Warn when the within-step spread (std, or range
            for few-valued rewards) exceeds this multiple of its baseline.
        spread_critical_ratio: Critical above this multiple.
        min_sigmas: The spread must also be this many robust sigmas above.
        spread_k: The warning needs ``spread_k`` of the last ``spread_n``
            steps above the warning ratio (critical: 2 of 3 above critical).
        spread_n: See ``spread_k``.
        dip_enabled: Use the dip test for alerts (continuous rewards only).
        dip_every: Run the dip test every this many steps (every step while
            the previous test had p < ``dip_suspect_p``).
        dip_suspect_p: p-value that makes the next steps test every step.
        dip_warning_p: Warn when ``dip_confirm`` tests in a row give p below.
        dip_critical_p: Critical when ``dip_critical_confirm`` tests in a row
            give p below this.
        dip_confirm: Consecutive significant tests needed for a warning.
        dip_critical_confirm: Consecutive tests needed for critical.
        min_samples: Fewest finite rewards in a step to run the dip test.
        max_dip_samples: Larger arrays are subsampled (evenly) for the test.
        max_levels: At most this many distinct values means few-valued.
        min_distinct_fraction: Fewer distinct values than this fraction of
            the sample size also means few-valued (heavily tied rewards).
        baseline_window: Steps in the spread baselines.
    """

    spread_warning_ratio: float = 3.0
    spread_critical_ratio: float = 6.0
    min_sigmas: float = 4.0
    spread_k: int = 3
    spread_n: int = 5
    dip_enabled: bool = True
    dip_every: int = 8
    dip_suspect_p: float = 0.05
    dip_warning_p: float = 0.01
    dip_critical_p: float = 0.001
    dip_confirm: int = 2
    dip_critical_confirm: int = 3
    min_samples: int = 32
    max_dip_samples: int = 512
    max_levels: int = 10
    min_distinct_fraction: float = 0.5
    baseline_window: int = 64

    def validate(self) -> None:
        """Raise `rlwatch.config.ConfigError` for impossible values."""
        super().validate()
        require(
            1.0 < self.spread_warning_ratio < self.spread_critical_ratio,
            "reward_hacking: need 1 < spread_warning_ratio < spread_critical_ratio",
        )
        require(self.min_sigmas >= 0.0, "reward_hacking.min_sigmas must be >= 0")
        require_k_of_n(self.spread_k, self.spread_n, "reward_hacking.spread")
        require(self.dip_every >= 1, "reward_hacking.dip_every must be >= 1")
        require(
            0.0 < self.dip_critical_p <= self.dip_warning_p <= self.dip_suspect_p < 1.0,
            "reward_hacking: need 0 < dip_critical_p <= dip_warning_p <= dip_suspect_p < 1",
        )
        require(
            1 <= self.dip_confirm <= self.dip_critical_confirm,
            "reward_hacking: need 1 <= dip_confirm <= dip_critical_confirm",
        )
        require(self.min_samples >= 4, "reward_hacking.min_samples must be >= 4")
        require(
            self.max_dip_samples >= self.min_samples,
            "reward_hacking.max_dip_samples must be >= min_samples",
        )
        require(self.max_levels >= 2, "reward_hacking.max_levels must be >= 2")
        require(
            0.0 <= self.min_distinct_fraction <= 1.0,
            "reward_hacking.min_distinct_fraction must be in [0, 1]",
        )
        require(self.baseline_window >= 8, "reward_hacking.baseline_window must be >= 8")


class RewardHackingDetector(Detector[RewardHackingConfig]):
    """Reward distribution within a step turns multimodal or its spread explodes."""

    id: ClassVar[str] = "reward_hacking"
    config_class = RewardHackingConfig
    metrics: ClassVar[tuple[str, ...]] = ()
    arrays: ClassVar[tuple[str, ...]] = ("rewards",)
    missing_hint: ClassVar[str] = (
        "no per-sample rewards logged; pass rewards=<array of the step's rewards> to "
        "log_step (2-D groups x samples for GRPO); the TRL adapter does this itself"
    )

    def __init__(self, config: RewardHackingConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        common: dict[str, Any] = {
            "ratio_warning": cfg.spread_warning_ratio,
            "ratio_critical": cfg.spread_critical_ratio,
            "min_sigmas": cfg.min_sigmas,
            "warning_k": cfg.spread_k,
            "warning_n": cfg.spread_n,
            "critical_k": 2,
            "critical_n": 3,
            "warmup_steps": cfg.warmup_steps,
            "warmup_observations": cfg.warmup_steps,
            "window": cfg.baseline_window,
        }
        self._std = LevelWatch(side="high", log_scale=True, min_rel_sigma=0.05, reference_floor=1e-9, **common)
        # few-valued: the range is often exactly the same each step, so
        # linear scale with a relative sigma floor
        self._range = LevelWatch(side="high", min_rel_sigma=0.05, reference_floor=1e-9, **common)
        self._n = 0
        self._few_valued: bool | None = None  # None until the first level check
        self._offload = Offload()  # inline until a live monitor moves it to the background
        self._dip_due = 0
        self._suspect = False
        self._dip_streak = 0
        self._dip_crit_streak = 0
        self._warmup_tests = 0
        self._warmup_significant = 0
        self.multimodal_baseline = False
        self.last_dip = math.nan
        self.last_p = math.nan
        self.dip_tests = 0

    def update(self, step: int, values: StepValues, arrays: StepArrays) -> list[Alert] | None:
        """Consume one step's per-sample rewards."""
        r = arrays.get("rewards")
        if r is None:
            return None
        import numpy as np  # deferred: keeps `import rlwatch` light (already loaded: r is an ndarray)

        if r.ndim != 1:
            r = r.ravel()
        n = r.size
        if n < 2:
            return None
        s = float(r.sum())
        if s - s != 0.0:
            r = r[np.isfinite(r)]
            n = r.size
            if n < 2:
                return None
            s = float(r.sum())
        self._n += 1
        cfg = self.config
        check = self._n >= self._dip_due or self._suspect or self._few_valued is None
        if check:
            self._dip_due = self._n + cfg.dip_every
            # sort + count of changes, not np.unique: same count, 40 % cheaper, and no lazy import
            # inside numpy that made the first call take ~7 ms on the caller's thread
            ordered = np.sort(r)
            distinct = int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1
            self._few_valued = distinct <= cfg.max_levels or distinct < cfg.min_distinct_fraction * n
        out: list[Alert] = []
        if self._few_valued:
            lo, hi = float(r.min()), float(r.max())
            spread = hi - lo
            if spread > 0.0:
                sev = self._range.observe(spread, step)
                if sev:
                    out.append(self._spread_alert(step, spread, sev, "range", self._range))
        else:
            mean = s / n
            # vdot, not dot: same BLAS call, but an overflow on absurd values (1e200) gives inf without
            # a RuntimeWarning printed into the user's training log
            var = float(np.vdot(r, r)) / n - mean * mean
            std = math.sqrt(var) if var > 1e-300 else 1e-9
            sev = self._std.observe(std, step)
            if sev:
                out.append(self._spread_alert(step, std, sev, "std", self._std))
            if check and cfg.dip_enabled and n >= cfg.min_samples:
                self._start_dip(step, r, n)
        finished = self._offload.take()
        if finished is not None:
            dip_alert = self._dip_result(finished[0], finished[1])
            if dip_alert is not None:
                out.append(dip_alert)
        return out or None

    def set_background(self, on: bool) -> None:
        """Run the dip test on the offload worker (live monitors) or inline (replays)."""
        self._offload.inline = not on

    def _start_dip(self, step: int, r: Any, n: int) -> None:
        cfg = self.config
        if self._offload.busy:
            self._dip_due = self._n + 1  # the previous test is still running: try again next step
            return
        import numpy as np  # already loaded: r is an ndarray

        if n > cfg.max_dip_samples:
            r = r[:: -(-n // cfg.max_dip_samples)]
        # A copy: the test may run on another thread while the caller reuses its buffer.
        sample = np.array(r, dtype=np.float64, copy=True)
        self._offload.submit(lambda: _run_dip(sample), tag=(step, self._n, sample.size))

    def _dip_result(self, tag: tuple[int, int, int], res: Any) -> Alert | None:
        step, n_at_test, size = tag
        if isinstance(res, Exception):
            return None
        cfg = self.config
        self.dip_tests += 1
        dip, p = float(res.dip), float(res.p_value)
        self.last_dip, self.last_p = dip, p
        self._suspect = p < cfg.dip_suspect_p
        if n_at_test <= cfg.warmup_steps:
            self._warmup_tests += 1
            self._warmup_significant += p < cfg.dip_warning_p
            return None
        if not self.multimodal_baseline and self._warmup_tests:
            # rewards that were already multimodal in warmup: not a change
            self.multimodal_baseline = 2 * self._warmup_significant >= self._warmup_tests
            self._warmup_tests = 0
        if self.multimodal_baseline:
            return None
        if p < cfg.dip_warning_p:
            self._dip_streak += 1
        else:
            self._dip_streak = 0
        if p < cfg.dip_critical_p:
            self._dip_crit_streak += 1
        else:
            self._dip_crit_streak = 0
        critical = self._dip_crit_streak >= cfg.dip_critical_confirm
        if not (critical or self._dip_streak >= cfg.dip_confirm):
            return None
        return self.alert(
            step,
            "critical" if critical else "warning",
            f"Per-sample rewards split into separate clusters: dip {dip:.3f} (p={p:.2g}) on "
            f"{size} rewards, {self._dip_streak} significant tests in a row; the run's "
            "rewards were unimodal before.",
            {"dip": dip, "p_value": p, "n_rewards": float(size)},
            RECOMMENDATION,
        )

    def _spread_alert(self, step: int, x: float, sev: int, what: str, w: LevelWatch) -> Alert:
        ref = w.reference()
        return self.alert(
            step,
            "critical" if sev == 2 else "warning",
            f"Reward {what} within the step is {x:.3g}, {x / ref:.1f}x its baseline {ref:.3g}: "
            "some samples get rewards far outside the usual distribution.",
            {f"reward_{what}": x, "baseline": ref, "warning_above": w.warning_edge},
            RECOMMENDATION,
        )

    def summary(self) -> dict[str, float]:
        """Spread baselines, last dip test and the reward kind."""
        return {
            "std_baseline": self._std.median,
            "range_baseline": self._range.median,
            "few_valued": float(bool(self._few_valued)),
            "multimodal_baseline": float(self.multimodal_baseline),
            "last_dip": self.last_dip,
            "last_dip_p_value": self.last_p,
            "dip_tests": float(self.dip_tests),
            "observations": float(self._n),
        }


def _run_dip(sample: Any) -> Any:
    """The dip test of `sample`; imported here so a live monitor pays the first import on its worker."""
    from rlwatch.stats.dip import dip_test

    return dip_test(sample)


@hookimpl
def rlwatch_detectors() -> list[type[Detector[RewardHackingConfig]]]:
    """Register `reward_hacking`."""
    return [RewardHackingDetector]
