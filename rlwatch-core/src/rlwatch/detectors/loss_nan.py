"""`loss_nan`: a non-finite value in the canonical metrics is critical at once, or nearly.

Frameworks mask NaN in different places (TRL, for instance, logs a loss of
exactly 0 and drops entropy and KL while the gradient norm is already NaN),
so every canonical scalar is checked, plus the canonical arrays
(``rewards``, ``advantages``). A non-finite loss, KL, entropy, reward or
array value is critical on the step it appears.

A non-finite **gradient norm alone** is different under mixed precision: a
dynamic loss scaler (fp16) skips the optimizer step whenever the gradients
overflow, on purpose, a few times at the start of a run and now and then
after. When the loss is finite and non-zero and nothing the run usually logs
went missing, the first such step of the run is reported as an ``info`` finding, and it
turns critical when it repeats on ``skipped_steps_critical`` logged steps in
a row (the scaler is not recovering: the gradients really blew up). A zero
or non-finite loss, or usual metrics gone from that step, mean the forward
pass itself broke: critical at once.

The common step costs one C-level ``sum`` over the step's values: a sum of
floats is finite exactly when no term is NaN/Inf (barring overflow near
1e308, which the slow path then clears). Other detectors drop non-finite
values, so one NaN never blinds them for the rest of the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from rlwatch.alerts import Alert
from rlwatch.detectors.base import Detector, DetectorConfig, StepArrays, StepValues
from rlwatch.hookspecs import hookimpl
from rlwatch.metrics import CANONICAL_ARRAYS, CANONICAL_SCALARS
from rlwatch.options import option, require

RECOMMENDATION = (
    "1) Stop the run (or let it restart) from the last checkpoint with finite metrics: "
    "after a NaN update the weights themselves are usually NaN. "
    "2) Find the first bad step and its batch: a reward function returning NaN/inf "
    "(division by zero, log(0)), an empty completion, an extreme log-ratio. "
    "3) Lower the learning rate, enable gradient clipping (max_grad_norm=1.0), prefer "
    "bf16 over fp16 or check the loss scaler. "
    "4) With fp16 dynamic loss scaling, an occasional inf grad_norm on a skipped step "
    "is expected: add grad_norm to loss_nan.ignore if that is your case."
)

SKIPPED_STEP = (
    "Nothing to do if it stays occasional: a mixed-precision loss scaler skips steps whose gradients overflow "
    "(mostly in the first steps, while it finds its scale). If it repeats, prefer bf16 over fp16, lower the "
    "learning rate, or turn on gradient clipping."
)


@dataclass
class LossNaNConfig(DetectorConfig, warmup_steps=0):
    """Options of the `loss_nan` detector (warmup_steps is 0 by default: a NaN is never normal)."""

    watch: list[str] = option(
        [], "Metric names to check; empty means every canonical scalar and array (recommended)."
    )
    ignore: list[str] = option(
        [], "Metric names never to check (e.g. [grad_norm] if non-finite norms are routine and uninteresting)."
    )
    skipped_steps_critical: int = option(
        5, "A non-finite grad_norm with a finite, non-zero loss (a skipped mixed-precision step) is critical "
           "when it repeats on this many logged steps in a row."
    )

    def validate(self) -> None:
        """Raise `rlwatch.config.ConfigError` for impossible values."""
        super().validate()
        require(self.skipped_steps_critical >= 1, "loss_nan.skipped_steps_critical must be >= 1")
        for key in ("watch", "ignore"):
            for name in getattr(self, key):
                require(
                    isinstance(name, str) and bool(name),
                    f"loss_nan.{key} must be a list of metric names, got {name!r}",
                )


class LossNaNDetector(Detector[LossNaNConfig]):
    """Any non-finite canonical metric: critical on the first step it appears."""

    id: ClassVar[str] = "loss_nan"
    config_class = LossNaNConfig
    metrics: ClassVar[tuple[str, ...]] = ("loss", "grad_norm", "kl_divergence", "entropy")
    arrays: ClassVar[tuple[str, ...]] = ()
    every_step: ClassVar[bool] = True  # a non-finite value under any name is its business
    missing_hint: ClassVar[str] = (
        "none of loss, grad_norm, kl_divergence or entropy logged; log at least loss and "
        "grad_norm (TRL masks NaN in the logged loss, it shows in grad_norm)"
    )

    def __init__(self, config: LossNaNConfig | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        ignore = set(cfg.ignore)
        scalars = tuple(cfg.watch) if cfg.watch else CANONICAL_SCALARS
        arrays = tuple(cfg.watch) if cfg.watch else CANONICAL_ARRAYS
        self._scalars = frozenset(n for n in scalars if n not in ignore)
        self._arrays = tuple(n for n in arrays if n not in ignore)
        self._n = 0
        self._previous: StepValues = {}
        self._skipped_streak = 0
        self._skips_reported = False
        self.first_bad_step: int | None = None

    def update(self, step: int, values: StepValues, arrays: StepArrays) -> list[Alert] | None:
        """Check the step's values; critical (or, for a skipped mixed-precision step, info) naming each."""
        self._n += 1
        previous, self._previous = self._previous, values
        total = sum(values.values())
        if total - total == 0.0 and not arrays:
            self._skipped_streak = 0
            return None
        bad: dict[str, float] = {}
        if total - total != 0.0:
            watched = self._scalars
            for name, v in values.items():
                if v - v != 0.0 and name in watched:
                    bad[name] = v
        for name in self._arrays:
            a = arrays.get(name)
            if a is not None and a.size:
                s = float(a.sum())
                if s - s != 0.0:
                    import numpy as np

                    nonfinite = int(a.size - np.count_nonzero(np.isfinite(a)))
                    if nonfinite:
                        bad[f"{name}_nonfinite_count"] = float(nonfinite)
        if not bad:
            self._skipped_streak = 0
            return None
        if self._n <= self.config.warmup_steps:
            return None
        if list(bad) == ["grad_norm"] and self._skipped_step(values, previous):
            self._skipped_streak += 1
            if self._skipped_streak < self.config.skipped_steps_critical:
                if self._skips_reported:
                    return None  # one finding per run: a scaler skips now and then, by design
                self._skips_reported = True
                return self._skipped_finding(step, bad["grad_norm"], values)
        if self.first_bad_step is None:
            self.first_bad_step = step
        names = ", ".join(f"{k}={v:g}" if math.isfinite(v) else f"{k}={v}" for k, v in bad.items())
        first = "" if self.first_bad_step == step else f" (first non-finite at step {self.first_bad_step})"
        if self._skipped_streak >= self.config.skipped_steps_critical:
            first += f"; {self._skipped_streak} logged steps in a row"
        return [self.alert(step, "critical", f"Non-finite training metrics: {names}{first}.", bad, RECOMMENDATION)]

    def _skipped_step(self, values: StepValues, previous: StepValues) -> bool:
        """True when a non-finite grad norm looks like a scaler's skipped step: the forward pass was fine."""
        loss = values.get("loss")
        if loss is None or loss - loss != 0.0 or loss == 0.0:
            return False  # no loss, or the exact 0 TRL logs when the loss itself was NaN
        # Metrics the previous step had that vanished now (TRL drops NaN entropy/KL from its logs).
        return not any(name in self._scalars and name not in values for name in previous)

    def _skipped_finding(self, step: int, grad_norm: float, values: StepValues) -> list[Alert]:
        return [self.alert(
            step, "info",
            f"Non-finite gradient norm ({grad_norm}) with a finite loss ({values.get('loss', math.nan):.4g}): "
            "the optimizer step was most likely skipped by a mixed-precision loss scaler. Critical if it repeats "
            f"on {self.config.skipped_steps_critical} logged steps in a row.",
            {"grad_norm": grad_norm}, SKIPPED_STEP,
        )]

    def summary(self) -> dict[str, float]:
        """First step with a non-finite value (nan if none yet)."""
        return {
            "first_bad_step": math.nan if self.first_bad_step is None else float(self.first_bad_step),
            "observations": float(self._n),
        }


@hookimpl
def rlwatch_detectors() -> list[type[Detector[LossNaNConfig]]]:
    """Register `loss_nan`."""
    return [LossNaNDetector]
