"""advantage_variance: a jump of advantage std far above baseline."""

from __future__ import annotations

import random

import numpy as np
import pytest
from rlwatch.config import ConfigError
from rlwatch.detectors.advantage_variance import AdvantageVarianceConfig, AdvantageVarianceDetector


def test_constant_grpo_advantage_std_is_silent_then_jump_fires() -> None:
    det = AdvantageVarianceDetector(AdvantageVarianceConfig())
    rnd = random.Random(0)
    seen = []
    for i in range(300):
        x = 1.0 + rnd.gauss(0, 0.005) if i < 250 else 8.0
        for a in det.update(i, {"advantage_std": x}, {}) or ():
            seen.append((i, a.severity))
    assert seen and 250 <= seen[0][0] <= 253
    assert any(s == "critical" for _, s in seen)


def test_derived_from_advantages_array() -> None:
    det = AdvantageVarianceDetector(AdvantageVarianceConfig())
    rng = np.random.default_rng(0)
    hits = []
    for i in range(100):
        adv = rng.normal(0, 1 if i < 80 else 10, 64)
        if det.update(i, {}, {"advantages": adv}):
            hits.append(i)
    assert hits and hits[0] >= 80


def test_impossible_config_raises() -> None:
    with pytest.raises(ConfigError):
        AdvantageVarianceConfig(warning_ratio=0.5).validate()
