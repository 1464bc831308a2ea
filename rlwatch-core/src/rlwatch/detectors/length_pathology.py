"""`length_pathology`: completion length collapses, or completions start hitting the limit.

Two failure shapes, both relative to the run's own history:

* **collapse**: completions get much shorter than the run's own level (the
  policy learned to stop early, emits EOS at once, or truncates reasoning):
  ``completion_length`` below ``collapse_ratio`` / ``collapse_critical_ratio``
  x its rolling log-scale median and at least ``min_drop`` tokens shorter,
  persistently. Before that baseline exists, two lengths in a row below
  ``early_ratio`` x the run's first lengths are critical (53 -> 2.6 tokens at
  the second logged step is caught there).
* **saturation**: the share of completions truncated at the generation limit
  (``completion_clipped_ratio``) *rises*: to ``clipped_warning`` and
  ``clipped_warning_rise`` above the run's own level (warning), to
  ``clipped_critical`` and ``clipped_critical_rise`` above it (critical).
  Truncated samples usually get no reward, so the run stops learning while
  paying for the longest generations. Judged once warm-up has given the run
  a baseline (`rlwatch.detectors.rates`). When ``max_completion_length`` is
  configured, a mean length at ``saturation_fraction`` of it counts as fully
  truncated, and when the truncated share is not logged at all, a step whose
  mean is clear of that mark counts as not truncated (the share then reads
  as the fraction of saturated steps).

Completions truncated **from the first step** on (a limit set too small for
the task) are a configuration finding, not an instability: one ``info``
alert says so ("raise max_completion_length"), and only a further rise is
judged. Slow length growth, normal when a model learns to reason longer, is
followed by the rolling baseline and is never an alert by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rlwatch.alerts import Alert
from rlwatch.detectors.bands import LevelWatch
from rlwatch.detectors.base import Detector, DetectorConfig, StepArrays, StepValues
from rlwatch.detectors.rates import CHRONIC_FROM_START, RateWatch
from rlwatch.hookspecs import hookimpl
from rlwatch.options import option, require, require_k_of_n

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
    "1) Read truncated samples: repetition loops point at entropy collapse or too high a "
    "temperature; rambling that grows step by step at a length exploit. "
    "2) Raise the generation limit (max_completion_length) if memory allows, or add an "
    "overlong penalty / soft length penalty so truncated samples are not silently zero. "
    "3) Mask truncated completions from the loss (e.g. TRL mask_truncated_completions) "
    "and consider a length-aware curriculum."
)

CONFIGURATION_FINDING = (
    "This is how the run was set up, not a change: raise max_completion_length (or the rollout's max "
    "response length) if memory allows, add an overlong penalty, or mask truncated completions from the loss "
    "(TRL: mask_truncated_completions=True). rlwatch will alert if truncation rises further."
)


@dataclass
class LengthPathologyConfig(DetectorConfig):
    """Options of the `length_pathology` detector."""

    collapse_ratio: float = option(0.5, "Warn when the mean length is below this fraction of the run's baseline.")
    collapse_critical_ratio: float = option(0.25, "Critical when it is below this fraction.")
    min_drop_sigmas: float = option(4.0, "The drop must also exceed this many robust log-sigmas of the baseline.")
    min_drop: float = option(3.0, "The drop must also be at least this many tokens.")
    early_ratio: float = option(
        0.2, "Cold start: two lengths in a row below this fraction of the run's first lengths are critical."
    )
    clipped_warning: float = option(0.3, "A rising truncated share warns at this level ...")
    clipped_warning_rise: float = option(0.2, "... when it is also this much above the run's own level.")
    clipped_critical: float = option(0.6, "A rising truncated share is critical at this level ...")
    clipped_critical_rise: float = option(0.35, "... when it is also this much above the run's own level.")
    max_completion_length: int = option(
        0, "The generation limit in tokens, if known (0: unknown; then only the truncated share is judged)."
    )
    saturation_fraction: float = option(
        0.95, "A mean length at or above this fraction of max_completion_length counts as fully truncated."
    )
    baseline_window: int = option(100, "Number of recent values the baselines use.")
    window_k: int = option(3, "All rules after warm-up need window_k of the last window_n values beyond them ...")
    window_n: int = option(5, "... (see window_k).")

    def validate(self) -> None:
        """Raise `rlwatch.errors.ConfigError` for impossible values."""
        super().validate()
        require(
            0.0 < self.collapse_critical_ratio < self.collapse_ratio < 1.0,
            "length_pathology: need 0 < collapse_critical_ratio < collapse_ratio < 1",
        )
        require(
            0.0 < self.clipped_warning <= self.clipped_critical <= 1.0,
            "length_pathology: need 0 < clipped_warning <= clipped_critical <= 1",
        )
        require(0.0 < self.clipped_warning_rise <= self.clipped_critical_rise < 1.0,
                "length_pathology: need 0 < clipped_warning_rise <= clipped_critical_rise < 1")
        require(self.min_drop_sigmas >= 0.0, "length_pathology.min_drop_sigmas must be >= 0")
        require(self.min_drop >= 0.0, "length_pathology.min_drop must be >= 0")
        require(0.0 <= self.early_ratio < 1.0, "length_pathology.early_ratio must be in [0, 1)")
        require(self.max_completion_length >= 0, "length_pathology.max_completion_length must be >= 0")
        require(
            0.0 < self.saturation_fraction <= 1.0,
            "length_pathology.saturation_fraction must be in (0, 1]",
        )
        require(self.baseline_window >= 8, "length_pathology.baseline_window must be >= 8")
        require_k_of_n(self.window_k, self.window_n, "length_pathology.window")


class LengthPathologyDetector(Detector[LengthPathologyConfig]):
    """Completion length collapsing below the run's level, or truncation rising above it."""

    id: ClassVar[str] = "length_pathology"
    config_class = LengthPathologyConfig
    metrics: ClassVar[tuple[str, ...]] = ("completion_length", "completion_clipped_ratio")
    arrays: ClassVar[tuple[str, ...]] = ()
    missing_hint: ClassVar[str] = (
        "no completion_length or completion_clipped_ratio logged; TRL logs "
        "'completions/mean_length' and 'completions/clipped_ratio', veRL 'response_length/mean' and "
        "'response_length/clip_ratio', or pass them to log_step"
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
            min_delta=cfg.min_drop,
            warmup_steps=cfg.warmup_steps,
            warmup_observations=cfg.warmup_steps,
            early_ratio=cfg.early_ratio,
            early_min_delta=cfg.min_drop,
            window=cfg.baseline_window,
            log_scale=True,
            min_rel_sigma=0.05,
        )
        self._truncated = RateWatch(
            cfg.clipped_warning, cfg.clipped_critical, cfg.clipped_warning_rise, cfg.clipped_critical_rise,
            cfg.window_k, cfg.window_n, cfg.warmup_steps, cfg.baseline_window,
        )
        self._limit = (
            cfg.saturation_fraction * cfg.max_completion_length if cfg.max_completion_length > 0 else float("inf")
        )

    def update(self, step: int, values: StepValues, arrays: StepArrays) -> list[Alert] | None:
        """Consume one step's mean completion length and truncated share."""
        x = values.get("completion_length")
        c = values.get("completion_clipped_ratio")
        if x is not None and (x - x != 0.0 or x <= 0.0):
            x = None
        if c is not None and (c - c != 0.0 or not 0.0 <= c <= 1.0):
            c = None
        if x is not None and x >= self._limit:
            c = 1.0  # at the limit on average: everything is cut
        elif c is None and x is not None:
            if self._limit < float("inf"):
                c = 0.0  # only the mean is known, and it is clear of the limit: count the step as not saturated
            else:
                # lengths were logged before any truncation figure: truncation did not start with the run
                self._truncated.run_began_earlier()
        out: list[Alert] = []
        if x is not None:
            sev = self._length.observe(x, step)
            if sev:
                out.append(self._collapse_alert(step, x, sev))
        if c is not None:
            sev, chronic_now = self._truncated.observe(c, step)
            if chronic_now:
                out.append(self._chronic_finding(step, c))
            if sev:
                out.append(self._saturation_alert(step, c, x, sev))
        return out or None

    def _collapse_alert(self, step: int, x: float, sev: int) -> Alert:
        cfg = self.config
        w = self._length
        base = w.reference()
        rule = (f"{cfg.window_k} of the last {cfg.window_n} values low" if w.live
                else "two logged steps in a row, right at the start of the run")
        return self.alert(
            step,
            "critical" if sev == 2 else "warning",
            f"Mean completion length {x:.4g} tokens is {x / base:.0%} of the run's own level {base:.4g} ({rule}).",
            {"completion_length": x, "baseline": base, "warning_below": w.warning_edge},
            COLLAPSE_RECOMMENDATION,
        )

    def _saturation_alert(self, step: int, c: float, length: float | None, sev: int) -> Alert:
        cfg, watch = self.config, self._truncated
        ref = watch.reference()
        values: dict[str, float] = {"completion_clipped_ratio": c, "baseline": ref}
        if length is not None:
            values["completion_length"] = length
        rule = f"{cfg.window_k} of the last {cfg.window_n} steps"
        return self.alert(
            step,
            "critical" if sev == 2 else "warning",
            f"Completions are hitting the length limit: {c:.0%} truncated, up from the run's own {ref:.0%} "
            f"({rule}).",
            values,
            SATURATION_RECOMMENDATION,
        )

    def _chronic_finding(self, step: int, c: float) -> Alert:
        return self.alert(
            step,
            "info",
            f"Completions are truncated at the length limit from the first step on ({c:.0%} in each of the "
            f"first {CHRONIC_FROM_START} logged steps): max_completion_length looks too small for this task.",
            {"completion_clipped_ratio": c},
            CONFIGURATION_FINDING,
        )

    def summary(self) -> dict[str, float]:
        """Length baseline and thresholds, the truncated share and its level."""
        w = self._length
        return {
            "length_baseline": w.median if w.live else w.anchor,
            "length_warning_below": w.warning_edge,
            "last_clipped_ratio": self._truncated.last,
            "clipped_baseline": self._truncated.reference(),
            "truncated_from_start": float(bool(self._truncated.chronic)),
            "observations": float(w.n),
        }


@hookimpl
def rlwatch_detectors() -> list[type[Detector[LengthPathologyConfig]]]:
    """Register `length_pathology`."""
    return [LengthPathologyDetector]
