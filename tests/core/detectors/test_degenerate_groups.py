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


@pytest.mark.parametrize(("flat_reward", "critical"), [(0.0, True), (1.0, False)], ids=["all-failed", "all-solved"])
def test_from_grouped_rewards(flat_reward: float, critical: bool) -> None:
    # Every group goes flat at step 100: all samples wrong (critical), or all right (solved: warning only).
    rng = np.random.default_rng(0)
    det = DegenerateGroupsDetector(DegenerateGroupsConfig())
    seen = []
    for i in range(120):
        r = (rng.random((16, 8)) < 0.5).astype(float) if i < 100 else np.full((16, 8), flat_reward)
        seen += [(i, a.severity) for a in det.update(i, {}, {"rewards": r}) or ()]
    assert seen and 100 <= seen[0][0] <= 108
    assert ("critical" in {s for _, s in seen}) is critical
    assert det.summary()["last_fraction"] == 1.0


def test_one_dimensional_rewards_are_not_grouped() -> None:
    det = DegenerateGroupsDetector(DegenerateGroupsConfig())
    for i in range(50):
        assert det.update(i, {}, {"rewards": np.zeros(64)}) is None


def test_bad_config() -> None:
    with pytest.raises(ConfigError):
        DegenerateGroupsConfig(warning_fraction=0.9, critical_fraction=0.5).validate()


def _severities(det: DegenerateGroupsDetector, shares: list[float], rewards: list[float]) -> list[tuple[int, str, str]]:
    seen = []
    for i, (f, r) in enumerate(zip(shares, rewards, strict=True)):
        for a in det.update(i, {"frac_reward_zero_std": f, "reward_mean": r}, {}) or ():
            seen.append((i, a.severity, a.message))
    return seen


def test_groups_flat_because_solved_warn_but_never_page() -> None:
    # The reward climbs to its ceiling and the groups go flat because every sample is right:
    # the policy outgrew its prompts. Worth a warning, not a critical.
    rng = np.random.default_rng(1)
    shares = [0.3 + 0.05 * rng.standard_normal() for _ in range(100)] + [1.0] * 40
    rewards = [0.3 + 0.004 * i + 0.03 * rng.standard_normal() for i in range(100)] + [1.0] * 40
    seen = _severities(DegenerateGroupsDetector(DegenerateGroupsConfig()), shares, rewards)
    assert seen and {s for _, s, _ in seen} == {"warning"}
    assert 100 <= seen[0][0] <= 108 and "the groups are solved" in seen[0][2]


def test_groups_flat_because_failed_or_stuck_are_critical() -> None:
    rng = np.random.default_rng(2)
    shares = [0.3 + 0.05 * rng.standard_normal() for _ in range(100)] + [1.0] * 40
    base = [0.5 + 0.03 * rng.standard_normal() for _ in range(100)]
    for after in ([0.0] * 40, [0.5] * 40):  # every sample wrong; a reward stuck mid-range
        det = DegenerateGroupsDetector(DegenerateGroupsConfig())
        seen = _severities(det, shares, base + after)
        assert any(s == "critical" for _, s, _ in seen), after[0]
        assert not any("solved" in m for _, _, m in seen)
        assert det.summary()["reward_position"] < 0.8


def test_solved_looking_groups_with_collapsed_entropy_stay_critical() -> None:
    # Reward at its ceiling, but because the policy emits one answer the reward likes (entropy
    # fell 20x): a collapse, not a solved prompt set.
    rng = np.random.default_rng(4)
    det = DegenerateGroupsDetector(DegenerateGroupsConfig())
    seen = []
    for i in range(140):
        solved = i >= 100
        values = {
            "frac_reward_zero_std": 1.0 if solved else 0.3 + 0.05 * rng.standard_normal(),
            "reward_mean": 1.0 if solved else 0.3 + 0.004 * i,
            "entropy": 0.05 if solved else 1.0 + 0.05 * rng.standard_normal(),
        }
        seen += [(a.severity, a.message) for a in det.update(i, values, {}) or ()]
    assert any(s == "critical" for s, _ in seen)
    assert any("collapsed onto one answer" in m for _, m in seen)
    assert not det.entropy_held()
