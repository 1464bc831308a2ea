"""How TRL/transformers log keys become rlwatch metrics.

Pure functions over the ``logs`` dict that ``TrainerCallback.on_log``
receives; no transformers import, so the table is testable on its own and
documented in docs/adapters/trl.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CANONICAL_KEYS: dict[str, str] = {
    # GRPO / RLOO (trl 1.x)
    "entropy": "entropy",
    "kl": "kl_divergence",
    "reward": "reward_mean",
    "reward_std": "reward_std",
    "frac_reward_zero_std": "frac_reward_zero_std",
    "completions/mean_length": "completion_length",
    "completions/clipped_ratio": "completion_clipped_ratio",
    # The share of tokens whose ratio was clipped on either side.
    "clip_ratio/region_mean": "clip_fraction",
    "cispo_clip_ratio": "clip_fraction",
    # transformers.Trainer itself
    "loss": "loss",
    "grad_norm": "grad_norm",
    "learning_rate": "learning_rate",
    # Older TRL trainers (PPO/RLOO of trl 0.x) logged these names.
    "objective/kl": "kl_divergence",
    "objective/entropy": "entropy",
    "policy/entropy_avg": "entropy",
    "policy/clipfrac_avg": "clip_fraction",
}
"""TRL/transformers key -> canonical rlwatch name. The first key present wins."""

SUMMARY_KEYS = frozenset(
    {
        "train_runtime",
        "train_samples_per_second",
        "train_steps_per_second",
        "train_tokens_per_second",
        "total_flos",
        "train_loss",
    }
)
"""Keys of the end-of-training summary (speed and totals, not training signals)."""

SKIPPED_PREFIXES = ("eval_", "test_", "predict_", "init_mem_", "train_mem_", "before_init_mem_")
"""Evaluation results and memory-tracker totals are not per-step training metrics."""

# "step" is the row key itself, never a metric.
_RESERVED = frozenset({"step"})

# Bookkeeping that rides along with every log call; alone it is not worth a row.
_BOOKKEEPING = frozenset({"epoch", "num_input_tokens_seen"})


def _usable(value: Any) -> bool:
    # None comes from TRL when a window had no valid value; strings and
    # containers are not metrics. Everything else is left to rlwatch's coercion.
    if value is None or isinstance(value, (str, bytes, dict, list, tuple)):
        return False
    return not isinstance(value, bool)


SUPERVISED_ENTROPY = "supervised_entropy"
"""Where ``entropy`` goes for supervised trainers (see `map_logs`)."""


def map_logs(logs: Mapping[str, Any], policy_entropy: bool = True) -> dict[str, Any]:
    """Translate one ``on_log`` dict into rlwatch metrics.

    Canonical keys are renamed (see `CANONICAL_KEYS`); evaluation keys, the
    end-of-training summary and memory-tracker keys are dropped; every other
    numeric key is kept under its own name as an extra metric. A NaN stays a
    NaN: that is what the loss_nan detector is for.

    Args:
        logs: The dict transformers passes to ``on_log``.
        policy_entropy: False for supervised trainers (SFT, reward model,
            plain Trainer): their ``entropy`` is the model's entropy on the
            training data, which falls as it learns, so it is stored as
            ``supervised_entropy`` where the entropy_collapse detector (about
            an RL policy that stops exploring) does not read it.

    Returns:
        Metric name -> value, empty when nothing in `logs` is a training
        signal (e.g. the final summary with nothing riding along).
    """
    out: dict[str, Any] = {}
    for key, value in logs.items():
        if not isinstance(key, str) or not _usable(value):
            continue
        if key in SUMMARY_KEYS or key in _RESERVED or key.startswith(SKIPPED_PREFIXES):
            continue
        canonical = CANONICAL_KEYS.get(key)
        if canonical == "entropy" and not policy_entropy:
            canonical = SUPERVISED_ENTROPY
        if canonical is None:
            out[key] = value
        elif canonical not in out:
            out[canonical] = value
    if all(k in _BOOKKEEPING for k in out):
        return {}
    return out
