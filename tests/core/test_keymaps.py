"""Every key map: the generated docs/keymaps.md is current; the OpenRLHF map; detection across maps."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

from rlwatch.importers.keys import choose
from rlwatch.keymaps import all_keymaps, by_name
from rlwatch.keymaps.openrlhf import OPENRLHF_PPO
from rlwatch.metrics import CANONICAL_SCALARS

ROOT = Path(__file__).resolve().parents[2]

OPENRLHF_STATUS = {
    "policy_loss": 0.01, "actor_lr": 1e-6, "entropy_loss": 0.8, "kl": 0.002, "reward": 0.4, "return": 0.39,
    "response_length": 310.0, "total_length": 420.0, "response_clip_ratio": 0.05, "ppo_clip_ratio": 0.003,
    "ppo_kl": 0.0004, "group_reward_std": 0.3, "critic_loss": 0.2, "values": 0.1, "critic_lr": 5e-6,
    "dynamic_filtering_pass_rate": 0.7, "generated_samples": ["text", 0.4],
}


def test_keymaps_page_is_current() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_keymaps_doc.py"), "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{proc.stderr.strip()} (run python scripts/gen_keymaps_doc.py and commit it)"


def test_keymaps_page_lists_every_mapped_key() -> None:
    text = (ROOT / "docs" / "keymaps.md").read_text(encoding="utf-8")
    for keymap in all_keymaps():
        assert f"## {keymap.name}\n" in text
        for key in keymap.keys:
            assert f"| `{key.source}` | `{key.target}` |" in text, key


def test_every_map_has_unique_names_and_meanings() -> None:
    names = [km.name for km in all_keymaps()]
    assert len(names) == len(set(names))
    for keymap in all_keymaps():
        assert keymap.description  # (a map chosen by configuration, not by its keys, has no signature)
        for key in keymap.keys:
            assert len(key.meaning) > 20, key


def test_openrlhf_status_dict() -> None:
    out = OPENRLHF_PPO.translate(OPENRLHF_STATUS)
    assert {k: out[k] for k in ("entropy", "kl_divergence", "reward_mean", "reward_std", "loss", "learning_rate",
                                "clip_fraction", "completion_length", "completion_clipped_ratio")} == {
        "entropy": 0.8, "kl_divergence": 0.002, "reward_mean": 0.4, "reward_std": 0.3, "loss": 0.01,
        "learning_rate": 1e-6, "clip_fraction": 0.003, "completion_length": 310.0, "completion_clipped_ratio": 0.05,
    }
    assert out["approx_kl"] == 0.0004 and out["return"] == 0.39 and out["critic_lr"] == 5e-6
    assert "generated_samples" not in out and "ppo_kl" not in out
    for key in OPENRLHF_PPO.keys:
        assert key.target in CANONICAL_SCALARS or key.target in {"approx_kl", key.source}, key


def test_openrlhf_evaluation_and_nan() -> None:
    assert OPENRLHF_PPO.translate({"eval_pass1": 0.5, "eval/pass1": 0.5, "global_step": 3}) == {}
    out = OPENRLHF_PPO.translate({"policy_loss": float("nan")})
    assert math.isnan(out["loss"])


def test_detection_reads_the_train_namespace() -> None:
    logged = {f"train/{k}" for k in OPENRLHF_STATUS} | {"train/global_step", "eval/pass1"}
    translator = choose(logged)
    assert translator.keymap is OPENRLHF_PPO and translator.unnamespace
    row = translator({"train/entropy_loss": 0.7, "train/kl": 0.1, "eval/pass1": 0.5})
    assert row == {"entropy": 0.7, "kl_divergence": 0.1}


def test_detection_needs_evidence_unless_the_format_names_the_framework() -> None:
    assert choose({"entropy", "loss"}).keymap is None  # one shared name says nothing
    assert choose({"entropy", "loss"}, framework_hint="trl").keymap is by_name("trl-grpo")
    sft = {"entropy", "loss", "mean_token_accuracy", "num_tokens"}
    assert choose(sft, framework_hint="trl").keymap is by_name("trl-offline")
    grpo = {"entropy", "kl", "reward", "reward_std", "frac_reward_zero_std", "completions/mean_length"}
    assert choose(grpo).keymap is by_name("trl-grpo")
    assert choose(set(OPENRLHF_STATUS)).keymap is OPENRLHF_PPO


def test_overrides_win_and_can_drop() -> None:
    translator = choose({"entropy", "kl", "reward", "x"}, overrides={"reward": "reward_std", "x": ""})
    assert translator({"entropy": 1.0, "reward": 0.5, "x": 3.0}) == {"entropy": 1.0, "reward_std": 0.5}


def test_fast_path_matches_full_translation() -> None:
    translator = choose({"entropy", "kl", "reward", "cispo_clip_ratio", "clip_ratio/region_mean", "epoch"})
    rows = [
        {"entropy": 1.0, "kl": 0.1, "cispo_clip_ratio": 0.3, "clip_ratio/region_mean": 0.2, "epoch": 1},
        {"entropy": 1.0, "kl": 0.1, "cispo_clip_ratio": 0.3, "clip_ratio/region_mean": 0.2, "epoch": 1},
        {"entropy": None, "kl": 0.1, "rewards": [1.0, 0.0], "note": "x"},
        {"epoch": 2.0},
    ]
    for row in rows:
        assert translator(row) == translator.translate(row)
