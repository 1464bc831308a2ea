"""kl_explosion: jumps and runaways alert; smooth growth and lone spikes do not."""

from __future__ import annotations

import math
import random

import pytest
from rlwatch.config import ConfigError
from rlwatch.detectors.kl_explosion import KLExplosionConfig, KLExplosionDetector


def feed(det: KLExplosionDetector, values: list[float], start: int = 0) -> list[tuple[int, str]]:
    out = []
    for i, v in enumerate(values, start):
        for a in det.update(i, {"kl_divergence": v}, {}) or ():
            out.append((i, a.severity))
    return out


def heavy(level: float, n: int, sigma: float = 0.3, seed: int = 0, spikes: float = 0.01) -> list[float]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        v = level * math.exp(sigma * max(-5.0, min(5.0, rnd.gauss(0, 1) / max(rnd.random(), 0.2) ** 0.25)))
        if rnd.random() < spikes:
            v *= rnd.uniform(2.0, 4.0)
        out.append(v)
    return out


def test_slow_smooth_growth_is_normal() -> None:
    det = KLExplosionDetector(KLExplosionConfig())
    values = [v * math.exp(math.log(30.0) * i / 2000) for i, v in enumerate(heavy(0.01, 2000))]
    assert feed(det, values) == []


def test_isolated_spikes_are_not_alerts() -> None:
    det = KLExplosionDetector(KLExplosionConfig())
    values = heavy(0.02, 1000, spikes=0.0)
    for i in range(100, 1000, 97):
        values[i] *= 4.0
    assert feed(det, values) == []


def test_jump_fires_within_a_few_steps() -> None:
    det = KLExplosionDetector(KLExplosionConfig())
    values = heavy(0.02, 200) + [v * 20 for v in heavy(0.02, 30, seed=1)]
    alerts = feed(det, values)
    assert alerts and 200 <= alerts[0][0] <= 205
    assert any(s == "critical" for _, s in alerts)


def test_runaway_fires() -> None:
    det = KLExplosionDetector(KLExplosionConfig())
    values = heavy(0.02, 200) + [0.02 * math.exp(k / 5.0) for k in range(40)]
    alerts = feed(det, values)
    assert alerts and alerts[0][0] < 225


def test_zero_and_negative_estimates_are_floored() -> None:
    det = KLExplosionDetector(KLExplosionConfig())
    values = [0.0, -0.001] * 50 + heavy(0.003, 200)
    assert feed(det, values) == []


def test_nan_does_not_blind() -> None:
    det = KLExplosionDetector(KLExplosionConfig())
    values = heavy(0.02, 100) + [math.nan] * 5 + heavy(0.02, 50, seed=2) + [1.0] * 5
    alerts = feed(det, values)
    assert alerts and alerts[0][0] >= 155


def test_impossible_config_raises() -> None:
    with pytest.raises(ConfigError):
        KLExplosionConfig(warning_ratio=12.0, critical_ratio=10.0).validate()
    with pytest.raises(ConfigError):
        KLExplosionConfig(min_kl=0.0).validate()
