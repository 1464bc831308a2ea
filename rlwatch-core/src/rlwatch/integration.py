"""The API framework adapters build on (rlwatch-trl, -lightning, -rllib, -jax, -verl, ...).

Adapters are thin: they translate a framework's hooks into
`RLWatch.log_step` calls. What they share lives here, public and documented,
so that no adapter reaches into rlwatch's internals:

* `lease_monitor`: which monitor a hook logs into. A monitor handed to the
  adapter, else the user's own active process-wide monitor (borrowed: the
  adapter flushes it but never stops it), else one the adapter starts itself
  (owned: stopped by `MonitorLease.release`).
* `swallow` / `guarded` / `report`: the boundary guard. Every hook body runs
  inside it, so an rlwatch bug is logged (once, then counted) and training
  carries on. `ConfigError` is the one exception adapters let through, at
  setup time, before the first step.
* `ConfigError`: bad rlwatch configuration.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

from rlwatch.api import attach, get_monitor
from rlwatch.config import load_config
from rlwatch.core import RLWatch
from rlwatch.errors import ConfigError
from rlwatch.guard import guarded, report, swallow

__all__ = ["ConfigError", "MonitorLease", "guarded", "lease_monitor", "report", "swallow"]

_owned: weakref.WeakSet[RLWatch] = weakref.WeakSet()
_lock = threading.Lock()


@dataclass
class MonitorLease:
    """A monitor an adapter logs into, and whether the adapter must stop it.

    Attributes:
        monitor: The monitor (it may be inactive: disabled, or a rank that
            does not record; `log_step` on it is then a cheap no-op).
        owned: True when the adapter started it (`release` stops it); False
            when it is the user's (`release` only flushes it).
    """

    monitor: RLWatch
    owned: bool

    @property
    def recording(self) -> bool:
        """True when steps logged into this monitor are recorded."""
        return self.monitor.active

    def release(self, status: str = "finished", reason: str = "", flush_timeout: float = 5.0) -> None:
        """End the lease: stop an owned monitor with `status` (and `reason`), flush a borrowed one. Never raises.

        Statuses: ``finished``, ``failed`` (a non-zero exit code), ``crashed``
        (an exception), ``interrupted`` (Ctrl-C, SIGTERM).
        """
        with swallow("integration.release"):
            if self.owned:
                self.monitor.stop(status, reason)
                _owned.discard(self.monitor)
            elif self.monitor.active:
                self.monitor.flush(flush_timeout)


def lease_monitor(
    explicit: RLWatch | None = None,
    *,
    borrow_global: bool = True,
    beside_global: bool = False,
    **attach_options: Any,
) -> MonitorLease:
    """Find or start the monitor an adapter logs into.

    Order: `explicit` (borrowed); else the process-wide monitor if it is active
    and the user's own (borrowed); else a new monitor started with
    `attach_options` (owned).

    Args:
        explicit: A monitor the user handed to the adapter.
        borrow_global: Borrow the user's process-wide monitor when there is
            one; False when the adapter was given its own run options (a run
            id, a config file) and must open that run.
        beside_global: Start the adapter's own monitor without making it the
            process-wide one (e.g. one per RLlib algorithm object). By default
            an owned monitor becomes the process-wide one, as
            ``rlwatch.attach`` makes it, so that ``rlwatch.log_step`` in the
            user's code lands in the same run.
        **attach_options: Passed to ``rlwatch.attach`` (``run_id``,
            ``framework``, ``config_path``, ``distributed={...}``, any config
            override).

    Returns:
        The lease. Never None: a disabled or non-recording monitor is still a
        monitor, whose ``log_step`` does nothing.

    Raises:
        ConfigError: the rlwatch configuration is invalid (the user's setup;
            adapters let it reach the user before training starts).
    """
    if explicit is not None:
        return MonitorLease(explicit, owned=False)
    with _lock:
        current = get_monitor()
        if borrow_global and current is not None and current.active and current not in _owned:
            return MonitorLease(current, owned=False)
        if beside_global or (current is not None and current.active):
            options = dict(attach_options)
            config_path = options.pop("config_path", None)
            monitor = RLWatch(load_config(config_path, options)).start()
        else:
            monitor = attach(**attach_options)
        _owned.add(monitor)
        return MonitorLease(monitor, owned=True)
