"""Key maps of Hugging Face TRL and transformers trainers.

TRL trainers do not all log the same quantity under the same name, so each
trainer family has its own map, chosen by the trainer class (live) or by the
keys of the log (offline import):

* ``trl-grpo``: GRPOTrainer and the trl 1.x RLOOTrainer (and trainers built on
  them): per-token ``entropy`` and ``kl``, group statistics of the reward.
* ``trl-ppo``: the ``objective/*``, ``policy/*``, ``loss/*`` and ``val/*``
  keys of PPOTrainer (and RLOOTrainer of trl 0.x). ``objective/entropy`` there
  is the negative log-probability of the sampled tokens summed over the whole
  completion (a sequence-level quantity, tens to hundreds of nats, noisy and
  length-dependent), while ``policy/entropy_avg`` is the per-token entropy of
  the policy: only the latter is a policy entropy in rlwatch's sense.
* ``trl-online-dpo``: Online DPO, whose ``objective/entropy`` and
  ``objective/kl`` are sequence sums as in PPO; there is no per-token entropy.
* ``trl-offline``: DPO, KTO, SFT, reward-model and plain transformers
  trainers. Their ``entropy`` is the model's entropy on a fixed dataset, which
  falls as the model fits it; it is stored as ``supervised_entropy`` where the
  entropy_collapse detector (about a sampling policy that stops exploring)
  does not read it.
"""

from __future__ import annotations

from rlwatch.keymaps.base import Key, KeyMap

_TRAINER_KEYS = (
    Key("loss", "loss", "training loss of the logging window (transformers.Trainer)"),
    Key("grad_norm", "grad_norm", "global gradient norm before clipping (transformers.Trainer)"),
    Key("learning_rate", "learning_rate", "learning rate at the step (transformers.Trainer)"),
)

_DROP_PREFIXES = ("eval_", "test_", "predict_", "init_mem_", "train_mem_", "before_init_mem_")
_DROP_KEYS = frozenset(
    {
        "train_runtime",
        "train_samples_per_second",
        "train_steps_per_second",
        "train_tokens_per_second",
        "total_flos",
        "train_loss",
    }
)
_BOOKKEEPING = frozenset({"epoch", "num_input_tokens_seen", "num_tokens", "step_time"})

SUPERVISED_ENTROPY = "supervised_entropy"
"""Where ``entropy`` of offline trainers goes (see the module docstring)."""

SEQUENCE_ENTROPY = "sequence_entropy"
"""Where sequence-summed entropy estimates go (PPO / Online DPO ``objective/entropy``)."""

TRL_GRPO = KeyMap(
    name="trl-grpo",
    framework="trl",
    description=(
        "GRPOTrainer and the trl 1.x RLOOTrainer: per-token policy entropy and KL to the reference, "
        "the reward's group statistics, completion lengths and the share of clipped tokens."
    ),
    keys=(
        Key("entropy", "entropy", "mean per-token entropy of the policy over completion tokens"),
        Key("kl", "kl_divergence", "mean per-token KL to the reference model (logged only when beta > 0)"),
        Key("reward", "reward_mean", "mean of the combined (weighted) reward over the batch's completions"),
        Key("reward_std", "reward_std", "standard deviation of the combined reward"),
        Key("frac_reward_zero_std", "frac_reward_zero_std",
            "share of prompt groups whose completions all got the same reward (no learning signal)"),
        Key("completions/mean_length", "completion_length", "mean completion length in tokens"),
        Key("completions/clipped_ratio", "completion_clipped_ratio",
            "share of completions cut at max_completion_length (no EOS)"),
        Key("clip_ratio/region_mean", "clip_fraction", "share of tokens whose probability ratio was clipped"),
        Key("cispo_clip_ratio", "clip_fraction", "share of tokens clipped by the CISPO loss"),
        *_TRAINER_KEYS,
    ),
    drop_prefixes=_DROP_PREFIXES,
    drop_keys=_DROP_KEYS,
    bookkeeping=_BOOKKEEPING,
    signature=("frac_reward_zero_std", "completions/mean_length", "completions/clipped_ratio", "reward_std",
               "clip_ratio/region_mean", "kl", "entropy", "reward"),
)

TRL_PPO = KeyMap(
    name="trl-ppo",
    framework="trl",
    description=(
        "PPOTrainer (and RLOOTrainer of trl 0.x): objective/*, policy/*, loss/* and val/* keys. "
        "Per-token policy entropy comes from policy/entropy_avg; objective/entropy is a sequence sum."
    ),
    keys=(
        Key("policy/entropy_avg", "entropy", "mean per-token entropy of the policy's distribution"),
        Key("objective/entropy", SEQUENCE_ENTROPY,
            "negative log-probability of the sampled tokens summed over the completion (sequence level, "
            "length-dependent): not a per-token entropy, kept out of entropy_collapse"),
        Key("objective/kl", "kl_divergence", "KL to the reference model summed over the completion"),
        Key("objective/scores", "reward_mean", "mean reward-model score of the completions"),
        Key("policy/clipfrac_avg", "clip_fraction", "share of tokens whose policy ratio was clipped"),
        Key("loss/policy_avg", "loss", "mean policy-gradient loss"),
        Key("policy/approxkl_avg", "approx_kl",
            "approximate KL between the policy before and after the update (not to the reference)"),
        Key("lr", "learning_rate", "learning rate of the policy optimiser (trl 0.x PPO spelling)"),
        *_TRAINER_KEYS,
    ),
    drop_prefixes=_DROP_PREFIXES,
    drop_keys=_DROP_KEYS,
    bookkeeping=frozenset({"epoch", "episode", "eps", "num_input_tokens_seen"}),
    signature=("policy/entropy_avg", "policy/approxkl_avg", "policy/clipfrac_avg", "loss/policy_avg",
               "loss/value_avg", "val/ratio", "objective/rlhf_reward", "objective/entropy"),
)

TRL_ONLINE_DPO = KeyMap(
    name="trl-online-dpo",
    framework="trl",
    description=(
        "OnlineDPOTrainer: sequence-summed entropy and KL (objective/*), reward-function scores, and DPO's "
        "implicit rewards (rewards/*). There is no per-token entropy."
    ),
    keys=(
        Key("objective/kl", "kl_divergence", "KL to the reference model summed over the completion"),
        Key("objective/entropy", SEQUENCE_ENTROPY,
            "negative log-probability of the sampled tokens summed over the completion (sequence level)"),
        Key("objective/scores", "reward_mean", "mean score of the reward function(s) over the completions"),
        *_TRAINER_KEYS,
    ),
    drop_prefixes=_DROP_PREFIXES,
    drop_keys=_DROP_KEYS,
    bookkeeping=_BOOKKEEPING | {"beta"},
    signature=("objective/scores_margin", "objective/non_score_reward", "val/contain_eos_token",
               "objective/kl", "objective/entropy", "rewards/margins"),
)

TRL_OFFLINE = KeyMap(
    name="trl-offline",
    framework="trl",
    description=(
        "DPO, KTO, SFT, reward-model and plain transformers.Trainer runs: no sampling policy. Their entropy "
        "is measured on the training data and falls as the model fits it, so it is stored as "
        "supervised_entropy; DPO's implicit rewards (rewards/*) are kept as extras."
    ),
    keys=(
        Key("entropy", SUPERVISED_ENTROPY, "entropy of the model on the training data (falls while it learns)"),
        *_TRAINER_KEYS,
    ),
    drop_prefixes=_DROP_PREFIXES,
    drop_keys=_DROP_KEYS,
    bookkeeping=_BOOKKEEPING,
    signature=("rewards/chosen", "rewards/rejected", "rewards/accuracies", "logps/chosen", "logps/rejected",
               "mean_token_accuracy"),
)

TRAINER_FAMILIES: dict[str, KeyMap] = {
    "GRPOTrainer": TRL_GRPO,
    "RLOOTrainer": TRL_GRPO,
    "PPOTrainer": TRL_PPO,
    "PPOv2Trainer": TRL_PPO,
    "OnlineDPOTrainer": TRL_ONLINE_DPO,
    "XPOTrainer": TRL_ONLINE_DPO,
    "NashMDTrainer": TRL_ONLINE_DPO,
}
"""Trainer class name -> key map, for TRL trainers (and their subclasses, matched along the MRO).

A TRL trainer missing here is matched by the keys it logs (`rlwatch.keymaps.detect`)."""


KEYMAPS: tuple[KeyMap, ...] = (TRL_GRPO, TRL_PPO, TRL_ONLINE_DPO, TRL_OFFLINE)
"""Every TRL key map, in the order format detection tries them."""
