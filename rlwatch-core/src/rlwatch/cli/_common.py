"""Helpers shared by CLI commands: exit codes, one-line errors, resolving the DB path, opening it."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from rlwatch.errors import StoreError
from rlwatch.redaction import redact_url
from rlwatch.storage.protocol import Store
from rlwatch.stores import open_store
from rlwatch.terminal import printable

EXIT_OK = 0
EXIT_CRITICAL = 1
"""``diagnose``: the run had critical alerts (so it can gate CI)."""
EXIT_USAGE = 2
"""Usage or configuration error: a bad argument value, a path that cannot be written."""
EXIT_NO_DATA = 3
"""No usable database (missing, damaged, not an rlwatch file, written by a newer rlwatch) or no such run."""
EXIT_MISSING_EXTRA = 4
"""The optional ``dashboard`` extra (plotly) is not installed."""


def fail(command: str | None, message: object, code: int) -> int:
    """Print ``rlwatch COMMAND: message`` as one line on stderr (control characters escaped); return `code`.

    Messages quote run ids, metric names and paths, which come from users and files.
    """
    where = f"rlwatch {command}" if command else "rlwatch"
    print(f"{where}: {printable(message)}", file=sys.stderr)
    return code


def cannot_write_in(folder: str) -> str | None:
    """Why no file can be written in `folder` (created if missing), or None when one can.

    A real probe (a temporary file), not permission bits: it also answers
    for root, a read-only filesystem and a path under a regular file. The
    monitor never raises, so without it an impossible folder would only show
    up later, as rows in a fallback file and a confusing message.
    """
    if os.path.exists(folder) and not os.path.isdir(folder):
        return "it is a file, not a folder"
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def dashboard_extra_missing(command: str) -> bool:
    """True, after printing exactly what to install, when the ``dashboard`` extra is missing."""
    from rlwatch.dashboard.assets import MissingExtra, plotly_js_path

    try:
        plotly_js_path()
    except MissingExtra as exc:
        print(f"rlwatch {command}: {exc}", file=sys.stderr)
        return True
    return False


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """``--db PATH`` (default: the configured storage path)."""
    parser.add_argument(
        "--db", metavar="PATH|URL",
        help="SQLite file or team-store URL, e.g. postgresql://host/db (default: from config, "
             "./rlwatch_logs/metrics.db)",
    )


def resolve_db(args: argparse.Namespace) -> str:
    """The database path: --db, else the configured one."""
    if getattr(args, "db", None):
        return str(args.db)
    from rlwatch.config import load_config

    return load_config().db_path


def open_reader(args: argparse.Namespace) -> Store | None:
    """Open the store read-only, printing one clear line (and returning None) on failure."""
    location = resolve_db(args)
    try:
        return open_store(location)
    except StoreError as exc:
        fail(getattr(args, "command", None), str(exc).replace(location, redact_url(location)), EXIT_NO_DATA)
        return None


def pick_run(reader: Store, run_id: str | None) -> str | None:
    """The given run id, or the most recent run when None."""
    if run_id:
        return run_id if reader.run(run_id) is not None else None
    runs = reader.runs()
    return runs[0].run_id if runs else None
