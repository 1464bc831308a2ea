"""`loss_nan`: a non-finite value in any canonical metric is critical at once.

Frameworks mask NaN in different places (TRL, for instance, may log a finite
loss while the gradient norm is already NaN), so every canonical scalar is
checked, plus the canonical arrays (``rewards``, ``advantages``). The common
step costs one C-level ``sum`` over the step's values: a sum of floats is
finite exactly when no term is NaN/Inf (barring overflow near 1e308, which
the slow path then clears). Other detectors drop non-finite values, so one
NaN never blinds them for the rest of the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

from rlwatch.alerts import Alert
from rlwatch.detectors.base import Detector, DetectorConfig, StepArrays, StepValues
from rlwatch.hookspecs import hookimpl
from rlwatch.metrics import CANONICAL_ARRAYS, CANONICAL_SCALARS
from rlwatch.options import require

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


@dataclass
class LossNaNConfig(DetectorConfig):
    """Options of the `loss_nan` detector.

    Attributes:
        warmup_steps: Steps before alerts; 0 by default: a NaN is never normal.
        watch: Metric names to check; empty means every canonical scalar and
            array (see `rlwatch.metrics`), which is the recommended setting.
        ignore: Metric names never to check (e.g. ``["grad_norm"]`` with fp16
            dynamic loss scaling, which logs inf on the steps it skips).
    """

    warmup_steps: int = 0
    watch: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)

    def validate(self) -> None:
        """Raise `rlwatch.config.ConfigError` for impossible values."""
        super().validate()
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
        self.first_bad_step: int | None = None

    def update(self, step: int, values: StepValues, arrays: StepArrays) -> list[Alert] | None:
        """Check the step's values; critical alert naming each non-finite one."""
        self._n += 1
        total = sum(values.values())
        if total - total == 0.0 and not arrays:
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
        if not bad or self._n <= self.config.warmup_steps:
            return None
        if self.first_bad_step is None:
            self.first_bad_step = step
        names = ", ".join(f"{k}={v:g}" if math.isfinite(v) else f"{k}={v}" for k, v in bad.items())
        first = "" if self.first_bad_step == step else f" (first non-finite at step {self.first_bad_step})"
        return [
            self.alert(
                step,
                "critical",
                f"Non-finite training metrics: {names}{first}.",
                bad,
                RECOMMENDATION,
            )
        ]

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
