"""The detector interface: a small stateful class fed one step at a time.

A detector owns its state, does no I/O and never raises on data. The monitor
calls `Detector.update` on the training thread for every logged step, so an
update must be O(1) amortised: keep running statistics (`rlwatch.stats`),
never recompute a window per step.

A detector is one module: its config dataclass (a `DetectorConfig`
subclass), the detector class, and a ``rlwatch_detectors`` hook
implementation that registers it. Its config section is the top-level
``<id>:`` key of rlwatch.yaml; its options reach `rlwatch init`, the
configuration reference and validation from the dataclass itself.
"""

from __future__ import annotations

import dataclasses
import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from rlwatch.alerts import Alert
from rlwatch.options import option, require

if TYPE_CHECKING:
    import numpy as np


@dataclass
class DetectorConfig:
    """Fields every detector config has; subclass it beside the detector.

    Subclasses change the defaults of inherited options with class keywords,
    which keeps each option declared (and documented, and validated) once::

        @dataclass
        class MyConfig(DetectorConfig, warmup_steps=10):
            threshold: float = option(3.0, "Alert above this.")
    """

    section_name: ClassVar[str] = ""
    """The config section's name (the detector id), set when the detector class is defined."""

    enabled: bool = option(True, "Turn the detector off without removing its section.")
    warmup_steps: int = option(
        20, "Training steps a baseline must span before its rules judge (at least 5 logged values, or this many); "
            "only drastic cold-start changes alert before."
    )
    cooldown_steps: int = option(
        50, "Steps after an alert during which an alert of the same or a lower severity is not sent again."
    )

    def __init_subclass__(cls, **defaults: Any) -> None:
        super().__init_subclass__()
        if not defaults:
            return
        inherited: dict[str, dataclasses.Field[Any]] = {}
        for base in reversed(cls.__mro__[1:]):
            inherited.update(getattr(base, "__dataclass_fields__", {}))
        own = dict(inspect.get_annotations(cls))
        for name, value in defaults.items():
            base_field = inherited.get(name)
            if base_field is None:
                raise TypeError(f"{cls.__name__}: no inherited option {name!r} to give a default")
            # Re-declared with the same type and documentation; only the default differs.
            own[name] = base_field.type
            setattr(cls, name, dataclasses.field(default=value, metadata=base_field.metadata))
        cls.__annotations__ = own

    def validate(self) -> None:
        """Raise `rlwatch.errors.ConfigError` for impossible values (subclasses extend it)."""
        section = self.section_name or type(self).__name__
        require(self.warmup_steps >= 0, f"{section}.warmup_steps must be >= 0, got {self.warmup_steps}")
        require(self.cooldown_steps >= 0, f"{section}.cooldown_steps must be >= 0, got {self.cooldown_steps}")


StepValues = Mapping[str, float]
"""Scalar metrics of one step, already coerced to float (may be NaN/Inf)."""

StepArrays = Mapping[str, "np.ndarray[Any, np.dtype[np.float64]]"]
"""Array metrics of one step (e.g. ``rewards``) as float64 ndarrays."""

C = TypeVar("C", bound=DetectorConfig)


class Detector(ABC, Generic[C]):
    """Base class of all detectors (built-in and plugin).

    Class attributes:
        id: Detector id used in config, alerts and storage.
        config_class: The dataclass holding this detector's options; its
            config section is ``<id>:`` at the top level of rlwatch.yaml.
        metrics: Names of the scalar metrics it reads (for docs/diagnose).
        arrays: Names of array metrics it reads (e.g. ``("rewards",)``).
        missing_hint: What `rlwatch diagnose` says when none of `metrics` or
            `arrays` ever arrived, e.g. how to make the framework log them.
        every_step: Call `update` at every step, whatever was logged
            (`loss_nan` looks at every value). Otherwise `update` is called
            only at steps that carry one of `metrics` or `arrays` (or at every
            step when the detector declares neither).
        per_step: False for a detector that works from the clock alone
            (`check_time`): its `update` is never called.

    Attributes:
        config: The detector's options (a `config_class` instance: a bare
            `DetectorConfig` handed in by a host is upgraded to one, keeping
            the common fields).
    """

    id: ClassVar[str] = ""
    config_class: ClassVar[type[DetectorConfig]] = DetectorConfig
    metrics: ClassVar[tuple[str, ...]] = ()
    arrays: ClassVar[tuple[str, ...]] = ()
    missing_hint: ClassVar[str] = ""
    every_step: ClassVar[bool] = False
    per_step: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The config section is named after the detector: validation messages say "<id>.<option>".
        if cls.id and cls.config_class is not DetectorConfig:
            cls.config_class.section_name = cls.id

    def __init__(self, config: DetectorConfig | None = None) -> None:
        cls = type(self).config_class
        if config is None:
            config = cls()
        elif not isinstance(config, cls):
            config = cls(enabled=config.enabled, warmup_steps=config.warmup_steps,
                         cooldown_steps=config.cooldown_steps)
        self.config: C = config  # type: ignore[assignment]

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

    def set_background(self, on: bool) -> None:
        """Let heavy statistics run off the training thread (`rlwatch.offload`); most detectors have none.

        A live monitor turns it on; replays and ``log_metrics`` turn it off
        for exact, synchronous results.
        """

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
