"""The TRL key maps (rlwatch.keymaps.trl), shared by the live adapter and the importer."""

from __future__ import annotations

import math

from rlwatch.keymaps import by_name, detect
from rlwatch.keymaps.trl import TRL_GRPO, TRL_OFFLINE, TRL_ONLINE_DPO, TRL_PPO
from rlwatch.metrics import CANONICAL_SCALARS

EXTRA_TARGETS = {"sequence_entropy", "supervised_entropy", "approx_kl"}


def test_every_target_is_canonical_or_a_deliberate_extra() -> None:
    for keymap in (TRL_GRPO, TRL_PPO, TRL_ONLINE_DPO, TRL_OFFLINE):
        for key in keymap.keys:
            assert key.target in CANONICAL_SCALARS or key.target in EXTRA_TARGETS, key
            assert len(key.meaning) > 20, key


def test_grpo_keys_are_renamed_and_the_rest_kept_under_their_own_names() -> None:
    logs = {
        "loss": 0.1, "grad_norm": 1.5, "learning_rate": 1e-5, "entropy": 2.7, "kl": 0.01, "reward": 0.4,
        "reward_std": 0.2, "frac_reward_zero_std": 0.25, "completions/mean_length": 6.0,
        "completions/clipped_ratio": 0.1, "clip_ratio/region_mean": 0.02, "clip_ratio/low_mean": 0.01,
        "rewards/acc/mean": 0.4, "num_tokens": 512.0, "epoch": 0.5,
    }
    assert TRL_GRPO.translate(logs) == {
        "entropy": 2.7, "kl_divergence": 0.01, "reward_mean": 0.4, "reward_std": 0.2, "frac_reward_zero_std": 0.25,
        "completion_length": 6.0, "completion_clipped_ratio": 0.1, "clip_fraction": 0.02, "loss": 0.1,
        "grad_norm": 1.5, "learning_rate": 1e-5, "clip_ratio/low_mean": 0.01, "rewards/acc/mean": 0.4,
        "num_tokens": 512.0, "epoch": 0.5,
    }


def test_evaluation_and_summary_are_dropped_but_what_rides_along_is_kept() -> None:
    assert TRL_GRPO.translate({"eval_loss": 0.3, "eval_reward": 1.0, "epoch": 1.0}) == {}
    summary = {"train_runtime": 4.4, "train_samples_per_second": 7.0, "train_steps_per_second": 0.9,
               "total_flos": 0.0, "train_loss": -0.05, "epoch": 0.25}
    assert TRL_GRPO.translate(summary) == {}
    # GRPO flushes a last partial logging window into the final summary call
    assert TRL_GRPO.translate({**summary, "entropy": 1.9, "reward": 0.5}) == {
        "entropy": 1.9, "reward_mean": 0.5, "epoch": 0.25}


def test_unusable_values_and_the_step_key_are_dropped_nan_is_kept() -> None:
    out = TRL_GRPO.translate({"loss": None, "note": "text", "flag": True, "step": 3, "grad_norm": float("nan")})
    assert list(out) == ["grad_norm"] and math.isnan(out["grad_norm"])


def test_table_order_is_the_preference_not_the_log_order() -> None:
    assert TRL_GRPO.translate({"cispo_clip_ratio": 0.3, "clip_ratio/region_mean": 0.1}) == {
        "clip_fraction": 0.1, "cispo_clip_ratio": 0.3}
    ppo = {"objective/entropy": 120.0, "policy/entropy_avg": 0.9}
    assert TRL_PPO.translate(ppo) == {"entropy": 0.9, "sequence_entropy": 120.0}


def test_sequence_level_quantities_never_reach_entropy_collapse() -> None:
    assert "entropy" not in TRL_ONLINE_DPO.translate({"objective/entropy": 40.0, "objective/kl": 2.0})
    assert TRL_OFFLINE.translate({"entropy": 2.1, "loss": 1.0}) == {"supervised_entropy": 2.1, "loss": 1.0}


def test_detection_by_signature_keys() -> None:
    assert detect(["policy/entropy_avg", "objective/kl", "loss/policy_avg"]) is TRL_PPO
    assert detect(["frac_reward_zero_std", "reward", "completions/mean_length"]) is TRL_GRPO
    assert detect(["rewards/chosen", "rewards/margins", "logps/chosen"]) in (TRL_OFFLINE, TRL_ONLINE_DPO)
    assert detect(["something_else"]) is None
    assert by_name("trl-ppo") is TRL_PPO and by_name("nope") is None
