"""One writer per database file per process, shared by every monitor writing there."""

from __future__ import annotations

import os
import threading

from rlwatch.storage.writer import StoreWriter

_writers: dict[str, StoreWriter] = {}
_writers_lock = threading.Lock()


def get_writer(path: str, flush_interval: float, queue_max_rows: int) -> StoreWriter:
    """The shared writer of `path` in this process (created on first use)."""
    key = os.path.abspath(path)
    with _writers_lock:
        writer = _writers.get(key)
        if writer is None or not writer._thread.is_alive() or writer._pid != os.getpid():
            writer = StoreWriter(key, flush_interval, queue_max_rows)
            _writers[key] = writer
        writer.refcount += 1
        return writer


def release_writer(writer: StoreWriter, timeout: float) -> None:
    """Drop one reference; the last one flushes and closes the writer."""
    with _writers_lock:
        writer.refcount -= 1
        last = writer.refcount <= 0
        if last and _writers.get(writer.primary_path) is writer:
            del _writers[writer.primary_path]
    if last:
        writer.close(timeout)
    else:
        writer.flush(timeout)
