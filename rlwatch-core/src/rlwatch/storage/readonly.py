"""Open an rlwatch SQLite file for reading, wherever it lies.

Readers open with ``mode=ro``: they can never modify the file, and under WAL
they never block the writer (nor it them). A WAL file needs its ``-shm``
companion, which SQLite creates beside the database; in a folder nobody may
write to (a read-only filesystem, an archived run, ``chmod 0555``) that
fails. Nothing can be writing there either, so the file is then read as
``immutable``, unless a ``-wal`` file with rows still in it lies beside it
(a run that was copied or killed before its last checkpoint): immutable mode
would silently ignore those rows, so the database and its ``-wal`` are copied
to a private temporary folder and read there instead.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import urllib.parse

from rlwatch.errors import StoreError

__all__ = ["ReadOnlyFile", "connect_readonly"]

_TIMEOUT = 5.0

_NO_WRITE_ACCESS = frozenset({8, 14})
"""Primary SQLite result codes SQLITE_READONLY and SQLITE_CANTOPEN: "this folder cannot take a -shm file"."""


class ReadOnlyFile:
    """A read-only connection to one database file, and whatever must be cleaned up with it."""

    def __init__(self, conn: sqlite3.Connection, copy_dir: tempfile.TemporaryDirectory[str] | None = None) -> None:
        """Wrap `conn`; `copy_dir` is the private copy it reads, removed by `close`."""
        self.conn = conn
        self.copy_dir = copy_dir

    def close(self) -> None:
        """Close the connection and remove the private copy, if any."""
        self.conn.close()
        if self.copy_dir is not None:
            self.copy_dir.cleanup()
            self.copy_dir = None


def connect_readonly(path: str) -> ReadOnlyFile:
    """A read-only connection to the SQLite file at `path` (see the module docstring).

    Raises:
        StoreError: the file is not SQLite, or cannot be opened at all (one line).
    """
    base = "file:" + urllib.parse.quote(os.path.abspath(path))
    try:
        return ReadOnlyFile(_checked(sqlite3.connect(base + "?mode=ro", uri=True, timeout=_TIMEOUT,
                                                     check_same_thread=False)))
    except sqlite3.OperationalError as exc:
        code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
        if code is not None and code & 0xFF not in _NO_WRITE_ACCESS:
            # e.g. "database is locked" for longer than the timeout: a live file, never read as immutable
            raise StoreError(f"{path} cannot be opened for reading: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not a readable SQLite database: {exc}") from None
    wal = path + "-wal"
    try:
        if os.path.exists(wal) and os.path.getsize(wal) > 0:
            return _private_copy(path, wal)
        return ReadOnlyFile(_checked(sqlite3.connect(base + "?mode=ro&immutable=1", uri=True, timeout=_TIMEOUT,
                                                     check_same_thread=False)))
    except OSError as exc:
        raise StoreError(f"{path} cannot be opened for reading: {exc}") from None
    except sqlite3.Error as exc:
        raise StoreError(f"{path} is not a readable SQLite database: {exc}") from None


def _checked(conn: sqlite3.Connection) -> sqlite3.Connection:
    """`conn`, after a first read (where SQLite reports a file it cannot use), with tolerant text decoding."""
    try:
        conn.execute("PRAGMA user_version").fetchone()
    except sqlite3.Error:
        conn.close()
        raise
    # A damaged text value (not UTF-8) reads as U+FFFD instead of failing the whole query.
    conn.text_factory = lambda raw: raw.decode("utf-8", "replace")
    return conn


def _private_copy(path: str, wal: str) -> ReadOnlyFile:
    copy_dir = tempfile.TemporaryDirectory(prefix="rlwatch-read-")
    try:
        target = os.path.join(copy_dir.name, "metrics.db")
        shutil.copyfile(path, target)
        shutil.copyfile(wal, target + "-wal")
        # mode=ro still lets SQLite rebuild the -shm index (from the -wal) in this writable folder.
        conn = sqlite3.connect("file:" + urllib.parse.quote(target) + "?mode=ro", uri=True, timeout=_TIMEOUT,
                               check_same_thread=False)
        return ReadOnlyFile(_checked(conn), copy_dir)
    except BaseException:
        copy_dir.cleanup()
        raise
