"""Translate one RLlib ``train()`` result dict into rlwatch metrics, per module.

RLlib has already reduced everything in the result (across EnvRunners and
Learners), so this module only *looks values up*; it never re-aggregates.

New API stack (default since Ray 2.40)::

    learners/<module_id>/entropy                                  -> entropy
    learners/<module_id>/mean_kl_loss                             -> kl_divergence
    learners/<module_id>/total_loss                               -> loss
    learners/<module_id>/gradients_default_optimizer_global_norm  -> grad_norm
    learners/<module_id>/default_optimizer_learning_rate          -> learning_rate
    env_runners/episode_return_mean                               -> reward_mean
    env_runners/rlwatch/episode_returns   (our own item series)   -> rewards

Old API stack: ``info/learner/<policy_id>/learner_stats/{entropy,kl,...}``
and ``env_runners/episode_reward_mean`` (or the top-level key of older Rays).

Key names come from RLlib's own constants where RLlib exports them, with the
literal strings as fallbacks, so a renamed constant is picked up and a moved
one does not break the adapter.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REWARDS_GROUP = "rlwatch"
"""Top-level key our EnvRunner-side callback logs under (``env_runners/rlwatch/...``)."""
EPISODE_RETURNS = "episode_returns"
"""Item series of the returns of every episode completed in the iteration."""
MODULE_EPISODE_RETURNS = "module_episode_returns"
"""Per-module item series (multi-agent): ``rlwatch/module_episode_returns/<module_id>``."""


@dataclass(frozen=True)
class ResultKeys:
    """The RLlib result keys the adapter reads (resolved once, see `result_keys`)."""

    learners: str = "learners"
    env_runners: str = "env_runners"
    all_modules: str = "__all_modules__"
    entropy: str = "entropy"
    kl: str = "mean_kl_loss"
    policy_loss: str = "policy_loss"
    vf_loss: str = "vf_loss"
    total_loss: str = "total_loss"
    grad_norm: str = "gradients_default_optimizer_global_norm"
    learning_rate: str = "default_optimizer_learning_rate"
    vf_explained_var: str = "vf_explained_var"
    kl_coeff: str = "curr_kl_coeff"
    entropy_coeff: str = "curr_entropy_coeff"
    return_mean: str = "episode_return_mean"
    return_min: str = "episode_return_min"
    return_max: str = "episode_return_max"
    len_mean: str = "episode_len_mean"
    module_return_mean: str = "module_episode_returns_mean"
    env_steps_lifetime: str = "num_env_steps_sampled_lifetime"
    training_iteration: str = "training_iteration"
    # Old API stack.
    info: str = "info"
    learner_info: str = "learner"
    learner_stats: str = "learner_stats"


def _const(module: str, name: str, fallback: str) -> str:
    """RLlib's constant `module.name` if importable and a string, else `fallback`."""
    try:
        value = getattr(__import__(module, fromlist=[name]), name)
    except Exception:  # noqa: BLE001 - any import trouble means: use the literal
        return fallback
    return value if isinstance(value, str) else fallback


@functools.lru_cache(maxsize=1)
def result_keys() -> ResultKeys:
    """Resolve the result keys from the installed RLlib (cached; imports ray lazily)."""
    d = ResultKeys()
    metrics = "ray.rllib.utils.metrics"
    learner = "ray.rllib.core.learner.learner"
    default_optimizer = _const(learner, "DEFAULT_OPTIMIZER", "default_optimizer")
    lr_key = _const(learner, "LR_KEY", "learning_rate")
    total_loss = d.total_loss
    try:
        from ray.rllib.core.learner.learner import Learner

        if isinstance(Learner.TOTAL_LOSS_KEY, str):
            total_loss = Learner.TOTAL_LOSS_KEY
    except Exception:  # noqa: BLE001 - fall back to the literal
        pass
    return ResultKeys(
        learners=_const(metrics, "LEARNER_RESULTS", d.learners),
        env_runners=_const(metrics, "ENV_RUNNER_RESULTS", d.env_runners),
        all_modules=_const(metrics, "ALL_MODULES", d.all_modules),
        entropy=_const(learner, "ENTROPY_KEY", d.entropy),
        kl=_const("ray.rllib.algorithms.ppo.ppo", "LEARNER_RESULTS_KL_KEY", d.kl),
        policy_loss=_const(learner, "POLICY_LOSS_KEY", d.policy_loss),
        vf_loss=_const(learner, "VF_LOSS_KEY", d.vf_loss),
        total_loss=total_loss,
        # Learner logs f"gradients_{optimizer_name}_global_norm" and
        # f"{optimizer_name}_{LR_KEY}" per module.
        grad_norm=f"gradients_{default_optimizer}_global_norm",
        learning_rate=f"{default_optimizer}_{lr_key}",
        vf_explained_var=_const(
            "ray.rllib.algorithms.ppo.ppo", "LEARNER_RESULTS_VF_EXPLAINED_VAR_KEY", d.vf_explained_var
        ),
        kl_coeff=_const("ray.rllib.algorithms.ppo.ppo", "LEARNER_RESULTS_CURR_KL_COEFF_KEY", d.kl_coeff),
        entropy_coeff=_const(
            "ray.rllib.algorithms.ppo.ppo", "LEARNER_RESULTS_CURR_ENTROPY_COEFF_KEY", d.entropy_coeff
        ),
        return_mean=_const(metrics, "EPISODE_RETURN_MEAN", d.return_mean),
        return_min=_const(metrics, "EPISODE_RETURN_MIN", d.return_min),
        return_max=_const(metrics, "EPISODE_RETURN_MAX", d.return_max),
        len_mean=_const(metrics, "EPISODE_LEN_MEAN", d.len_mean),
        module_return_mean=_const(metrics, "EPISODE_MODULE_RETURN_MEAN", d.module_return_mean),
        env_steps_lifetime=_const(metrics, "NUM_ENV_STEPS_SAMPLED_LIFETIME", d.env_steps_lifetime),
        learner_info=_const("ray.rllib.utils.metrics.learner_info", "LEARNER_INFO", d.learner_info),
        learner_stats=_const(metrics, "LEARNER_STATS_KEY", d.learner_stats),
    )


def _num(value: Any) -> float | None:
    """A plain float for numbers (NaN/Inf kept: they are signals), else None."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _finite(value: Any) -> float | None:
    """Like `_num` but drops NaN: for reward means, NaN only means "no episode yet"."""
    out = _num(value)
    return None if out is None or math.isnan(out) else out


def _returns(value: Any) -> list[float] | None:
    """The item series of episode returns as floats, or None when empty/absent."""
    if not isinstance(value, (list, tuple)) or not value:
        return None
    out = [v for v in (_num(x) for x in value) if v is not None]
    return out or None


def _put(out: dict[str, Any], name: str, value: float | None) -> None:
    if value is not None:
        out[name] = value


def _first_matching(stats: Mapping[str, Any], prefix: str, suffix: str) -> float | None:
    """First numeric value whose key looks like ``prefix*suffix`` (non-default optimizers)."""
    for key in sorted(stats):
        if key.startswith(prefix) and key.endswith(suffix):
            value = _num(stats[key])
            if value is not None:
                return value
    return None


def learner_module_ids(result: Mapping[str, Any]) -> list[str]:
    """Module ids with learner results (new stack) or policy ids (old stack), sorted."""
    k = result_keys()
    learners = result.get(k.learners)
    if isinstance(learners, Mapping):
        ids = [str(m) for m, v in learners.items() if m != k.all_modules and isinstance(v, Mapping)]
        if ids:
            return sorted(ids)
    old = _old_stack_learner(result)
    return sorted(str(p) for p in old) if old else []


def _old_stack_learner(result: Mapping[str, Any]) -> Mapping[str, Any]:
    k = result_keys()
    info = result.get(k.info)
    learner = info.get(k.learner_info) if isinstance(info, Mapping) else None
    if not isinstance(learner, Mapping):
        return {}
    return {p: v for p, v in learner.items() if isinstance(v, Mapping) and k.learner_stats in v}


def _module_learner_metrics(result: Mapping[str, Any], module_id: str) -> dict[str, Any]:
    """Learner-side metrics of one module, new stack first, then old stack."""
    k = result_keys()
    out: dict[str, Any] = {}
    learners = result.get(k.learners)
    stats = learners.get(module_id) if isinstance(learners, Mapping) else None
    if isinstance(stats, Mapping):
        _put(out, "entropy", _num(stats.get(k.entropy)))
        _put(out, "kl_divergence", _num(stats.get(k.kl)))
        _put(out, "loss", _num(stats.get(k.total_loss)))
        grad = _num(stats.get(k.grad_norm))
        _put(out, "grad_norm", grad if grad is not None else _first_matching(stats, "gradients_", "_global_norm"))
        lr = _num(stats.get(k.learning_rate))
        _put(out, "learning_rate", lr if lr is not None else _first_matching(stats, "", "_learning_rate"))
        _put(out, "policy_loss", _num(stats.get(k.policy_loss)))
        _put(out, "vf_loss", _num(stats.get(k.vf_loss)))
        _put(out, "vf_explained_var", _num(stats.get(k.vf_explained_var)))
        _put(out, "kl_coeff", _num(stats.get(k.kl_coeff)))
        _put(out, "entropy_coeff", _num(stats.get(k.entropy_coeff)))
        return out
    old = _old_stack_learner(result).get(module_id)
    if isinstance(old, Mapping):
        ls = old[k.learner_stats]
        _put(out, "entropy", _num(ls.get("entropy")))
        _put(out, "kl_divergence", _num(ls.get("kl")))
        _put(out, "loss", _num(ls.get("total_loss")))
        _put(out, "grad_norm", _num(ls.get("grad_gnorm")))
        _put(out, "learning_rate", _num(ls.get("cur_lr")))
        _put(out, "policy_loss", _num(ls.get("policy_loss")))
        _put(out, "vf_loss", _num(ls.get("vf_loss")))
        _put(out, "vf_explained_var", _num(ls.get("vf_explained_var")))
        _put(out, "kl_coeff", _num(ls.get("cur_kl_coeff")))
        _put(out, "entropy_coeff", _num(ls.get("entropy_coeff")))
    return out


def episode_metrics(result: Mapping[str, Any], module_id: str | None = None) -> dict[str, Any]:
    """Episode metrics: whole-env ones when `module_id` is None, else that module's."""
    k = result_keys()
    out: dict[str, Any] = {}
    env = result.get(k.env_runners)
    env = env if isinstance(env, Mapping) else {}
    ours = env.get(REWARDS_GROUP)
    ours = ours if isinstance(ours, Mapping) else {}
    if module_id is None:
        mean = _finite(env.get(k.return_mean))
        if mean is None:  # old API stack, then Rays that kept it at the top level
            mean = _finite(env.get("episode_reward_mean", result.get("episode_reward_mean")))
        _put(out, "reward_mean", mean)
        _put(out, "episode_return_min", _finite(env.get(k.return_min, env.get("episode_reward_min"))))
        _put(out, "episode_return_max", _finite(env.get(k.return_max, env.get("episode_reward_max"))))
        _put(out, "episode_len_mean", _finite(env.get(k.len_mean)))
        rewards = _returns(ours.get(EPISODE_RETURNS))
    else:
        mean = None
        # The multi-agent EnvRunner uses the constant ("module_episode_returns_mean"),
        # the single-agent one a literal without the "s"; the old stack "policy_reward_mean".
        for key in (k.module_return_mean, "module_episode_return_mean", "policy_reward_mean"):
            per_module = env.get(key)
            if isinstance(per_module, Mapping):
                mean = _finite(per_module.get(module_id))
                if mean is not None:
                    break
        _put(out, "reward_mean", mean)
        by_module = ours.get(MODULE_EPISODE_RETURNS)
        rewards = _returns(by_module.get(module_id)) if isinstance(by_module, Mapping) else None
    if rewards is not None:
        out["rewards"] = rewards
    return out


def env_steps_lifetime(result: Mapping[str, Any]) -> float | None:
    """Environment steps sampled so far (RLlib's lifetime counter), or None."""
    k = result_keys()
    env = result.get(k.env_runners)
    lifetime = _num(env.get(k.env_steps_lifetime)) if isinstance(env, Mapping) else None
    return lifetime if lifetime is not None else _num(result.get(k.env_steps_lifetime))


def step_of(result: Mapping[str, Any], default: int = 0) -> int:
    """The rlwatch step of a result: RLlib's ``training_iteration`` (1, 2, ...)."""
    value = _num(result.get(result_keys().training_iteration))
    return int(value) if value is not None and math.isfinite(value) else default


def metrics_from_result(result: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Map one train() result to ``{module_id: {metric: value}}``.

    A single-module run yields exactly one entry, with the whole-env episode
    metrics; a multi-module (multi-agent) run yields one entry per module with
    that module's own learner metrics and returns. Values are floats (NaN/Inf
    kept for learner metrics), except ``rewards``: a list of episode returns.
    Metrics the result does not hold are absent, never invented.
    """
    modules = learner_module_ids(result)
    lifetime = env_steps_lifetime(result)
    single = len(modules) <= 1
    out: dict[str, dict[str, Any]] = {}
    for module_id in modules or ["default_policy"]:
        row = _module_learner_metrics(result, module_id)
        row.update(episode_metrics(result, None if single else module_id))
        _put(row, "num_env_steps_sampled_lifetime", lifetime)
        out[module_id] = row
    return out
