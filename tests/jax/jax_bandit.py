"""A real, tiny RL training run in JAX: a softmax policy on a multi-armed bandit.

REINFORCE with a batch-mean baseline, trained by plain gradient descent with
`jax.grad`, the whole update jitted. The metrics are the ones an RL monitor
cares about (loss, entropy, KL to the previous policy, rewards, advantage
spread, gradient norm, learning rate). `nan_at` poisons the loss at one
known step, as a diverging run would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

N_ARMS = 8
BATCH = 64
ARM_MEANS = jnp.linspace(0.0, 1.0, N_ARMS)  # arm i pays i/(N-1) on average
NOISE = 0.5
LEARNING_RATE = 0.05

Params = jax.Array  # the policy's logits, shape (N_ARMS,)
Metrics = dict[str, jax.Array]


def init_params() -> Params:
    """Uniform policy: every arm equally likely (entropy log N)."""
    return jnp.zeros(N_ARMS, jnp.float32)


def _entropy(logits: jax.Array) -> jax.Array:
    logp = jax.nn.log_softmax(logits)
    return -jnp.sum(jnp.exp(logp) * logp)


def _kl(new_logits: jax.Array, old_logits: jax.Array) -> jax.Array:
    new_logp = jax.nn.log_softmax(new_logits)
    old_logp = jax.nn.log_softmax(old_logits)
    return jnp.sum(jnp.exp(new_logp) * (new_logp - old_logp))


def rollout(params: Params, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Sample a batch of arms from the policy and their noisy rewards."""
    k_act, k_noise = jax.random.split(key)
    actions = jax.random.categorical(k_act, params, shape=(BATCH,))
    rewards = ARM_MEANS[actions] + NOISE * jax.random.normal(k_noise, (BATCH,))
    return actions, rewards


def policy_loss(params: Params, actions: jax.Array, advantages: jax.Array) -> jax.Array:
    """REINFORCE surrogate: -E[A * log pi(a)]."""
    logp = jax.nn.log_softmax(params)[actions]
    return -jnp.mean(advantages * logp)


def update(params: Params, key: jax.Array, step: jax.Array, nan_at: jax.Array | int = -1) -> tuple[Params, Metrics]:
    """One training step; returns the new parameters and this step's metrics.

    Args:
        params: Current logits.
        key: The run's PRNG key; this step's rollout uses ``fold_in(key, step)``.
        step: The step number (traced).
        nan_at: Step at which the loss becomes NaN (-1: never); traced, so
            one compilation serves every value.
    """
    actions, rewards = rollout(params, jax.random.fold_in(key, step))
    advantages = rewards - rewards.mean()
    loss, grads = jax.value_and_grad(policy_loss)(params, actions, advantages)
    poison = jnp.where(step == nan_at, jnp.nan, 0.0)
    loss, grads = loss + poison, grads + poison
    new_params = params - LEARNING_RATE * grads
    metrics = {
        "loss": loss,
        "entropy": _entropy(params),
        "kl_divergence": _kl(new_params, params),
        "reward_mean": rewards.mean(),
        "reward_std": rewards.std(),
        "advantage_std": advantages.std(),
        "grad_norm": jnp.linalg.norm(grads),
        "learning_rate": jnp.float32(LEARNING_RATE),
        "rewards": rewards,
    }
    return new_params, metrics


def train(step_fn: Callable[..., Any], steps: int, seed: int = 0, **kwargs: Any) -> Params:
    """Drive a jitted ``step_fn(params, key, step, **kwargs) -> params`` (or ``(params, metrics)``).

    The loop does no eager JAX work of its own (no per-step key splitting on
    the host), so it dispatches as a real training loop does.
    """
    params = init_params()
    key = jax.random.PRNGKey(seed)
    for i in range(steps):
        out = step_fn(params, key, i, **kwargs)
        params = out[0] if isinstance(out, tuple) else out
    return params


plain_update = jax.jit(update)
"""`update` jitted without rlwatch: the reference every watched run is compared with."""


def best_arm_probability(params: Params) -> float:
    """How much the policy learned: probability of the best arm (1/N at start)."""
    return float(jax.nn.softmax(params)[-1])
