"""rlwatch's own log records, handled off the caller's thread so that logging never blocks training.

A warning written to stderr from the training thread blocks that thread for
as long as stderr does: a pipe nobody reads stops training for good. Once a
monitor starts, a filter on the ``rlwatch`` logger (and its children, e.g.
``rlwatch.notify``) takes each record off the caller's thread into a bounded
queue (`install`); a daemon thread hands it to exactly the handlers it would
have reached (the logger's own, then its ancestors' as propagation goes, else
``logging.lastResort``), so the user's logging configuration is honoured,
just later. A handler whose stream cannot take
more (a full pipe) is skipped for that record rather than waited on, and a
full queue drops records: both are counted (`dropped`) and reported once
the stream drains.

`flush` waits (bounded) for the queue to empty: monitors call it when they
stop, and the process calls it at exit.
"""

from __future__ import annotations

import atexit
import logging
import queue
import select
import threading
import time
from typing import Any

_QUEUE_SIZE = 1000
_WRITABLE_WAIT_SECONDS = 0.1

_lock = threading.Lock()
_queue: queue.Queue[logging.LogRecord] = queue.Queue(maxsize=_QUEUE_SIZE)
_thread: threading.Thread | None = None
_filter: _Enqueue | None = None
dropped = 0
"""Records not delivered (queue full, or every destination blocked), since the process started."""
_reported_drops = 0


class _Enqueue(logging.Filter):
    """Takes records off the logging call: queued for the log thread, never handled here."""

    def filter(self, record: logging.LogRecord) -> bool:
        global dropped
        if getattr(record, "_rlwatch_queued", False):
            return True  # already handed over by the log thread: let it through
        try:
            if record.exc_info and not record.exc_text:
                # Format the traceback now, while its frames are what they were.
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record._rlwatch_queued = True
            _queue.put_nowait(record)
        except queue.Full:
            dropped += 1
        except Exception:  # noqa: BLE001 - logging must never break the caller
            dropped += 1
        return False


LOGGERS = ("rlwatch", "rlwatch.notify")
"""The loggers rlwatch packages log to (a logger's filter does not see its children's records)."""


def install() -> None:
    """Take rlwatch's log records off the calling threads from now on (idempotent)."""
    global _thread, _filter
    with _lock:
        if _filter is not None:
            return
        _filter = _Enqueue()
        for name in LOGGERS:
            logging.getLogger(name).addFilter(_filter)
        _thread = threading.Thread(target=_run, name="rlwatch-log", daemon=True)
        _thread.start()
        atexit.register(flush, 1.0)


def flush(timeout: float = 1.0) -> bool:
    """Wait until every queued record was handled (at most `timeout` seconds); True if it was."""
    if _thread is None:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _queue.unfinished_tasks == 0:
            return True
        time.sleep(0.005)
    return False


def _run() -> None:
    while True:
        record = _queue.get()
        try:
            _deliver(record)
        except Exception:  # noqa: BLE001 - the log thread must survive anything
            pass
        finally:
            _queue.task_done()


def _deliver(record: logging.LogRecord) -> None:
    global dropped, _reported_drops
    handlers = _destinations(logging.getLogger(record.name))
    delivered = False
    for handler in handlers:
        if record.levelno < handler.level or not _writable(handler):
            continue
        handler.handle(record)
        delivered = True
    if not delivered and handlers:
        dropped += 1
    elif delivered and dropped > _reported_drops:
        lost = dropped - _reported_drops
        _reported_drops = dropped
        note = logging.LogRecord("rlwatch", logging.WARNING, __file__, 0,
                                 "rlwatch: %d of its own log messages were dropped because the log "
                                 "destination was blocked or too slow", (lost,), None)
        for handler in handlers:
            if _writable(handler):
                handler.handle(note)


def _destinations(logger: logging.Logger) -> list[logging.Handler]:
    """The handlers a record of `logger` reaches by propagation (or the last resort), as logging would."""
    found: list[logging.Handler] = []
    current: Any = logger
    while current is not None:
        found.extend(current.handlers)
        if not current.propagate:
            break
        current = current.parent
    if not found and logging.lastResort is not None:
        found.append(logging.lastResort)
    return found


def _writable(handler: logging.Handler) -> bool:
    """False when a stream handler's file (a pipe, a terminal) cannot take a write now."""
    stream = getattr(handler, "stream", None)
    if stream is None:
        return True
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return True  # in-memory streams (pytest's capture, StringIO) never block
    try:
        _, ready, _ = select.select([], [fd], [], _WRITABLE_WAIT_SECONDS)
    except (OSError, ValueError):
        return True
    return bool(ready)
