"""Retrospective diagnosis of a stored run (`rlwatch diagnose`, the report)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlwatch.storage.protocol import Store
from rlwatch.storage.records import AlertRow, RunInfo
from rlwatch.terminal import printable


@dataclass
class MetricSummary:
    """Summary statistics of one metric over a run."""

    name: str
    count: int
    non_finite: int
    first: float | None
    last: float | None
    minimum: float | None
    maximum: float | None
    mean: float | None


@dataclass
class Diagnosis:
    """Everything `rlwatch diagnose` prints about a run."""

    run: RunInfo
    metrics: list[MetricSummary]
    alerts: list[AlertRow]
    missing: list[tuple[str, str]] = field(default_factory=list)
    """(detector id, what it lacked and how to get it) for detectors that saw no data."""

    @property
    def critical(self) -> int:
        """Number of critical alerts sent (not suppressed)."""
        return sum(1 for a in self.alerts if a.severity == "critical" and a.status != "suppressed")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "run": self.run.to_dict(),
            "metrics": [m.__dict__ for m in self.metrics],
            "alerts": [a.to_dict() for a in self.alerts],
            "missing": [{"detector": d, "hint": h} for d, h in self.missing],
            "critical_alerts": self.critical,
        }


def _f(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def diagnose(reader: Store, run_id: str) -> Diagnosis | None:
    """Build the diagnosis of `run_id`, or None if there is no such run."""
    run = reader.run(run_id)
    if run is None:
        return None
    names = reader.metric_names(run_id)
    data = reader.metrics(run_id, names)
    nans = reader.nan_counts(run_id)
    summaries = []
    for name in names:
        col = data[name]
        finite = col[np.isfinite(col)]
        present = col[~np.isnan(col)]  # values and +-inf; stored NaN reads as NaN like a gap
        summaries.append(
            MetricSummary(
                name=name,
                count=int(present.size) + nans.get(name, 0),
                non_finite=int(present.size - finite.size) + nans.get(name, 0),
                first=_f(present[0]) if present.size else None,
                last=_f(present[-1]) if present.size else None,
                minimum=float(finite.min()) if finite.size else None,
                maximum=float(finite.max()) if finite.size else None,
                mean=float(finite.mean()) if finite.size else None,
            )
        )
    missing = []
    from rlwatch import plugins

    have = set(names)
    for cls in plugins.detector_classes():
        wanted = set(cls.metrics) | set(cls.arrays)
        if not wanted:
            continue
        # Arrays are summarised into reward_mean/reward_std etc., so accept those too.
        if "rewards" in wanted:
            wanted |= {"reward_mean", "reward_std"}
        if not wanted & have:
            enabled = run.config.get(cls.id, {}).get("enabled", True) if isinstance(run.config, dict) else True
            if enabled:
                hint = cls.missing_hint or f"log {' or '.join(sorted(set(cls.metrics) | set(cls.arrays)))}"
                missing.append((cls.id, hint))
    return Diagnosis(run=run, metrics=summaries, alerts=reader.alerts(run_id), missing=missing)


def render_text(d: Diagnosis) -> str:
    """Human-readable diagnosis, for a terminal.

    Every line is passed through `rlwatch.terminal.printable`: run ids, metric
    names and the alert messages quoting them come from user code, and must
    neither drive the terminal nor break a line.
    """
    run = d.run
    lines = [
        f"Run {run.run_id}  status={run.status}  framework={run.framework}  steps={run.n_steps}"
        f" (last step {run.last_step})",
    ]
    if run.dropped_rows:
        lines.append(f"  WARNING: {run.dropped_rows} rows were dropped because the writer fell behind")
    if run.skipped:
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(run.skipped.items()))
        lines.append(f"  Skipped unusable values: {shown}")
    sent = [a for a in d.alerts if a.status != "suppressed"]
    lines.append("")
    lines.append(f"Alerts: {len(sent)} sent ({d.critical} critical), {len(d.alerts) - len(sent)} suppressed")
    by_detector: dict[str, list[AlertRow]] = {}
    for a in sent:
        by_detector.setdefault(a.detector, []).append(a)
    for det, rows in by_detector.items():
        first = rows[0]
        worst = "critical" if any(r.severity == "critical" for r in rows) else "warning"
        lines.append(f"  {worst.upper():8} {det}: {len(rows)} alert(s), first at step {first.step}")
        lines.append(f"           {first.message}")
        if first.recommendation:
            lines.append(f"           what to do: {first.recommendation}")
    lines.append("")
    lines.append("Metrics:")
    lines.append(f"  {'name':28} {'n':>7} {'first':>11} {'last':>11} {'min':>11} {'max':>11} {'non-finite':>10}")
    for m in d.metrics:
        lines.append(
            f"  {printable(m.name)[:28]:28} {m.count:>7} {_num(m.first):>11} {_num(m.last):>11} "
            f"{_num(m.minimum):>11} {_num(m.maximum):>11} {m.non_finite:>10}"
        )
    if d.missing:
        lines.append("")
        lines.append("Detectors that had no data:")
        for det, hint in d.missing:
            lines.append(f"  {det}: {hint}")
    # Each line is built from single-line parts; escaping each one keeps a newline in a name from forging a line.
    return "\n".join(printable(line) for line in lines)


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"
