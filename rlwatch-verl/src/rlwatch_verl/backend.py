"""`RLWatchBackend`: the ``rlwatch`` entry of veRL's ``Tracking`` backends.

veRL's trainers log one metric dict per step through ``Tracking.log``, on the
process that drives the run (a Ray actor, the ``TaskRunner``, under
``main_ppo``), after the workers' metrics were reduced across ranks and nodes.
``Tracking`` calls ``log(data=..., step=...)`` on each of its backends; this
is the one that feeds rlwatch.

One backend is one rlwatch run. It is opened when ``Tracking`` is built (the
trainer's setup, before the first step: a bad rlwatch configuration raises
there, loudly), logs into the user's process-wide monitor if one is active
(``rlwatch.attach()`` in a custom script) or else into one it starts, and is
closed by `close` with the run's status (see `rlwatch_verl.autopatch` for who
calls it). All other methods never raise.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Mapping
from typing import Any

from rlwatch.integration import MonitorLease, lease_monitor, swallow
from rlwatch.keymaps.base import KeyMap
from rlwatch.keymaps.verl import VERL, VERL_SFT, for_loss_agg_mode

from rlwatch_verl import samples

CONFIG_SECTION = "rlwatch"
"""Top-level section of veRL's config whose entries are passed to ``rlwatch.attach``."""

FRAMEWORK = "verl"
"""The framework name recorded with the run."""

_NOT_METRICS = frozenset({"step", "self"})  # log_step's own parameters
_sequence = itertools.count(1)
_open: weakref.WeakValueDictionary[int, RLWatchBackend] = weakref.WeakValueDictionary()
_open_lock = threading.Lock()


def attach_options(config: Any) -> dict[str, Any]:
    """``rlwatch.attach`` options for a run with veRL config `config` (a plain dict, or None).

    The ``rlwatch`` section of the config (``+rlwatch.run_id=grpo-7b`` on the
    command line) comes first. The framework is ``verl``, and the process
    counts as rank 0 of 1: veRL builds ``Tracking`` only on the one process
    that logs for the whole job, which may itself carry a launcher's RANK.
    """
    section = config.get(CONFIG_SECTION) if isinstance(config, Mapping) else None
    options: dict[str, Any] = dict(section) if isinstance(section, Mapping) else {}
    options.setdefault("framework", FRAMEWORK)
    distributed = options.get("distributed")
    if distributed is None or isinstance(distributed, Mapping):
        merged = dict(distributed or {})
        merged.setdefault("rank", 0)
        merged.setdefault("world_size", 1)
        options["distributed"] = merged
    return options


def keymap_for(config: Any) -> KeyMap:
    """The key map that reads a run with veRL config `config` right.

    PPO-family configs (with ``actor_rollout_ref``) get the map of their
    ``actor.loss_agg_mode``; configs without it are veRL's SFT trainer's;
    no config: the PPO map with veRL's default aggregation.
    """
    if not isinstance(config, Mapping):
        return VERL
    actor_rollout_ref = config.get("actor_rollout_ref")
    if not isinstance(actor_rollout_ref, Mapping):
        return VERL_SFT if isinstance(config.get("trainer"), Mapping) else VERL
    actor = actor_rollout_ref.get("actor")
    mode = actor.get("loss_agg_mode") if isinstance(actor, Mapping) else None
    return for_loss_agg_mode(mode if isinstance(mode, str) else None)


def any_recording() -> bool:
    """True while some backend of this process records (the batch capture is skipped otherwise)."""
    return any(backend.recording for backend in list(_open.values()))


def mark() -> int:
    """A position in the order backends are opened: `close_opened_since` closes those opened after it."""
    return next(_sequence)


def close_opened_since(position: int, status: str, reason: str = "") -> None:
    """Close every backend opened after `position` (from `mark`) that is still open, with `status`."""
    with _open_lock:
        backends = [b for seq, b in list(_open.items()) if seq > position]
    for backend in backends:
        backend.close(status, reason)


class RLWatchBackend:
    """One veRL ``Tracking`` backend feeding one rlwatch run.

    Args:
        lease: The monitor to log into (`rlwatch.integration.lease_monitor`).
        keymap: How veRL's keys become rlwatch metrics (`rlwatch.keymaps.verl`).

    Use `open` to build one from a veRL config.
    """

    def __init__(self, lease: MonitorLease, keymap: KeyMap = VERL) -> None:
        self._lease: MonitorLease | None = lease
        self.keymap = keymap
        with _open_lock:
            self._sequence = next(_sequence)
            _open[self._sequence] = self

    @classmethod
    def open(cls, config: Any = None) -> RLWatchBackend:
        """Start (or borrow) the monitor for a run whose veRL config is `config`.

        Raises:
            rlwatch.integration.ConfigError: the rlwatch configuration is invalid.
        """
        return cls(lease_monitor(**attach_options(config)), keymap_for(config))

    @property
    def monitor(self) -> Any:
        """The rlwatch monitor this backend logs into (None once closed)."""
        return self._lease.monitor if self._lease is not None else None

    @property
    def recording(self) -> bool:
        """True while steps logged here are recorded."""
        lease = self._lease
        return lease is not None and lease.recording

    def log(self, data: Mapping[str, Any], step: Any) -> None:
        """Record one step's metric dict (``Tracking`` calls this for every ``log``)."""
        with swallow("rlwatch_verl.log"):
            lease = self._lease
            if lease is None or not lease.recording or not isinstance(data, Mapping):
                return
            metrics = self.keymap.translate(data)
            if not metrics:
                return  # validation-only or timing-only dicts (e.g. the step-0 validation)
            for name in _NOT_METRICS & metrics.keys():
                del metrics[name]
            metrics.update(samples.take_for(data))
            lease.monitor.log_step(step, **metrics)

    def close(self, status: str = "finished", reason: str = "") -> None:
        """End the run with `status` and `reason` (stop an owned monitor, flush a borrowed one); idempotent."""
        with swallow("rlwatch_verl.close"):
            lease, self._lease = self._lease, None
            with _open_lock:
                _open.pop(self._sequence, None)
            if lease is None:
                return
            lease.release(status, reason)
            if not any_recording():
                samples.clear()

    finish = close
    """Alias, for code that treats the backend like veRL's own (``finish()``)."""
