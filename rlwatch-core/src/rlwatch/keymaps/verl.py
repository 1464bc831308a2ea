"""Key maps of veRL (PyPI ``verl``): the metric dicts its trainers hand to ``Tracking.log``.

veRL's PPO-family trainers (``RayPPOTrainer``, the v1 ``PPOTrainer``s: GRPO,
PPO, RLOO, REINFORCE++, DAPO, ...) log one dict per training step, built on
the driver from what the workers return (already reduced across data-parallel
ranks) and from ``verl.trainer.ppo.metric_utils``. Which quantity a key holds
depends on the trainer's configuration, so there are three maps:

* ``verl``: PPO-family runs whose actor aggregates its loss per token
  (``actor.loss_agg_mode`` ``token-mean``, the default, or
  ``seq-mean-token-mean``). ``actor/entropy`` and ``actor/kl_loss`` are then
  per-token means, comparable across steps whatever the response lengths.
* ``verl-seq-sum``: the same runs with a summing ``loss_agg_mode``
  (``token-sum``, ``seq-mean-token-sum``, ``seq-mean-token-sum-norm``: Dr. GRPO
  style). veRL aggregates the logged entropy and KL loss the same way as the
  loss, so they become sums over each response's tokens: they grow and shrink
  with the response length. The entropy is then stored as
  ``sequence_entropy``, out of reach of entropy_collapse (a shorter answer
  would read as a collapse); the KL is taken from the per-token in-reward
  penalty when it is logged.
* ``verl-sft``: veRL's SFT trainer (``train/*`` keys).

What is deliberately not mapped (each documented below, in the map):

* ``actor/ppo_kl`` is the KL between the policy before and after one update
  (the step size), not the distance to the reference model: it is stored as
  ``approx_kl`` (the name TRL's PPO map uses for the same quantity), where
  kl_explosion does not read it.
* ``critic/rewards/mean`` is the task score minus the in-reward KL penalty
  (``algorithm.use_kl_in_reward``); ``reward_mean`` comes from the raw score,
  ``critic/score/mean``, so a growing KL penalty is not read as a reward
  collapse.
* ``advantage_std`` is not derived from ``critic/advantages/max|min``: a range
  bounds a standard deviation but does not estimate it. The live adapter
  passes the per-response advantages instead, and rlwatch computes their std.

Every other numeric key (``critic/values/*``, ``critic/returns/*``,
``prompt_length/*``, ``rollout_corr/*``, ``training/off_policy/*``, ...) is
kept as an extra metric under its own name. Timing, throughput and memory
(``timing_s/``, ``timing_per_token_ms/``, ``perf/``) and validation results
(``val-core/``, ``val-aux/``, ``val/``) are dropped.
"""

from __future__ import annotations

from rlwatch.keymaps.base import Key, KeyMap

SEQUENCE_ENTROPY = "sequence_entropy"
"""Where a response-length-scaled entropy goes (the name TRL's maps use for theirs)."""

APPROX_KL = "approx_kl"
"""Where the old-to-new policy KL of one update goes (the name TRL's PPO map uses)."""

PER_TOKEN_LOSS_AGG_MODES = frozenset({"token-mean", "seq-mean-token-mean"})
"""``actor.loss_agg_mode`` values under which veRL's logged entropy and KL loss are per-token means."""

_DROP_PREFIXES = (
    "timing_s/",
    "timing_per_token_ms/",
    "perf/",
    "actor/perf/",
    "critic/perf/",
    "val-core/",
    "val-aux/",
    "val/",
)
_DROP_KEYS = frozenset({"training/global_step"})  # the step itself
_BOOKKEEPING = frozenset({"training/epoch", "actor/kl_coef", "actor/reward_kl_penalty_coeff", "critic/kl_coeff"})
_SIGNATURE = (
    "critic/score/mean",
    "critic/rewards/mean",
    "critic/advantages/mean",
    "response_length/mean",
    "response_length/clip_ratio",
    "actor/pg_clipfrac",
    "actor/ppo_kl",
    "actor/pg_loss",
)

# Keys whose meaning does not depend on loss_agg_mode.
_IN_REWARD_KL = (
    Key("actor/reward_kl_penalty", "kl_divergence",
        "KL of the rollout policy to the reference model (estimator algorithm.kl_penalty), averaged over each "
        "response's tokens and then over the batch; logged when algorithm.use_kl_in_reward (PPO recipes)"),
    Key("critic/kl", "kl_divergence", "older veRL name of actor/reward_kl_penalty"),
)
_UPDATE_KEYS = (
    Key("actor/ppo_kl", APPROX_KL,
        "mean of (old - new log-prob) over response tokens: the KL between the policy before and after the "
        "update (its step size), not the KL to the reference; kept out of kl_explosion"),
    Key("actor/pg_clipfrac", "clip_fraction",
        "share of response tokens at which the PPO ratio clip was active (the upper clip for positive "
        "advantages, the lower one for negative)"),
    Key("actor/pg_clipfrac_lower", "actor/pg_clipfrac_lower",
        "share of tokens with negative advantage cut by dual-clip PPO's bound clip_ratio_c; kept under its name"),
    Key("actor/pg_loss", "loss",
        "clipped policy-gradient loss of the actor, mean over the step's micro-batches (logged by every veRL "
        "version; a NaN here is what loss_nan catches)"),
    Key("actor/loss", "actor/loss",
        "the actor's whole objective (policy-gradient loss + kl_loss_coef x KL loss - entropy_coeff x "
        "entropy), logged by veRL's engine workers; kept under its name so that loss means the same in "
        "every veRL version"),
    Key("actor/grad_norm", "grad_norm", "global norm of the actor's gradients before clipping, mean over the "
        "step's optimizer steps"),
    Key("actor/lr", "learning_rate", "actor learning rate at the step"),
)
_DATA_KEYS = (
    Key("critic/score/mean", "reward_mean",
        "mean sequence-level task score (the reward function's or reward model's output, summed over the "
        "response's tokens) over the batch's non-aborted responses, before any KL penalty"),
    Key("critic/rewards/mean", "critic/rewards/mean",
        "the score minus the in-reward KL penalty (equal to the score without use_kl_in_reward); kept under its "
        "name: a growing penalty is not a reward collapse"),
    Key("critic/advantages/max", "critic/advantages/max",
        "largest advantage over the batch's response tokens; kept under its name (a range does not give a std: "
        "advantage_std comes from the per-response advantages the live adapter passes)"),
    Key("critic/advantages/min", "critic/advantages/min", "smallest advantage over the batch's response tokens"),
    Key("response_length/mean", "completion_length",
        "mean response length in tokens over the batch (aborted responses count with length 0)"),
    Key("response_length/clip_ratio", "completion_clipped_ratio",
        "share of responses that reached data.max_response_length, i.e. were cut before they ended"),
    Key("critic/vf_loss", "critic/vf_loss",
        "value-function loss of the critic (PPO with GAE); kept under its name: loss is the actor's"),
)

VERL = KeyMap(
    name="verl",
    framework="verl",
    description=(
        "veRL PPO-family trainers (RayPPOTrainer and the v1 PPOTrainers: GRPO, PPO, RLOO, REINFORCE++, DAPO...) "
        "with a per-token actor.loss_agg_mode (token-mean, the default, or seq-mean-token-mean): the entropy "
        "and the KL loss are per-token means."
    ),
    keys=(
        Key("actor/entropy", "entropy",
            "mean per-token entropy of the policy over the batch's response tokens, computed when the old "
            "log-probs are recomputed, before the update"),
        Key("actor/entropy_loss", "entropy",
            "the entropy term of the actor loss: the same per-token entropy measured during the update (logged "
            "when the entropy is computed for the loss); used only without actor/entropy"),
        Key("actor/kl_loss", "kl_divergence",
            "KL of the policy to the reference model (estimator actor.kl_loss_type, low_var_kl by default) "
            "over response tokens, before kl_loss_coef; logged when actor.use_kl_loss (GRPO recipes)"),
        *_IN_REWARD_KL,
        *_UPDATE_KEYS,
        *_DATA_KEYS,
    ),
    drop_prefixes=_DROP_PREFIXES,
    drop_keys=_DROP_KEYS,
    bookkeeping=_BOOKKEEPING,
    signature=_SIGNATURE,
)

VERL_SEQUENCE_SUM = KeyMap(
    name="verl-seq-sum",
    framework="verl",
    description=(
        "The same trainers with a summing actor.loss_agg_mode (token-sum, seq-mean-token-sum, "
        "seq-mean-token-sum-norm): the logged entropy and KL loss are sums over each response's tokens and "
        "scale with its length. The entropy is stored as sequence_entropy (out of entropy_collapse); the KL "
        "comes from the per-token in-reward penalty when it is logged."
    ),
    keys=(
        Key("actor/entropy", SEQUENCE_ENTROPY,
            "policy entropy summed over each response's tokens (loss_agg_mode sums): length-dependent, kept out "
            "of entropy_collapse"),
        Key("actor/entropy_loss", SEQUENCE_ENTROPY, "the entropy term of the actor loss, summed the same way"),
        *_IN_REWARD_KL,
        Key("actor/kl_loss", "kl_divergence",
            "KL of the policy to the reference model summed over each response's tokens (as TRL's sequence-level "
            "KL is): a runaway still shows as one, a change of response length moves it too"),
        *_UPDATE_KEYS,
        *_DATA_KEYS,
    ),
    drop_prefixes=_DROP_PREFIXES,
    drop_keys=_DROP_KEYS,
    bookkeeping=_BOOKKEEPING,
    # Never chosen by format detection: the aggregation mode is in the run's config, not in its keys.
    signature=(),
)

VERL_SFT = KeyMap(
    name="verl-sft",
    framework="verl",
    description="veRL's SFT trainer: train/* keys of a supervised fine-tune (no sampling policy, no reward).",
    keys=(
        Key("train/loss", "loss", "supervised (cross-entropy) training loss of the step"),
        Key("train/grad_norm", "grad_norm", "global gradient norm before clipping"),
        Key("train/lr", "learning_rate", "learning rate at the step"),
    ),
    drop_prefixes=("perf/", "val/"),
    drop_keys=frozenset({"train/mfu"}),
    bookkeeping=frozenset({"train/global_tokens", "train/total_tokens(B)"}),
    signature=("train/loss", "train/lr", "train/global_tokens", "train/total_tokens(B)"),
)

KEYMAPS: tuple[KeyMap, ...] = (VERL, VERL_SEQUENCE_SUM, VERL_SFT)
"""Every veRL key map, in the order format detection tries them."""


def for_loss_agg_mode(mode: str | None) -> KeyMap:
    """The PPO-family map for an ``actor.loss_agg_mode`` (None or unknown: the per-token map, veRL's default)."""
    if mode is None or mode in PER_TOKEN_LOSS_AGG_MODES or "sum" not in mode:
        return VERL
    return VERL_SEQUENCE_SUM
