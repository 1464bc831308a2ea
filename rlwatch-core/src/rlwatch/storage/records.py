"""The records readers return: one run (`RunInfo`) and one alert (`AlertRow`).

Every store (`rlwatch.storage.protocol.Store`) returns these, so the CLI and
dashboard work the same on a local file and on a team store.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rlwatch.storage.schema import HEARTBEAT_SECONDS

LOST_AFTER_SECONDS = 4 * HEARTBEAT_SECONDS
"""A running run without a heartbeat for this long ended without a word."""

ROW_FIELDS: tuple[str, ...] = ("run_id", "step", "wall_time")
"""Keys that rows (``Store.iter_rows``) and exports give to the row itself, not to a metric."""

METRIC_KEY_PREFIX = "metric/"
"""Put before a metric name that is one of `ROW_FIELDS`, so the metric keeps its own column."""


def row_keys(names: Iterable[str]) -> dict[str, str]:
    """Metric name -> its key in rows and exported files.

    A metric may be called ``wall_time`` or ``run_id`` (user code names
    metrics); written under its own name it would overwrite the row's wall
    time or run id. Such a metric gets `METRIC_KEY_PREFIX` (``metric/wall_time``),
    repeated in the unlikely case that name is taken too; every other metric
    keeps its name. The result never holds a `ROW_FIELDS` key and never maps
    two metrics to one key.
    """
    wanted = sorted(set(names))
    taken = set(ROW_FIELDS) | set(wanted)
    keys: dict[str, str] = {}
    for name in wanted:
        key = name
        if name in ROW_FIELDS:
            key = METRIC_KEY_PREFIX + name
            while key in taken:
                key = METRIC_KEY_PREFIX + key
            taken.add(key)
        keys[name] = key
    return keys


@dataclass
class RunInfo:
    """One row of the runs table, with derived counts."""

    run_id: str
    status: str
    started_at: float | None
    updated_at: float | None
    ended_at: float | None
    framework: str | None
    host: str | None
    pid: int | None
    rank: int | None
    world_size: int | None
    rlwatch_version: str | None
    config: dict[str, Any]
    last_step: int | None
    n_steps: int
    dropped_rows: int
    skipped: dict[str, int]
    alert_counts: dict[str, int] = field(default_factory=dict)
    detector_state: dict[str, dict[str, float]] = field(default_factory=dict)
    """Each detector's latest baselines/thresholds (as of the last flush)."""
    run_uid: str = ""
    """Globally unique identity (the ``run_id`` is the user's name, unique in one file only)."""
    source: str | None = None
    """None for a watched run; the import format (``trainer-state``, ``tensorboard``...) for a replay."""
    source_path: str | None = None
    """The imported file, for replays."""
    end_reason: str | None = None
    """Why the run ended (``exit code 3``, ``SIGTERM``, ``exception: ValueError``...)."""

    @property
    def display_status(self) -> str:
        """The status to show: a run still marked running whose heartbeat stopped is "lost".

        A live process refreshes ``updated_at`` every `HEARTBEAT_SECONDS`; a run
        whose process died without a word (``os._exit``, SIGKILL, power loss)
        keeps ``running`` in storage forever, so readers tell it apart here.
        """
        stale = self.updated_at is not None and time.time() - self.updated_at > LOST_AFTER_SECONDS
        return "lost" if self.status == "running" and stale else self.status

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON output), with the display status."""
        out = dict(self.__dict__)
        out["display_status"] = self.display_status
        return out


@dataclass
class AlertRow:
    """One stored alert, with its delivery outcomes."""

    run_id: str
    alert_id: int
    detector: str
    severity: str
    step: int | None
    message: str
    recommendation: str
    metric_values: dict[str, Any]
    created_at: float | None
    status: str
    reason: str | None
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON output)."""
        return dict(self.__dict__)
