"""The TRL log-key table (rlwatch_trl.mapping)."""

from __future__ import annotations

import math

from rlwatch.metrics import CANONICAL_SCALARS
from rlwatch_trl.mapping import CANONICAL_KEYS, map_logs


def test_every_target_is_a_canonical_rlwatch_metric() -> None:
    assert set(CANONICAL_KEYS.values()) <= set(CANONICAL_SCALARS)


def test_grpo_keys_are_renamed_and_the_rest_kept_under_their_own_names() -> None:
    logs = {
        "loss": 0.1, "grad_norm": 1.5, "learning_rate": 1e-5, "entropy": 2.7, "kl": 0.01, "reward": 0.4,
        "reward_std": 0.2, "frac_reward_zero_std": 0.25, "completions/mean_length": 6.0,
        "completions/clipped_ratio": 0.1, "clip_ratio/region_mean": 0.02, "clip_ratio/low_mean": 0.01,
        "rewards/acc/mean": 0.4, "num_tokens": 512.0, "epoch": 0.5,
    }
    assert map_logs(logs) == {
        "loss": 0.1, "grad_norm": 1.5, "learning_rate": 1e-5, "entropy": 2.7, "kl_divergence": 0.01,
        "reward_mean": 0.4, "reward_std": 0.2, "frac_reward_zero_std": 0.25, "completion_length": 6.0,
        "completion_clipped_ratio": 0.1, "clip_fraction": 0.02, "clip_ratio/low_mean": 0.01,
        "rewards/acc/mean": 0.4, "num_tokens": 512.0, "epoch": 0.5,
    }


def test_dpo_keys_are_extras() -> None:
    logs = {"loss": 0.69, "rewards/chosen": 0.01, "rewards/margins": 0.02, "logps/rejected": -11.0}
    assert map_logs(logs) == logs


def test_evaluation_and_summary_are_dropped_but_what_rides_along_is_kept() -> None:
    assert map_logs({"eval_loss": 0.3, "eval_reward": 1.0, "epoch": 1.0}) == {}
    summary = {"train_runtime": 4.4, "train_samples_per_second": 7.0, "train_steps_per_second": 0.9,
               "total_flos": 0.0, "train_loss": -0.05, "epoch": 0.25}
    assert map_logs(summary) == {}
    # GRPO flushes a last partial logging window into the final summary call
    assert map_logs({**summary, "entropy": 1.9, "reward": 0.5}) == {"entropy": 1.9, "reward_mean": 0.5, "epoch": 0.25}


def test_unusable_values_and_the_step_key_are_dropped_nan_is_kept() -> None:
    out = map_logs({"loss": None, "note": "text", "flag": True, "step": 3, "grad_norm": float("nan")})
    assert list(out) == ["grad_norm"] and math.isnan(out["grad_norm"])


def test_first_alias_wins() -> None:
    assert map_logs({"clip_ratio/region_mean": 0.1, "cispo_clip_ratio": 0.3}) == {"clip_fraction": 0.1}


def test_supervised_entropy_is_not_policy_entropy() -> None:
    assert map_logs({"entropy": 2.1, "loss": 1.0}, policy_entropy=False) == {"supervised_entropy": 2.1, "loss": 1.0}
