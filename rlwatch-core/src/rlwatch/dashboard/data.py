"""Turn what `StoreReader` returns into the JSON the dashboard and report draw.

Everything here is a pure function of a reader and a few arguments, shared by
the HTTP API (`rlwatch.dashboard.server`) and the offline report
(`rlwatch.report`), so both draw the same points and the same alert markers.
Values that JSON cannot carry (NaN, Inf) are never emitted as numbers: series
drop them, alert values become the strings ``"nan"``/``"inf"``/``"-inf"``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from rlwatch.dashboard.downsample import DEFAULT_MAX_POINTS, finite_series, min_max_downsample
from rlwatch.metrics import CANONICAL_SCALARS

RUN_FIELDS: tuple[str, ...] = (
    "run_id",
    "status",
    "started_at",
    "updated_at",
    "ended_at",
    "framework",
    "host",
    "pid",
    "rank",
    "world_size",
    "rlwatch_version",
    "last_step",
    "n_steps",
    "dropped_rows",
    "skipped",
    "alert_counts",
)
"""`RunInfo` attributes sent to the browser (the config only on the run page)."""

ALERT_FIELDS: tuple[str, ...] = (
    "run_id",
    "alert_id",
    "detector",
    "severity",
    "step",
    "message",
    "recommendation",
    "metric_values",
    "created_at",
    "status",
    "reason",
)
"""`AlertRow` attributes sent to the browser (deliveries are summarised)."""

REFERENCE_WORDS: tuple[str, ...] = (
    "threshold",
    "baseline",
    "limit",
    "floor",
    "ceiling",
    "expected",
    "ewma",
    "median",
    "reference",
    "below",
    "above",
    "bound",
)
"""Alert value names that are reference levels (drawn beside the curve)."""


class Reader(Protocol):
    """The part of `rlwatch.storage.StoreReader` this module uses."""

    def runs(self) -> list[Any]: ...

    def run(self, run_id: str) -> Any: ...

    def metric_names(self, run_id: str) -> list[str]: ...

    def metrics(
        self,
        run_id: str,
        names: Sequence[str] | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> dict[str, np.ndarray[Any, Any]]: ...

    def alerts(self, run_id: str | None = None, include_suppressed: bool = True) -> list[Any]: ...

    def iter_rows(
        self, run_id: str, start: int | None = None, end: int | None = None
    ) -> Iterator[dict[str, Any]]: ...


class NotFound(LookupError):
    """The requested run does not exist in the database."""


def json_safe(value: Any) -> Any:
    """Return ``value`` with every non-finite float replaced by its name.

    Recurses into mappings and sequences; numpy scalars become Python numbers.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    return value


def dumps(payload: Any) -> str:
    """Strict JSON (no NaN literals, which browsers' JSON.parse rejects)."""
    return json.dumps(json_safe(payload), allow_nan=False, separators=(",", ":"))


def run_dict(info: Any, with_config: bool = False) -> dict[str, Any]:
    """One run as a JSON-ready dict (``config`` only when asked: it can be big)."""
    out = {name: json_safe(getattr(info, name, None)) for name in RUN_FIELDS}
    counts = out.get("alert_counts") or {}
    out["alert_counts"] = {
        "warning": int(counts.get("warning", 0)),
        "critical": int(counts.get("critical", 0)),
    }
    if with_config:
        out["config"] = json_safe(getattr(info, "config", None) or {})
    return out


def runs_payload(reader: Reader) -> dict[str, Any]:
    """All runs, newest activity first."""
    runs = [run_dict(info) for info in reader.runs()]
    runs.sort(key=lambda r: r.get("updated_at") or r.get("started_at") or 0, reverse=True)
    return {"runs": runs}


def run_payload(reader: Reader, run_id: str) -> dict[str, Any]:
    """One run with its config, metric names and which metrics each detector reads.

    Raises:
        NotFound: No run with this id.
    """
    info = reader.run(run_id)
    if info is None:
        raise NotFound(run_id)
    out = run_dict(info, with_config=True)
    out["metric_names"] = ordered_metric_names(reader.metric_names(run_id))
    out["detector_metrics"] = detector_metrics()
    return out


def ordered_metric_names(names: Iterable[str]) -> list[str]:
    """Canonical metrics first, in their documented order, then extras by name."""
    rank = {name: i for i, name in enumerate(CANONICAL_SCALARS)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


def detector_metrics() -> dict[str, list[str]]:
    """Detector id -> the scalar metrics it reads (built-in and plugin detectors).

    Used to put an alert's marker on the right charts when the alert's own
    values do not name the metric.
    """
    from rlwatch import plugins

    return {cls.id: list(cls.metrics) for cls in plugins.detector_classes() if cls.id}


def metrics_payload(
    reader: Reader,
    run_id: str,
    names: Sequence[str] | None = None,
    start: int | None = None,
    end: int | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> dict[str, Any]:
    """Series of a run, downsampled per metric to ``max_points`` at most.

    Args:
        reader: An open reader.
        run_id: The run.
        names: Metrics to return; all of the run's when None.
        start: First step (inclusive), or None for the beginning.
        end: Last step (inclusive), or None for the end.
        max_points: Per-metric cap; a zoomed range holding fewer points than
            this comes back at full resolution.

    Returns:
        ``{"run_id", "start", "end", "last_step", "series": {name: {"x", "y",
        "n", "downsampled"}}}`` where ``n`` is the number of finite points in
        the range before downsampling.
    """
    if names is None:
        names = reader.metric_names(run_id)
    data = reader.metrics(run_id, names=list(names), start=start, end=end)
    steps = np.asarray(data.get("step", np.zeros(0)), dtype=np.int64)
    series: dict[str, Any] = {}
    for name in names:
        values = data.get(name)
        if values is None:
            continue
        x, y = finite_series(steps, np.asarray(values, dtype=np.float64))
        n = len(x)
        x, y = min_max_downsample(x, y, max_points)
        series[name] = {
            "x": x.tolist(),
            "y": y.tolist(),
            "n": n,
            "downsampled": len(x) < n,
        }
    return {
        "run_id": run_id,
        "start": start,
        "end": end,
        "last_step": int(steps[-1]) if len(steps) else None,
        "series": series,
    }


def alert_dict(row: Any) -> dict[str, Any]:
    """One alert row as a JSON-ready dict, with a summary of its deliveries."""
    out = {name: json_safe(getattr(row, name, None)) for name in ALERT_FIELDS}
    out["metric_values"] = out.get("metric_values") or {}
    deliveries = getattr(row, "deliveries", None) or []
    out["deliveries"] = [
        {k: json_safe(d.get(k)) for k in ("channel", "ok", "status", "error", "attempts")}
        for d in deliveries
        if isinstance(d, Mapping)
    ]
    return out


def _reference_levels(values: Mapping[str, Any], metric_names: set[str]) -> dict[str, float]:
    refs: dict[str, float] = {}
    for key, val in values.items():
        if key in metric_names or not isinstance(val, (int, float)):
            continue
        if isinstance(val, bool) or not math.isfinite(float(val)):
            continue
        lowered = key.lower()
        if any(word in lowered for word in REFERENCE_WORDS):
            refs[key] = float(val)
    return refs


def alerts_payload(reader: Reader, run_id: str | None = None) -> dict[str, Any]:
    """Alerts of one run (or of every run), each placed on the charts it concerns.

    Each alert gets ``charts``: ``{metric: y}``, where to draw its marker. The
    metrics are those named in its values, else those its detector reads; ``y``
    is the triggering value when finite, else the last finite value of that
    metric at or before the alert's step (a NaN loss is drawn where the curve
    stopped). ``references`` holds threshold/baseline levels it reported.
    """
    rows = [alert_dict(row) for row in reader.alerts(run_id, include_suppressed=True)]
    if run_id is None:
        return {"alerts": rows}
    names = set(reader.metric_names(run_id))
    by_detector = detector_metrics()
    lookups: set[str] = set()
    for alert in rows:
        # The metrics the alert itself names; only when it names none, those
        # its detector reads (loss_nan reads every metric but names the bad one).
        linked = [k for k in alert["metric_values"] if k in names]
        if not linked:
            linked = [m for m in by_detector.get(alert["detector"], []) if m in names]
        alert["charts"] = {}
        for metric in linked:
            value = alert["metric_values"].get(metric)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                alert["charts"][metric] = float(value)
            else:
                alert["charts"][metric] = None
                lookups.add(metric)
        alert["references"] = _reference_levels(alert["metric_values"], names)
    if lookups:
        _fill_marker_levels(reader, run_id, rows, sorted(lookups))
    return {"alerts": rows}


def _fill_marker_levels(reader: Reader, run_id: str, rows: list[dict[str, Any]], names: list[str]) -> None:
    data = reader.metrics(run_id, names=names)
    steps = np.asarray(data.get("step", np.zeros(0)), dtype=np.int64)
    for name in names:
        values = data.get(name)
        if values is None:
            continue
        x, y = finite_series(steps, np.asarray(values, dtype=np.float64))
        for alert in rows:
            if alert["charts"].get(name, 0.0) is not None:
                continue
            if not len(x):
                continue
            i = int(np.searchsorted(x, int(alert["step"] or 0), side="right")) - 1
            alert["charts"][name] = float(y[max(i, 0)])


def diagnosis_payload(reader: Reader, run_id: str) -> dict[str, Any]:
    """The run's diagnosis (as `rlwatch diagnose` computes it), ready to draw.

    Returns ``{"verdict", "findings", "notes", "metrics"}``: findings group
    the alerts by detector (worst first) with the latest message and what to
    do; notes say what limits the picture (rows dropped, values skipped,
    detectors that never saw their metric); metrics summarise every series.

    Raises:
        NotFound: No run with this id.
    """
    from rlwatch.diagnose import diagnose

    result = diagnose(reader, run_id)  # type: ignore[arg-type]
    if result is None:
        raise NotFound(run_id)
    alerts = [alert_dict(row) for row in result.alerts]
    sent = [a for a in alerts if a.get("status") != "suppressed"]
    n_crit = sum(1 for a in sent if a["severity"] == "critical")
    n_warn = sum(1 for a in sent if a["severity"] == "warning")
    status = result.run.status
    if n_crit:
        verdict = f"Run {status}: {n_crit} critical and {n_warn} warning alert(s); start with the critical ones."
    elif n_warn:
        verdict = f"Run {status}: {n_warn} warning alert(s), no critical one."
    else:
        verdict = f"Run {status}: no alerts."
    notes = []
    if result.run.dropped_rows:
        notes.append(f"{result.run.dropped_rows} metric row(s) were dropped because the writer fell behind.")
    if result.run.skipped:
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(result.run.skipped.items()))
        notes.append(f"Unusable values skipped: {shown}.")
    suppressed = len(alerts) - len(sent)
    if suppressed:
        notes.append(f"{suppressed} repeated alert(s) were suppressed (cooldown); they are in the alert table.")
    notes.extend(f"{detector} had no data: {hint}" for detector, hint in result.missing)
    metrics = [
        {"name": m.name, "n": m.count, "first": m.first, "last": m.last, "min": m.minimum, "max": m.maximum}
        for m in result.metrics
    ]
    payload: dict[str, Any] = json_safe(
        {"run_id": run_id, "verdict": verdict, "findings": _findings(sent), "notes": notes, "metrics": metrics}
    )
    return payload


def _findings(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_detector: dict[str, list[dict[str, Any]]] = {}
    for alert in alerts:
        by_detector.setdefault(str(alert["detector"]), []).append(alert)
    findings = []
    for detector, group in by_detector.items():
        group.sort(key=lambda a: a["step"] or 0)
        worst = "critical" if any(a["severity"] == "critical" for a in group) else "warning"
        latest = group[-1]
        steps = f"step {group[0]['step']}" if len(group) == 1 else f"steps {group[0]['step']}-{latest['step']}"
        findings.append(
            {
                "detector": detector,
                "severity": worst,
                "count": len(group),
                "first_step": group[0]["step"],
                "summary": f"{len(group)} alert(s) at {steps}; latest: {latest['message']}",
                "recommendation": latest.get("recommendation") or "",
            }
        )
    findings.sort(key=lambda f: (f["severity"] != "critical", f["first_step"] or 0))
    return findings
