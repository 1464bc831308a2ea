"""Per-response scores and advantages of a step, read from the batch veRL summarises.

veRL's ``Tracking.log`` only receives scalar summaries. The per-response
numbers behind them are in reach once per step, on the same process: the
trainer passes the step's batch to ``metric_utils.compute_data_metrics``,
which turns it into ``critic/score/*``, ``critic/advantages/*``, ... The
wrapped function (`rlwatch_verl.autopatch`) hands that batch and the dict it
returned to `capture`; the rlwatch backend then takes the arrays with
`take_for` when it logs the dict those scalars ended up in.

What is read, with veRL's own definitions, so that the arrays describe exactly
the population of the scalars logged beside them:

* ``rewards``: each non-aborted response's task score, the sum of its
  ``token_level_scores`` (what ``critic/score/mean`` averages; before any KL
  penalty). Responses of length 0 (aborted) are left out, as veRL leaves them
  out of the score statistics. Arranged groups x samples when every prompt of
  the batch has the same number of responses (GRPO's ``rollout.n``): groups
  by ``uid`` when the batch carries it (the legacy trainer), else by identical
  prompt tokens (the v1 trainer summarises a batch without uids); otherwise
  1-D.
* ``advantages``: each non-aborted response's mean advantage over its
  response tokens. Outcome estimators (GRPO, RLOO, REINFORCE++, ...) give all
  tokens of a response the same advantage, so this is exactly the response's
  advantage; with GAE it is the response's mean token advantage. rlwatch
  derives ``advantage_std`` from it.

The arrays are attached only to the logged dict whose ``critic/score/mean`` is
the value computed from this very batch (a fingerprint), and the capture is
checked against veRL's own mean when it is made: arrays from another batch, or
read wrongly after a change in veRL, are never recorded. Anything unexpected
leaves the step without arrays; nothing here raises.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

SCORE_MEAN_KEY = "critic/score/mean"
"""The logged scalar that identifies the batch the arrays come from."""

_TOLERANCE = 1e-4  # veRL averages float32 tensors; the check is done in float64


@dataclass(frozen=True)
class BatchSamples:
    """Per-response arrays of one summarised batch.

    Attributes:
        score_mean: ``critic/score/mean`` exactly as ``compute_data_metrics`` returned it.
        rewards: Task scores, groups x samples or 1-D.
        advantages: Mean advantage per response, 1-D (None if not readable).
    """

    score_mean: float
    rewards: np.ndarray
    advantages: np.ndarray | None


_lock = threading.Lock()
_latest: BatchSamples | None = None


def _to_numpy(tensor: Any) -> np.ndarray:
    return np.asarray(tensor.detach().double().cpu().numpy(), dtype=np.float64)


def _has(tensors: Any, name: str) -> bool:
    # .keys(): a TensorDict's own `in` has meant different things across tensordict versions.
    return name in tensors.keys()  # noqa: SIM118


def _response_lengths(tensors: Any) -> Any:
    # veRL's own rule (metric_utils._compute_response_info): a given
    # response_length, else the attention mask over the response positions.
    if _has(tensors, "response_length"):
        return tensors["response_length"]
    width = tensors["responses"].shape[-1]
    return tensors["attention_mask"][:, -width:].sum(-1)


def _group_keys(batch: Any, tensors: Any, keep: np.ndarray) -> list[Any] | None:
    uids = getattr(batch, "non_tensor_batch", {}).get("uid")
    if uids is not None and len(uids) == keep.size:
        return [uids[i] for i in np.flatnonzero(keep)]
    if not _has(tensors, "prompts"):
        return None
    prompts = tensors["prompts"].detach().cpu().numpy()
    return [prompts[i].tobytes() for i in np.flatnonzero(keep)]


def group(values: np.ndarray, keys: list[Any] | None) -> np.ndarray:
    """`values` as groups x samples when `keys` split them into equal groups of 2 or more, else 1-D.

    Rows follow the order in which each group first appears; within a row,
    the samples keep their batch order.
    """
    if keys is None or len(keys) != values.size:
        return values
    members: dict[Any, list[int]] = {}
    for index, key in enumerate(keys):
        members.setdefault(key, []).append(index)
    sizes = {len(indices) for indices in members.values()}
    if len(sizes) != 1 or sizes.pop() < 2:
        return values
    return np.stack([values[indices] for indices in members.values()])


def extract(batch: Any, score_mean: float) -> BatchSamples | None:
    """Read the arrays of `batch` (a veRL ``DataProto``); None unless they reproduce `score_mean`."""
    tensors = batch.batch
    scores = _to_numpy(tensors["token_level_scores"].sum(-1))
    keep = _to_numpy(_response_lengths(tensors)) != 0
    rewards = scores[keep]
    if not rewards.size or not math.isclose(float(rewards.mean()), score_mean, rel_tol=_TOLERANCE,
                                            abs_tol=_TOLERANCE):
        return None  # not veRL's population (another version's rules): record nothing rather than wrong data
    keys = _group_keys(batch, tensors, keep)
    advantages = None
    if _has(tensors, "advantages") and _has(tensors, "response_mask"):
        mask = _to_numpy(tensors["response_mask"])[keep]
        adv = _to_numpy(tensors["advantages"])[keep]
        tokens = mask.sum(-1)
        scored = tokens > 0
        if scored.any():
            advantages = (adv * mask).sum(-1)[scored] / tokens[scored]
    return BatchSamples(score_mean=score_mean, rewards=group(rewards, keys), advantages=advantages)


def capture(batch: Any, summary: Mapping[str, Any]) -> None:
    """Keep the arrays of the batch that ``compute_data_metrics`` just summarised as `summary`.

    Replaces any earlier capture (only the latest batch can still be logged).
    """
    global _latest
    score_mean = summary.get(SCORE_MEAN_KEY)
    found = None
    if isinstance(score_mean, float) and not math.isnan(score_mean):
        found = extract(batch, score_mean)
    with _lock:
        _latest = found


def take_for(data: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The captured arrays if `data` is the dict of the captured batch, else nothing.

    A match consumes the capture, so arrays are never recorded twice.
    """
    global _latest
    with _lock:
        latest = _latest
        if latest is None or data.get(SCORE_MEAN_KEY) != latest.score_mean:
            return {}
        _latest = None
    out = {"rewards": latest.rewards}
    if latest.advantages is not None:
        out["advantages"] = latest.advantages
    return out


def clear() -> None:
    """Forget the current capture (when the run that wanted it ends)."""
    global _latest
    with _lock:
        _latest = None
