"""The run ``rlwatch demo`` watches: a GRPO math run, healthy for a while, then collapsing."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from rlwatch.testing.simulate import simulate_run


def demo_run(seed: int = 0, steps: int = 240, collapse_at: int = 150) -> Iterator[tuple[int, dict[str, Any]]]:
    """A GRPO math run, healthy for a while, then collapsing.

    Entropy collapses from ``collapse_at``, KL runs away a few steps later,
    the reward falls, and the last steps turn non-finite: what an unattended
    collapse looks like, for ``rlwatch demo``.

    Args:
        seed: Random seed.
        steps: Number of steps.
        collapse_at: First step of the collapse.

    Yields:
        ``(step, metrics)`` with `log_step` keyword arguments.
    """
    run = simulate_run("healthy", seed=seed, profile="math", steps=steps)
    rng = np.random.default_rng(seed + 1000)
    nan_from = collapse_at + int(0.8 * (steps - collapse_at))
    for step, metrics in run:
        m = dict(metrics)
        dt = step - collapse_at
        if dt >= 0:
            m["entropy"] *= 0.05 + 0.95 * math.exp(-dt / 4.0)
            m["completion_length"] *= 0.3 + 0.7 * math.exp(-dt / 6.0)
        if dt >= 6:
            m["kl_divergence"] *= min(math.exp((dt - 6) / 4.0), 1e4)
            m["grad_norm"] *= min(math.exp((dt - 6) / 5.0), 1e3)
        if dt >= 12:
            keep = max(0.1, 1.0 - (dt - 12) / 25.0)
            r = m["rewards"] * (rng.random(m["rewards"].shape) < keep)
            m["rewards"] = r
            m["reward_mean"] = float(r.mean())
            m["reward_std"] = float(r.std())
            std_g = r.std(axis=1)
            m["frac_reward_zero_std"] = float((std_g < 1e-12).mean())
        if step >= nan_from:
            m["loss"] = math.nan
            m["grad_norm"] = math.nan
        yield step, m
