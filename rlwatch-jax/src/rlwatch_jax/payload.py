"""Trace side: turn ``(step, metrics)`` into one small pytree for one callback.

Every scalar metric is cast to one float dtype and stacked into a single
vector, so a step with ten scalars crosses to the host as one buffer rather
than ten. Arrays (``rewards``, ``advantages``, or any non-scalar the user
passes) travel as they are. The names never travel: they are known when the
function is traced and live in the `Layout`, which the host side keeps.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

logger = logging.getLogger("rlwatch")

AxisName = str | tuple[str, ...]
"""One mapped-axis name, or several (for nested pmap/shard_map meshes)."""

_warned: set[str] = set()


@dataclass(frozen=True)
class Layout:
    """What the leaves of a payload mean; fixed when the function is traced.

    Attributes:
        scalar_names: Names of the entries of the stacked scalar vector.
        array_names: Names of the array leaves, in order.
        has_step: False when the caller gave no step (a counter numbers them).
        has_replica: True when the payload carries the replica index.
    """

    scalar_names: tuple[str, ...]
    array_names: tuple[str, ...]
    has_step: bool
    has_replica: bool


Payload = dict[str, Any]
"""``{"step"?: int array, "scalars"?: 1-D float array, "arrays"?: tuple, "replica"?: int array}``."""


def _warn_once(key: str, message: str, *args: Any) -> None:
    if key not in _warned:
        _warned.add(key)
        logger.warning(message, *args)


def flatten_metrics(metrics: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(name, value)``; nested mappings become ``outer/inner`` names."""
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten_metrics(value, prefix=f"{name}/")
        else:
            yield name, value


def _as_array(name: str, value: Any) -> jax.Array | None:
    """The value as a real-valued jax array, or None (warned once) if it is not numeric."""
    try:
        arr = jnp.asarray(value)
    except (TypeError, ValueError):
        _warn_once(f"type:{name}", "rlwatch_jax: metric %r is not numeric (%s); it is not logged",
                   name, type(value).__name__)
        return None
    if jnp.issubdtype(arr.dtype, jnp.complexfloating):
        _warn_once(f"complex:{name}", "rlwatch_jax: metric %r is complex; it is not logged", name)
        return None
    return arr


def pack(step: Any, metrics: Mapping[str, Any], axis_name: AxisName | None) -> tuple[Layout, Payload]:
    """Build the payload of one `rlwatch_jax.log` call (at trace time).

    Args:
        step: The step (traced or concrete integer), or None to let the host count.
        metrics: Metric name to value; nested mappings are flattened with ``/``.
        axis_name: If given, the replica index along this mapped axis is sent
            so the host keeps replica 0 only.

    Returns:
        The layout (host-side meaning) and the pytree to hand to the callback.
    """
    scalar_names: list[str] = []
    scalars: list[jax.Array] = []
    array_names: list[str] = []
    arrays: list[jax.Array] = []
    for name, value in flatten_metrics(metrics):
        if value is None:
            continue
        if name == "step":
            _warn_once("name:step", "rlwatch_jax: a nested metric named 'step' is ignored")
            continue
        arr = _as_array(name, value)
        if arr is None:
            continue
        if arr.ndim == 0:
            scalar_names.append(name)
            scalars.append(arr)
        else:
            array_names.append(name)
            arrays.append(arr)
    payload: Payload = {}
    if scalars:
        # float64 only when the user runs with x64 and gave float64 values;
        # everything else (bf16, ints, bools) fits float32 for monitoring.
        wide = any(a.dtype == jnp.float64 for a in scalars)
        dtype = jnp.float64 if wide else jnp.float32
        payload["scalars"] = jnp.stack([a.astype(dtype) for a in scalars])
    if arrays:
        payload["arrays"] = tuple(arrays)
    if step is not None:
        payload["step"] = jnp.asarray(step)
    if axis_name is not None:
        payload["replica"] = jax.lax.axis_index(axis_name)
    layout = Layout(tuple(scalar_names), tuple(array_names), step is not None, axis_name is not None)
    return layout, payload


def step_value(raw: Any) -> int | float | None:
    """The host-side step: a Python int for integral steps, else a float for the core to judge."""
    arr = np.asarray(raw)
    if arr.size != 1:
        return None
    value = arr.reshape(()).item()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value  # type: ignore[no-any-return]
