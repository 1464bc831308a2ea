"""``rlwatch sync``: ship what local spools hold to the PostgreSQL team store, now.

For a job that ran offline, was killed, or whose PostgreSQL was down when it
ended: ``rlwatch sync --db rlwatch_logs/metrics.db --to postgresql://...``
ships every run, metric row and alert the store does not have yet (the same
idempotent shipping the background shipper does, so running it twice, or
beside a live job, duplicates nothing), prints one line per spool and exits
0 only when every spool was shipped completely. A killed job's run stays
``running`` in storage, as in its spool; readers show it as ``lost`` once its
heartbeat is old (`rlwatch.storage.records.RunInfo.display_status`).

``--init`` only creates or migrates the PostgreSQL schema: a platform team
can run it once with a role that may create tables, so that job roles need
only SELECT/INSERT/UPDATE.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from typing import Any, TextIO

EXIT_OK = 0
EXIT_INCOMPLETE = 1
EXIT_USAGE = 2
EXIT_NO_DATA = 3


def add_sync(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Register the ``sync`` subcommand."""
    parser = subparsers.add_parser(
        "sync",
        help="ship local spools to the PostgreSQL team store (rlwatch-postgres)",
        description=(
            "Ship every run, metric row and alert of local SQLite spools that the PostgreSQL store does not "
            "have yet. Idempotent: safe to repeat, safe beside a live job. Exits 0 when every spool was "
            "shipped completely, 1 when one could not be (PostgreSQL unreachable, timeout), 3 when a spool "
            "is missing."
        ),
    )
    parser.add_argument(
        "--db",
        dest="sync_db",
        action="extend",
        nargs="+",
        metavar="PATH",
        help="spool file(s) or folder(s) holding *.db spools (default: the configured one, "
        "./rlwatch_logs/metrics.db)",
    )
    parser.add_argument(
        "--to",
        dest="sync_to",
        metavar="URL",
        help="postgresql://user@host:port/dbname (default: RLWATCH_STORAGE_URL, then storage.url); "
        "the password comes from the URL, PGPASSWORD or ~/.pgpass",
    )
    parser.add_argument("--timeout", dest="sync_timeout", type=float, metavar="SECONDS",
                        help="give up after this long (default: no limit)")
    parser.add_argument("--init", dest="sync_init", action="store_true",
                        help="only create or migrate the PostgreSQL schema, then exit")
    parser.add_argument("--json", dest="sync_json", action="store_true", help="print the outcome as JSON")
    parser.set_defaults(func=run_sync)


def _destination(args: argparse.Namespace) -> str | None:
    explicit = getattr(args, "sync_to", None)
    if explicit:
        return str(explicit)
    env = os.environ.get("RLWATCH_STORAGE_URL", "").strip()
    if env:
        return env
    from rlwatch.config import load_config

    return getattr(load_config().storage, "url", None) or None


def _spools(args: argparse.Namespace) -> list[str]:
    given = getattr(args, "sync_db", None)
    if not given:
        from rlwatch.config import load_config

        return [load_config().db_path]
    out: list[str] = []
    for path in given:
        if os.path.isdir(path):
            out.extend(sorted(glob.glob(os.path.join(path, "*.db"))) or [os.path.join(path, "metrics.db")])
        else:
            out.append(path)
    return out


def run_sync(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Handler of ``rlwatch sync``; returns the exit code."""
    from rlwatch_postgres.connection import is_postgres_url
    from rlwatch_postgres.redact import display_url, remember_secrets

    out = out or sys.stdout
    url = _destination(args)
    if not url:
        print("rlwatch sync: no destination: pass --to postgresql://... or set RLWATCH_STORAGE_URL", file=sys.stderr)
        return EXIT_USAGE
    remember_secrets(url)
    if not is_postgres_url(url):
        print(f"rlwatch sync: the destination must be a postgresql:// URL, not {display_url(url)}", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "sync_init", False):
        return _init(url, out)
    timeout = getattr(args, "sync_timeout", None)
    deadline = None if timeout is None else time.monotonic() + float(timeout)
    results = [_sync_one(url, path, deadline) for path in _spools(args)]
    if getattr(args, "sync_json", False):
        print(json.dumps(results, indent=2), file=out)
    else:
        for result in results:
            print(_line(result), file=out)
            for note in result.get("notes", []):
                print(f"  {note}", file=out)
    if any(r["status"] == "missing" for r in results):
        return EXIT_NO_DATA
    return EXIT_OK if all(r["status"] == "shipped" for r in results) else EXIT_INCOMPLETE


def _init(url: str, out: TextIO) -> int:
    import psycopg
    from rlwatch.errors import StoreError

    from rlwatch_postgres.connection import connect
    from rlwatch_postgres.redact import describe_error, display_url
    from rlwatch_postgres.schema import ensure_schema

    try:
        with connect(url, "rlwatch-sync", autocommit=True) as conn:
            version = ensure_schema(conn, applied_by="rlwatch sync --init")
    except (psycopg.Error, StoreError, ValueError) as exc:
        print(f"rlwatch sync: {display_url(url)}: {describe_error(exc)}", file=sys.stderr)
        return EXIT_INCOMPLETE
    print(f"schema version {version} is in place at {display_url(url)}", file=out)
    return EXIT_OK


def _sync_one(url: str, path: str, deadline: float | None) -> dict[str, Any]:
    from rlwatch_postgres.redact import display_url
    from rlwatch_postgres.shipper import Shipper

    result: dict[str, Any] = {"spool": os.path.abspath(path), "to": display_url(url)}
    if not os.path.exists(path):
        return {**result, "status": "missing", "error": "no such spool file"}
    started = time.monotonic()
    shipper = Shipper(url, path, exclusive=False)
    try:
        outcome = shipper.ship_until_idle(deadline)
    finally:
        shipper.close()
    status = "shipped" if outcome.caught_up else ("failed" if outcome.error else "timeout")
    notes = list(outcome.clashes)
    return {
        **result,
        "status": status,
        "runs": outcome.runs,
        "rows": outcome.rows,
        "alerts": outcome.alerts,
        "seconds": round(time.monotonic() - started, 2),
        "error": outcome.error,
        "notes": notes,
    }


def _line(result: dict[str, Any]) -> str:
    if result["status"] == "missing":
        return f"{result['spool']}: no such spool file"
    what = f"{result['runs']} run update(s), {result['rows']} metric row(s), {result['alerts']} alert(s)"
    if result["status"] == "shipped":
        return f"{result['spool']} -> {result['to']}: {what} in {result['seconds']} s; caught up"
    reason = result["error"] or "time limit reached"
    return f"{result['spool']} -> {result['to']}: {what}; NOT complete ({reason}); run rlwatch sync again"
