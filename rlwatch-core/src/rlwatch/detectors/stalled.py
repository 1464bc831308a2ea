"""`stalled`: no training step logged for too long (the job hung).

Checked from the monitor's background timer through `check_time` (about
once a second), never on the training thread. The detector watches
``last_step`` advance between timer ticks and learns the run's own time per
step (rolling median), so the default timeout adapts: a run with 2 s steps
is stalled long before one with 5 min steps. Without ``timeout_seconds`` the
timeout is the largest of ``min_timeout_seconds``, ``interval_multiplier`` x
the typical step interval and ``pause_multiplier`` x the longest pause seen
so far (periodic evaluation or checkpointing). Critical after
``critical_factor`` x the timeout. Each stall alerts at most once per
severity; a new step ends it. In a notebook or interactive interpreter the
learned timeout is off (the kernel outlives the training loop); set
``timeout_seconds`` to watch for hangs there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from rlwatch.alerts import Alert
from rlwatch.detectors.base import Detector, DetectorConfig, StepArrays, StepValues
from rlwatch.hookspecs import hookimpl
from rlwatch.options import require
from rlwatch.stats.robust import RollingBaseline

RECOMMENDATION = (
    "1) Check the process is alive and where it waits: py-spy dump --pid <pid> (or the "
    "job scheduler's logs); a hung NCCL collective usually means one rank died or "
    "diverged - look at every rank's log. "
    "2) Check the generation/inference server (vLLM) and reward services the trainer "
    "waits on, and the node's GPU state (nvidia-smi, Xid errors, OOM killer in dmesg). "
    "3) Restart from the last checkpoint; set NCCL/torch.distributed timeouts so a hang "
    "fails fast next time."
)


@dataclass
class StalledConfig(DetectorConfig):
    """Options of the `stalled` detector.

    Attributes:
        timeout_seconds: Seconds without a new step before a warning;
            0 learns it from the run (see the module docs).
        min_timeout_seconds: Lower bound of the learned timeout.
        interval_multiplier: Learned timeout is at least this many typical
            step intervals.
        pause_multiplier: ... and at least this multiple of the longest
            pause seen so far (periodic evals and checkpoints).
        critical_factor: Critical after this multiple of the timeout.
        warmup_steps: Steps needed to learn the interval before a learned
            timeout applies (an explicit timeout applies from the first step).
    """

    timeout_seconds: float = 0.0
    min_timeout_seconds: float = 60.0
    interval_multiplier: float = 10.0
    pause_multiplier: float = 1.5
    critical_factor: float = 3.0
    warmup_steps: int = 5

    def validate(self) -> None:
        """Raise `rlwatch.config.ConfigError` for impossible values."""
        super().validate()
        require(self.timeout_seconds >= 0.0, "stalled.timeout_seconds must be >= 0 (0: learn)")
        require(self.min_timeout_seconds > 0.0, "stalled.min_timeout_seconds must be > 0")
        require(self.interval_multiplier >= 1.0, "stalled.interval_multiplier must be >= 1")
        require(self.pause_multiplier >= 1.0, "stalled.pause_multiplier must be >= 1")
        require(self.critical_factor > 1.0, "stalled.critical_factor must be > 1")


def _interactive() -> bool:
    """True inside a Jupyter/IPython kernel or an interactive interpreter."""
    import sys

    return "ipykernel" in sys.modules or hasattr(sys, "ps1") or bool(sys.flags.interactive)


class StalledDetector(Detector[StalledConfig]):
    """No new step for longer than a timeout learned from the run's step interval."""

    id: ClassVar[str] = "stalled"
    config_class = StalledConfig
    metrics: ClassVar[tuple[str, ...]] = ()
    arrays: ClassVar[tuple[str, ...]] = ()
    missing_hint: ClassVar[str] = ""
    per_step: ClassVar[bool] = False  # it watches the clock (check_time), not the values

    def __init__(self, config: StalledConfig | None = None) -> None:
        super().__init__(config)
        self._intervals = RollingBaseline(window=64, refresh=4, min_count=3)
        self._last_step: int | None = None
        self._since = math.nan  # clock time of the last observed progress
        self._steps_seen = 0
        self._longest_pause = 0.0
        self._alerted = 0  # 0 none, 1 warning, 2 critical sent for this stall

    def update(self, step: int, values: StepValues, arrays: StepArrays) -> list[Alert] | None:
        """Steps are observed through `check_time`; nothing to do per step."""
        return None

    def timeout(self) -> float:
        """Current warning timeout in seconds (nan while still learning)."""
        cfg = self.config
        if cfg.timeout_seconds > 0.0:
            return cfg.timeout_seconds
        if self._steps_seen < max(cfg.warmup_steps, 1) or not self._intervals.ready:
            return math.nan
        return max(
            cfg.min_timeout_seconds,
            cfg.interval_multiplier * self._intervals.median,
            cfg.pause_multiplier * self._longest_pause,
        )

    def check_time(self, now: float, last_step: int) -> list[Alert] | None:
        """Called about once a second by the monitor's timer thread."""
        if last_step is None or last_step < 0:
            return None
        if last_step != self._last_step:
            self._progress(now, last_step)
            return None
        waited = now - self._since
        if self.config.timeout_seconds == 0.0 and _interactive():
            # In a notebook or REPL the process outlives the training loop, so
            # "no new step" usually means "training finished", not "hung".
            # Only an explicit timeout_seconds alerts there.
            return None
        limit = self.timeout()
        if not waited >= limit:  # also False while limit is nan
            return None
        cfg = self.config
        critical = waited >= cfg.critical_factor * limit
        level = 2 if critical else 1
        if level <= self._alerted:
            return None
        self._alerted = level
        typical = self._intervals.median
        learned = "" if cfg.timeout_seconds > 0.0 else ", learned from the run"
        return [
            self.alert(
                last_step,
                "critical" if critical else "warning",
                f"No training step logged for {waited:.0f} s (last step {last_step}; typical "
                f"step interval {typical:.3g} s; timeout {limit:.0f} s{learned}).",
                {"seconds_since_last_step": waited, "timeout_seconds": limit, "step_interval": typical},
                RECOMMENDATION,
            )
        ]

    def _progress(self, now: float, last_step: int) -> None:
        prev_step, prev_time = self._last_step, self._since
        self._last_step = last_step
        self._since = now
        self._alerted = 0
        if prev_step is None or prev_time != prev_time or last_step <= prev_step:
            # first step, or the run restarted its numbering: nothing to learn
            return
        gap = now - prev_time
        steps = last_step - prev_step
        self._steps_seen += steps
        if gap > 0.0:
            self._intervals.push(gap / steps)
            if self._steps_seen > steps and gap > self._longest_pause:
                # the first gap includes start-up (model loading): not a pause
                self._longest_pause = gap

    def summary(self) -> dict[str, float]:
        """Typical step interval, longest pause and the current timeout."""
        return {
            "step_interval": self._intervals.median,
            "longest_pause": self._longest_pause,
            "timeout_seconds": self.timeout(),
        }


@hookimpl
def rlwatch_detectors() -> list[type[Detector[StalledConfig]]]:
    """Register `stalled`."""
    return [StalledDetector]
