"""entropy_collapse: always relative to the run's own level; a low, stable entropy is never a collapse."""

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


@pytest.mark.parametrize("level", [0.02, 0.05])
def test_confident_model_with_tiny_entropy_is_silent(level: float) -> None:
    # a run that starts low and stays low (wiggling by half its value) is a confident model, not a collapse
    det = EntropyCollapseDetector(EntropyCollapseConfig())
    assert feed(det, noisy(level, 500, sigma=0.3)) == []


def test_early_blow_up_is_caught_before_the_baseline_exists() -> None:
    # 2.9 -> 0.01 nats within the first steps (a learning rate 1000x too high): critical at the 2nd low value
    det = EntropyCollapseDetector(EntropyCollapseConfig())
    alerts = feed(det, [2.9, 2.8, 2.85, 0.2, 0.01, 0.01, 0.01])
    assert alerts and alerts[0] == (4, "critical")


def test_one_early_dip_is_not_a_blow_up() -> None:
    det = EntropyCollapseDetector(EntropyCollapseConfig())
    assert feed(det, [2.9, 2.8, 0.2, 2.85, 2.9, *noisy(2.9, 100)]) == []


def test_gradual_ramp_is_caught_by_the_trend_rule_while_it_happens() -> None:
    # 1.0 -> 0.3 nats over 60 steps: the level rule alone would wait for 0.5 x baseline
    det = EntropyCollapseDetector(EntropyCollapseConfig())
    ramp = [1.0 - 0.7 * k / 60 for k in range(60)]
    alerts = feed(det, noisy(1.0, 200, sigma=0.02) + ramp)
    assert alerts
    first_step, severity = alerts[0]
    assert 200 < first_step < 240 and severity == "warning"


def test_negative_values_are_one_info_finding_not_a_baseline() -> None:
    det = EntropyCollapseDetector(EntropyCollapseConfig())
    alerts = feed(det, [-35.0 - i % 3 for i in range(50)])
    assert alerts == [(0, "info")]
    assert feed(det, noisy(0.5, 100), start=50) == []  # a real entropy afterwards starts a fresh baseline


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


def test_warmup_holds_the_level_rule_but_not_the_cold_start_rule() -> None:
    # inside warm-up, a fall to 40% is left alone (the baseline is not built yet) ...
    det = EntropyCollapseDetector(EntropyCollapseConfig(warmup_steps=50))
    assert feed(det, [0.5] * 30 + [0.2] * 10) == []
    # ... a fall to 2% of the first values is the blow-up the cold-start rule exists for
    det = EntropyCollapseDetector(EntropyCollapseConfig(warmup_steps=50))
    assert feed(det, [0.5] * 30 + [0.01] * 10)[0] == (31, "critical")
    # warm-up counts training steps: sparse logging (every 10 steps) is live after 5 values spanning 50 steps
    det = EntropyCollapseDetector(EntropyCollapseConfig(warmup_steps=50))
    for k in range(8):
        det.update(k * 10, {"entropy": 0.5 + 0.01 * (k % 2)}, {})
    assert det.summary()["live"] == 1.0


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
        {"min_drop": -1.0},
        {"trend_ratio": 0.3},
        {"warning_k": 4, "warning_n": 3},
        {"warmup_steps": -1},
    ],
)
def test_impossible_config_raises(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        EntropyCollapseConfig(**kwargs).validate()  # type: ignore[arg-type]
