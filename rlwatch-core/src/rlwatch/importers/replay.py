"""Replay rows through the real monitor: the live code path, not a second implementation.

Every imported row goes through `rlwatch.core.RLWatch.log_metrics`, exactly
as a live run's steps go through ``log_step``: the same coercion, the same
detectors with the same configuration (the user's ``rlwatch.yaml``
included), the same alert manager, the same writer. What differs for a
replay is said in one place, `replay_overrides`, and in the three functions
of the "core API" section below.

Rows are fed in chunks and the writer is flushed after each: the monitor's
queue drops rows when a producer outruns the writer (right for a training
loop, which must never block; wrong for an import, which must store every
row), so the replay waits for the writer instead.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rlwatch.config import RLWatchConfig, load_config
from rlwatch.core import RLWatch
from rlwatch.importers.errors import ImportUsageError
from rlwatch.importers.progress import Progress

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
    alerts: dict[str, Any] = {"console": {"enabled": target.notify}}
    if hasattr(RLWatchConfig().alerts, "notify"):
        alerts["notify"] = target.notify
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


def replay(rows: Iterable[Mapping[str, Any]], target: ReplayTarget, progress: Progress) -> ReplayOutcome:
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
            progress.advance(len(chunk))
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


# =====================================================================================================
# CORE API THE REPLAY NEEDS FROM rlwatch-core
#
# The three functions below are the whole contract between the importer and the monitor. Until
# rlwatch-core offers them, each is built here from what the core already has, and says what it
# stands in for. Nothing else in rlwatch.importers touches the monitor.
# =====================================================================================================


def start_replay_monitor(config: RLWatchConfig, *, source: str, source_path: str, notify: bool) -> RLWatch:
    """Start the monitor of one replay.

    Stands in for (wanted from core)::

        RLWatch(config, replay=Replay(source=source, source_path=source_path, notify=notify)).start()

    which should: record ``source`` / ``source_path`` on the run (schema v4
    columns); build no notification channel unless ``notify`` (the console
    channel included); run every detector synchronously inside
    ``log_metrics``; leave time-based detectors (``stalled``) off; store a
    row without ``wall_time`` with a NULL wall time (not the replay's clock);
    take ``started_at`` / ``ended_at`` from the first and last rows' wall
    times when they have them; and make ``log_metrics`` wait for the writer
    instead of dropping rows when its queue is full.

    Here, meanwhile: channels are off through the configuration
    (`replay_overrides`: ``alerts.notify`` where the core has it, the console
    channel, and below every ``alerts.*`` section a plugin added), the
    ``stalled`` detector is off by configuration, detectors already run
    inside ``log_metrics``, `replay` waits for the writer chunk by chunk, and
    the source is set on the monitor's ``source`` / ``source_path`` where the
    core has them (schema v4).
    """
    if not notify:
        for path, section in config.plugin_sections.items():
            if path.startswith("alerts.") and hasattr(section, "enabled"):
                section.enabled = False
    monitor = RLWatch(config)
    if hasattr(monitor, "source_path"):
        setattr(monitor, "source", source)  # noqa: B010 - attributes of the v4 core only
        setattr(monitor, "source_path", source_path)  # noqa: B010
    return monitor.start()


def finish_replay_monitor(monitor: RLWatch) -> None:
    """Close the run of a replay that went to the end.

    Stands in for ``monitor.stop("finished")`` with the replay's end time
    taken from the last row (wanted from core, see `start_replay_monitor`);
    here the run simply ends now.
    """
    monitor.stop("finished")


def discard_run(monitor: RLWatch, target: ReplayTarget) -> None:
    """Remove the run of a replay that failed, leaving the database as it was. Never raises.

    Stands in for ``monitor.discard()`` (wanted from core): stop the monitor
    without marking the run, and delete the run with its metric rows,
    alerts, deliveries and journal entries in one transaction, or remove the
    database file if the run created it.

    Here, meanwhile: the monitor is stopped, then every row of every table
    with a ``run_pk`` column that belongs to the run, and the run itself, are
    deleted in one transaction through a connection of our own (whatever the
    schema version); a database file this import created is removed.
    """
    try:
        monitor.stop("failed")
    except Exception as exc:  # noqa: BLE001 - cleaning up must go on
        logger.debug("rlwatch import: stopping the monitor failed: %s", exc)
    path = target.db_path
    if not target.db_existed:
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.remove(path + suffix)
            except OSError:
                pass
        return
    try:
        con = sqlite3.connect(path, timeout=30.0)
        try:
            with con:
                row = con.execute("SELECT run_pk FROM runs WHERE run_id = ?", (target.run_id,)).fetchone()
                if row is None:
                    return
                tables = [name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
                for table in tables:
                    columns = {info[1] for info in con.execute(f'PRAGMA table_info("{table}")')}
                    if "run_pk" in columns and table != "runs":
                        con.execute(f'DELETE FROM "{table}" WHERE run_pk = ?', (row[0],))
                con.execute("DELETE FROM runs WHERE run_pk = ?", (row[0],))
        finally:
            con.close()
    except sqlite3.Error as exc:
        logger.warning("rlwatch import: could not remove the unfinished run %r from %s: %s", target.run_id, path, exc)
