"""`rlwatch dashboard`: serve the local web dashboard over the SQLite file."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from rlwatch.cli._common import (
    EXIT_MISSING_EXTRA,
    EXIT_NO_DATA,
    EXIT_OK,
    EXIT_USAGE,
    add_db_option,
    dashboard_extra_missing,
    fail,
    resolve_db,
)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``dashboard`` command."""
    p = subparsers.add_parser(
        "dashboard",
        help="open the local web dashboard (runs, live charts, alerts, comparison)",
        description=(
            "Serve a read-only web dashboard of the rlwatch database on 127.0.0.1. "
            "Needs the optional extra: pip install 'rlwatch-core[dashboard]'."
        ),
    )
    add_db_option(p)
    p.add_argument(
        "--host", help="interface to bind (default: dashboard.host from config, 127.0.0.1 = this machine only)"
    )
    p.add_argument("--port", type=int, help="TCP port (default: dashboard.port from config, 8501; 0 = any free)")
    p.set_defaults(func=cmd_dashboard)


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Serve until Ctrl+C; returns the exit code."""
    from rlwatch.dashboard.server import is_loopback, serve
    from rlwatch.errors import StoreError
    from rlwatch.redaction import redact_url
    from rlwatch.stores import is_url, open_store
    from rlwatch.terminal import printable

    if dashboard_extra_missing("dashboard"):
        return EXIT_MISSING_EXTRA
    db = resolve_db(args)
    try:
        # Fail now, clearly, rather than on the first page load; listing the runs also meets a damaged runs table.
        with open_store(db) as store:
            store.runs()
    except StoreError as exc:
        hint = "" if is_url(db) or os.path.exists(db) else " (start a monitored run first, or pass --db PATH)"
        return fail("dashboard", f"{str(exc).replace(db, redact_url(db))}{hint}", EXIT_NO_DATA)
    host, port = _address(args)
    if not 0 <= port <= 65535:
        return fail("dashboard", f"invalid port {port} (0 to 65535; 0 = any free port)", EXIT_USAGE)
    if not is_loopback(host):
        print(
            f"rlwatch dashboard: WARNING: binding {host} makes every run, alert and config in {redact_url(db)} "
            "readable by anyone who can reach this machine on that interface (there is no login). "
            "Prefer the default 127.0.0.1 and an SSH tunnel (ssh -L 8501:127.0.0.1:8501 host).",
            file=sys.stderr,
        )

    def ready(server: Any) -> None:
        print(printable(f"rlwatch dashboard: serving {redact_url(db)} (read-only) at {server.url}  (Ctrl+C to stop)"),
              flush=True)

    try:
        serve(db, host, port, on_ready=ready)
    except OSError as exc:
        return fail("dashboard", f"cannot listen on {host}:{port}: {exc}", EXIT_USAGE)
    return EXIT_OK


def _address(args: argparse.Namespace) -> tuple[str, int]:
    # Flags win; otherwise the `dashboard:` section of the config file.
    host, port = args.host, args.port
    if host is None or port is None:
        from rlwatch.config import load_config

        section = load_config().dashboard
        host = section.host if host is None else host
        port = section.port if port is None else port
    return str(host), int(port)
