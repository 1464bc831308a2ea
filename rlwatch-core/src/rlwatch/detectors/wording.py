"""How level detectors word their alerts and summaries (shared sentences, one place)."""

from __future__ import annotations

from typing import Any

from rlwatch.alerts import Alert
from rlwatch.detectors.bands import LevelWatch
from rlwatch.detectors.base import Detector


def k_of_n_rule(config: Any, severity: int) -> str:
    """The persistence rule that tripped, in words, for detectors with warning/critical k-of-n."""
    if severity == 2:
        return f"{config.critical_k} of the last {config.critical_n} above {config.critical_ratio:g}x"
    return f"{config.warning_k} of the last {config.warning_n} high"


def ratio_alert(
    detector: Detector[Any], step: int, severity: int, label: str, metric: str, x: float, watch: LevelWatch, rule: str,
    recommendation: str,
) -> Alert:
    """The alert of a rising log-scale level: '<label> x is r times its baseline (rule).'"""
    ref = watch.reference()
    return detector.alert(
        step,
        "critical" if severity == 2 else "warning",
        f"{label} {x:.3g} is {x / ref:.1f}x its baseline {ref:.3g} ({rule}).",
        {metric: x, "baseline": ref, "warning_above": watch.warning_edge},
        recommendation,
    )


def level_summary(watch: LevelWatch, edge_prefix: str = "") -> dict[str, float]:
    """Baseline, log-sigma and the current thresholds of a log-scale level."""
    return {
        "baseline": watch.median,
        "log_sigma": watch.sigma,
        f"{edge_prefix}warning_above": watch.warning_edge,
        f"{edge_prefix}critical_above": watch.critical_edge,
        "observations": float(watch.n),
    }
