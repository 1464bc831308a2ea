"""`length_pathology`: completion length collapses or saturates the maximum.

Two failure shapes, both common in RL on language models:

* collapse: completions get much shorter than the run's own baseline (the
  policy learned to stop early, emits EOS at once, or truncates reasoning):
  ``completion_length`` below ``collapse_ratio`` x its rolling log-scale
  median, persistently;
* saturation: completions hit the generation limit: the clipped (truncated)
  fraction ``completion_clipped_ratio`` stays above ``clipped_warning``, or
  the mean length reaches ``saturation_fraction`` x ``max_completion_length``
  when that limit is configured. Truncated samples usually get no reward,
  so the run stops learning while paying for the longest generations.

Slow length growth, normal when a model learns to reason longer, is followed
by the rolling baseline and is not an alert by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rlwatch.alerts import Alert
from rlwatch.detectors.bands import LevelWatch
from rlwatch.detectors.base import Detector, DetectorConfig, StepArrays, StepValues
from rlwatch.hookspecs import hookimpl
from rlwatch.options import require, require_k_of_n
from rlwatch.stats.robust import Persistence

COLLAPSE_RECOMMENDATION = (
    "1) Read recent completions: empty or one-line answers mean the policy found that "
    "short outputs are rewarded (or not penalised) - check the reward for a length "
    "exploit and any length penalty. "
    "2) Check generation settings (max_new_tokens, stop strings, EOS handling) did not "
    "change. "
    "3) Roll back to the checkpoint before the drop; lower the learning rate or raise "
    "the KL coefficient."
)

SATURATION_RECOMMENDATION = (
    "1) Raise the generation limit (max_completion_length) if memory allows, or add an "
    "overlong penalty / soft length penalty so truncated samples are not silently zero. "
    "2) Read truncated samples: repetition loops point at entropy collapse or too high a "
    "temperature. "
    "3) Mask truncated completions from the loss (e.g. TRL mask_truncated_completions) "
    "and consider a length-aware curriculum."
)


@dataclass
class LengthPathologyConfig(DetectorConfig):
    """Options of the `length_pathology` detector.

    Attributes:
        collapse_ratio: Warn when mean length < this fraction of baseline.
        collapse_critical_ratio: Critical when < this fraction.
        min_drop_sigmas: The drop must also exceed this many robust log-sigmas.
        clipped_warning: Warn when the clipped (truncated) fraction stays at
            or above this ...
        clipped_critical: ... critical at or above this.
        max_completion_length: The generation limit in tokens, if known
            (0: unknown; then only the clipped fraction detects saturation).
        saturation_fraction: Mean length at or above this fraction of
            ``max_completion_length`` counts as saturated (warning).
        baseline_window: Number of recent values the length baseline uses.
        window_k: All rules need ``window_k`` of the last ``window_n``
            observations beyond their threshold.
        window_n: See ``window_k``.
    """

    collapse_ratio: float = 0.5
    collapse_critical_ratio: float = 0.25
    min_drop_sigmas: float = 4.0
    clipped_warning: float = 0.3
    clipped_critical: float = 0.6
    max_completion_length: int = 0
    saturation_fraction: float = 0.95
    baseline_window: int = 100
    window_k: int = 3
    window_n: int = 5

    def validate(self) -> None:
        """Raise `rlwatch.config.ConfigError` for impossible values."""
        super().validate()
        require(
            0.0 < self.collapse_critical_ratio < self.collapse_ratio < 1.0,
            "length_pathology: need 0 < collapse_critical_ratio < collapse_ratio < 1",
        )
        require(
            0.0 < self.clipped_warning <= self.clipped_critical <= 1.0,
            "length_pathology: need 0 < clipped_warning <= clipped_critical <= 1",
        )
        require(self.min_drop_sigmas >= 0.0, "length_pathology.min_drop_sigmas must be >= 0")
        require(self.max_completion_length >= 0, "length_pathology.max_completion_length must be >= 0")
        require(
            0.0 < self.saturation_fraction <= 1.0,
            "length_pathology.saturation_fraction must be in (0, 1]",
        )
        require(self.baseline_window >= 8, "length_pathology.baseline_window must be >= 8")
        require_k_of_n(self.window_k, self.window_n, "length_pathology.window")


class LengthPathologyDetector(Detector[LengthPathologyConfig]):
    """Completion length collapsing below baseline, or saturating the limit."""

    id: ClassVar[str] = "length_pathology"
    config_class = LengthPathologyConfig
    metrics: ClassVar[tuple[str, ...]] = ("completion_length", "completion_clipped_ratio")
    arrays: ClassVar[tuple[str, ...]] = ()
    missing_hint: ClassVar[str] = (
        "no completion_length or completion_clipped_ratio logged; TRL logs "
        "'completions/mean_length' and 'completions/clipped_ratio', or pass them to log_step"
    )

    def __init__(self, config: LengthPathologyConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self._length = LevelWatch(
            side="low",
            ratio_warning=cfg.collapse_ratio,
            ratio_critical=cfg.collapse_critical_ratio,
            min_sigmas=cfg.min_drop_sigmas,
            warning_k=cfg.window_k,
            warning_n=cfg.window_n,
            critical_k=cfg.window_k,
            critical_n=cfg.window_n,
            warmup=cfg.warmup_steps,
            window=cfg.baseline_window,
            log_scale=True,
            min_rel_sigma=0.05,
        )
        self._sat_length = (
            cfg.saturation_fraction * cfg.max_completion_length if cfg.max_completion_length > 0 else float("inf")
        )
        self._clip_warn = Persistence(cfg.window_k, cfg.window_n)
        self._clip_crit = Persistence(cfg.window_k, cfg.window_n)
        self._t = 0
        self.last_clipped = float("nan")

    def update(self, step: int, values: StepValues, arrays: StepArrays) -> list[Alert] | None:
        """Consume one step's mean completion length and clipped fraction."""
        x = values.get("completion_length")
        c = values.get("completion_clipped_ratio")
        if x is None and c is None:
            return None
        self._t += 1
        if x is not None and (x - x != 0.0 or x <= 0.0):
            x = None
        if c is not None and c - c != 0.0:
            c = None
        if x is not None:
            sev = self._length.observe(x)
            if sev:
                return [self._collapse_alert(step, x, sev)]
        at_limit = x is not None and x >= self._sat_length
        if c is not None:
            self.last_clipped = c
        if at_limit or (c is not None and c >= self.config.clipped_warning):
            return self._saturation(step, c, x, at_limit)
        return None

    def _collapse_alert(self, step: int, x: float, sev: int) -> Alert:
        cfg = self.config
        w = self._length
        base = w.median
        return self.alert(
            step,
            "critical" if sev == 2 else "warning",
            f"Mean completion length {x:.4g} is {x / base:.0%} of the run's baseline "
            f"{base:.4g} ({cfg.window_k} of the last {cfg.window_n} values low).",
            {"completion_length": x, "baseline": base, "warning_below": w.warning_edge},
            COLLAPSE_RECOMMENDATION,
        )

    def _saturation(self, step: int, c: float | None, length: float | None, at_limit: bool) -> list[Alert] | None:
        cfg = self.config
        t = self._t
        if t <= cfg.warmup_steps:
            return None
        crit = c is not None and c >= cfg.clipped_critical and self._clip_crit.hit(t)
        warn = self._clip_warn.hit(t)
        if not (crit or warn):
            return None
        values: dict[str, float] = {}
        if c is not None:
            values["completion_clipped_ratio"] = c
        if length is not None:
            values["completion_length"] = length
        if c is not None and c >= cfg.clipped_warning:
            what = f"{c:.0%} of completions are truncated at the length limit"
        else:
            what = f"mean completion length {length:.4g} is at the limit ({cfg.max_completion_length} tokens)"
        return [
            self.alert(
                step,
                "critical" if crit else "warning",
                f"Completions saturate the maximum length: {what} ({cfg.window_k} of the last {cfg.window_n} steps).",
                values,
                SATURATION_RECOMMENDATION,
            )
        ]

    def summary(self) -> dict[str, float]:
        """Length baseline and thresholds, last clipped fraction."""
        w = self._length
        return {
            "length_baseline": w.median,
            "length_warning_below": w.warning_edge,
            "last_clipped_ratio": self.last_clipped,
            "clipped_warning_at": self.config.clipped_warning,
            "observations": float(w.n),
        }


@hookimpl
def rlwatch_detectors() -> list[type[Detector[LengthPathologyConfig]]]:
    """Register `length_pathology`."""
    return [LengthPathologyDetector]
