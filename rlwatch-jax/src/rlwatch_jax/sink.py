"""Host side: receive one payload, decide whether it is new, hand it to the monitor.

A `HostSink` is made each time a `rlwatch_jax.log` call site is traced and is
the Python function the staged callback calls. It runs on a JAX runtime
thread (several at once under pmap, one per device), so:

* everything is inside `rlwatch.integration.swallow`: an exception escaping a
  host callback would abort the user's computation;
* replicas other than 0 are dropped when the call site named an axis;
* each (call site, step) is delivered once per monitor: the first report of
  a step wins, later ones (the other devices of a pmap/shard_map, a step
  logged twice during gradient accumulation) are dropped and counted;
* deliveries are serialised, because the monitor's detectors expect one
  caller at a time.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np
import rlwatch
from rlwatch.integration import swallow

from rlwatch_jax.barrier import set_in_host_callback
from rlwatch_jax.payload import Layout, step_value

if TYPE_CHECKING:
    from rlwatch.core import RLWatch

logger = logging.getLogger("rlwatch")

# Steps remembered per call site for de-duplication. Replicas of one step
# arrive within a few steps of each other, so a short memory is enough.
_SEEN_STEPS = 1024

_deliver_lock = threading.Lock()
_warned: set[str] = set()

duplicates_dropped = 0
"""Reports dropped because their step had already been delivered (all sinks)."""


def _warn_once(key: str, message: str, *args: Any) -> None:
    if key not in _warned:
        _warned.add(key)
        logger.warning(message, *args)


class MonitorTarget:
    """Which monitor a call site reports to: an explicit one, or the global one now."""

    def __init__(self, monitor: RLWatch | None) -> None:
        self.explicit = monitor

    def resolve(self) -> RLWatch | None:
        """The monitor to deliver to at this moment, or None."""
        if self.explicit is not None:
            return self.explicit
        return rlwatch.get_monitor()


class StepCounter:
    """Numbers the calls of one `watch`-ed function 0, 1, 2, ... per monitor.

    Shared by every trace of that function, so a re-compilation (new input
    shapes) does not restart the count; a new monitor (a new run) does.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._monitor: weakref.ref[Any] | None = None
        self._next = 0

    def next_step(self, monitor: RLWatch) -> int:
        """The step for the next call reported to `monitor`."""
        with self._lock:
            if self._monitor is None or self._monitor() is not monitor:
                self._monitor = weakref.ref(monitor)
                self._next = 0
            step = self._next
            self._next += 1
            return step


class HostSink:
    """The host function of one traced `rlwatch_jax.log` call site."""

    def __init__(self, layout: Layout, target: MonitorTarget, counter: StepCounter | None = None) -> None:
        self.layout = layout
        self.target = target
        self.counter = counter
        self._lock = threading.Lock()
        self._seen_for: weakref.ref[Any] | None = None
        self._seen: OrderedDict[Any, None] = OrderedDict()

    def __call__(self, payload: dict[str, Any]) -> None:
        """Called by JAX on the host with the payload; never raises."""
        set_in_host_callback(True)
        try:
            with swallow("rlwatch_jax.log"):
                self._deliver(payload)
        finally:
            set_in_host_callback(False)

    def _first_report(self, monitor: RLWatch, step: Any) -> bool:
        global duplicates_dropped
        with self._lock:
            if self._seen_for is None or self._seen_for() is not monitor:
                self._seen_for = weakref.ref(monitor)
                self._seen.clear()
            if step in self._seen:
                duplicates_dropped += 1
                return False
            self._seen[step] = None
            if len(self._seen) > _SEEN_STEPS:
                self._seen.popitem(last=False)
            return True

    def _deliver(self, payload: dict[str, Any]) -> None:
        layout = self.layout
        if layout.has_replica and int(np.asarray(payload["replica"])) != 0:
            return
        monitor = self.target.resolve()
        if monitor is None or not monitor.active:
            return
        if layout.has_step:
            step = step_value(payload["step"])
            if step is None:
                _warn_once("step-shape", "rlwatch_jax: the step must be a scalar; "
                           "a report with a step of another shape is dropped")
                return
            if not self._first_report(monitor, step):
                return
        elif self.counter is not None:
            step = self.counter.next_step(monitor)
        else:
            step = None  # the monitor numbers the steps itself
        metrics: dict[str, Any] = {}
        if layout.scalar_names:
            # One buffer → Python floats, the monitor's fast path.
            metrics.update(zip(layout.scalar_names, np.asarray(payload["scalars"]).tolist(), strict=True))
        if layout.array_names:
            metrics.update(zip(layout.array_names, (np.asarray(a) for a in payload["arrays"]), strict=True))
        with _deliver_lock:
            monitor.log_step(step, **metrics)
