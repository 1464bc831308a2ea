"""`rlwatch_jax.log`: record metrics from inside jitted (or plain) JAX code."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import rlwatch
from rlwatch.integration import ConfigError, report, swallow

from rlwatch_jax.barrier import note_staged
from rlwatch_jax.emit import emit
from rlwatch_jax.payload import AxisName, pack
from rlwatch_jax.sink import HostSink, MonitorTarget, StepCounter

if TYPE_CHECKING:
    from rlwatch.core import RLWatch


# `monitor` and `axis_name` are typed Any on purpose: `log(step, **metrics)` with
# a `dict[str, Array]` must type-check, and mypy matches ** against every keyword.
def log(step: Any, *, monitor: Any = None, axis_name: Any = None, **metrics: Any) -> None:
    """Send one step's metrics to rlwatch; works inside `jax.jit`, `grad`, `vmap`, `pmap`, `scan`.

    Stages one `jax.debug.callback` carrying all the values; on the host the
    values reach `RLWatch.log_step`, which runs the detectors and stores
    them. Example::

        @jax.jit
        def train_step(params, batch, step):
            loss, grads = jax.value_and_grad(loss_fn)(params, batch)
            rlwatch_jax.log(step, loss=loss, grad_norm=optax.global_norm(grads))
            ...

    Logged once per step: under `jax.vmap` the first batch element is
    logged; under `pmap`/`shard_map` (one callback per device) pass
    ``axis_name`` to log replica 0 only, else the first device to report a
    step wins (reduce with `lax.pmean` first if devices differ). A step
    reported again by the same call site is dropped.

    Args:
        step: The training step (an int or an integer array, traced or not).
            None lets the monitor number the calls 0, 1, 2, ...
        monitor: The `RLWatch` to report to. Default: the global monitor
            (`rlwatch.get_monitor()`) at the time the callback runs; if there
            is none when the function is traced, one is attached with the
            default configuration (`rlwatch.attach(framework="jax")`).
        axis_name: Name (str, or tuple of str) of the pmap/shard_map axis the call runs
            under; only replica 0 is logged.
        **metrics: Canonical names (``loss``, ``entropy``, ``kl_divergence``,
            ``reward_mean``, ``grad_norm``, ...; ``rewards``/``advantages`` as
            arrays) or any other name. Nested dicts become ``outer/inner``.
            None values are skipped.

    Raises:
        ConfigError: only when the automatic attach finds bad configuration
            (a setup error, raised while tracing, before training starts).
            Nothing else ever raises, here or on the host.
    """
    _log(step, metrics, monitor, axis_name, counter=None)


def _log(step: Any, metrics: Mapping[str, Any], monitor: RLWatch | None, axis_name: AxisName | None,
         counter: StepCounter | None) -> None:
    """`log`, plus the step counter `watch` uses when the train step has no step."""
    if monitor is None:
        _attach_if_needed()
    with swallow("rlwatch_jax.log.trace"):
        target = MonitorTarget(monitor)
        if _never_records(target.resolve()):
            return
        layout, payload = pack(step, metrics, axis_name)
        if not layout.scalar_names and not layout.array_names:
            return
        emit(HostSink(layout, target, counter), payload)
        note_staged()


def _attach_if_needed() -> None:
    if rlwatch.get_monitor() is None:
        try:
            rlwatch.attach(framework="jax")
        except ConfigError:
            raise  # bad configuration is the user's to see, at trace time, before training
        except Exception as exc:  # noqa: BLE001 - attach itself never raises, but be sure
            report("rlwatch_jax.attach", exc)


def _never_records(monitor: RLWatch | None) -> bool:
    """True when a callback could never deliver: stage nothing, cost nothing.

    A started monitor that is inactive but not stopped is disabled or on a
    rank that does not write; it will stay so. Only in a single-process job:
    in a multi-process one every process must compile the same program (a
    callback's operands may need a cross-device gather).
    """
    if monitor is None or not monitor.started or monitor.stopped or monitor.active:
        return False
    jax = sys.modules.get("jax")
    return jax is not None and jax.process_count() == 1
