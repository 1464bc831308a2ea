"""The JSON layer shared by the dashboard and the report, over a real fixture DB."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rlwatch.dashboard import data, export
from rlwatch.dashboard.downsample import min_max_downsample
from rlwatch.storage import StoreReader

from .build_fixture import XSS_METRIC, XSS_RUN, XSS_STEP


@pytest.fixture
def reader(fixture_db: Path) -> StoreReader:
    r = StoreReader(str(fixture_db))
    yield r
    r.close()


def test_downsample_keeps_every_extreme_and_the_ends() -> None:
    rng = np.random.default_rng(3)
    steps = np.arange(100_000)
    values = rng.standard_normal(100_000)
    values[[123, 45_678, 99_000]] = [40.0, -35.0, 22.0]
    x, y = min_max_downsample(steps, values, 2000)
    assert len(x) <= 2000
    assert np.all(np.diff(x) > 0)
    assert (x[0], x[-1]) == (0, 99_999)
    for step in (123, 45_678, 99_000):
        assert step in set(x.tolist())
    # The envelope survives: every point has a kept point at least as high and
    # one at least as low within one bucket (about 100 steps) of it.
    bucket = -(-100_000 // 999)
    idx = np.searchsorted(x, steps)
    for i in range(0, 100_000, 97):
        near = y[max(0, idx[i] - 2) : idx[i] + 2]
        near_x = x[max(0, idx[i] - 2) : idx[i] + 2]
        close = near[np.abs(near_x - i) <= bucket]
        assert close.max() >= values[i] and close.min() <= values[i]


def test_downsample_returns_short_series_untouched() -> None:
    steps, values = np.arange(10), np.linspace(0, 1, 10)
    x, y = min_max_downsample(steps, values, 2000)
    assert x.tolist() == steps.tolist() and y.tolist() == values.tolist()


def test_metrics_overview_is_capped_and_zoom_is_full_resolution(reader: StoreReader) -> None:
    overview = data.metrics_payload(reader, "long-10k")
    s = overview["series"]["reward_std"]
    assert s["n"] == 10_000 and s["downsampled"] and len(s["x"]) <= 2000
    assert 7777 in s["x"] and max(s["y"]) == 50.0
    zoom = data.metrics_payload(reader, "long-10k", start=7000, end=8000)
    z = zoom["series"]["reward_std"]
    assert not z["downsampled"] and z["x"] == list(range(7000, 8001))


def test_metrics_drop_nan_points_and_json_has_no_nan(reader: StoreReader) -> None:
    payload = data.metrics_payload(reader, "grpo-collapse")
    loss = payload["series"]["loss"]
    assert loss["n"] == 399 and 300 not in loss["x"]
    assert payload["series"]["entropy"]["n"] == 400
    json.loads(data.dumps(payload))  # strict JSON: would fail on NaN


def test_alerts_are_placed_on_their_metric_charts(reader: StoreReader) -> None:
    alerts = [a for a in data.alerts_payload(reader, "grpo-collapse")["alerts"] if a["status"] != "suppressed"]
    by_detector: dict[str, Any] = {}
    for a in sorted(alerts, key=lambda a: a["step"]):
        by_detector.setdefault(a["detector"], a)  # each detector's first alert
    assert set(by_detector) == {"entropy_collapse", "loss_nan"}
    collapse = by_detector["entropy_collapse"]
    assert list(collapse["charts"]) == ["entropy"]
    assert collapse["charts"]["entropy"] == collapse["metric_values"]["entropy"]
    assert "warning_below" in collapse["references"]
    # The NaN loss has no y of its own: its marker sits where the curve stopped.
    nan_alert = by_detector["loss_nan"]
    assert nan_alert["metric_values"]["loss"] == "nan"
    assert nan_alert["charts"]["loss"] == pytest.approx(1.0 / 300)


def test_alert_of_a_plugin_detector_lands_on_the_metric_it_names(reader: StoreReader) -> None:
    (alert,) = data.alerts_payload(reader, XSS_RUN)["alerts"]
    assert alert["step"] == XSS_STEP and alert["charts"] == {XSS_METRIC: 1.0}


def test_runs_and_run_payload(reader: StoreReader) -> None:
    runs = {r["run_id"]: r for r in data.runs_payload(reader)["runs"]}
    assert set(runs) == {"grpo-collapse", "ppo-healthy", XSS_RUN, "long-10k"}
    assert runs["grpo-collapse"]["alert_counts"] == {"warning": 2, "critical": 3}
    assert "config" not in runs["grpo-collapse"]
    run = data.run_payload(reader, "grpo-collapse")
    assert run["metric_names"] == ["entropy", "kl_divergence", "reward_mean", "loss", "grad_norm"]
    assert run["config"]["run_id"] == "grpo-collapse"
    assert run["detector_metrics"]["entropy_collapse"] == ["entropy"]
    with pytest.raises(data.NotFound):
        data.run_payload(reader, "nope")


def test_diagnosis_payload(reader: StoreReader) -> None:
    diag = data.diagnosis_payload(reader, "grpo-collapse")
    assert diag["verdict"].startswith("Run finished: 3 critical and 2 warning")
    assert [f["detector"] for f in diag["findings"]] == ["entropy_collapse", "loss_nan"]
    assert all(f["recommendation"] for f in diag["findings"])
    assert {m["name"] for m in diag["metrics"]} == {"entropy", "kl_divergence", "reward_mean", "loss", "grad_norm"}


def test_export_csv_keeps_missing_and_nan_apart(reader: StoreReader) -> None:
    text = "".join(export.export_chunks(reader, "grpo-collapse", "csv", chunk_rows=64))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["step", "wall_time"] and len(rows) == 401
    header = rows[0]
    at_300 = dict(zip(header, rows[301], strict=True))
    assert at_300["step"] == "300" and at_300["loss"] == "nan"
    assert float(at_300["entropy"]) > 0


def test_export_jsonl_one_object_per_step(reader: StoreReader) -> None:
    lines = "".join(export.export_chunks(reader, "ppo-healthy", "jsonl", chunk_rows=7)).splitlines()
    assert len(lines) == 150
    records = [json.loads(line) for line in lines]
    assert [r["step"] for r in records] == list(range(150))
    assert all(r["run_id"] == "ppo-healthy" and math.isfinite(r["entropy"]) for r in records)
    assert records[0]["loss"] is None if "loss" in records[0] else True


def test_export_defuses_spreadsheet_formulas_in_metric_names() -> None:
    assert export._csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert export._csv_cell("entropy") == "entropy"


def test_json_safe_names_non_finite_values() -> None:
    assert data.json_safe({"a": float("nan"), "b": [float("inf"), -math.inf], "c": np.float32(1.5)}) == {
        "a": "nan", "b": ["inf", "-inf"], "c": 1.5}
