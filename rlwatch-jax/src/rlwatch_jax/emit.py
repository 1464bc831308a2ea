"""Stage one host callback that survives jit, grad, vmap, scan and remat.

A bare `jax.debug.callback` under `jax.vmap` is unrolled into one callback per
batch element (a vmap over 1024 seeds would cost 1024 host calls per step),
and it does not know which element is which. We wrap it twice:

* `jax.custom_batching.custom_vmap`, whose batching rule slices element 0 of
  every batched leaf and emits one callback: one call per step under any
  number of nested vmaps, and the element that is kept is always the first.
* `jax.custom_jvp` around that, because custom_vmap has no differentiation
  rule; the jvp rule emits the callback on the primal values once and
  returns a zero tangent, so logging inside a loss function works under
  `jax.grad` / `jax.value_and_grad` (and the value is logged once, not once
  per linearisation pass).

The staged function returns a dummy scalar that nobody reads; the callback
is an effect, so jit keeps it anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap


def _first_element(tree: Any, batched: Any) -> Any:
    return jax.tree.map(lambda leaf, is_batched: leaf[0] if is_batched else leaf, tree, batched)


def emit(host: Callable[[Any], None], payload: Any) -> None:
    """Stage ``host(payload)`` as one unordered debug callback.

    Args:
        host: Runs on the host with the payload as jax Arrays. It must not
            raise: an exception there aborts the whole computation.
        payload: A pytree of arrays (tracers while tracing).
    """

    @custom_vmap
    def staged(tree: Any) -> jax.Array:
        jax.debug.callback(host, tree)
        return jnp.zeros((), jnp.float32)

    @staged.def_vmap
    def _one_per_batch(axis_size: int, in_batched: list[Any], tree: Any) -> tuple[jax.Array, bool]:
        del axis_size
        out: jax.Array = staged(_first_element(tree, in_batched[0]))
        return out, False

    @jax.custom_jvp
    def differentiable(tree: Any) -> jax.Array:
        out: jax.Array = staged(tree)
        return out

    @differentiable.defjvp
    def _no_tangent(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[jax.Array, jax.Array]:
        del tangents
        # Recursing through `differentiable` (not `staged`) keeps nested
        # differentiation (hessians) working.
        out = differentiable(primals[0])
        return out, jnp.zeros_like(out)

    differentiable(jax.lax.stop_gradient(payload))
