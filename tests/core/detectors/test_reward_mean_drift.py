"""reward_mean_drift: declines alert (Mann-Kendall/Theil-Sen), rises never do."""

from __future__ import annotations

import math
import random

import numpy as np
from rlwatch.detectors.reward_mean_drift import RewardMeanDriftConfig, RewardMeanDriftDetector


def feed(det: RewardMeanDriftDetector, values: list[float]) -> list[tuple[int, str]]:
    out = []
    for i, v in enumerate(values):
        for a in det.update(i, {"reward_mean": v}, {}) or ():
            out.append((i, a.severity))
    return out


def test_rising_reward_is_never_an_alert() -> None:
    rnd = random.Random(0)
    det = RewardMeanDriftDetector(RewardMeanDriftConfig())
    values = [0.1 + 0.6 * (1 - math.exp(-i / 150)) + rnd.gauss(0, 0.03) for i in range(1500)]
    assert feed(det, values) == []


def test_plateau_with_noise_is_silent() -> None:
    rnd = random.Random(1)
    det = RewardMeanDriftDetector(RewardMeanDriftConfig())
    assert feed(det, [0.5 + rnd.gauss(0, 0.05) for _ in range(3000)]) == []


def test_decline_fires() -> None:
    rnd = random.Random(2)
    det = RewardMeanDriftDetector(RewardMeanDriftConfig())
    values = [0.6 + rnd.gauss(0, 0.03) for _ in range(200)]
    values += [0.6 - 0.015 * k + rnd.gauss(0, 0.03) for k in range(40)]
    alerts = feed(det, values)
    assert alerts and 200 <= alerts[0][0] <= 215
    assert any(s == "critical" for _, s in alerts)


def test_mean_of_rewards_array_when_reward_mean_missing() -> None:
    rng = np.random.default_rng(0)
    det = RewardMeanDriftDetector(RewardMeanDriftConfig())
    hits = []
    for i in range(260):
        p = 0.6 if i < 200 else max(0.05, 0.6 - 0.02 * (i - 200))
        if det.update(i, {}, {"rewards": (rng.random(256) < p).astype(float)}):
            hits.append(i)
    assert hits and hits[0] >= 200
