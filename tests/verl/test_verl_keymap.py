"""The veRL key table against the dicts veRL's own metric functions produce."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from rlwatch.keymaps import by_name, detect
from rlwatch.keymaps.verl import VERL, VERL_SEQUENCE_SUM, VERL_SFT, for_loss_agg_mode
from rlwatch_verl.backend import attach_options, keymap_for
from verl import DataProto
from verl_stream import GRPOStream


@pytest.fixture(scope="module")
def step_dict(actor_config: Any) -> dict[str, Any]:
    """One GRPO step's dict, as veRL's trainer hands it to Tracking.log."""
    return GRPOStream(actor_config, seed=3).step(7)


def test_every_issue_key_maps_where_its_meaning_belongs(step_dict: dict[str, Any]) -> None:
    out = VERL.translate(step_dict)
    assert out["entropy"] == step_dict["actor/entropy"]  # per-token entropy
    assert out["kl_divergence"] == step_dict["actor/kl_loss"]  # KL to the reference
    assert out["approx_kl"] == step_dict["actor/ppo_kl"]  # old-to-new policy KL: not kl_divergence
    assert out["clip_fraction"] == step_dict["actor/pg_clipfrac"]
    assert out["loss"] == step_dict["actor/pg_loss"]
    assert out["grad_norm"] == step_dict["actor/grad_norm"]
    assert out["learning_rate"] == step_dict["actor/lr"]
    assert out["reward_mean"] == step_dict["critic/score/mean"]  # the raw score, not critic/rewards/mean
    assert out["completion_length"] == step_dict["response_length/mean"]
    assert out["completion_clipped_ratio"] == step_dict["response_length/clip_ratio"]
    for kept in ("critic/rewards/mean", "critic/advantages/max", "critic/advantages/min", "actor/loss",
                 "actor/pg_clipfrac_lower", "prompt_length/mean", "training/epoch"):
        assert out[kept] == step_dict[kept], kept
    assert "advantage_std" not in out  # never guessed from max/min
    assert not [k for k in out if k.startswith(("timing_s/", "timing_per_token_ms/", "perf/"))]
    assert "training/global_step" not in out and "actor/ppo_kl" not in out and "actor/entropy" not in out


def test_in_reward_kl_from_apply_kl_penalty_is_kl_divergence(step_dict: dict[str, Any], actor_config: Any) -> None:
    from verl.trainer.ppo import core_algos
    from verl.trainer.ppo.ray_trainer import apply_kl_penalty

    stream = GRPOStream(actor_config, seed=4)
    stream.step(1)
    batch: DataProto = stream.last_batch  # type: ignore[assignment]
    _, kl_metrics = apply_kl_penalty(batch, core_algos.FixedKLController(kl_coef=0.01), kl_penalty="kl")
    row = {k: v for k, v in step_dict.items() if k not in ("actor/kl_loss", "actor/kl_coef")} | kl_metrics
    for keymap in (VERL, VERL_SEQUENCE_SUM):
        out = keymap.translate(row)
        assert out["kl_divergence"] == kl_metrics["actor/reward_kl_penalty"]
    assert VERL.translate({"critic/kl": 0.03, "critic/kl_coeff": 0.1})["kl_divergence"] == 0.03  # older name


def test_summing_loss_aggregation_keeps_entropy_out_of_entropy_collapse(step_dict: dict[str, Any]) -> None:
    out = VERL_SEQUENCE_SUM.translate(step_dict)
    assert "entropy" not in out and out["sequence_entropy"] == step_dict["actor/entropy"]
    assert out["kl_divergence"] == step_dict["actor/kl_loss"]


@pytest.mark.parametrize(("mode", "expected"), [
    (None, VERL), ("token-mean", VERL), ("seq-mean-token-mean", VERL), ("token-sum", VERL_SEQUENCE_SUM),
    ("seq-mean-token-sum", VERL_SEQUENCE_SUM), ("seq-mean-token-sum-norm", VERL_SEQUENCE_SUM),
])
def test_map_per_loss_agg_mode(mode: str | None, expected: Any) -> None:
    assert for_loss_agg_mode(mode) is expected


def test_the_live_adapter_picks_the_map_from_the_run_config() -> None:
    from omegaconf import OmegaConf
    from verl_helpers import compose

    def plain(*overrides: str) -> Any:
        return OmegaConf.to_container(compose(*overrides), resolve=True)

    assert keymap_for(plain()) is VERL
    assert keymap_for(plain("actor_rollout_ref.actor.loss_agg_mode=seq-mean-token-sum-norm")) is VERL_SEQUENCE_SUM
    assert keymap_for({"trainer": {"logger": ["rlwatch"]}, "model": {}}) is VERL_SFT
    assert keymap_for(None) is VERL


def test_sft_keys() -> None:
    row = {"train/loss": 1.2, "train/grad_norm": 3.0, "train/lr": 1e-5, "train/mfu": 0.4, "train/global_tokens": 4096,
           "perf/max_memory_allocated_gb": 30.0}
    expected = {"loss": 1.2, "grad_norm": 3.0, "learning_rate": 1e-5, "train/global_tokens": 4096}
    assert VERL_SFT.translate(row) == expected
    assert VERL_SFT.translate({"val/loss": 1.0}) == {}


def test_validation_and_timing_only_dicts_record_nothing() -> None:
    assert VERL.translate({"val-core/gsm8k/acc/mean@1": 0.4, "val-aux/num_turns/min": 1}) == {}
    assert VERL.translate({"training/epoch": 0, "timing_s/step": 3.0}) == {}


def test_tables_are_registered_for_the_importer(step_dict: dict[str, Any]) -> None:
    assert by_name("verl") is VERL and by_name("verl-seq-sum") is VERL_SEQUENCE_SUM and by_name("verl-sft") is VERL_SFT
    assert detect(step_dict.keys()) is VERL
    for keymap in (VERL, VERL_SEQUENCE_SUM, VERL_SFT):
        assert all(key.meaning for key in keymap.keys)


def test_attach_options_from_the_config_section() -> None:
    assert attach_options({"rlwatch": {"run_id": "x", "distributed": {"all_ranks": True}}}) == {
        "run_id": "x", "framework": "verl", "distributed": {"all_ranks": True, "rank": 0, "world_size": 1}}
    assert attach_options(None) == {"framework": "verl", "distributed": {"rank": 0, "world_size": 1}}


def test_the_actor_metrics_come_from_verl_itself(step_dict: dict[str, Any], actor_config: Any) -> None:
    # Guards the fixture: these are veRL's real key names, not ones this test suite made up.
    from verl.trainer.ppo import core_algos

    zeros = torch.zeros(2, 3)
    _, metrics = core_algos.compute_policy_loss_vanilla(zeros, zeros, torch.ones(2, 3), torch.ones(2, 3), "token-mean",
                                                        config=actor_config)
    assert set(metrics) <= set(step_dict)


def test_the_adapter_page_documents_every_key() -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "adapters" / "verl.md").read_text(encoding="utf-8")
    for keymap in (VERL, VERL_SEQUENCE_SUM, VERL_SFT):
        missing = [key.source for key in keymap.keys if f"`{key.source}`" not in page]
        assert not missing, f"docs/adapters/verl.md does not document {missing} of {keymap.name}"
