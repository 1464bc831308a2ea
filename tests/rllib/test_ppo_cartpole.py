"""Real PPO on CartPole-v1 (CPU) with `RLWatchCallbacks`: what lands in SQLite and which alerts fire."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rlwatch_rllib
from _ppo import FAST_DETECTORS, Recorder, lr_jump, ppo_config, recorder_of, write_trace
from rlwatch.storage import StoreReader
from rlwatch_rllib import RLWatchCallbacks

pytestmark = pytest.mark.usefixtures("ray_cluster")

# Set (outside pytest's env clean-up) to rewrite tests/fixtures/traces/rllib_*.jsonl.
TRACES_OUT = os.environ.get("RLLIB_WRITE_TRACES", "")
TRACES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "traces"

CORE_METRICS = ("entropy", "kl_divergence", "loss", "grad_norm", "learning_rate", "reward_mean")


def _train(config: Any, iterations: int) -> tuple[Any, list[dict[str, Any]]]:
    algo = config.build_algo()
    try:
        results = [algo.train() for _ in range(iterations)]
    finally:
        algo.stop()
        rlwatch_rllib.stop(algo)
    return algo, results


def test_healthy_run_local_is_stored_per_iteration_without_critical(log_dir: Path) -> None:
    iterations = 12
    config = ppo_config(env_runners=0).callbacks(
        [Recorder, RLWatchCallbacks.configure(run_id="healthy", log_dir=str(log_dir), **FAST_DETECTORS)]
    )
    algo, results = _train(config, iterations)

    reader = StoreReader(str(log_dir / "metrics.db"))
    run = reader.run("healthy")
    assert run is not None and run.status == "finished" and run.framework == "rllib"
    assert run.n_steps == iterations and run.last_step == iterations
    metrics = reader.metrics("healthy")
    assert list(metrics["step"]) == list(range(1, iterations + 1))  # step = training_iteration
    for name in CORE_METRICS:
        assert np.isfinite(metrics[name][-4:]).all(), name
    # Values are RLlib's own, untouched: compare with what train() returned.
    last = results[-1]
    assert metrics["entropy"][-1] == pytest.approx(last["learners"]["default_policy"]["entropy"])
    assert metrics["kl_divergence"][-1] == pytest.approx(last["learners"]["default_policy"]["mean_kl_loss"])
    assert metrics["reward_mean"][-1] == pytest.approx(last["env_runners"]["episode_return_mean"])
    assert metrics["learning_rate"][-1] == pytest.approx(3e-4)
    assert metrics["num_env_steps_sampled_lifetime"][-1] == last["num_env_steps_sampled_lifetime"]
    assert 0.3 < metrics["entropy"][-1] < 0.7  # a learning CartPole policy, not collapsed
    assert run.alert_counts.get("critical", 0) == 0
    assert not [a for a in reader.alerts("healthy") if a.severity == "critical"]

    # The per-episode returns arrived merged in the result, once per finished episode,
    # with chunked episodes summed (CartPole: return == length; batches cut episodes).
    rec = recorder_of(algo)
    for returns, n in zip(rec.returns, rec.num_episodes, strict=True):
        assert (len(returns) if returns else 0) == n
    every_return = [r for returns in rec.returns if returns for r in returns]
    assert min(every_return) == min(rec.return_min)
    assert max(every_return) == max(rec.return_max)
    stored_std = metrics["reward_std"]
    for i, returns in enumerate(rec.returns):
        if returns:
            assert stored_std[i] == pytest.approx(float(np.std(returns)))
    # The item series is adapter plumbing: removed from the user's result after use.
    assert all("rlwatch" not in r["env_runners"] for r in results)
    assert all(r["rlwatch"]["criticals"] == 0 for r in results)

    if TRACES_OUT:
        write_trace(TRACES_DIR / "rllib_healthy.jsonl", metrics, rec.returns)


def test_huge_learning_rate_with_two_env_runners_alerts(log_dir: Path) -> None:
    onset, iterations = 10, 16
    config = ppo_config(lr=lr_jump(onset, 0.05), env_runners=2).callbacks(
        [Recorder, RLWatchCallbacks.configure(run_id="huge-lr", log_dir=str(log_dir), **FAST_DETECTORS)]
    )
    algo, results = _train(config, iterations)

    reader = StoreReader(str(log_dir / "metrics.db"))
    metrics = reader.metrics("huge-lr")
    steps = list(metrics["step"])
    assert steps == list(range(1, iterations + 1))
    lr = metrics["learning_rate"]
    assert lr[onset - 2] == pytest.approx(3e-4) and lr[-1] == pytest.approx(0.05)
    # The failure is in the stored data: KL jumps by orders of magnitude, entropy collapses.
    healthy_kl = float(np.median(metrics["kl_divergence"][: onset - 1]))
    assert np.nanmax(metrics["kl_divergence"][onset - 1:]) > 0.5 > 20 * healthy_kl
    assert np.nanmin(metrics["entropy"][onset:]) < 0.03 < 0.4 < np.nanmin(metrics["entropy"][: onset - 1])
    # Returns from both remote EnvRunners arrive merged, one per episode.
    rec = recorder_of(algo)
    for returns, n in zip(rec.returns, rec.num_episodes, strict=True):
        assert (len(returns) if returns else 0) == n

    alerts = [a for a in reader.alerts("huge-lr") if a.step is not None]
    critical = [a for a in alerts if a.severity == "critical"]
    assert not [a for a in alerts if int(a.step or 0) < onset], [(a.step, a.detector) for a in alerts]
    seen = [(a.step, a.detector, a.severity) for a in alerts]
    assert {"entropy_collapse", "kl_explosion"} <= {a.detector for a in critical}, seen
    for detector in ("entropy_collapse", "kl_explosion"):
        first = min(int(a.step or 0) for a in critical if a.detector == detector)
        assert onset <= first <= onset + 5, seen
    assert any(r["rlwatch"]["criticals"] for r in results)

    if TRACES_OUT:
        write_trace(TRACES_DIR / "rllib_huge_lr.jsonl", metrics, rec.returns)

