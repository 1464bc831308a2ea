"""rlwatch for JAX: log RL training metrics from inside `jax.jit` code.

Two entry points::

    import rlwatch, rlwatch_jax

    rlwatch.attach(run_id="ppo-1")          # optional: attached on first use

    @jax.jit
    @rlwatch_jax.watch                        # logs the metrics dict it returns
    def train_step(state, batch):
        ...
        return new_state, {"loss": loss, "entropy": entropy}

    @jax.jit
    def update(params, batch, step):
        loss, grads = jax.value_and_grad(loss_fn)(params, batch)
        rlwatch_jax.log(step, loss=loss, grad_norm=global_norm(grads))   # anywhere in traced code
        ...

What it hooks: each `log` call stages one `jax.debug.callback` carrying all
values as one small pytree (scalars stacked into one vector). On the host the
values go to `RLWatch.log_step` (detectors, storage, alerts live in
rlwatch-core). The host side never raises (an exception there would abort
the computation): errors are logged by `rlwatch.integration` and training goes on.

One record per step: under `vmap` the first batch element is logged (one
callback, not one per element); under `pmap`/`shard_map` pass
``axis_name=`` to keep replica 0, else the first device to report a step
wins; the same (call site, step) is delivered once per monitor.

Callbacks run asynchronously; `barrier()` waits for them. It runs by itself
when a monitor stops and at interpreter exit, before the core flushes.

Turn it off: ``RLWATCH_DISABLE=1`` (nothing is staged at all in a
single-process job) or ``RLWATCH_DISABLE_PLUGINS=jax`` (hooks only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rlwatch_jax._version import __version__
from rlwatch_jax.barrier import barrier

if TYPE_CHECKING:
    from rlwatch_jax.log_call import log
    from rlwatch_jax.watch_step import watch

__all__ = ["__version__", "barrier", "log", "watch"]


def __getattr__(name: str) -> Any:
    # JAX is imported on first use of `log`/`watch`, not with the package: the
    # core loads our plugin module in every process that uses rlwatch, and
    # must not pay for (or trigger) a JAX import there.
    if name == "log":
        from rlwatch_jax.log_call import log

        return log
    if name == "watch":
        from rlwatch_jax.watch_step import watch

        return watch
    raise AttributeError(f"module 'rlwatch_jax' has no attribute {name!r}")
