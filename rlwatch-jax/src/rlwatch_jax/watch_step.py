"""`@rlwatch_jax.watch`: log the metrics a train step returns."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

from rlwatch.integration import swallow

from rlwatch_jax.log_call import _log
from rlwatch_jax.payload import AxisName
from rlwatch_jax.sink import StepCounter

if TYPE_CHECKING:
    from rlwatch.core import RLWatch

logger = logging.getLogger("rlwatch")

_F = TypeVar("_F", bound=Callable[..., Any])

StepSource = str | int | Callable[..., Any] | None
"""Where `watch` finds the step: an argument name, a position, or ``f(*args, **kwargs)``."""

_COUNTER = object()
_NO_STEP = object()


@overload
def watch(fn: _F, /, *, step: StepSource = None, monitor: RLWatch | None = None,
          axis_name: AxisName | None = None) -> _F: ...


@overload
def watch(*, step: StepSource = None, monitor: RLWatch | None = None,
          axis_name: AxisName | None = None) -> Callable[[_F], _F]: ...


def watch(fn: _F | None = None, /, *, step: StepSource = None, monitor: RLWatch | None = None,
          axis_name: AxisName | None = None) -> _F | Callable[[_F], _F]:
    """Decorate a train step returning ``(state, metrics)`` so its metrics are logged.

    Put it *inside* `jax.jit` (below the ``@jax.jit`` line) so the metrics
    travel through one asynchronous callback and the loop never waits::

        @jax.jit
        @rlwatch_jax.watch
        def train_step(state, batch):
            ...
            return new_state, {"loss": loss, "entropy": entropy}

    The step, first match wins:

    1. ``step=``: an argument name (``step="i"``), a position (``step=2``),
       or a function of the call's arguments (``step=lambda s, b: s.step``);
    2. a ``"step"`` entry of the returned metrics (taken out of them);
    3. an argument called ``step``;
    4. a ``step`` attribute of the first argument (Flax ``TrainState``); the
       step of the state going *in*, i.e. the step these metrics describe;
    5. otherwise a counter: the calls that reach the host are numbered 0, 1,
       2, ... per monitor. Under pmap/shard_map give ``axis_name`` (or a
       step), or each device's call would count.

    The function's output is returned untouched; if it is not a pair whose
    second item is a mapping, nothing is logged (one warning).

    Args:
        fn: The train step.
        step: Where to find the step (see above).
        monitor: Explicit monitor; default the global one (see `log`).
        axis_name: The pmap/shard_map axis; only replica 0 is logged.

    Returns:
        The wrapped function (or a decorator, when called with options only).

    Raises:
        TypeError: ``step`` names an argument the function does not have.
    """
    if fn is None:
        return functools.partial(watch, step=step, monitor=monitor, axis_name=axis_name)
    return _Watched(fn, step, monitor, axis_name).wrapper()


class _Watched:
    """The state behind one decorated function: how to find its step, its counter."""

    def __init__(self, fn: Callable[..., Any], step: StepSource, monitor: RLWatch | None,
                 axis_name: AxisName | None) -> None:
        self.fn = fn
        self.step = step
        self.monitor = monitor
        self.axis_name = axis_name
        self.counter = StepCounter()
        self.warned_shape = False
        try:
            self.signature: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):  # some C callables have none
            self.signature = None
        if (isinstance(step, str) and self.signature is not None
                and step not in self.signature.parameters
                and not any(p.kind is p.VAR_KEYWORD for p in self.signature.parameters.values())):
            # A setup mistake: say so now, at decoration time, not on every step.
            raise TypeError(f"rlwatch_jax.watch: step={step!r} is not an argument of {fn!r}")

    def wrapper(self) -> Callable[..., Any]:
        @functools.wraps(self.fn)
        def watched(*args: Any, **kwargs: Any) -> Any:
            out = self.fn(*args, **kwargs)
            self.log_output(out, args, kwargs)
            return out

        return watched

    def log_output(self, out: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        metrics = self.metrics_of(out)
        if metrics is None:
            return
        step: Any = _NO_STEP
        if self.step is None and "step" in metrics:
            metrics = dict(metrics)
            step = metrics.pop("step")
        else:
            with swallow("rlwatch_jax.watch.step"):
                step = self.find_step(args, kwargs)
        if step is _NO_STEP:
            return
        if step is _COUNTER:
            _log(None, metrics, self.monitor, self.axis_name, counter=self.counter)
        else:
            _log(step, metrics, self.monitor, self.axis_name, counter=None)

    def metrics_of(self, out: Any) -> Mapping[str, Any] | None:
        if isinstance(out, (tuple, list)) and len(out) == 2 and isinstance(out[1], Mapping):
            return out[1]
        if not self.warned_shape:
            self.warned_shape = True
            logger.warning("rlwatch_jax.watch: %s returned %s, not (state, metrics_dict); nothing is logged",
                           getattr(self.fn, "__name__", self.fn), type(out).__name__)
        return None

    def find_step(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        source = self.step
        if callable(source):
            return source(*args, **kwargs)
        if isinstance(source, int):
            return args[source]
        name = source if isinstance(source, str) else "step"
        if name in kwargs:
            return kwargs[name]
        if self.signature is not None and name in self.signature.parameters:
            bound = self.signature.bind_partial(*args, **kwargs).arguments
            if name in bound:
                return bound[name]
        if isinstance(source, str):
            raise LookupError(f"rlwatch_jax.watch: no argument {source!r} in this call")
        if args and hasattr(args[0], "step"):
            return args[0].step
        return _COUNTER
