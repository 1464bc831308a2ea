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

import weakref
from typing import Any

import rlwatch
from rlwatch.config import ConfigError
from rlwatch.guard import swallow
from transformers import TrainerCallback

from rlwatch_trl.mapping import map_logs
from rlwatch_trl.samples import read_generation_batch
from rlwatch_trl.trace import append_step, trace_path

FLUSH_TIMEOUT_SECONDS = 5.0
"""Longest a log call waits for its rows and alerts to reach SQLite."""


# Trainers that fit data rather than optimise a policy (see mapping.map_logs).
_SUPERVISED_TRAINERS = frozenset({"SFTTrainer", "RewardTrainer", "PRMTrainer"})


def framework_name(trainer: Any) -> str:
    """``"trl"`` for TRL trainers, ``"transformers"`` for a plain Trainer."""
    module = type(trainer).__module__ if trainer is not None else ""
    return "transformers" if module.startswith("transformers") else "trl"


def is_policy_trainer(trainer: Any) -> bool:
    """False for SFT/reward-model trainers and a plain transformers Trainer."""
    if trainer is None:
        return True
    cls = type(trainer)
    if cls.__module__.startswith("transformers"):
        return False
    return not any(base.__name__ in _SUPERVISED_TRAINERS for base in cls.__mro__)


class RLWatchCallback(TrainerCallback):
    """Feed a TRL/transformers training run to rlwatch.

    Args:
        monitor: An rlwatch monitor to log into. None: use the active
            process-wide monitor, or start one at ``on_train_begin``.
        trainer: The trainer this callback is attached to (set for you by the
            automatic registration and by ``rlwatch.attach(trainer=...)``);
            needed only for the per-sample rewards of GRPO/RLOO.
        **attach_kwargs: Passed to ``rlwatch.attach`` when the callback starts
            its own monitor (e.g. ``run_id="grpo-1"``, ``log_dir="logs"``).

    Example::

        trainer = GRPOTrainer(..., callbacks=[RLWatchCallback(run_id="grpo-1")])
    """

    def __init__(self, monitor: rlwatch.RLWatch | None = None, trainer: Any = None, **attach_kwargs: Any) -> None:
        self._monitor = monitor
        self._explicit_monitor = monitor is not None
        self._owns_monitor = False
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
        if self._owns_monitor and self._monitor is not None and self._monitor is not monitor:
            self._monitor.stop("finished")
        self._monitor = monitor
        self._explicit_monitor = True
        self._owns_monitor = False

    def _ensure_monitor(self, args: Any) -> rlwatch.RLWatch | None:
        current = self._monitor
        if current is not None and (current.active or self._explicit_monitor):
            return current
        found = rlwatch.get_monitor()
        if found is not None and found.active:
            self._monitor, self._owns_monitor = found, False
            return found
        kwargs = dict(self._attach_kwargs)
        kwargs.setdefault("framework", framework_name(self.trainer))
        rank = getattr(args, "process_index", None)
        world = getattr(args, "world_size", None)
        if isinstance(rank, int) and isinstance(world, int):
            kwargs.setdefault("distributed", {"rank": rank, "world_size": world})
        self._monitor = rlwatch.attach(**kwargs)
        self._owns_monitor = True
        return self._monitor

    # -- transformers hooks --------------------------------------------------------

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Find or start the monitor before the first step."""
        try:
            with swallow("rlwatch_trl.on_train_begin"):
                self._training_ended = False
                self._ensure_monitor(args)
        except ConfigError:
            raise  # the user's own rlwatch configuration is wrong: say so before training
        return None

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Record one log call of the trainer and flush it to disk."""
        with swallow("rlwatch_trl.on_log"):
            if not logs or not getattr(state, "is_world_process_zero", True):
                return None
            trainer = self.trainer
            metrics = map_logs(logs, policy_entropy=is_policy_trainer(trainer))
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
            monitor = self._monitor
            if monitor is None:
                return None
            if self._owns_monitor:
                monitor.stop("finished")
                self._monitor = None
                self._owns_monitor = False
            else:
                monitor.flush(timeout=FLUSH_TIMEOUT_SECONDS)
        return None
