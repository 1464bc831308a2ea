"""Opening the database for writing, telling passing faults from lasting ones, and fallback files.

Where the writer goes when its database cannot be written for good:

Tried in order, announced in the log by the writer:

1. a sibling file, ``<name>.fallback.db`` beside the database: the right
   place when the file itself is the problem (damaged, written by a newer
   rlwatch, too large for the file-size limit of this file only);
2. ``<temp dir>/rlwatch-fallback/<name>-<pid>.db``: when the folder is the
   problem (read-only, full, gone).

The fallback is an ordinary rlwatch database: every reader opens it with
``--db``.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile

from rlwatch.storage.migrations import check_not_newer, ensure_schema


def candidates(primary: str) -> list[str]:
    """Fallback paths for the database at `primary`, most natural first."""
    folder, name = os.path.split(os.path.abspath(primary))
    stem = name[:-3] if name.endswith(".db") else name
    paths = [os.path.join(folder, f"{stem}.fallback.db")]
    try:
        temp = tempfile.gettempdir()  # it probes by writing a file: it fails when nothing can be written
    except OSError:
        return paths
    paths.append(os.path.join(temp, "rlwatch-fallback", f"{stem}-{os.getpid()}.db"))
    return paths


def open_fallback(primary: str) -> tuple[str, sqlite3.Connection] | None:
    """The first fallback location that opens (with the schema) and takes a write, or None."""
    for path in candidates(primary):
        try:
            conn = open_writable(path)
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("COMMIT")
        except (sqlite3.Error, OSError, RuntimeError):
            continue
        return path, conn
    return None


def is_transient(exc: BaseException) -> bool:
    """A lock held by another process: it passes by itself (unlike a read-only folder or a damaged file)."""
    text = str(exc)
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def open_writable(path: str) -> sqlite3.Connection:
    """Open (creating folder and file) a writable connection with the current schema.

    Raises:
        sqlite3.Error, OSError, SchemaTooNewError: the file cannot be used.
    """
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    # Few cached statements: a prepared multi-row insert of a wide run holds hundreds of KB, and the
    # default cache of 128 of them was most of a wide run's memory; a narrow run reuses a handful.
    conn = sqlite3.connect(path, timeout=1.0, isolation_level=None, check_same_thread=False,
                           cached_statements=16)
    try:
        # A file of a newer rlwatch is refused before anything (even the journal mode) touches it.
        check_not_newer(conn)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        ensure_schema(conn)
    except BaseException:
        conn.close()
        raise
    return conn
