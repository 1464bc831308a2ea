"""entropy_collapse: relative to the run's own level, plus an absolute floor."""

from __future__ import annotations

import math
import random

import pytest
from rlwatch.config import ConfigError
from rlwatch.detectors.entropy_collapse import EntropyCollapseConfig, EntropyCollapseDetector


def feed(det: EntropyCollapseDetector, values: list[float], start: int = 0) -> list[tuple[int, str]]:
    out = []
    for i, v in enumerate(values, start):
        for a in det.update(i, {"entropy": v}, {}) or ():
            assert a.detector == "entropy_collapse"
            assert a.recommendation
            out.append((i, a.severity))
    return out


def noisy(level: float, n: int, sigma: float = 0.04, seed: int = 0) -> list[float]:
    rnd = random.Random(seed)
    return [level * math.exp(rnd.gauss(0.0, sigma)) for _ in range(n)]


@pytest.mark.parametrize("level", [2.5, 0.45, 0.3])
def test_stable_entropy_at_any_level_is_silent(level: float) -> None:
    det = EntropyCollapseDetector(EntropyCollapseConfig())
    assert feed(det, noisy(level, 2000)) == []


@pytest.mark.parametrize("level", [2.5, 0.45])
def test_collapse_fires_warning_then_critical(level: float) -> None:
    det = EntropyCollapseDetector(EntropyCollapseConfig())
    healthy = noisy(level, 200)
    collapse = [level * (0.05 + 0.95 * math.exp(-k / 3.0)) for k in range(40)]
    alerts = feed(det, healthy + collapse)
    assert alerts, "collapse not detected"
    first_step = alerts[0][0]
    assert 200 <= first_step <= 212
    assert any(sev == "critical" for _, sev in alerts)


def test_absolute_floor_without_relative_drop() -> None:
    # a run already near zero: the ratio rule cannot see it, the floor does
    det = EntropyCollapseDetector(EntropyCollapseConfig(absolute_floor=0.05))
    alerts = feed(det, noisy(0.02, 60, sigma=0.01))
    assert alerts and alerts[0][0] >= 20  # not during warmup
    assert alerts[0][1] == "critical"


def test_slow_healthy_decline_is_followed() -> None:
    det = EntropyCollapseDetector(EntropyCollapseConfig())
    values = [0.6 * (1 - 0.5 * k / 3000) * math.exp(random.Random(k).gauss(0, 0.03)) for k in range(3000)]
    assert feed(det, values) == []


def test_non_finite_values_do_not_poison_the_baseline() -> None:
    det = EntropyCollapseDetector(EntropyCollapseConfig())
    values = noisy(0.5, 100)
    values[50:53] = [math.nan, math.inf, -math.inf]
    assert feed(det, values) == []
    assert math.isfinite(det.summary()["baseline"])
    assert feed(det, [0.05] * 10, start=100)  # still sees the collapse


def test_warmup_and_disabled_flags() -> None:
    det = EntropyCollapseDetector(EntropyCollapseConfig(warmup_steps=50))
    assert feed(det, [0.5] * 30 + [0.01] * 10) == []  # inside warmup
    assert det.config.enabled is True


def test_missing_metric_is_ignored() -> None:
    det = EntropyCollapseDetector(EntropyCollapseConfig())
    for i in range(100):
        assert det.update(i, {"loss": 1.0}, {}) is None
    assert "entropy" in EntropyCollapseDetector.missing_hint


@pytest.mark.parametrize(
    "kwargs",
    [
        {"warning_ratio": 0.2, "critical_ratio": 0.5},
        {"warning_ratio": 1.5},
        {"absolute_floor": -1.0},
        {"warning_k": 4, "warning_n": 3},
        {"warmup_steps": -1},
    ],
)
def test_impossible_config_raises(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        EntropyCollapseConfig(**kwargs).validate()  # type: ignore[arg-type]
