"""Synthetic GRPO steps whose metric dicts veRL's own code computes.

A veRL step needs GPUs and a rollout engine; what reaches ``Tracking.log`` is
a dict computed on the driver from the step's batch. `GRPOStream` builds that
batch small and on the CPU (8 prompts x 4 responses, 16-token vocabulary) from
a toy policy whose logits the test steers, then computes every number with
veRL's functions, as its trainer does:

* the batch's sampled tokens, log-probs and entropies from the policy, the
  reference and the updated policy (``logprobs_from_logits``,
  ``entropy_from_logits``), with masks as ``compute_response_mask`` builds them;
* the outcome score on each response's last token, GRPO advantages
  (``compute_grpo_outcome_advantage``);
* the actor's metrics per micro-batch (``compute_policy_loss_vanilla``,
  ``kl_penalty`` + ``agg_loss`` for the KL loss, as the actor loss does),
  reduced with ``reduce_metrics``; the entropy from the old-log-prob pass;
* ``compute_data_metrics``, ``compute_timing_metrics``,
  ``compute_throughout_metrics`` (the first goes through rlwatch-verl's
  wrapper, which is what captures the per-response scores).

Only the gradient norm and the timings are made up (no model is trained).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from verl import DataProto
from verl.trainer.ppo import core_algos, metric_utils
from verl.utils.metric import reduce_metrics
from verl.utils.torch_functional import entropy_from_logits, logprobs_from_logits

PROMPTS, ROLLOUT_N, PROMPT_LEN, RESPONSE_LEN, VOCAB = 8, 4, 6, 20, 16
LOGIT_SCALE = 1.5  # per-token entropy ~2 nats, as for open-ended generation
TRUNCATED_SHARE = 0.04  # responses that hit max_response_length
N = PROMPTS * ROLLOUT_N


@dataclass
class Schedule:
    """How the toy policy moves, per step (1-based).

    Attributes:
        sharpness: Multiplies the policy's logits: > 1 sharpens the
            distribution (entropy falls).
        drift: Share (0..1) of the policy's logits that no longer follow the
            reference's: the KL to the reference grows with its square while
            the entropy stays where it was.
        accuracy: Probability that a response scores 1.
    """

    sharpness: Callable[[int], float] = lambda step: 1.0
    drift: Callable[[int], float] = lambda step: 0.08 + 0.001 * step
    accuracy: Callable[[int], float] = lambda step: 0.30 + 0.003 * step


def healthy() -> Schedule:
    """A run that learns slowly: stable entropy, KL creeping up, accuracy rising."""
    return Schedule()


def all_groups_fail(onset: int) -> Schedule:
    """From `onset` on every response scores 0 (a broken verifier): every GRPO group is degenerate."""
    base = Schedule().accuracy
    return Schedule(accuracy=lambda step: base(step) if step < onset else 0.0)


def entropy_collapse(onset: int) -> Schedule:
    """From `onset` on the policy sharpens to near-determinism within ~10 steps."""
    return Schedule(sharpness=lambda step: 1.0 if step < onset else 1.0 + 1.2 * (step - onset))


def kl_explosion(onset: int) -> Schedule:
    """From `onset` on the policy runs away from the reference (drift doubles every ~3 steps, up to 1)."""
    base = Schedule().drift

    def drift(step: int) -> float:
        return base(step) if step < onset else min(1.0, base(onset) * 2 ** ((step - onset) / 3))

    return Schedule(drift=drift)


@dataclass
class GRPOStream:
    """A GRPO run's per-step veRL metric dicts and the batch behind each.

    Args:
        actor_config: veRL's actor config (an ``ActorConfig``), for the policy loss.
        schedule: How the toy policy moves.
        seed: Everything random derives from it.
        with_uid: Keep the prompt ids in the summarised batch, as veRL's
            legacy trainer does (its v1 trainer summarises a batch without them).
    """

    actor_config: Any
    schedule: Schedule = field(default_factory=healthy)
    seed: int = 0
    with_uid: bool = True
    last_batch: DataProto | None = None

    def __post_init__(self) -> None:
        self._gen = torch.Generator().manual_seed(self.seed)
        self._rng = np.random.default_rng(self.seed)

    def _normal(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=self._gen)

    def step(self, step: int) -> dict[str, Any]:
        """The dict veRL's trainer would pass to ``Tracking.log`` at `step`."""
        sched = self.schedule
        prompts = torch.randint(3, VOCAB, (PROMPTS, PROMPT_LEN), generator=self._gen).repeat_interleave(ROLLOUT_N, 0)
        uid = np.array([f"step{step}-prompt{i}" for i in range(PROMPTS)], dtype=object).repeat(ROLLOUT_N)

        ref_logits = LOGIT_SCALE * self._normal(N, RESPONSE_LEN, VOCAB)
        drift = sched.drift(step)
        own = LOGIT_SCALE * self._normal(N, RESPONSE_LEN, VOCAB)
        logits = sched.sharpness(step) * (math.sqrt(1.0 - drift**2) * ref_logits + drift * own)
        new_logits = logits + 0.05 * self._normal(N, RESPONSE_LEN, VOCAB)  # after one optimizer step
        probs = torch.softmax(logits, -1).reshape(-1, VOCAB)
        responses = torch.multinomial(probs, 1, generator=self._gen).reshape(N, RESPONSE_LEN)

        lengths = np.where(self._rng.random(N) < TRUNCATED_SHARE, RESPONSE_LEN,
                           self._rng.integers(RESPONSE_LEN // 3, RESPONSE_LEN, N))
        lengths = torch.from_numpy(lengths)
        response_mask = (torch.arange(RESPONSE_LEN)[None, :] < lengths[:, None]).float()
        attention_mask = torch.cat([torch.ones(N, PROMPT_LEN), response_mask], -1)
        correct = torch.from_numpy(self._rng.random(N) < sched.accuracy(step)).float()
        scores = torch.zeros(N, RESPONSE_LEN)
        scores[torch.arange(N), lengths - 1] = correct  # the reward manager scores the last token
        advantages, returns = core_algos.compute_grpo_outcome_advantage(scores, response_mask, uid)

        old_log_prob = logprobs_from_logits(logits, responses)
        log_prob = logprobs_from_logits(new_logits, responses)
        ref_log_prob = logprobs_from_logits(ref_logits, responses)
        entropy = core_algos.agg_loss(entropy_from_logits(logits), response_mask, "token-mean")

        metrics: dict[str, Any] = {"actor/entropy": entropy.item(), "perf/mfu/actor_infer": 0.31}
        metrics.update(reduce_metrics(self._actor_metrics(old_log_prob, log_prob, ref_log_prob, advantages,
                                                          response_mask)))

        batch = DataProto.from_dict(
            tensors={
                "prompts": prompts, "responses": responses, "attention_mask": attention_mask,
                "response_mask": response_mask, "token_level_scores": scores, "token_level_rewards": scores,
                "advantages": advantages, "returns": returns, "old_log_probs": old_log_prob,
                "ref_log_prob": ref_log_prob,
            },
            non_tensors={"uid": uid} if self.with_uid else {},
            meta_info={"global_token_num": attention_mask.sum(-1).int().tolist()},
        )
        self.last_batch = batch
        timing = {"gen": 11.0 + self._rng.random(), "old_log_prob": 1.5, "ref": 1.4, "adv": 0.05,
                  "update_actor": 4.0, "update_weights": 0.8}
        timing["step"] = sum(timing.values())
        metrics.update({"training/global_step": step, "training/epoch": 0})
        metrics.update(metric_utils.compute_data_metrics(batch=batch, use_critic=False))
        metrics.update(metric_utils.compute_timing_metrics(batch=batch, timing_raw=timing))
        metrics.update(metric_utils.compute_throughout_metrics(batch=batch, timing_raw=timing, n_gpus=8))
        return metrics

    def _actor_metrics(self, old_log_prob: torch.Tensor, log_prob: torch.Tensor, ref_log_prob: torch.Tensor,
                       advantages: torch.Tensor, response_mask: torch.Tensor) -> dict[str, list[float]]:
        """What the actor's update returns: per micro-batch values (two of them), before reduction."""
        out: dict[str, list[float]] = {}
        cfg = self.actor_config
        half = N // 2
        for part in (slice(0, half), slice(half, N)):
            mask = response_mask[part]
            pg_loss, pg_metrics = core_algos.compute_policy_loss_vanilla(
                old_log_prob[part], log_prob[part], advantages[part], mask, "token-mean", config=cfg)
            kld = core_algos.kl_penalty(log_prob[part], ref_log_prob[part], kl_penalty=cfg.kl_loss_type)
            kl_loss = core_algos.agg_loss(kld, mask, "token-mean")
            values = {
                **pg_metrics,
                "actor/pg_loss": pg_loss.item(),
                "actor/kl_loss": kl_loss.item(),
                "actor/kl_coef": cfg.kl_loss_coef,
                "actor/loss": pg_loss.item() + cfg.kl_loss_coef * kl_loss.item(),
                "actor/grad_norm": float(math.exp(self._rng.normal(math.log(0.4), 0.15))),
                "actor/lr": 1e-6,
            }
            for key, value in values.items():
                out.setdefault(key, []).append(value)
        return out
