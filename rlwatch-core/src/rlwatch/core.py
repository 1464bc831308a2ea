"""`RLWatch`, the monitor: the boundary between a training loop and rlwatch.

`RLWatch.log_step` is called on the training thread for every step. It never
raises, does no I/O and no O(window) work: it coerces values, feeds the
detectors, hands alerts to the pipeline and appends the row to the writer's
buffer. Everything slow happens on background threads: the writer
(`rlwatch.storage.writer`), the notification workers
(`rlwatch.channels.dispatcher`) and this monitor's timer, which runs the
time-based detectors and pushes detector state and counters to storage.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from rlwatch import logsink, plugins, process
from rlwatch.alert_manager import AlertManager
from rlwatch.alerting import AlertPipeline
from rlwatch.alerts import Alert
from rlwatch.assembly import build_channels, build_detectors, generate_run_id, run_row
from rlwatch.channels.base import RunContext
from rlwatch.coerce import UNUSABLE, to_float
from rlwatch.config import RLWatchConfig
from rlwatch.detectors.base import Detector
from rlwatch.distributed import resolve_rank
from rlwatch.errors import ConfigError
from rlwatch.guard import report, swallow
from rlwatch.intake import Intake
from rlwatch.replication import acquire_replicator, release_replicator
from rlwatch.routing import Router
from rlwatch.storage.shared import get_writer, release_writer
from rlwatch.storage.writer import StoreWriter

logger = logging.getLogger("rlwatch")

_STATE_EVERY_SECONDS = 5.0
"""How often the timer pushes detector baselines and skip counters to storage."""

class RLWatch:
    """A monitor for one run.

    Example::

        mon = RLWatch(RLWatchConfig(run_id="a")).start()
        mon.log_step(0, entropy=2.1, loss=0.3)
        mon.stop()

    Several monitors may live in one process (each its own run). Monitors
    writing to the same file share one writer thread.
    """

    def __init__(self, config: RLWatchConfig | None = None, *, source: str = "", source_path: str = "") -> None:
        """A monitor for the run of `config` (not started: see `start`).

        Args:
            config: The configuration (defaults when None).
            source: For a replay of existing logs (``rlwatch import``): the
                format name, recorded on the run. A replay runs every
                statistic synchronously, stores a row without ``wall_time``
                with no wall time (not the replay's clock), takes the run's
                start and end times from the rows, and waits for storage
                instead of dropping rows when it falls behind.
            source_path: For a replay: the file or folder it reads.
        """
        self.config = config if config is not None else RLWatchConfig()
        self.run_id = self.config.run_id
        self.run_uid = ""
        self.active = False
        self.started = False
        self.stopped = False
        self.rank = 0
        self.world_size = 1
        self.db_path = os.path.abspath(self.config.db_path)
        self.framework = self.config.framework
        self.source = source
        self.source_path = source_path
        self.replay = bool(source)
        self._walls: list[float] = []  # first and last wall time of a replay's rows
        self._pid = os.getpid()
        self._writer: StoreWriter | None = None
        self._replicator_key: tuple[str, str] | None = None
        self._detectors: list[Detector[Any]] = []
        self._router = Router([])
        self._timed: list[Detector[Any]] = []
        self._alerts: AlertPipeline | None = None
        self._context = RunContext(run_id=self.run_id)
        self._every = max(1, int(self.config.log_every_n_steps))
        self._calls = 0
        self._intake = Intake()
        self._skipped_pushed: dict[str, int] = {}
        self._timer: threading.Thread | None = None
        self._timer_stop = threading.Event()
        self._lock = threading.RLock()

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> RLWatch:
        """Open the run (or resume it), load detectors and channels.

        Raises:
            ConfigError: a channel or the team store is misconfigured.
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
        # From here on rlwatch's own warnings are written by a background thread: a blocked
        # stderr must never stop the training loop.
        logsink.install()
        hook = plugins.hook()
        detected = hook.rlwatch_detect_rank() if cfg.distributed.rank < 0 else None
        self.rank, self.world_size = resolve_rank(cfg.distributed.rank, cfg.distributed.world_size, detected)
        if self.rank != 0 and not cfg.distributed.all_ranks:
            logger.debug("rlwatch: rank %d of %d does not record (only rank 0 does)", self.rank, self.world_size)
            return
        # `import rlwatch` defers numpy, but some detectors need it the first
        # time a statistic runs; loading it here, in the user's setup call,
        # keeps that one-time ~70 ms off the training loop.
        import numpy  # noqa: F401
        if not self.run_id:
            self.run_id = generate_run_id(self.framework)
        if cfg.distributed.all_ranks and self.world_size > 1:
            self.run_id = f"{self.run_id}-rank{self.rank}"
        self._context = RunContext(run_id=self.run_id, framework=self.framework, host=platform.node(),
                                   db_path=self.db_path)
        channels = build_channels(cfg)
        self._detectors = build_detectors(cfg)
        self._router = Router(self._detectors)
        for det in self._detectors:
            det.set_background(not self.replay)
        self._timed = [d for d in self._detectors if type(d).check_time is not Detector.check_time]
        cooldowns = {d.id: int(d.config.cooldown_steps) for d in self._detectors}
        self._writer = get_writer(self.db_path, cfg.storage.flush_interval_seconds, cfg.storage.queue_max_rows)
        self.run_uid = uuid.uuid4().hex
        row = run_row(cfg, self.run_id, self.run_uid, self.rank, self.world_size, self.source, self.source_path)
        resume = self._writer.open_run(row, timeout=10.0)
        first_alert_id = 1
        if resume is not None and resume.existed:
            first_alert_id = resume.max_alert_id + 1
            self.run_uid = resume.run_uid or self.run_uid
            logger.info("rlwatch: resuming run %r (last stored step %s)", self.run_id, resume.last_step)
        elif resume is None:
            # The store did not answer (locked, read-only, ...): alert ids must still be unique.
            first_alert_id = int(time.time()) * 1000
        manager = AlertManager(cfg.alerts.max_alerts_per_run, cooldowns)
        self._alerts = AlertPipeline(self.run_id, manager, self._writer, first_alert_id)
        if cfg.storage.url:
            self._replicator_key = acquire_replicator(cfg.storage.url, self.db_path)
        self._alerts.open_channels(channels, self._context, cfg.alerts.dispatch_queue_size)
        self.active = True
        process.track(self)
        self._timer = threading.Thread(target=self._timer_loop, name="rlwatch-timer", daemon=True)
        self._timer.start()
        hook.rlwatch_run_started(monitor=self)

    def stop(self, status: str = "finished", reason: str = "") -> None:
        """Flush everything, deliver pending notifications (bounded), close the run.

        Args:
            status: How the run ended: finished, failed, crashed or interrupted.
            reason: Why, in a few words (an exit code, a signal, an exception type).
        """
        with swallow("RLWatch.stop"):
            if not self._begin_closing():
                return
            # Hooks first, while the monitor still accepts steps: adapters drain
            # work in flight here (rlwatch-jax waits for its JAX callbacks).
            plugins.hook().rlwatch_run_finished(monitor=self, status=status)
            self.active = False
            if self._alerts is not None:
                self._alerts.close(self.config.alerts.exit_flush_timeout_seconds, status)
            writer = self._writer
            if writer is not None:
                self._push_state(final=True)
                times: dict[str, float] = {"ended_at": time.time()}
                if self.replay and self._walls:
                    times = {"started_at": self._walls[0], "ended_at": self._walls[-1]}
                writer.put_run_update(self.run_id, status=status, end_reason=reason or None, **times)
                writer.release_run(self.run_id)
            self._release()
            logsink.flush(0.5)

    def discard(self) -> None:
        """Stop and delete this run and everything recorded for it (a replay that failed half way). Never raises."""
        with swallow("RLWatch.discard"):
            if not self._begin_closing():
                return
            self.active = False
            if self._alerts is not None:
                self._alerts.close(0.0, None)
            if self._writer is not None:
                self._writer.discard_run(self.run_id)
            self._release()

    def _begin_closing(self) -> bool:
        """Mark the monitor stopped; False when there is nothing to close (already stopped, a forked copy)."""
        with self._lock:
            closing = not (self.stopped or not self.active or os.getpid() != self._pid)
            self.stopped = True
            if not closing:
                self.active = False
        self._timer_stop.set()
        return closing

    def _release(self) -> None:
        """Give back the shared writer and replicator (the last user flushes and stops them)."""
        if self._writer is not None:
            release_writer(self._writer, timeout=10.0)
        if self._replicator_key is not None:
            release_replicator(self._replicator_key)
        process.untrack(self)

    def deactivate(self) -> None:
        """Stop recording in this process without touching storage (a forked child's copy of a monitor)."""
        self.active = False

    @property
    def skipped(self) -> dict[str, int]:
        """Unusable values skipped so far, by metric name."""
        return self._intake.skipped

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
        if exc_type is None:
            self.stop("finished")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.stop("interrupted", "KeyboardInterrupt")
        else:
            self.stop("crashed", f"exception: {exc_type.__name__}")

    # -- the hot path -------------------------------------------------------------

    def log_step(
        self,
        step: Any = None,
        /,
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
        ``rewards`` (and ``advantages``) may be arrays. The step is
        positional, so a metrics dict that happens to hold ``"step"``
        (``log_step(s, **logs)``) cannot collide with it.
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
                if "step" in extra_metrics:
                    named = extra_metrics.pop("step")
                    if step is None:
                        step = named
                raw.update(extra_metrics)
            return self._ingest(step, raw, time.time())
        except Exception as exc:  # noqa: BLE001 - this is the boundary
            report("RLWatch.log_step", exc)
            return []

    def _ingest(self, step: Any, raw: Mapping[str, Any], wall_time: float | None, detect: bool = True) -> list[Alert]:
        read = self._intake.read(step, raw)
        if read is None:
            return []
        st, repeated, values, arrays = read
        alerts: list[Alert] | None = None
        for det in self._router.route(values, arrays) if detect else ():
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
            writer.put_step(self.run_id, st, wall_time, values, repeated)
        if alerts is None:
            return []
        return self._alerts.handle(alerts, self) if self._alerts is not None else []

    def _timer_loop(self) -> None:
        next_state = time.monotonic() + _STATE_EVERY_SECONDS
        while not self._timer_stop.wait(1.0):
            with swallow("RLWatch.timer"):
                if not self.active:
                    return
                if self._timed:
                    self._check_time()
                if time.monotonic() >= next_state:
                    next_state = time.monotonic() + _STATE_EVERY_SECONDS
                    self._push_state()

    def _check_time(self) -> None:
        found: list[Alert] = []
        now = time.time()
        for det in self._timed:
            try:
                got = det.check_time(now, self._intake.last_step if self._intake.last_step is not None else -1)
            except Exception as exc:  # noqa: BLE001
                report(f"detector {det.id}.check_time", exc)
                continue
            if got:
                found.extend(got)
        if found and self._alerts is not None:
            self._alerts.handle(found, self)

    def _push_state(self, final: bool = False) -> None:
        """Hand the detectors' baselines and the skip counters to storage (timer thread, and at stop)."""
        writer = self._writer
        if writer is None:
            return
        fields: dict[str, Any] = {}
        state = self.detector_summaries()
        if state:
            fields["detector_state_json"] = json.dumps(state, allow_nan=False)
        skipped = dict(self._intake.skipped)
        if skipped != self._skipped_pushed or final:
            fields["skipped_json"] = json.dumps(skipped)
            self._skipped_pushed = skipped
        if fields:
            writer.put_run_update(self.run_id, **fields)

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
        for det in self._detectors:
            det.set_background(False)  # bulk history and replays: exact, synchronous statistics
        writer = self._writer
        try:
            for row in rows:
                if not isinstance(row, Mapping):
                    self._intake.skip("<row>", row)
                    continue
                try:
                    metrics = dict(row)
                    step = metrics.pop("step", None)
                    wall = metrics.pop("wall_time", None)
                    wall_f = to_float(wall) if wall is not None else UNUSABLE
                    if isinstance(wall_f, float):
                        when: float | None = wall_f
                        if self.replay:
                            if self._walls:
                                self._walls[1] = wall_f
                            else:
                                self._walls = [wall_f, wall_f]
                    else:
                        when = None if self.replay else time.time()
                    self._ingest(step, metrics, when, detect)
                    n += 1
                    if self.replay and writer is not None and n % 1024 == 0 and writer.crowded():
                        writer.flush(60.0)  # a replay waits for storage; a training loop never would
                except Exception as exc:  # noqa: BLE001 - one bad row is skipped
                    report("RLWatch.log_metrics.row", exc)
        except Exception as exc:  # noqa: BLE001 - e.g. an iterator that raises
            report("RLWatch.log_metrics", exc)
        finally:
            for det in self._detectors:
                det.set_background(True)
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
