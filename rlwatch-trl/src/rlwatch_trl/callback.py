"""`RLWatchCallback`: a transformers ``TrainerCallback`` that feeds rlwatch.

What it records: on every ``on_log`` of the world-process-zero, the logged
metrics mapped to rlwatch's canonical names (`rlwatch_trl.mapping`), plus,
for GRPO/RLOO, the per-completion rewards (groups x num_generations) and
advantages of the last generation batch read from the trainer. It flushes
the store after every log call, so what was detected is on disk before the
next step can crash the process.

Which monitor: the one given to it (``RLWatchCallback(monitor=...)`` or
``rlwatch.attach(trainer=trainer)``), else the process-wide monitor if one is
active, else one it starts itself at ``on_train_begin`` with
``rlwatch.attach(framework=..., distributed={rank, world_size})`` and stops
at ``on_train_end``. A crash in between is marked by rlwatch-core's exit
hooks (the run ends as ``crashed``).

Every hook body runs inside `rlwatch.guard.swallow`: the callback never
raises into the training loop (bad rlwatch configuration excepted, which
fails loudly at ``on_train_begin``, before the first step).
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

import rlwatch
from rlwatch.integration import ConfigError, MonitorLease, lease_monitor, swallow
from rlwatch.keymaps import KeyMap
from transformers import TrainerCallback

from rlwatch_trl.mapping import family_of, guess_from_keys, map_logs
from rlwatch_trl.samples import read_generation_batch
from rlwatch_trl.trace import append_step, trace_path

logger = logging.getLogger("rlwatch")

FLUSH_TIMEOUT_SECONDS = 5.0
"""Longest a log call waits for its rows and alerts to reach SQLite."""


def framework_name(trainer: Any) -> str:
    """``"trl"`` for TRL trainers, ``"transformers"`` for a plain Trainer."""
    module = type(trainer).__module__ if trainer is not None else ""
    return "transformers" if module.startswith("transformers") else "trl"


class RLWatchCallback(TrainerCallback):
    """Feed a TRL/transformers training run to rlwatch.

    Args:
        monitor: An rlwatch monitor to log into. None: use the active
            process-wide monitor, or start one at ``on_train_begin``.
        trainer: The trainer this callback is attached to (set for you by the
            automatic registration and by ``rlwatch.attach(trainer=...)``);
            needed only for the per-sample rewards of GRPO/RLOO.
        automatic: Set by the zero-code registration (nobody asked for this
            callback in code): an invalid rlwatch.yaml then turns monitoring
            off with one clear warning instead of stopping training. A
            callback the user created lets the `ConfigError` reach them.
        **attach_kwargs: Passed to ``rlwatch.attach`` when the callback starts
            its own monitor (e.g. ``run_id="grpo-1"``, ``log_dir="logs"``).

    Example::

        trainer = GRPOTrainer(..., callbacks=[RLWatchCallback(run_id="grpo-1")])
    """

    def __init__(
        self, monitor: rlwatch.RLWatch | None = None, trainer: Any = None, *, automatic: bool = False,
        **attach_kwargs: Any,
    ) -> None:
        self._monitor = monitor
        self._explicit_monitor = monitor is not None
        self._lease: MonitorLease | None = None
        self._automatic = automatic
        self._keymap: KeyMap | None = None
        self._training_ended = False
        self._trainer_ref: weakref.ReferenceType[Any] | None = None
        self._attach_kwargs = attach_kwargs
        if trainer is not None:
            self.bind_trainer(trainer)

    # -- wiring ------------------------------------------------------------------------

    @property
    def monitor(self) -> rlwatch.RLWatch | None:
        """The monitor this callback logs into (None before training starts)."""
        return self._monitor

    @property
    def has_explicit_monitor(self) -> bool:
        """True when a monitor was handed to this callback rather than found or started."""
        return self._explicit_monitor

    @property
    def is_configured(self) -> bool:
        """True when the user gave this callback a monitor or ``attach`` options."""
        return self._explicit_monitor or bool(self._attach_kwargs)

    @property
    def trainer(self) -> Any:
        """The trainer this callback belongs to, if known and still alive."""
        return self._trainer_ref() if self._trainer_ref is not None else None

    def bind_trainer(self, trainer: Any) -> None:
        """Remember `trainer` (weakly: the trainer already holds this callback)."""
        try:
            self._trainer_ref = weakref.ref(trainer)
        except TypeError:
            self._trainer_ref = None

    def use_monitor(self, monitor: rlwatch.RLWatch) -> None:
        """Log into `monitor` from now on (it stays the caller's to stop)."""
        lease = self._lease
        if lease is not None and lease.owned and lease.monitor is not monitor:
            lease.release("finished")
        self._lease = None
        self._monitor = monitor
        self._explicit_monitor = True

    def _ensure_monitor(self, args: Any) -> rlwatch.RLWatch | None:
        current = self._monitor
        if current is not None and (current.active or self._explicit_monitor):
            return current
        kwargs = dict(self._attach_kwargs)
        kwargs.setdefault("framework", framework_name(self.trainer))
        rank = getattr(args, "process_index", None)
        world = getattr(args, "world_size", None)
        if isinstance(rank, int) and isinstance(world, int):
            kwargs.setdefault("distributed", {"rank": rank, "world_size": world})
        self._lease = lease_monitor(**kwargs)
        self._monitor = self._lease.monitor
        return self._monitor

    def _keymap_for(self, logs: dict[str, Any]) -> KeyMap:
        keymap = self._keymap
        if keymap is None:
            keymap = family_of(self.trainer) or guess_from_keys(logs)
            self._keymap = keymap
        return keymap

    # -- transformers hooks --------------------------------------------------------

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Find or start the monitor before the first step."""
        try:
            with swallow("rlwatch_trl.on_train_begin"):
                self._training_ended = False
                self._ensure_monitor(args)
        except ConfigError as exc:
            if not self._automatic:
                raise  # the user's own rlwatch setup is wrong: say so before training
            # Nobody asked for rlwatch in code: training goes on, unmonitored, and says so once.
            self._training_ended = True
            logger.warning("rlwatch: monitoring is OFF for this run: invalid configuration: %s. "
                           "Fix it (see `rlwatch init`) or set RLWATCH_DISABLE=1 to silence this.", exc)
        return None

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Record one log call of the trainer and flush it to disk."""
        with swallow("rlwatch_trl.on_log"):
            if not logs or not getattr(state, "is_world_process_zero", True):
                return None
            trainer = self.trainer
            metrics = map_logs(logs, self._keymap_for(logs))
            if not metrics:
                return None
            monitor = self._monitor
            if monitor is None and not self._training_ended:
                # added after on_train_begin (e.g. by trainer.add_callback mid-run)
                monitor = self._ensure_monitor(args)
            if monitor is None or not monitor.active:
                return None  # disabled, another rank, or logging after the run ended
            # TRL logs "reward" only for windows in which a generation happened,
            # so the arrays below are never repeated for a batch already seen.
            if trainer is not None and "reward_mean" in metrics:
                metrics.update(read_generation_batch(trainer))
            step = int(state.global_step)
            monitor.log_step(step, **metrics)
            monitor.flush(timeout=FLUSH_TIMEOUT_SECONDS)
            path = trace_path()
            if path is not None:
                append_step(path, step, metrics)
        return None

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Close the run this callback started; flush one it was given."""
        with swallow("rlwatch_trl.on_train_end"):
            self._training_ended = True
            monitor, lease = self._monitor, self._lease
            if monitor is None:
                return None
            if lease is not None and lease.owned:
                lease.release("finished")
                self._monitor = None
                self._lease = None
            else:
                monitor.flush(timeout=FLUSH_TIMEOUT_SECONDS)
        return None
