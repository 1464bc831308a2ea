"""Which TRL key map a trainer's logs go through (the tables: rlwatch.keymaps.trl, tested in tests/core)."""

from __future__ import annotations

from typing import Any

from rlwatch.keymaps.trl import TRL_GRPO, TRL_OFFLINE, TRL_ONLINE_DPO, TRL_PPO
from rlwatch_trl.mapping import family_of, guess_from_keys, map_logs


def _trainer(name: str, module: str = "trl.trainer.x", base: type | None = None) -> Any:
    cls = type(name, (base,) if base else (), {})
    cls.__module__ = module
    return cls()


def test_trainer_families_by_class_and_along_the_mro() -> None:
    assert family_of(_trainer("GRPOTrainer")) is TRL_GRPO
    assert family_of(_trainer("RLOOTrainer")) is TRL_GRPO
    assert family_of(_trainer("PPOTrainer")) is TRL_PPO
    assert family_of(_trainer("OnlineDPOTrainer")) is TRL_ONLINE_DPO
    grpo = type(_trainer("GRPOTrainer"))
    assert family_of(_trainer("MyCuriosityGRPO", "my_lab.trainers", grpo)) is TRL_GRPO


def test_plain_transformers_and_unknown_trainers() -> None:
    assert family_of(_trainer("Trainer", "transformers.trainer")) is TRL_OFFLINE
    assert family_of(_trainer("SFTTrainer")) is None  # decided by its keys
    assert guess_from_keys({"loss": 1.0, "mean_token_accuracy": 0.5, "entropy": 1.2}) is TRL_OFFLINE
    assert guess_from_keys({"reward": 0.5, "reward_std": 0.1, "frac_reward_zero_std": 0.2, "entropy": 0.4}) is TRL_GRPO


def test_ppo_prefers_the_per_token_entropy_whatever_the_key_order() -> None:
    logs = {"objective/entropy": 85.0, "policy/entropy_avg": 0.62, "objective/kl": 3.1, "eps": 4}
    out = map_logs(logs, TRL_PPO)
    assert out["entropy"] == 0.62 and out["sequence_entropy"] == 85.0 and out["kl_divergence"] == 3.1
