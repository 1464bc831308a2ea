"""The quality harness itself: scoring rules, and a small suite meeting targets.

The full table is printed by ``nox -s quality`` (quality_suite.py); these
tests keep the scoring honest (what counts as a hit, a delay, a false alarm)
and run a small suite through the real pipeline.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


def _load(name: str = "quality_suite") -> ModuleType:
    # tests run with --import-mode=importlib: load the sibling module by path
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"rlwatch_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


qs = _load()
real_logs = _load("real_logs")


def test_hits_delays_and_false_alarms_are_scored_by_onset() -> None:
    r = qs.RunResult("x", "kl_explosion", "kl_explosion", 100, 300)
    r.alerts = [
        ("kl_explosion", "warning", 90),
        ("entropy_collapse", "warning", 101),
        ("kl_explosion", "critical", 104),
    ]
    assert r.first_hit() == 104  # the pre-onset alert is not a detection...
    assert r.false_alarms() == [("kl_explosion", "warning", 90)]  # ...it is a false alarm
    assert r.healthy_steps() == 100
    healthy = qs.RunResult("h", "healthy", None, None, 300, [("loss_nan", "critical", 5)])
    s = qs.summarise([r, healthy])
    assert s["overall"]["healthy_runs_without_critical"] == 0.0
    assert s["detectors"]["kl_explosion"]["median_delay"] == 4
    assert s["detectors"]["kl_explosion"]["false_warnings"] == 1
    assert qs.check_targets(s)  # misses are reported


def test_trace_replay_reads_jsonl_with_sidecar_label(tmp_path: Path) -> None:
    lines = [f'{{"step": {i}, "loss": {0.1 if i < 30 else "NaN"}, "grad_norm": 1.0}}' for i in range(40)]
    (tmp_path / "t.jsonl").write_text("\n".join(lines))
    (tmp_path / "t.label.json").write_text('{"expected_detector": "loss_nan", "onset": 30}')
    runs = qs.load_traces(tmp_path)
    assert len(runs) == 1 and runs[0].expected_detector == "loss_nan" and runs[0].onset == 30
    alerts = qs.drive_trace(runs[0], "direct", str(tmp_path))
    assert ("loss_nan", "critical", 30) in alerts


@pytest.mark.slow
def test_small_suite_through_the_pipeline_meets_targets(tmp_path: Path) -> None:
    results = qs.run_suite(seeds=1, steps=400, driver="pipeline")
    summary = qs.summarise(results)
    assert summary["overall"]["healthy_runs"] == 5
    assert qs.check_targets(summary) == []


def test_info_findings_are_neither_detections_nor_false_alarms() -> None:
    r = qs.RunResult("x", "length_pathology", "length_pathology", 100, 300)
    r.alerts = [("length_pathology", "info", 3), ("length_pathology", "info", 120),
                ("length_pathology", "warning", 130)]
    assert r.first_hit() == 130
    assert r.false_alarms() == []


def test_per_detector_delay_targets_are_checked() -> None:
    r = qs.RunResult("x", "kl_explosion", "kl_explosion", 100, 300, [("kl_explosion", "warning", 109)])
    missed = qs.check_targets(qs.summarise([r]))
    assert any("kl_explosion median delay 9" in m for m in missed)


def test_real_public_logs_meet_the_targets() -> None:
    """Every labelled real log replays through `rlwatch import`; the issue's real-log targets hold."""
    results = real_logs.run_all()
    assert len(results) >= 15
    repos = {__import__("json").loads((p.parent / "provenance.json").read_text())["repo"] for p in real_logs.logs()}
    assert len(repos) >= 8
    summary = real_logs.summarise(results)
    assert summary["healthy_runs"] >= 10 and summary["unstable_runs"] >= 3
    assert real_logs.check(summary) == [], real_logs.format_table(results)
