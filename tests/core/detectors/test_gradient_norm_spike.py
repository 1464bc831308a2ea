"""gradient_norm_spike: lone 2-4x spikes are at most a warning; growth and huge spikes fire."""

from __future__ import annotations

import math
import random

from rlwatch.detectors.gradient_norm_spike import GradientNormSpikeConfig, GradientNormSpikeDetector


def feed(det: GradientNormSpikeDetector, values: list[float]) -> list[tuple[int, str]]:
    out = []
    for i, v in enumerate(values):
        for a in det.update(i, {"grad_norm": v}, {}) or ():
            out.append((i, a.severity))
    return out


def base(n: int, seed: int = 0, sigma: float = 0.3) -> list[float]:
    rnd = random.Random(seed)
    return [0.8 * math.exp(rnd.gauss(0, sigma)) for _ in range(n)]


def test_isolated_moderate_spikes_never_critical() -> None:
    det = GradientNormSpikeDetector(GradientNormSpikeConfig())
    values = base(2000)
    rnd = random.Random(1)
    for i in range(50, 2000, 37):
        values[i] *= rnd.uniform(2.0, 4.0)
    alerts = feed(det, values)
    assert not any(s == "critical" for _, s in alerts)
    assert len(alerts) <= 1


def test_sustained_growth_fires_critical() -> None:
    det = GradientNormSpikeDetector(GradientNormSpikeConfig())
    values = base(200) + [0.8 * math.exp(k / 4.0) for k in range(30)]
    alerts = feed(det, values)
    assert alerts and alerts[0][0] < 215
    assert any(s == "critical" for _, s in alerts)


def test_single_huge_spike_is_critical_at_once() -> None:
    det = GradientNormSpikeDetector(GradientNormSpikeConfig())
    values = base(200)
    values[150] = 0.8 * 100
    alerts = feed(det, values)
    assert alerts == [(150, "critical")]


def test_nan_is_left_to_loss_nan() -> None:
    det = GradientNormSpikeDetector(GradientNormSpikeConfig())
    values = base(100)
    values[60] = math.nan
    values[61] = math.inf
    assert feed(det, values) == []
