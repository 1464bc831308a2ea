"""Replay rows through the real monitor: the live code path, not a second implementation.

Every imported row goes through `rlwatch.core.RLWatch.log_metrics`, exactly
as a live run's steps go through ``log_step``: the same coercion, the same
detectors with the same configuration (the user's ``rlwatch.yaml``
included), the same alert manager, the same writer. What differs for a
replay is said in one place, `replay_overrides`, and in the three functions
of the "core API" section below.

Rows are fed in chunks (for the progress bar); a replay monitor waits for
its writer instead of dropping rows when it falls behind, so every row is
stored.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rlwatch.config import RLWatchConfig, load_config
from rlwatch.core import RLWatch
from rlwatch.importers.errors import ImportUsageError

logger = logging.getLogger("rlwatch")

CHUNK_ROWS = 50_000
"""Most rows handed to the monitor between two waits for the writer (at most half its queue)."""
FLUSH_TIMEOUT_SECONDS = 60.0
"""Longest wait for the writer to store one chunk before the import gives up."""


@dataclass
class ReplayTarget:
    """Where and as what a source is replayed.

    Attributes:
        db_path: The SQLite file.
        run_id: The run to create (it must not exist yet).
        source: The format name, recorded on the run.
        source_path: The file or folder imported, recorded on the run.
        framework: Recorded on the run (the key map's framework).
        notify: Send alerts to the configured channels (console included);
            off by default: an import reports its alerts when it is done.
        config_path: The rlwatch.yaml whose detector settings apply.
        db_existed: Whether the file existed before this import (a failed
            import of a new file removes it again).
    """

    db_path: str
    run_id: str
    source: str
    source_path: str
    framework: str
    notify: bool = False
    config_path: str | None = None
    db_existed: bool = True


@dataclass
class ReplayOutcome:
    """What the monitor made of the rows.

    Attributes:
        rows: Rows accepted by the monitor.
        skipped: Values the monitor could not read, by metric name.
    """

    rows: int = 0
    skipped: dict[str, int] = field(default_factory=dict)


def replay_overrides(target: ReplayTarget) -> dict[str, Any]:
    """The configuration a replay changes, on top of the user's own.

    * the run, file and framework of the import;
    * never disabled, every row processed, recorded as rank 0 whatever the
      environment says (an import is not a training process);
    * the ``stalled`` detector off: it watches the wall clock of a live run,
      and a replay's clock is not the run's;
    * the console channel off unless notifications were asked for (the
      import prints its own summary).
    """
    alerts: dict[str, Any] = {"console": {"enabled": target.notify}, "notify": target.notify}
    return {
        "run_id": target.run_id,
        "framework": target.framework,
        "disable": False,
        "log_every_n_steps": 1,
        "storage": {"log_dir": os.path.dirname(target.db_path), "db_name": os.path.basename(target.db_path)},
        "stalled": {"enabled": False},
        "distributed": {"rank": 0, "world_size": 1, "all_ranks": False},
        "alerts": alerts,
    }


def replay(rows: Iterable[Mapping[str, Any]], target: ReplayTarget) -> ReplayOutcome:
    """Feed `rows` (``{"step": int, "wall_time"?: float, **metrics}``) through a new monitor.

    On any exception, including KeyboardInterrupt, the half-written run is
    removed before the exception propagates: an import either stores the
    whole run or nothing.

    Raises:
        ImportUsageError: the database does not take the rows.
        ConfigError: the user's configuration is invalid.
    """
    config = load_config(target.config_path, replay_overrides(target))
    monitor = start_replay_monitor(config, source=target.source, source_path=target.source_path, notify=target.notify)
    if not monitor.active:
        discard_run(monitor, target)
        raise ImportUsageError(f"{target.db_path}: cannot open the run for writing (see the log above)")
    outcome = ReplayOutcome()
    chunk_rows = max(1, min(CHUNK_ROWS, int(config.storage.queue_max_rows) // 2))
    try:
        for chunk in _chunks(rows, chunk_rows):
            outcome.rows += monitor.log_metrics(chunk)
            if not monitor.flush(FLUSH_TIMEOUT_SECONDS):
                raise ImportUsageError(
                    f"{target.db_path}: the database did not take the rows within {FLUSH_TIMEOUT_SECONDS:.0f} s "
                    "(locked by another program?)"
                )
        finish_replay_monitor(monitor)
    except BaseException:
        discard_run(monitor, target)
        raise
    outcome.skipped = dict(monitor.skipped)
    return outcome


def _chunks(rows: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    chunk: list[Mapping[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# -- the monitor side of a replay: everything rlwatch.importers asks of the monitor ----------------


def start_replay_monitor(config: RLWatchConfig, *, source: str, source_path: str, notify: bool) -> RLWatch:
    """Start the monitor of one replay: `RLWatch` in replay mode (``source`` set).

    The monitor records ``source`` / ``source_path`` on the run, runs every
    statistic synchronously, stores rows without ``wall_time`` without one,
    takes the run's start and end from the rows, and waits for storage rather
    than dropping rows. Channels follow ``alerts.notify`` (`replay_overrides`).
    """
    return RLWatch(config, source=source, source_path=source_path).start()


def finish_replay_monitor(monitor: RLWatch) -> None:
    """Close the run of a replay that went to the end (its end time is its last row's)."""
    monitor.stop("finished")


def discard_run(monitor: RLWatch, target: ReplayTarget) -> None:
    """Remove the run of a replay that failed, leaving the database as it was. Never raises.

    `RLWatch.discard` deletes the run and everything written for it in one
    transaction; a database file this import created is removed whole.
    """
    monitor.discard()
    if target.db_existed:
        return
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.remove(target.db_path + suffix)
        except OSError:
            pass
