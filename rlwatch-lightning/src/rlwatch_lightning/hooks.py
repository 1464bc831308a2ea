"""What the Lightning callback does at each hook (shared by both namespaces).

Lightning ships as ``lightning.pytorch`` and as the standalone
``pytorch_lightning``, with two distinct ``Callback`` base classes. The
behaviour lives here, in `RLWatchHooks`, and each namespace gets a thin
subclass (`rlwatch_lightning.callback`, `rlwatch_lightning.pl_callback`).

Per fit, on the process whose monitor is active (global rank 0 unless
``distributed.all_ranks`` is configured):

- ``setup("fit")``: decide whether this instance is the one that records
  (one per trainer: an explicit callback wins over the zero-code one) and
  find the monitor: the one passed in, else the global one from
  ``rlwatch.attach()``, else attach one now with this trainer's rank.
- ``on_before_optimizer_step``: gradient norm before clipping, kept on the
  device (see `rlwatch_lightning.gradnorm`), and the learning rate in use.
- ``on_train_batch_end``: once per optimizer step, read the loss, the step's
  logged metrics, the learning rate and ``pl_module.rlwatch_rewards``;
  convert them with one transfer per device; ``monitor.log_step``.
- ``teardown("fit")`` / ``on_exception``: stop a monitor this callback
  started (finished / crashed), flush one it was given.

Every hook body runs inside `rlwatch.integration.swallow`: an rlwatch bug is
logged, never raised into training. The one exception is
`rlwatch.ConfigError` from ``attach`` in ``setup``: bad configuration must
stop the run before it starts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from rlwatch.integration import ConfigError, MonitorLease, lease_monitor, report, swallow

from rlwatch_lightning import gradnorm
from rlwatch_lightning.convert import scalars_to_floats
from rlwatch_lightning.names import build_name_map, resolve

if TYPE_CHECKING:
    from rlwatch.core import RLWatch

logger = logging.getLogger("rlwatch")

REWARDS_ATTRIBUTE = "rlwatch_rewards"
"""LightningModule attribute read for the per-sample ``rewards`` array."""


class RLWatchHooks:
    """Lightning hooks that feed a monitor; mixed into a ``Callback`` class.

    Args:
        name_map: extra ``logged key -> canonical name`` entries over
            `rlwatch_lightning.names.DEFAULT_NAME_MAP` (``None`` values
            drop a key).
        monitor: a started `rlwatch.RLWatch` to feed. By default the global
            monitor from ``rlwatch.attach()`` is used, or one is attached at
            the start of ``fit`` (and stopped at its end).
        config_path: passed to ``rlwatch.attach`` when the callback attaches.
        run_id: passed to ``rlwatch.attach`` when the callback attaches.
        include_unmapped: also store logged keys the map does not know,
            under their own names (off: a module may log hundreds of keys).
        log_grad_norm: compute the gradient norm before clipping (one fused
            norm per device per optimizer step).
        log_learning_rate: record the learning rate the step used (first
            optimizer, first param group).
        **attach_overrides: config overrides for ``rlwatch.attach``
            (``storage={"log_dir": d}``, ``log_dir=d``, ...).

    Raises:
        TypeError: a `name_map` entry is not ``str -> str | None``.
    """

    def __init__(
        self,
        name_map: Mapping[str, str | None] | None = None,
        monitor: RLWatch | None = None,
        *,
        config_path: str | None = None,
        run_id: str = "",
        include_unmapped: bool = False,
        log_grad_norm: bool = True,
        log_learning_rate: bool = True,
        **attach_overrides: Any,
    ) -> None:
        super().__init__()
        self._name_map = build_name_map(name_map)
        self._user_monitor = monitor
        self._config_path = config_path
        self._run_id = run_id
        self._include_unmapped = include_unmapped
        self._log_grad_norm = log_grad_norm
        self._log_learning_rate = log_learning_rate
        self._attach_overrides = attach_overrides
        # Set by the callbacks_factory entry point: a zero-code instance
        # steps aside when the user registered a callback of their own.
        self._from_factory = False
        self._reset_run_state()

    def _reset_run_state(self) -> None:
        self._monitor: RLWatch | None = None
        self._lease: MonitorLease | None = None
        self._recording = False
        self._last_step: int | None = None
        self._grad_norms: list[torch.Tensor] = []
        self._step_lr: Any = None
        self._pending_rewards: list[Any] = []
        self._last_rewards: Any = None
        self._last_tensor: dict[str, torch.Tensor] = {}
        self._canonical: dict[str, str | None] = {}

    @property
    def monitor(self) -> RLWatch | None:
        """The monitor being fed during the current fit (None outside one)."""
        return self._monitor

    @property
    def recording(self) -> bool:
        """True while this instance feeds an active monitor."""
        return self._recording

    def bind_monitor(self, monitor: RLWatch) -> None:
        """Feed `monitor` from the next fit on (used by ``attach(trainer=...)``)."""
        self._user_monitor = monitor
        self._from_factory = False

    def __getstate__(self) -> dict[str, Any]:
        # ddp_spawn pickles the trainer into its workers: a live monitor
        # (threads, SQLite) cannot travel, and each worker attaches its own.
        state = self.__dict__.copy()
        state["_user_monitor"] = None
        state["_monitor"] = None
        state["_lease"] = None
        state["_recording"] = False
        state["_grad_norms"] = []
        state["_pending_rewards"] = []
        state["_last_rewards"] = None
        state["_last_tensor"] = {}
        return state

    # -- lifecycle --------------------------------------------------------------------------------

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        """Find or attach the monitor at the start of ``fit``."""
        if stage != "fit":
            return
        primary = False
        with swallow("rlwatch_lightning.setup"):
            self._finish("finished")  # a previous fit that never reached teardown
            self._reset_run_state()
            primary = self._is_primary(trainer)
        if not primary:
            return
        try:
            monitor = self._resolve_monitor(trainer)
        except Exception as exc:
            if isinstance(exc, ConfigError):
                raise
            report("rlwatch_lightning.setup", exc)
            return
        with swallow("rlwatch_lightning.setup"):
            self._monitor = monitor
            self._recording = bool(monitor is not None and monitor.active)
            if self._recording and not trainer.is_global_zero and not _records_all_ranks(monitor):
                # A monitor made before Lightning set the rank (the user's own
                # attach) may think it is rank 0; Lightning knows better.
                self._recording = False

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        """Remember the starting step (non-zero when resuming a checkpoint)."""
        with swallow("rlwatch_lightning.on_train_start"):
            self._last_step = int(trainer.global_step)

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        """Stop the monitor this callback attached; flush a borrowed one."""
        if stage == "fit":
            with swallow("rlwatch_lightning.teardown"):
                self._finish("finished")

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        """Training died: record the run as crashed (Lightning skips teardown)."""
        with swallow("rlwatch_lightning.on_exception"):
            self._finish("crashed")

    def _finish(self, status: str) -> None:
        monitor, lease = self._monitor, self._lease
        owned = lease is not None and lease.owned
        self._monitor = None
        self._lease = None
        self._recording = False
        if monitor is None:
            return
        if owned:
            monitor.stop(status)
        elif monitor.active:
            monitor.flush()

    def _is_primary(self, trainer: Any) -> bool:
        ours = [cb for cb in trainer.callbacks if isinstance(cb, RLWatchHooks)]
        explicit = [cb for cb in ours if not cb._from_factory]
        primary = explicit[0] if explicit else ours[0] if ours else self
        if primary is not self:
            if self._from_factory:
                logger.debug("rlwatch: zero-code Lightning callback defers to the one passed to Trainer")
            else:
                logger.warning("rlwatch: several RLWatchCallback instances on one Trainer; only the first records")
        return primary is self

    def _resolve_monitor(self, trainer: Any) -> RLWatch | None:
        if self._user_monitor is not None:
            return self._user_monitor
        # The user's own rlwatch.attach() is fed, unless this callback was given a run of its own.
        asked_for_own = bool(self._run_id or self._config_path or self._attach_overrides)
        lease = lease_monitor(
            borrow_global=not asked_for_own,
            config_path=self._config_path,
            framework="lightning",
            run_id=self._run_id,
            **self._attach_overrides_for(trainer),
        )
        self._lease = lease
        return lease.monitor

    def _attach_overrides_for(self, trainer: Any) -> dict[str, Any]:
        overrides = dict(self._attach_overrides)
        # Lightning knows the rank for every strategy (ddp, ddp_spawn, SLURM,
        # torchelastic); the environment may not say it yet when setup runs.
        distributed = dict(overrides.get("distributed") or {})
        distributed.setdefault("rank", int(trainer.global_rank))
        distributed.setdefault("world_size", int(trainer.world_size))
        overrides["distributed"] = distributed
        return overrides

    # -- per step ---------------------------------------------------------------------------------

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        """Gradient norm (before clipping) and learning rate of the step about to happen."""
        if not self._recording:
            return
        with swallow("rlwatch_lightning.on_before_optimizer_step"):
            groups = optimizer.param_groups
            if self._step_lr is None and groups:
                # Read here, not at batch end: a per-step scheduler has
                # already moved the rate on by then.
                self._step_lr = groups[0].get("lr")
            if self._log_grad_norm:
                norm = gradnorm.grad_norm(p for group in groups for p in group["params"])
                if norm is not None:
                    self._grad_norms.append(norm)

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Log one step per optimizer step (accumulating batches only add rewards)."""
        if not self._recording:
            return
        with swallow("rlwatch_lightning.on_train_batch_end"):
            self._collect_rewards(pl_module)
            step = int(trainer.global_step)
            if step == self._last_step:
                return  # no optimizer step in this batch (gradient accumulation)
            self._last_step = step
            try:
                monitor = self._monitor
                if monitor is None or not monitor.active:
                    self._recording = False  # stopped under us (monitor.stop(), SIGTERM)
                    return
                values = scalars_to_floats(self._step_scalars(trainer, pl_module, outputs))
                rewards = self._take_rewards()
                if rewards is not None:
                    values["rewards"] = rewards
                monitor.log_step(step, **values)
            finally:
                # Whatever happened, this step's leftovers must not leak into the next.
                self._grad_norms = []
                self._step_lr = None
                self._pending_rewards = []

    def _step_scalars(self, trainer: Any, pl_module: Any, outputs: Any) -> dict[str, Any]:
        values: dict[str, Any] = {}
        loss = _loss_from(outputs)
        if loss is not None:
            accumulate = int(getattr(trainer, "accumulate_grad_batches", 1) or 1)
            if accumulate > 1 and getattr(pl_module, "automatic_optimization", True):
                # Lightning divides the returned loss by the accumulation
                # factor before handing it to callbacks; undo it so the
                # recorded loss is the one training_step returned.
                loss = loss * accumulate
            values["loss"] = loss
        for key, value in trainer.callback_metrics.items():
            canonical = self._canonical.get(key, "")
            if canonical == "":
                canonical = resolve(key, self._name_map, self._include_unmapped)
                self._canonical[key] = canonical
            if canonical is None:
                continue
            if isinstance(value, torch.Tensor) and self._is_stale(key, value):
                continue
            values.setdefault(canonical, value)
        if self._grad_norms:
            values.setdefault("grad_norm", gradnorm.combine(self._grad_norms))
            self._grad_norms = []
        lr, self._step_lr = self._step_lr, None
        if self._log_learning_rate and "learning_rate" not in values:
            if lr is None:
                lr = _learning_rate(trainer)  # no optimizer hook ran for this step
            if lr is not None:
                values["learning_rate"] = lr
        return values

    def _is_stale(self, key: str, value: torch.Tensor) -> bool:
        # callback_metrics keeps the last value of a key the module did not
        # log this step. Lightning stores every self.log call in a fresh
        # tensor, so an unchanged storage pointer means "not logged again";
        # holding the previous tensor keeps its address from being reused.
        previous = self._last_tensor.get(key)
        self._last_tensor[key] = value
        return previous is not None and previous.data_ptr() == value.data_ptr()

    def _collect_rewards(self, pl_module: Any) -> None:
        rewards = getattr(pl_module, REWARDS_ATTRIBUTE, None)
        if rewards is None or rewards is self._last_rewards:
            return  # unset, or the same object as last batch (not updated)
        self._last_rewards = rewards
        self._pending_rewards.append(rewards)

    def _take_rewards(self) -> Any:
        pending, self._pending_rewards = self._pending_rewards, []
        if not pending:
            return None
        if len(pending) == 1:
            return _as_numpy(pending[0])
        try:
            arrays = [np.asarray(_as_numpy(r), dtype=np.float64) for r in pending]
        except (TypeError, ValueError):
            # Not numbers: hand the newest to the core, which counts it as
            # unusable and warns once (bad data fails softly).
            return pending[-1]
        if all(a.ndim == 2 for a in arrays) and len({a.shape[1] for a in arrays}) == 1:
            return np.concatenate(arrays, axis=0)  # GRPO groups from several micro-batches
        return np.concatenate([a.reshape(-1) for a in arrays])


def _records_all_ranks(monitor: Any) -> bool:
    distributed = getattr(getattr(monitor, "config", None), "distributed", None)
    return bool(getattr(distributed, "all_ranks", False))


def _loss_from(outputs: Any) -> torch.Tensor | None:
    if isinstance(outputs, torch.Tensor):
        return outputs
    if isinstance(outputs, Mapping):
        loss = outputs.get("loss")
        if isinstance(loss, torch.Tensor):
            return loss
    return None


def _learning_rate(trainer: Any) -> Any:
    optimizers = trainer.optimizers
    if not optimizers:
        return None
    groups = optimizers[0].param_groups
    return groups[0].get("lr") if groups else None


def _as_numpy(value: Any) -> Any:
    # One device-to-host copy for a tensor; anything else goes to the core as
    # given (it coerces lists, numpy and jax arrays, and never raises).
    if isinstance(value, torch.Tensor) and not value.is_complex():
        return value.detach().to(device="cpu", dtype=torch.float64).numpy()
    return value
