"""The shared robust statistics: correct, bounded cost, NaN-free."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rlwatch.detectors.bands import LevelWatch
from rlwatch.stats.robust import Persistence, RollingBaseline
from rlwatch.stats.trend import trend_statistics


def test_rolling_baseline_matches_numpy_on_its_window() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, 2.0, 300)
    b = RollingBaseline(window=64, refresh=1)
    for v in x:
        b.push(float(v))
    w = x[-64:]
    assert b.values() == pytest.approx(list(w))
    assert b.median == pytest.approx(float(np.median(w)))
    q1, q3 = np.quantile(w, [0.25, 0.75])
    assert b.sigma == pytest.approx((q3 - q1) / 1.349)


def test_log_scale_sigma_is_in_log_units() -> None:
    rng = np.random.default_rng(1)
    b = RollingBaseline(window=2000, refresh=2000, log_scale=True)
    for v in np.exp(rng.normal(0.0, 0.3, 2000)):
        b.push(float(v))
    b.refresh_now()
    assert b.sigma == pytest.approx(0.3, rel=0.1)
    assert b.median == pytest.approx(1.0, rel=0.05)


def test_outliers_do_not_move_the_baseline() -> None:
    b = RollingBaseline(window=64, refresh=1)
    for i in range(200):
        b.push(1e6 if i % 10 == 0 else 1.0)
    assert b.median == 1.0


def test_persistence_k_of_n() -> None:
    p = Persistence(3, 5)
    assert not p.hit(1)
    assert not p.hit(2)
    assert p.hit(5)
    q = Persistence(3, 5)
    q.hit(1)
    q.hit(4)
    assert not q.hit(9)  # only 2 of the last 5


def test_level_watch_needs_persistence_and_warmup() -> None:
    w = LevelWatch(side="high", ratio_warning=3.0, ratio_critical=10.0, warmup_steps=20, warmup_observations=20,
                   log_scale=True)
    sev = [w.observe(1.0, step) for step in range(30)]
    assert sev == [0] * 30
    assert w.observe(5.0, 30) == 0
    assert w.observe(5.0, 31) == 0
    assert w.observe(5.0, 32) == 1  # 3 of 5
    assert w.observe(50.0, 33) == 1
    assert w.observe(50.0, 34) == 2  # 2 of 3 above 10x


def test_level_watch_warm_up_counts_training_steps_not_values() -> None:
    # logged every 10 steps: 5 values spanning 40 >= 20 training steps are enough for a baseline
    w = LevelWatch(side="high", ratio_warning=3.0, ratio_critical=10.0, warmup_steps=20, warmup_observations=20,
                   log_scale=True)
    for k in range(5):
        w.observe(1.0 + 0.01 * k, 10 * k)
    assert w.live
    # logged every step: 5 values span only 4 steps, still warming up
    w2 = LevelWatch(side="high", ratio_warning=3.0, ratio_critical=10.0, warmup_steps=20, warmup_observations=20)
    for k in range(5):
        w2.observe(1.0, k)
    assert not w2.live


def test_level_watch_cold_start_needs_two_in_a_row() -> None:
    w = LevelWatch(side="high", ratio_warning=3.0, ratio_critical=10.0, warmup_steps=20, warmup_observations=20,
                   early_ratio=10.0, early_min_delta=0.5)
    assert [w.observe(x, i) for i, x in enumerate([0.1, 0.1, 5.0, 0.1, 5.0, 5.0])] == [0, 0, 0, 0, 0, 2]


@pytest.mark.parametrize("seed", range(5))
def test_trend_statistics_match_scipy(seed: int) -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, 24) + np.linspace(0, seed - 2, 24)
    z, slope = trend_statistics(x)
    assert slope == pytest.approx(stats.theilslopes(x)[0])
    tau = stats.kendalltau(np.arange(24), x)
    # same sign, and the normal approximation agrees with scipy's p-value
    assert math.copysign(1, z) == math.copysign(1, tau.statistic)
    p_two_sided = math.erfc(abs(z) / math.sqrt(2))
    assert p_two_sided == pytest.approx(tau.pvalue, abs=0.05)


def test_level_watch_survives_astronomical_spread() -> None:
    """Found by the reliability fuzzer: a log-scale baseline over 1e-150..1e150 overflowed exp()."""
    watch = LevelWatch(side="high", ratio_warning=3.0, ratio_critical=6.0, warmup_steps=4, warmup_observations=4,
                       window=16, log_scale=True, refresh=4, min_count=4)
    for i in range(64):
        watch.observe(1e-150 if i % 2 else 1e150, i)
    assert watch.observe(1.0, 64) in (0, 1, 2)


@pytest.mark.parametrize("first_bad", range(2, 9))
def test_a_failure_starting_at_the_end_of_warm_up_is_still_caught(first_bad: int) -> None:
    """Sparse logging (every 10 steps): warm-up ends at the 5th value; a collapse starting on any value is caught.

    Found in review: a failure starting on the value that ends warm-up entered the first baseline, and the young
    baseline's spread grew until nothing was out.
    """
    good = [1.0, 1.03, 0.98, 0.9, 1.01, 0.97, 1.02, 0.99]
    w = LevelWatch(side="low", ratio_warning=0.5, ratio_critical=0.25, min_sigmas=4.0, warning_k=3, warning_n=5,
                   critical_k=3, critical_n=5, min_delta=0.1, warmup_steps=20, warmup_observations=20,
                   early_ratio=0.15, early_min_delta=0.1, window=100, min_rel_sigma=0.02)
    values = good[: first_bad - 1] + [0.01] * 20
    severities = [w.observe(x, 10 * (i + 1)) for i, x in enumerate(values)]
    first = next((i + 1 for i, s in enumerate(severities) if s), None)
    assert first is not None and first - first_bad <= 2, severities
    assert 2 in severities  # and it becomes critical, not just a warning


def _mann_kendall_z_by_hand(x: list[float]) -> float:
    """Textbook Mann-Kendall z with the tie-corrected variance, written out pair by pair."""
    n = len(x)
    s = sum((x[j] > x[i]) - (x[j] < x[i]) for i in range(n) for j in range(i + 1, n))
    ties: dict[float, int] = {}
    for v in x:
        ties[v] = ties.get(v, 0) + 1
    var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in ties.values())) / 18.0
    if s == 0 or var <= 0:
        return 0.0
    return (s - 1 if s > 0 else s + 1) / math.sqrt(var)


@pytest.mark.parametrize("seed", range(20))
def test_trend_z_with_tied_values_matches_the_textbook_formula(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 45))
    # few distinct levels: many ties (rewards of 0/1, a clipped KL), sometimes all equal
    x = [float(v) for v in rng.integers(0, int(rng.integers(1, 6)), n)]
    z, _ = trend_statistics(x)
    assert z == pytest.approx(_mann_kendall_z_by_hand(x), abs=1e-12)
