"""Reading per-sample rewards/advantages from TRL's private ``_logs``.

The stand-in objects below imitate the layout of trl 1.x GRPOTrainer (a
third-party object); the real trainer is read in test_trl_attach.py.
"""

from __future__ import annotations

from collections import defaultdict, deque
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from rlwatch_trl.samples import read_generation_batch


def _trainer(rewards: dict[str, list[float]], advantages: list[float], **attrs: Any) -> SimpleNamespace:
    logs: dict[str, Any] = {
        "rewards": defaultdict(lambda: deque(maxlen=8)),
        "advantages": deque(advantages, maxlen=8),
    }
    for name, values in rewards.items():
        logs["rewards"][name].extend(values)
    base = {"_logs": logs, "reward_func_names": list(rewards), "num_generations": 4,
            "reward_weights": torch.ones(len(rewards))}
    base.update(attrs)
    return SimpleNamespace(**base)


def test_weighted_sum_grouped_by_num_generations() -> None:
    t = _trainer({"acc": [1, 0, 1, 0, 1, 1, 1, 1], "fmt": [0.5] * 8}, [0.1] * 8,
                 reward_weights=torch.tensor([2.0, 1.0]))
    out = read_generation_batch(t)
    np.testing.assert_allclose(out["rewards"], [[2.5, 0.5, 2.5, 0.5], [2.5, 2.5, 2.5, 2.5]])
    assert out["advantages"].shape == (8,)


def test_nan_from_a_function_counts_as_zero_unless_no_function_scored() -> None:
    nan = float("nan")
    t = _trainer({"a": [1, nan, nan, 1], "b": [nan, 2, nan, 1]}, [0.0] * 4)
    r = read_generation_batch(t)["rewards"]
    assert r.shape == (1, 4)
    assert r[0, 0] == 1 and r[0, 1] == 2 and np.isnan(r[0, 2]) and r[0, 3] == 2


def test_ungroupable_batch_stays_one_dimensional() -> None:
    t = _trainer({"a": [1, 2, 3]}, [0.0] * 3)
    assert read_generation_batch(t)["rewards"].shape == (3,)


@pytest.mark.parametrize(
    "trainer",
    [
        SimpleNamespace(),  # not a GRPO trainer (DPO, SFT)
        SimpleNamespace(_logs=None),
        SimpleNamespace(_logs={"rewards": []}),  # renamed/reshaped in some future trl
        SimpleNamespace(_logs={"rewards": {"a": deque([1.0, 2.0]), "b": deque([1.0])}}),  # ragged
        SimpleNamespace(_logs={"rewards": {"a": deque(["x"])}}),
        SimpleNamespace(_logs={"rewards": {"a": deque([1.0])}}, reward_weights=[1.0, 2.0]),  # wrong weights
        SimpleNamespace(_logs={"rewards": {"a": deque([1.0])}}, reward_weights=object()),
        SimpleNamespace(_logs={"advantages": 5}),
    ],
)
def test_version_drift_means_no_array_never_an_error(trainer: Any) -> None:
    out = read_generation_batch(trainer)
    assert "rewards" not in out
    assert "advantages" not in out
