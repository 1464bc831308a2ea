"""Canonical metric names: the vocabulary adapters map framework keys onto."""

from __future__ import annotations

CANONICAL_SCALARS: tuple[str, ...] = (
    "entropy",
    "kl_divergence",
    "reward_mean",
    "reward_std",
    "advantage_std",
    "loss",
    "grad_norm",
    "learning_rate",
    "clip_fraction",
    "frac_reward_zero_std",
    "completion_length",
    "completion_clipped_ratio",
)
"""Scalar metrics detectors understand. Anything else is stored as an extra."""

CANONICAL_ARRAYS: tuple[str, ...] = ("rewards", "advantages")
"""Metrics passed as arrays. ``rewards`` may be 1-D (samples) or 2-D
(groups x samples per group, as in GRPO); ``advantages`` per sample."""
