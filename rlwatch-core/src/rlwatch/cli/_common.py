"""Helpers shared by CLI commands: resolving the DB path, opening it."""

from __future__ import annotations

import argparse
import sys

from rlwatch.errors import StoreError
from rlwatch.redaction import redact_url
from rlwatch.storage.protocol import Store
from rlwatch.stores import open_store

EXIT_OK = 0
EXIT_CRITICAL = 1
EXIT_USAGE = 2
EXIT_NO_DATA = 3
EXIT_MISSING_EXTRA = 4
"""The optional ``dashboard`` extra (plotly) is not installed."""


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
        print(f"rlwatch: {str(exc).replace(location, redact_url(location))}", file=sys.stderr)
        return None


def pick_run(reader: Store, run_id: str | None) -> str | None:
    """The given run id, or the most recent run when None."""
    if run_id:
        return run_id if reader.run(run_id) is not None else None
    runs = reader.runs()
    return runs[0].run_id if runs else None
