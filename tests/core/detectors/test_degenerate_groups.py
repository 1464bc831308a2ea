"""degenerate_groups: zero-variance GRPO groups dominating for a sustained window."""

from __future__ import annotations

import numpy as np
import pytest
from rlwatch.config import ConfigError
from rlwatch.detectors.degenerate_groups import DegenerateGroupsConfig, DegenerateGroupsDetector


def test_sustained_high_fraction_fires_lone_values_do_not() -> None:
    det = DegenerateGroupsDetector(DegenerateGroupsConfig())
    seen = []
    values = [0.3] * 100 + [0.9, 0.3] * 20 + [0.97] * 20
    for i, f in enumerate(values):
        for a in det.update(i, {"frac_reward_zero_std": f}, {}) or ():
            seen.append((i, a.severity))
    assert seen and seen[0][0] >= 140
    assert seen[0][0] <= 146
    assert any(s == "critical" for _, s in seen)


def test_from_grouped_rewards() -> None:
    rng = np.random.default_rng(0)
    det = DegenerateGroupsDetector(DegenerateGroupsConfig())
    hits = []
    for i in range(120):
        r = (rng.random((16, 8)) < 0.5).astype(float) if i < 100 else np.zeros((16, 8))
        if det.update(i, {}, {"rewards": r}):
            hits.append(i)
    assert hits and 100 <= hits[0] <= 108
    assert det.summary()["last_fraction"] == 1.0


def test_one_dimensional_rewards_are_not_grouped() -> None:
    det = DegenerateGroupsDetector(DegenerateGroupsConfig())
    for i in range(50):
        assert det.update(i, {}, {"rewards": np.zeros(64)}) is None


def test_bad_config() -> None:
    with pytest.raises(ConfigError):
        DegenerateGroupsConfig(warning_fraction=0.9, critical_fraction=0.5).validate()
