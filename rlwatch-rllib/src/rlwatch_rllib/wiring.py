"""Put `RLWatchCallbacks` into an AlgorithmConfig or a built Algorithm, keeping the user's callbacks.

``config.callbacks(X)`` *replaces* the callbacks class, so a second call would
silently drop the first. `add_to_config` appends instead: on the new API stack
RLlib accepts a list of callbacks classes and calls them in order; on the old
stack the list is combined with RLlib's ``make_multi_callbacks``.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from rlwatch_rllib.callbacks import RLWatchCallbacks, _bound, iter_rlwatch_callbacks

if TYPE_CHECKING:
    from rlwatch.core import RLWatch

logger = logging.getLogger("rlwatch")


def _as_list(callbacks_class: Any) -> list[Any]:
    if callbacks_class is None:
        return []
    if isinstance(callbacks_class, (list, tuple)):
        return list(callbacks_class)
    return [callbacks_class]


def _is_ours(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, RLWatchCallbacks)


def add_to_config(config: Any, *, monitor: RLWatch | None = None, **attach_options: Any) -> Any:
    """Append `RLWatchCallbacks` to `config`'s callbacks, keeping the ones already set.

    An `RLWatchCallbacks` already in the list is replaced (never two of them).

    Args:
        config: An unfrozen ``AlgorithmConfig``.
        monitor: Use this started monitor in the driver (process-local)
            instead of opening one with ``rlwatch.attach``.
        **attach_options: Options for ``rlwatch.attach`` (see
            `RLWatchCallbacks.configure`).

    Returns:
        `config`, for chaining.
    """
    from ray.rllib.callbacks.callbacks import RLlibCallback

    cls: type[RLWatchCallbacks] = RLWatchCallbacks.configure(**attach_options) if attach_options else RLWatchCallbacks
    if monitor is not None:
        token = uuid.uuid4().hex
        _bound[token] = monitor
        cls = type(cls.__name__, (cls,), {"rlwatch_monitor_token": token, "__module__": cls.__module__})
    # The default RLlibCallback is a no-op placeholder; keep only real user classes.
    others = [c for c in _as_list(config.callbacks_class) if c is not RLlibCallback and not _is_ours(c)]
    if not others:
        config.callbacks(cls)
    elif getattr(config, "enable_env_runner_and_connector_v2", True):
        config.callbacks([*others, cls])
    else:
        from ray.rllib.algorithms.callbacks import make_multi_callbacks

        config.callbacks(make_multi_callbacks([*others, cls]))  # type: ignore[no-untyped-call]
    return config


def adapt_algorithm(algorithm: Any, monitor: RLWatch) -> bool:
    """Wire `monitor` into an already built Algorithm (driver-side metrics only).

    The EnvRunners of a built Algorithm already have their callbacks, so the
    per-episode ``rewards`` array is only recorded when `RLWatchCallbacks`
    was in the config before ``build_algo()``; the learner and episode-mean
    metrics are recorded either way.

    Returns:
        True if wired, False for the old API stack (use the config instead).
    """
    existing = iter_rlwatch_callbacks(algorithm)
    if existing:
        for callbacks in existing:
            if callbacks.monitor is None:
                callbacks.monitor = monitor
        return True
    current = getattr(algorithm, "callbacks", None)
    if not isinstance(current, list):
        logger.warning(
            "rlwatch-rllib: cannot add callbacks to a built old-API-stack Algorithm; "
            "use config.callbacks(RLWatchCallbacks) before building it"
        )
        return False
    callbacks = RLWatchCallbacks()
    callbacks.monitor = monitor
    current.append(callbacks)
    return True
