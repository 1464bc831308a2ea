"""Helpers shared by CLI commands: resolving the DB path, opening it."""

from __future__ import annotations

import argparse
import sys

from rlwatch.storage.reader import StoreError, StoreReader

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
    parser.add_argument("--db", metavar="PATH", help="SQLite file (default: from config, ./rlwatch_logs/metrics.db)")


def resolve_db(args: argparse.Namespace) -> str:
    """The database path: --db, else the configured one."""
    if getattr(args, "db", None):
        return str(args.db)
    from rlwatch.config import load_config

    return load_config().db_path


def open_reader(args: argparse.Namespace) -> StoreReader | None:
    """Open the DB read-only, printing a clear error (and returning None) on failure."""
    path = resolve_db(args)
    try:
        return StoreReader(path)
    except StoreError as exc:
        print(f"rlwatch: {exc}", file=sys.stderr)
        return None


def pick_run(reader: StoreReader, run_id: str | None) -> str | None:
    """The given run id, or the most recent run when None."""
    if run_id:
        return run_id if reader.run(run_id) is not None else None
    runs = reader.runs()
    return runs[0].run_id if runs else None
