"""length_pathology: completion length collapse or saturation of the limit."""

from __future__ import annotations

import math
import random

import pytest
from rlwatch.config import ConfigError
from rlwatch.detectors.length_pathology import LengthPathologyConfig, LengthPathologyDetector


def run(det: LengthPathologyDetector, rows: list[dict[str, float]]) -> list[tuple[int, str, str]]:
    out = []
    for i, row in enumerate(rows):
        for a in det.update(i, row, {}) or ():
            out.append((i, a.severity, a.message))
    return out


def test_slow_growth_is_silent() -> None:
    rnd = random.Random(0)
    rows = [
        {"completion_length": 300 * (1 + i / 1000) * math.exp(rnd.gauss(0, 0.04)), "completion_clipped_ratio": 0.02}
        for i in range(2000)
    ]
    assert run(LengthPathologyDetector(LengthPathologyConfig()), rows) == []


def test_collapse_fires() -> None:
    rows = [{"completion_length": 400.0 + (i % 7)} for i in range(200)] + [{"completion_length": 30.0}] * 10
    alerts = run(LengthPathologyDetector(LengthPathologyConfig()), rows)
    assert alerts and 200 <= alerts[0][0] <= 204 and "own level" in alerts[0][2]


def test_clipped_ratio_saturation_fires() -> None:
    rows = [{"completion_clipped_ratio": 0.02}] * 100 + [{"completion_clipped_ratio": 0.8}] * 10
    alerts = run(LengthPathologyDetector(LengthPathologyConfig()), rows)
    assert alerts and 100 <= alerts[0][0] <= 104
    assert any(s == "critical" for (s,) in [(a[1],) for a in alerts])


def test_configured_limit_without_clipped_ratio() -> None:
    det = LengthPathologyDetector(LengthPathologyConfig(max_completion_length=1024))
    rows = [{"completion_length": 500.0}] * 100 + [{"completion_length": 1000.0}] * 10
    alerts = run(det, rows)
    assert alerts and alerts[0][0] >= 100 and "hitting the length limit" in alerts[0][2]
    assert all(sev != "info" for _, sev, _ in alerts)  # lengths came first: truncation did not start with the run


def test_truncated_from_the_first_step_is_one_info_finding() -> None:
    rnd = random.Random(1)
    rows = [{"completion_length": 240.0 + rnd.random(), "completion_clipped_ratio": 0.5 + 0.1 * rnd.random()}
            for _ in range(300)]
    alerts = run(LengthPathologyDetector(LengthPathologyConfig()), rows)
    assert [(step, sev) for step, sev, _ in alerts] == [(2, "info")]
    assert "max_completion_length" in alerts[0][2]


def test_collapse_right_at_the_start_is_critical() -> None:
    rows = [{"completion_length": 53.0}, {"completion_length": 50.0}, {"completion_length": 2.6},
            {"completion_length": 2.5}]
    alerts = run(LengthPathologyDetector(LengthPathologyConfig()), rows)
    assert alerts and alerts[0][:2] == (3, "critical")


def test_bad_config() -> None:
    with pytest.raises(ConfigError):
        LengthPathologyConfig(collapse_ratio=0.1, collapse_critical_ratio=0.5).validate()
    with pytest.raises(ConfigError):
        LengthPathologyConfig(max_completion_length=-1).validate()
