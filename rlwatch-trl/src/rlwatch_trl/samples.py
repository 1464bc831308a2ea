"""Per-sample rewards and advantages of the last GRPO/RLOO generation batch.

TRL's GRPOTrainer and RLOOTrainer (trl 1.x) keep the last generation batch
in a private dict, ``trainer._logs``: ``"rewards"`` maps each reward
function's name to a deque of its per-completion rewards (gathered across
processes, groups of ``num_generations`` consecutive completions), and
``"advantages"`` is a deque of per-completion advantages. The combined
reward is the ``reward_weights``-weighted sum over functions, with NaN (a
function that did not score a sample) counted as 0, and NaN when no function
scored the sample, exactly as TRL computes its logged ``reward``.

This is private API: anything unexpected (a renamed attribute, other
lengths, a missing weight) makes `read_generation_batch` return None for that
array, never raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def _as_list(values: Any) -> list[float] | None:
    try:
        out = [float(v) if v is not None else float("nan") for v in list(values)]
    except (TypeError, ValueError):
        return None
    return out or None


def _weights(trainer: Any, n_funcs: int) -> np.ndarray | None:
    raw = getattr(trainer, "reward_weights", None)
    if raw is None:
        return np.ones(n_funcs)
    try:
        if hasattr(raw, "detach"):
            raw = raw.detach().cpu().tolist()
        w = np.asarray([float(x) for x in raw], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return w if w.shape == (n_funcs,) else None


def combined_rewards(trainer: Any) -> np.ndarray | None:
    """Weighted per-completion rewards of the last generation batch, 1-D, or None."""
    logs = getattr(trainer, "_logs", None)
    if not isinstance(logs, Mapping):
        return None
    per_func = logs.get("rewards")
    if not isinstance(per_func, Mapping) or not per_func:
        return None
    names = list(getattr(trainer, "reward_func_names", None) or [])
    if not names or any(name not in per_func for name in names):
        names = list(per_func)
    columns = [_as_list(per_func[name]) for name in names]
    if any(col is None for col in columns):
        return None
    lengths = {len(col) for col in columns if col is not None}
    if len(lengths) != 1:
        return None
    matrix = np.asarray(columns, dtype=np.float64).T  # samples x functions
    weights = _weights(trainer, matrix.shape[1])
    if weights is None:
        return None
    unscored = np.isnan(matrix).all(axis=1)
    total: np.ndarray = np.nansum(matrix * weights, axis=1)
    total[unscored] = np.nan
    return total


def group_rewards(trainer: Any, rewards: np.ndarray) -> np.ndarray:
    """Reshape to groups x num_generations when the sizes agree, else leave 1-D."""
    try:
        size = int(getattr(trainer, "num_generations", 0) or 0)
    except (TypeError, ValueError):
        size = 0
    if size > 1 and rewards.size % size == 0 and rewards.size >= size:
        return rewards.reshape(-1, size)
    return rewards


def advantages(trainer: Any) -> np.ndarray | None:
    """Per-completion advantages of the last generation batch, or None."""
    logs = getattr(trainer, "_logs", None)
    if not isinstance(logs, Mapping) or "advantages" not in logs:
        return None
    values = _as_list(logs["advantages"])
    return None if values is None else np.asarray(values, dtype=np.float64)


def read_generation_batch(trainer: Any) -> dict[str, np.ndarray]:
    """``{"rewards": groups x G (or 1-D), "advantages": 1-D}``, with what could be read.

    Never raises; an unreadable part is simply absent.
    """
    out: dict[str, np.ndarray] = {}
    try:
        rewards = combined_rewards(trainer)
        if rewards is not None:
            out["rewards"] = group_rewards(trainer, rewards)
    except Exception:  # noqa: BLE001 - private API drift degrades to "no array"
        pass
    try:
        adv = advantages(trainer)
        if adv is not None:
            out["advantages"] = adv
    except Exception:  # noqa: BLE001
        pass
    return out
