"""`RLWatch`, the monitor: the boundary between a training loop and rlwatch.

`RLWatch.log_step` is called on the training thread for every step. It never
raises, does no I/O and no O(window) work: it coerces values, feeds the
detectors, hands alerts to the pipeline and appends the row to the writer's
queue. Everything slow happens on background threads.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import platform
import signal
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from rlwatch import plugins
from rlwatch._version import __version__
from rlwatch.alert_manager import AlertManager
from rlwatch.alerts import Alert
from rlwatch.channels.base import Delivery, RunContext
from rlwatch.channels.dispatcher import Dispatcher
from rlwatch.coerce import UNUSABLE, to_array, to_float, to_step
from rlwatch.config import ConfigError, RLWatchConfig, load_config
from rlwatch.detectors.base import Detector
from rlwatch.distributed import resolve_rank
from rlwatch.guard import report, swallow
from rlwatch.storage.writer import StoreWriter, get_writer, release_writer

logger = logging.getLogger("rlwatch")

_ARRAY_METRICS = frozenset({"rewards", "advantages"})
_MAX_NAME = 1024

_live: weakref.WeakSet[RLWatch] = weakref.WeakSet()
_global: RLWatch | None = None
_global_lock = threading.RLock()
_crashed = False
_hooks_installed = False
_warned_no_monitor = False


class RLWatch:
    """A monitor for one run.

    Example::

        mon = RLWatch(RLWatchConfig(run_id="a")).start()
        mon.log_step(0, entropy=2.1, loss=0.3)
        mon.stop()

    Several monitors may live in one process (each its own run). Monitors
    writing to the same file share one writer thread.
    """

    def __init__(self, config: RLWatchConfig | None = None) -> None:
        self.config = config if config is not None else RLWatchConfig()
        self.run_id = self.config.run_id
        self.active = False
        self.started = False
        self.stopped = False
        self.rank = 0
        self.world_size = 1
        self.db_path = os.path.abspath(self.config.db_path)
        self.framework = self.config.framework
        self._pid = os.getpid()
        self._writer: StoreWriter | None = None
        self._detectors: list[Detector] = []
        self._timed: list[Detector] = []
        self._manager: AlertManager | None = None
        self._dispatcher: Dispatcher | None = None
        self._context = RunContext(run_id=self.run_id)
        self._every = max(1, int(self.config.log_every_n_steps))
        self._calls = 0
        self._last_step: int | None = None
        self._next_alert_id = 1
        self._alert_lock = threading.Lock()
        self.skipped: dict[str, int] = {}
        self._warned: set[str] = set()
        self._timer: threading.Thread | None = None
        self._timer_stop = threading.Event()
        self._lock = threading.RLock()

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> RLWatch:
        """Open the run (or resume it), load detectors and channels.

        Raises:
            ConfigError: a channel is misconfigured (bad URL, missing recipient).
        """
        with self._lock:
            if self.started:
                return self
            self.started = True
            try:
                self._start()
            except ConfigError:
                self.active = False
                raise
            except Exception as exc:  # noqa: BLE001 - never raise into user code
                report("RLWatch.start", exc)
                self.active = False
        return self

    def _start(self) -> None:
        cfg = self.config
        if cfg.disable:
            logger.info("rlwatch is disabled (RLWATCH_DISABLE / disable: true); nothing is recorded")
            return
        self.rank, self.world_size = resolve_rank(cfg.distributed.rank, cfg.distributed.world_size)
        if self.rank != 0 and not cfg.distributed.all_ranks:
            logger.debug("rlwatch: rank %d of %d does not record (only rank 0 does)", self.rank, self.world_size)
            return
        # `import rlwatch` defers numpy, but some detectors need it the first
        # time a statistic runs; loading it here, in the user's setup call,
        # keeps that one-time ~70 ms off the training loop.
        import numpy  # noqa: F401
        if not self.run_id:
            self.run_id = _generate_run_id(self.framework)
        if cfg.distributed.all_ranks and self.world_size > 1:
            self.run_id = f"{self.run_id}-rank{self.rank}"
        self._context = RunContext(run_id=self.run_id, framework=self.framework, host=platform.node(),
                                   db_path=self.db_path)
        channels = []
        for group in plugins.call_each("rlwatch_channels", config=cfg):
            channels.extend(group)
        self._detectors = []
        cooldowns: dict[str, int] = {}
        for cls in plugins.detector_classes():
            section = cfg.section(cls.id)
            if section is None:
                section = cls.config_class()
            if not getattr(section, "enabled", True):
                continue
            try:
                self._detectors.append(cls(section))
                cooldowns[cls.id] = int(getattr(section, "cooldown_steps", 0))
            except Exception as exc:  # noqa: BLE001 - a broken detector is skipped
                report(f"detector {cls.id}.__init__", exc)
        self._timed = [d for d in self._detectors if type(d).check_time is not Detector.check_time]
        self._manager = AlertManager(cfg.alerts.max_alerts_per_run, cooldowns)
        self._writer = get_writer(self.db_path, cfg.storage.flush_interval_seconds, cfg.storage.queue_max_rows)
        self._writer.skipped_providers[self.run_id] = lambda: dict(self.skipped)
        # Read on the writer thread once per flush: summaries only read detector state.
        self._writer.state_providers[self.run_id] = self.detector_summaries
        resume = self._writer.open_run(self._run_row(), timeout=10.0)
        if resume is not None and resume.existed:
            self._next_alert_id = resume.max_alert_id + 1
            logger.info("rlwatch: resuming run %r (last stored step %s)", self.run_id, resume.last_step)
        elif resume is None:
            # The store did not answer (locked, read-only, ...): alert ids must still be unique.
            self._next_alert_id = int(time.time()) * 1000
        self._dispatcher = Dispatcher(channels, self._context, self._record_delivery, cfg.alerts.dispatch_queue_size)
        self.active = True
        _live.add(self)
        _install_process_hooks()
        if self._timed:
            self._timer = threading.Thread(target=self._timer_loop, name="rlwatch-timer", daemon=True)
            self._timer.start()
        plugins.call_each("rlwatch_run_started", monitor=self)

    def _run_row(self) -> dict[str, Any]:
        import json

        now = time.time()
        return {
            "run_id": self.run_id, "status": "running", "started_at": now, "updated_at": now,
            "framework": self.framework, "host": platform.node(), "pid": os.getpid(),
            "rank": self.rank, "world_size": self.world_size, "rlwatch_version": __version__,
            "config_json": json.dumps(self.config.to_dict(redact=True), default=str),
        }

    def stop(self, status: str = "finished") -> None:
        """Flush everything, deliver pending notifications (bounded), close the run."""
        with swallow("RLWatch.stop"):
            with self._lock:
                if self.stopped or not self.active or os.getpid() != self._pid:
                    self.stopped = True
                    self.active = False
                    return
                self.stopped = True
            self._timer_stop.set()
            # Hooks first, while the monitor still accepts steps: adapters drain
            # work in flight here (rlwatch-jax waits for its JAX callbacks).
            plugins.call_each("rlwatch_run_finished", monitor=self, status=status)
            self.active = False
            if self._dispatcher is not None:
                self._dispatcher.close(self.config.alerts.exit_flush_timeout_seconds, status)
            if self._writer is not None:
                self._writer.put_run_update(self.run_id, status=status, ended_at=time.time())
                release_writer(self._writer, timeout=10.0)
            _live.discard(self)

    def flush(self, timeout: float = 5.0) -> bool:
        """Write everything logged so far to SQLite; True if done in time."""
        with swallow("RLWatch.flush"):
            if self._writer is not None and self.active:
                return self._writer.flush(timeout)
        return False

    def __enter__(self) -> RLWatch:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        crashed = exc_type is not None and not issubclass(exc_type, KeyboardInterrupt)
        self.stop("crashed" if crashed else "finished")

    # -- the hot path -------------------------------------------------------------

    def log_step(
        self,
        step: Any = None,
        *,
        entropy: Any = None,
        kl_divergence: Any = None,
        reward_mean: Any = None,
        reward_std: Any = None,
        rewards: Any = None,
        advantage_std: Any = None,
        loss: Any = None,
        grad_norm: Any = None,
        learning_rate: Any = None,
        clip_fraction: Any = None,
        **extra_metrics: Any,
    ) -> list[Alert]:
        """Record one training step and return the alerts raised at it.

        Never raises. Values may be Python/numpy/torch/jax scalars, None
        (ignored) or anything else (skipped, counted, warned once per name).
        ``rewards`` (and ``advantages``) may be arrays.
        """
        if not self.active:
            return []
        try:
            self._calls += 1
            if self._every > 1 and (self._calls - 1) % self._every:
                return []
            raw = {
                "entropy": entropy, "kl_divergence": kl_divergence, "reward_mean": reward_mean,
                "reward_std": reward_std, "advantage_std": advantage_std, "loss": loss,
                "grad_norm": grad_norm, "learning_rate": learning_rate, "clip_fraction": clip_fraction,
            }
            if rewards is not None:
                extra_metrics["rewards"] = rewards
            if extra_metrics:
                raw.update(extra_metrics)
            return self._ingest(step, raw, time.time())
        except Exception as exc:  # noqa: BLE001 - this is the boundary
            report("RLWatch.log_step", exc)
            return []

    def _ingest(self, step: Any, raw: Mapping[str, Any], wall_time: float, detect: bool = True) -> list[Alert]:
        # A forked child never gets here: the at-fork hook deactivates every
        # monitor in the child (see _after_fork_in_child).
        st = step if type(step) is int and 0 <= step < 9_223_372_036_854_775_807 else self._fix_step(step)
        if st is None:
            return []
        last = self._last_step
        if last is not None and st <= last and "step" not in self._warned:
            self._warn_once("step", f"rlwatch: step {st} is not after the previous step {last}; "
                            "values at repeated steps overwrite the stored ones (e.g. after a restart)")
        self._last_step = st if last is None or st > last else last
        values: dict[str, float] = {}
        arrays: dict[str, Any] = {}
        for name, v in raw.items():
            if v is None:
                continue
            if type(v) is float:
                values[name] = v
                continue
            if name in _ARRAY_METRICS:
                arr = to_array(v)
                if arr is UNUSABLE:
                    self._skip(name, v)
                else:
                    arrays[name] = arr
                continue
            if type(name) is not str or not name or len(name) > _MAX_NAME:
                self._skip(str(name)[:80], v)
                continue
            f = to_float(v)
            if f is UNUSABLE:
                self._skip(name, v)
            else:
                values[name] = f
        if arrays:
            self._derive_from_arrays(values, arrays)
        alerts: list[Alert] | None = None
        for det in self._detectors if detect else ():
            try:
                found = det.update(st, values, arrays)
            except Exception as exc:  # noqa: BLE001 - one broken detector must not stop the others
                report(f"detector {det.id}.update", exc)
                continue
            if found:
                if alerts is None:
                    alerts = []
                alerts.extend(found)
        writer = self._writer
        if writer is not None and values:
            writer.put_step(self.run_id, st, wall_time, values)
        if alerts is None:
            return []
        return self._handle_alerts(alerts)

    @staticmethod
    def _derive_from_arrays(values: dict[str, float], arrays: dict[str, Any]) -> None:
        # Only what the caller did not log itself; sum/dot instead of numpy's
        # mean/std keeps this at ~2 µs for a few hundred samples.
        rewards = arrays.get("rewards")
        if rewards is not None and ("reward_mean" not in values or "reward_std" not in values):
            stats = _mean_std(rewards)
            if stats is not None:
                values.setdefault("reward_mean", stats[0])
                values.setdefault("reward_std", stats[1])
        adv = arrays.get("advantages")
        if adv is not None and "advantage_std" not in values:
            stats = _mean_std(adv)
            if stats is not None:
                values.setdefault("advantage_std", stats[1])

    def _fix_step(self, step: Any) -> int | None:
        if step is None:
            nxt = 0 if self._last_step is None else self._last_step + 1
            self._warn_once("step-none", "rlwatch: log_step called with step=None; numbering steps 0, 1, 2, ...")
            return nxt
        st = to_step(step)
        if st is None:
            self._skip("<step>", step)
        return st

    def _skip(self, name: str, value: Any) -> None:
        self.skipped[name] = self.skipped.get(name, 0) + 1
        if name not in self._warned:
            kind = type(value).__name__
            hint = "an array" if hasattr(value, "__len__") and not isinstance(value, (str, bytes)) else kind
            self._warn_once(name, f"rlwatch: metric {name!r} has an unusable value ({hint}); it is skipped "
                                  "and counted (see `rlwatch diagnose`). Only rewards/advantages take arrays.")

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message)

    # -- alerts ---------------------------------------------------------------------

    def _handle_alerts(self, alerts: list[Alert]) -> list[Alert]:
        out: list[Alert] = []
        manager, writer, dispatcher = self._manager, self._writer, self._dispatcher
        for alert in alerts:
            with self._alert_lock:
                alert.alert_id = self._next_alert_id
                self._next_alert_id += 1
            alert.run_id = self.run_id
            status, reason = manager.decide(alert) if manager is not None else ("sent", "")
            if writer is not None:
                writer.put_alert(self.run_id, alert, status, reason)
            if status == "sent":
                out.append(alert)
                if dispatcher is not None:
                    dispatcher.dispatch(alert)
            plugins.call_each("rlwatch_alert", alert=alert, status=status, reason=reason, monitor=self)
        return out

    def _record_delivery(self, alert: Alert, channel: str, delivery: Delivery) -> None:
        if self._writer is not None:
            self._writer.put_delivery(self.run_id, alert.alert_id, channel, delivery.status,
                                      delivery.attempts, delivery.detail)

    def _timer_loop(self) -> None:
        while not self._timer_stop.wait(1.0):
            with swallow("RLWatch.timer"):
                if not self.active:
                    return
                found: list[Alert] = []
                now = time.time()
                for det in self._timed:
                    try:
                        got = det.check_time(now, self._last_step if self._last_step is not None else -1)
                    except Exception as exc:  # noqa: BLE001
                        report(f"detector {det.id}.check_time", exc)
                        continue
                    if got:
                        found.extend(got)
                if found:
                    self._handle_alerts(found)

    # -- bulk ----------------------------------------------------------------------------

    def log_metrics(self, rows: Iterable[Mapping[str, Any]], detect: bool = True) -> int:
        """Record many steps at once (history, replays). Never raises.

        Args:
            rows: Mappings with a ``"step"`` key plus metrics (and optionally
                ``"wall_time"``).
            detect: Run detectors over the rows (alerts are stored and sent
                as for `log_step`); False only stores them.

        Returns:
            Number of rows accepted.
        """
        if not self.active:
            return 0
        n = 0
        try:
            for row in rows:
                if not isinstance(row, Mapping):
                    self._skip("<row>", row)
                    continue
                try:
                    metrics = dict(row)
                    step = metrics.pop("step", None)
                    wall = metrics.pop("wall_time", None)
                    wall_f = to_float(wall) if wall is not None else UNUSABLE
                    self._ingest(step, metrics, wall_f if isinstance(wall_f, float) else time.time(), detect)
                    n += 1
                except Exception as exc:  # noqa: BLE001 - one bad row is skipped
                    report("RLWatch.log_metrics.row", exc)
        except Exception as exc:  # noqa: BLE001 - e.g. an iterator that raises
            report("RLWatch.log_metrics", exc)
        return n

    def detector_summaries(self) -> dict[str, dict[str, float]]:
        """Current baselines/thresholds of every detector (finite values only)."""
        out: dict[str, dict[str, float]] = {}
        for det in list(self._detectors):
            with swallow(f"detector {det.id}.summary"):
                values = {k: float(v) for k, v in dict(det.summary()).items()
                          if isinstance(v, (int, float)) and v == v and abs(v) != float("inf")}
                if values:
                    out[det.id] = values
        return out


def _mean_std(arr: Any) -> tuple[float, float] | None:
    """Mean and population std of the finite values of a float64 array (None if none)."""
    import numpy as np  # already imported: arrays only come from numpy (coerce.to_array)

    flat = arr.reshape(-1)
    total = float(flat.sum())
    if total - total != 0.0:  # NaN or inf inside: fall back to the finite values only
        flat = flat[np.isfinite(flat)]
        if not flat.size:
            return None
        total = float(flat.sum())
    n = flat.size
    mean = total / n
    centred = flat - mean
    return mean, math.sqrt(float(centred.dot(centred)) / n)


def _generate_run_id(framework: str) -> str:
    name = framework if framework not in ("", "auto") else "run"
    return f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


# -- process-wide hooks: crash marking, SIGTERM, exit flush, fork ------------------------


def _install_process_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_at_exit)
    previous = sys.excepthook

    def excepthook(tp: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        global _crashed
        if not issubclass(tp, KeyboardInterrupt):
            _crashed = True
        previous(tp, value, tb)

    sys.excepthook = excepthook
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
    if threading.current_thread() is threading.main_thread():
        with swallow("install SIGTERM handler"):
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _on_sigterm)


def _stop_all(status: str) -> None:
    for mon in list(_live):
        mon.stop(status)


def _at_exit() -> None:
    _stop_all("crashed" if _crashed else "finished")


def _on_sigterm(signum: int, frame: Any) -> None:
    # Flush and mark the runs, then die of SIGTERM as the default handler would.
    _stop_all("crashed")
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _after_fork_in_child() -> None:
    for mon in list(_live):
        mon.active = False
    _live.clear()


# -- module-level API ---------------------------------------------------------------------------


def attach(
    config_path: str | None = None,
    framework: str = "auto",
    run_id: str = "",
    trainer: Any = None,
    **overrides: Any,
) -> RLWatch:
    """Create, start and make global a monitor for this process.

    Args:
        config_path: YAML file (else ``$RLWATCH_CONFIG``, else ./rlwatch.yaml).
        framework: ``"auto"`` asks adapters; or a name (trl, lightning, ...).
        run_id: Run name; the same id again resumes that run.
        trainer: A framework object (e.g. a TRL Trainer) to wire up through
            the adapters' ``rlwatch_adapt_trainer`` hook.
        **overrides: Config overrides, nested (``storage={"log_dir": d}``) or
            shorthands (``log_dir=d``).

    Returns:
        The started monitor (a no-op one if disabled or on a non-zero rank).

    Raises:
        ConfigError: bad configuration (the user's setup call, before training).
    """
    global _global
    if not isinstance(run_id, str) or not isinstance(framework, str):
        raise ConfigError(
            f"run_id and framework must be strings, got {type(run_id).__name__} and {type(framework).__name__}"
        )
    if run_id:
        overrides["run_id"] = run_id
    if framework != "auto":
        overrides["framework"] = framework
    config = load_config(config_path, overrides)
    try:
        if config.framework == "auto":
            detected = plugins.call_first("rlwatch_detect_framework")
            config.framework = str(detected) if detected else "manual"
        with _global_lock:
            current = _global
            if (current is not None and current.active and config.run_id
                    and current.run_id == config.run_id and current.db_path == os.path.abspath(config.db_path)):
                monitor = current
            else:
                monitor = RLWatch(config).start()
                _global = monitor
        if trainer is not None and monitor.active:
            handled = plugins.call_first("rlwatch_adapt_trainer", monitor=monitor, trainer=trainer)
            if not handled:
                logger.warning(
                    "rlwatch: no installed adapter knows %s; install rlwatch-trl, rlwatch-lightning or "
                    "rlwatch-rllib, or call monitor.log_step yourself", type(trainer).__name__,
                )
        return monitor
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - never raise into user code
        report("rlwatch.attach", exc)
        return _global if _global is not None else RLWatch(config)


def get_monitor() -> RLWatch | None:
    """The process-wide monitor set by `attach`, or None."""
    return _global


def log_step(step: Any = None, **metrics: Any) -> list[Alert]:
    """`RLWatch.log_step` on the process-wide monitor; [] (one warning) before attach."""
    global _warned_no_monitor
    monitor = _global
    if monitor is None:
        if not _warned_no_monitor:
            _warned_no_monitor = True
            logger.warning("rlwatch.log_step called before rlwatch.attach(); nothing is recorded")
        return []
    return monitor.log_step(step, **metrics)


def _reset_for_tests() -> None:
    """Stop every monitor and forget the global one (tests only)."""
    global _global, _crashed, _warned_no_monitor
    _stop_all("finished")
    _global = None
    _crashed = False
    _warned_no_monitor = False

