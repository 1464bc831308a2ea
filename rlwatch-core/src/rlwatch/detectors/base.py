"""The detector interface: a small stateful class fed one step at a time.

A detector owns its state, does no I/O and never raises on data. The monitor
calls :meth:`Detector.update` on the training thread for every logged step, so
an update must be O(1) amortised: keep running statistics (EWMA, running
median/MAD over a fixed ring, counters), never recompute a window per step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rlwatch.alerts import Alert

if TYPE_CHECKING:
    import numpy as np


@dataclass
class DetectorConfig:
    """Fields every detector config has; subclass it beside the detector.

    Attributes:
        enabled: Turn the detector off without removing its section.
        warmup_steps: Steps with data to observe before any alert (baselines).
        cooldown_steps: Steps after an alert during which a repeat of the same
            severity is suppressed (a critical may still escalate a warning).
    """

    enabled: bool = True
    warmup_steps: int = 20
    cooldown_steps: int = 50


StepValues = Mapping[str, float]
"""Scalar metrics of one step, already coerced to float (may be NaN/Inf)."""

StepArrays = Mapping[str, "np.ndarray[Any, np.dtype[np.float64]]"]
"""Array metrics of one step (e.g. ``rewards``) as float64 ndarrays."""


class Detector(ABC):
    """Base class of all detectors (built-in and plugin).

    Class attributes:
        id: Detector id used in config, alerts and storage.
        config_class: The dataclass holding this detector's options; its
            config section is ``<id>:`` at the top level of rlwatch.yaml.
        metrics: Names of the scalar metrics it reads (for docs/diagnose).
        arrays: Names of array metrics it reads (e.g. ``("rewards",)``).
        missing_hint: What `rlwatch diagnose` says when none of `metrics` or
            `arrays` ever arrived, e.g. how to make the framework log them.
    """

    id: ClassVar[str] = ""
    config_class: ClassVar[type[DetectorConfig]] = DetectorConfig
    metrics: ClassVar[tuple[str, ...]] = ()
    arrays: ClassVar[tuple[str, ...]] = ()
    missing_hint: ClassVar[str] = ""

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config

    @abstractmethod
    def update(self, step: int, values: StepValues, arrays: StepArrays) -> list[Alert] | None:
        """Consume one step; return alerts for this step or None.

        Args:
            step: The step number (monotone within a run, may have gaps).
            values: All scalar metrics logged at this step, as floats.
            arrays: All array metrics logged at this step.

        Returns:
            None (the common, allocation-free case) or a list of alerts.
            Cooldown and dedupe are applied later by the alert manager, so a
            detector may report a condition on every step it holds.
        """

    def check_time(self, now: float, last_step: int) -> list[Alert] | None:
        """Called about once a second from a background timer thread.

        Only time-based detectors (e.g. ``stalled``) override it.
        """
        return None

    def summary(self) -> dict[str, float]:
        """Current baselines and thresholds, for the dashboard and diagnose."""
        return {}

    def alert(
        self,
        step: int,
        severity: str,
        message: str,
        metric_values: dict[str, float],
        recommendation: str,
    ) -> Alert:
        """Build an `Alert` of this detector."""
        return Alert(
            detector=self.id,
            severity=severity,
            step=step,
            message=message,
            metric_values=metric_values,
            recommendation=recommendation,
        )
