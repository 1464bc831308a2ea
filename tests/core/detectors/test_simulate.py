"""The public scenario generator: labelled, reproducible, realistic enough."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rlwatch.simulate import FAILURES, PROFILES, demo_run, scenario_suite, simulate_run


def test_same_seed_same_run() -> None:
    a = simulate_run("kl_explosion", seed=4, steps=100)
    b = simulate_run("kl_explosion", seed=4, steps=100)
    assert a.name == b.name and a.onset == b.onset
    assert [m["kl_divergence"] for _, m in a] == [m["kl_divergence"] for _, m in b]


@pytest.mark.parametrize("profile", PROFILES)
def test_healthy_profiles_have_every_canonical_metric(profile: str) -> None:
    run = simulate_run("healthy", seed=0, profile=profile, steps=50)
    assert run.onset is None and run.expected_detector is None
    step, m = run.rows[10]
    assert step == 10
    assert m["rewards"].shape == (16, 8)
    for v in m.values():
        if isinstance(v, float):
            assert math.isfinite(v)


def test_binary_profile_rewards_are_binary() -> None:
    run = simulate_run("healthy", seed=0, profile="math", steps=20)
    assert set(np.unique(run.rows[5][1]["rewards"])) <= {0.0, 1.0}


@pytest.mark.parametrize("kind", sorted(FAILURES))
def test_failures_are_labelled(kind: str) -> None:
    run = simulate_run(kind, seed=1, steps=200)
    assert run.expected_detector == kind
    assert run.onset is not None and 60 <= run.onset < 140
    assert run.variant in FAILURES[kind]


def test_loss_nan_is_non_finite_from_onset() -> None:
    run = simulate_run("loss_nan", seed=0, variant="grad_inf", steps=100)
    assert run.onset is not None
    assert math.isfinite(run.rows[run.onset - 1][1]["grad_norm"])
    bad = run.rows[run.onset][1]
    # TRL's shape: a NaN gradient norm, the loss masked to exactly 0, entropy and KL left out
    assert math.isnan(bad["grad_norm"]) and bad["loss"] == 0.0
    assert "entropy" not in bad and "kl_divergence" not in bad


def test_suite_size() -> None:
    runs = scenario_suite(seeds=1, steps=60)
    assert len(runs) == len(PROFILES) + sum(len(v) for v in FAILURES.values())


def test_demo_run_collapses() -> None:
    rows = list(demo_run(seed=0, steps=200, collapse_at=120))
    assert len(rows) == 200
    assert rows[100][1]["entropy"] > 4 * rows[150][1]["entropy"]
    assert any(math.isnan(m["loss"]) for _, m in rows[-5:])


def test_unknown_kind_raises() -> None:
    with pytest.raises(ValueError):
        simulate_run("nope")
