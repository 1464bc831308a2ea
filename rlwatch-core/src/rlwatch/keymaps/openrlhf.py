"""Key map of OpenRLHF (PyPI ``openrlhf``): the status dict of its PPO-family trainers.

OpenRLHF's Ray PPO trainer (PPO with a critic, and the critic-free
REINFORCE++ / RLOO / GRPO / Dr. GRPO estimators of the same trainer)
averages one status dict per global step and hands it to its loggers:

* Weights & Biases and TensorBoard get every key under ``train/``
  (``train/policy_loss``) with ``train/global_step`` as the step, and
  evaluation under ``eval/``; the importer reads that namespace off the
  keys, so this table lists the bare names.
* The console gets the same dict in a ``Global step N: {...}`` line.

The dict merges the actor's own values (``policy_loss``, ``actor_lr``,
``entropy_loss``...) with the per-sample ``experience.info`` fields averaged
over the batch (``reward``, ``kl``, ``response_length``...), and, with a
critic, the critic's (``critic_loss``, ``values``, ``critic_lr``).
Per-token quantities are means over response tokens.
"""

from __future__ import annotations

from rlwatch.keymaps.base import Key, KeyMap

OPENRLHF_PPO = KeyMap(
    name="openrlhf",
    framework="openrlhf",
    description=(
        "OpenRLHF's PPO-family trainers (PPO, REINFORCE++, RLOO, GRPO, Dr. GRPO; Ray or single process): the "
        "status dict logged once per global step, read from W&B or TensorBoard (keys under train/) or from the "
        "console's 'Global step N: {...}' lines."
    ),
    keys=(
        Key("entropy_loss", "entropy",
            "mean per-token entropy of the policy over response tokens, logged when --entropy_loss_coef is set "
            "(despite the name it is the entropy itself, not the coefficient-weighted loss term)"),
        Key("kl", "kl_divergence",
            "mean per-token KL estimate (--kl_estimator k1/k2/k3) between the policy and the reference model, "
            "weighted by response length"),
        Key("reward", "reward_mean",
            "mean reward of the batch's samples (reward model or remote reward function), before KL shaping"),
        Key("group_reward_std", "reward_std",
            "mean over prompts of the standard deviation of the rewards of one prompt's samples "
            "(logged when --n_samples_per_prompt > 1)"),
        Key("policy_loss", "loss", "PPO clipped policy-gradient loss of the actor, mean over the update's batches"),
        Key("actor_lr", "learning_rate", "learning rate of the actor's optimizer"),
        Key("ppo_clip_ratio", "clip_fraction",
            "share of response tokens whose probability ratio was clipped by the PPO objective"),
        Key("response_length", "completion_length", "mean response length in tokens"),
        Key("response_clip_ratio", "completion_clipped_ratio",
            "share of responses cut at the generation limit (--generate_max_len) without finishing"),
        Key("ppo_kl", "approx_kl",
            "approximate KL between the policy before and after the update (not to the reference model)"),
        Key("return", "return", "mean return (reward plus KL penalty, discounted) of the samples"),
        Key("score", "score", "mean 0-1 score of a remote reward function (used by dynamic sampling)"),
        Key("total_length", "total_length", "mean prompt plus response length in tokens"),
        Key("critic_loss", "critic_loss", "value-function loss of the critic (PPO with a critic only)"),
        Key("values", "values", "mean value estimate of the critic over response tokens"),
        Key("vllm_kl", "vllm_kl",
            "KL between the vLLM sampler's and the actor's token probabilities (importance-sampling correction)"),
    ),
    drop_prefixes=("eval_", "eval/", "test_"),
    drop_keys=frozenset({"global_step", "generated_samples"}),
    signature=("policy_loss", "actor_lr", "ppo_clip_ratio", "ppo_kl", "response_length", "total_length",
               "return", "entropy_loss", "group_reward_std", "response_clip_ratio", "critic_loss"),
)

KEYMAPS: tuple[KeyMap, ...] = (OPENRLHF_PPO,)
"""Every OpenRLHF key map, in the order format detection tries them."""
