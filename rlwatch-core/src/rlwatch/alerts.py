"""The `Alert` record that flows from detectors to channels and storage."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
"""Valid severities, lowest first. ``info`` is a finding about the run's
configuration (e.g. completions truncated from the first step), not an
instability; channels receive it only when their ``min_severity`` is info."""

SEVERITY_RANK: dict[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}
"""Ordering used by `min_severity` filters and escalation."""


def severity_rank(severity: str) -> int:
    """Rank of a severity (unknown ones rank as warnings, so they are never silently dropped)."""
    return SEVERITY_RANK.get(severity, 1)


@dataclass(slots=True)
class Alert:
    """One finding of a detector at one step.

    Attributes:
        detector: Detector id, e.g. ``"entropy_collapse"``.
        severity: ``"info"``, ``"warning"`` or ``"critical"``.
        step: Training step at which the condition was seen.
        message: One human sentence saying what is wrong, with numbers.
        metric_values: The values that triggered it (and baselines), by name.
        recommendation: What a person should do next, most likely fix first.
        run_id: Filled in by the monitor before the alert leaves the pipeline.
        timestamp: Wall-clock seconds since the epoch.
        alert_id: Unique id within the run, filled in by the monitor.
    """

    detector: str
    severity: str
    step: int
    message: str
    metric_values: dict[str, float] = field(default_factory=dict)
    recommendation: str = ""
    run_id: str = ""
    timestamp: float = field(default_factory=time.time)
    alert_id: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form used by JSON output, channels and templates."""
        return {
            "alert_id": self.alert_id,
            "run_id": self.run_id,
            "detector": self.detector,
            "severity": self.severity,
            "step": self.step,
            "message": self.message,
            "metric_values": dict(self.metric_values),
            "recommendation": self.recommendation,
            "timestamp": self.timestamp,
        }
