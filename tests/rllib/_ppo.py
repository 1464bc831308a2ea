"""Small real PPO set-ups on CartPole-v1 for the adapter tests (CPU, seconds per iteration)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.callbacks.callbacks import RLlibCallback

BATCH = 256
"""Env steps per iteration: small enough for CI, large enough for a stable KL."""

# Shorter warmup than the defaults (20 steps): an RLlib iteration is a whole
# batch, so a test cannot afford 20+ healthy iterations before detection arms.
FAST_DETECTORS: dict[str, Any] = {
    "entropy_collapse": {"warmup_steps": 8},
    "kl_explosion": {"warmup_steps": 8},
    "alerts": {"console": {"enabled": False}},
}

TRACE_METRICS = (
    "entropy", "kl_divergence", "reward_mean", "reward_std", "loss", "grad_norm", "learning_rate",
)


def ppo_config(*, lr: Any = 3e-4, env_runners: int = 0, batch: int = BATCH) -> PPOConfig:
    """PPO on CartPole with gradient norms logged; callbacks are added by each test."""
    return (
        PPOConfig()
        .environment("CartPole-v1")
        .env_runners(num_env_runners=env_runners)
        .training(lr=lr, train_batch_size_per_learner=batch, minibatch_size=64, num_epochs=2)
        .reporting(log_gradients=True)
        .debugging(seed=7)
    )


def lr_jump(onset_iteration: int, high: float, batch: int = BATCH, low: float = 3e-4) -> list[list[float]]:
    """An RLlib lr schedule: `low` until `onset_iteration`'s env steps, then `high`."""
    start = onset_iteration * batch
    return [[0, low], [start - 1, low], [start, high]]


def write_trace(path: Path, metrics: Mapping[str, Any], rewards: Iterable[list[float] | None]) -> None:
    """Write a stored run as JSON lines: ``step`` + canonical metrics (+ ``rewards``)."""
    # Each line: {"step": 3, "entropy": 0.65, ..., "rewards": [returns of episodes ended]}
    lines = []
    for i, (step, returns) in enumerate(zip(metrics["step"], rewards, strict=True)):
        row: dict[str, Any] = {"step": int(step)}
        for name in TRACE_METRICS:
            column = metrics.get(name)
            # NaN means "not logged at this step"; +-inf is a real (broken) value and is
            # kept (Python's json writes it as Infinity).
            if column is not None and not math.isnan(float(column[i])):
                row[name] = float(column[i])
        if returns:
            row["rewards"] = [float(r) for r in returns]
        lines.append(json.dumps(row))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


class Recorder(RLlibCallback):
    """A user's own callbacks class: keeps what each train() result held for rlwatch.

    Placed *before* `RLWatchCallbacks` in the list, it sees the per-episode
    returns item series before the adapter removes it from the result.
    """

    def __init__(self) -> None:
        super().__init__()
        self.returns: list[list[float] | None] = []
        self.num_episodes: list[int] = []
        self.return_min: list[float] = []
        self.return_max: list[float] = []

    def on_train_result(self, *, algorithm: Any, result: dict[str, Any], **kwargs: Any) -> None:
        env = result.get("env_runners", {})
        ours = env.get("rlwatch", {}).get("episode_returns")
        self.returns.append([float(x) for x in ours] if isinstance(ours, list) else None)
        self.num_episodes.append(int(env.get("num_episodes", 0) or 0))
        self.return_min.append(float(env.get("episode_return_min", math.nan)))
        self.return_max.append(float(env.get("episode_return_max", math.nan)))


def recorder_of(algorithm: Any) -> Recorder:
    """The `Recorder` instance living in `algorithm`'s driver."""
    return next(cb for cb in algorithm.callbacks if isinstance(cb, Recorder))
