"""reward_hacking: dip test only where the data carries it, spread vs baseline."""

from __future__ import annotations

import numpy as np
import pytest
from rlwatch.config import ConfigError
from rlwatch.detectors.reward_hacking import RewardHackingConfig, RewardHackingDetector


def feed(det: RewardHackingDetector, batches: list[np.ndarray]) -> list[tuple[int, str, str]]:
    out = []
    for i, r in enumerate(batches):
        for a in det.update(i, {}, {"rewards": r}) or ():
            out.append((i, a.severity, a.message))
    return out


def test_binary_rewards_with_rising_accuracy_are_not_bimodal() -> None:
    rng = np.random.default_rng(0)
    det = RewardHackingDetector(RewardHackingConfig())
    batches = [(rng.random((32, 8)) < min(0.9, 0.003 + i / 400)).astype(float) for i in range(400)]
    assert feed(det, batches) == []
    assert det.summary()["few_valued"] == 1.0


def test_few_valued_partial_credit_is_silent() -> None:
    rng = np.random.default_rng(1)
    det = RewardHackingDetector(RewardHackingConfig())
    batches = [rng.binomial(4, 0.2 + 0.5 * i / 300, 256) / 4.0 for i in range(300)]
    assert feed(det, batches) == []


def test_unimodal_continuous_rewards_are_silent() -> None:
    rng = np.random.default_rng(2)
    det = RewardHackingDetector(RewardHackingConfig())
    batches = [rng.normal(i / 100, 1.0, 256) for i in range(400)]
    assert feed(det, batches) == []
    assert det.dip_tests >= 40  # every dip_every=8 steps at least


def test_separated_cluster_fires_via_dip() -> None:
    rng = np.random.default_rng(3)
    det = RewardHackingDetector(RewardHackingConfig())
    batches = [rng.normal(0, 1.0, 256) for _ in range(100)]
    for _ in range(30):
        r = rng.normal(0, 1.0, 256)
        r[:90] = rng.normal(6.0, 0.3, 90)
        batches.append(r)
    alerts = feed(det, batches)
    assert alerts and 100 <= alerts[0][0] <= 112
    assert any("clusters" in m for _, _, m in alerts)


def test_spread_explosion_fires() -> None:
    rng = np.random.default_rng(4)
    det = RewardHackingDetector(RewardHackingConfig())
    batches = [rng.normal(0, 1.0, 256) for _ in range(100)] + [rng.normal(0, 8.0, 256) for _ in range(20)]
    alerts = feed(det, batches)
    assert alerts and 100 <= alerts[0][0] <= 105
    assert any(s == "critical" for _, s, _ in alerts)


def test_out_of_range_levels_in_binary_rewards_fire() -> None:
    rng = np.random.default_rng(5)
    det = RewardHackingDetector(RewardHackingConfig())
    batches = [(rng.random((16, 8)) < 0.4).astype(float) for _ in range(100)]
    for _ in range(20):
        r = (rng.random((16, 8)) < 0.4).astype(float)
        r[0, :3] = 10.0
        batches.append(r)
    alerts = feed(det, batches)
    assert alerts and 100 <= alerts[0][0] <= 105


def test_multimodal_from_the_start_is_not_a_change() -> None:
    rng = np.random.default_rng(6)
    det = RewardHackingDetector(RewardHackingConfig())
    batches = [np.concatenate([rng.normal(0, 0.1, 128), rng.normal(1, 0.1, 128)]) for _ in range(200)]
    assert feed(det, batches) == []
    assert det.multimodal_baseline


def test_nan_rewards_are_dropped() -> None:
    rng = np.random.default_rng(7)
    det = RewardHackingDetector(RewardHackingConfig())
    batches = [rng.normal(0, 1.0, 256) for _ in range(100)]
    batches[50][:10] = np.nan
    assert feed(det, batches) == []


def test_bad_config() -> None:
    with pytest.raises(ConfigError):
        RewardHackingConfig(dip_warning_p=0.5, dip_suspect_p=0.05).validate()
    with pytest.raises(ConfigError):
        RewardHackingConfig(dip_every=0).validate()
