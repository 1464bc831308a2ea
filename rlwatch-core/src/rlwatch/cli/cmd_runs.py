"""`rlwatch runs` and `rlwatch export`."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from typing import Any

from rlwatch.cli._common import EXIT_NO_DATA, EXIT_OK, EXIT_USAGE, add_db_option, fail, open_reader, pick_run
from rlwatch.terminal import printable


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``runs`` and ``export`` commands."""
    p = subparsers.add_parser("runs", help="list the runs stored in the database")
    add_db_option(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_runs)

    e = subparsers.add_parser("export", help="export a run's metrics as CSV or JSON lines")
    e.add_argument("run", nargs="?", help="run id (default: the most recent run)")
    add_db_option(e)
    e.add_argument("--format", choices=("csv", "jsonl"), default="csv",
                   help="csv (one column per metric, the default) or jsonl (one JSON object per step); "
                        "a metric named step, wall_time or run_id gets the column metric/<name>")
    e.add_argument("-o", "--output", help="file to write (default: stdout)")
    e.set_defaults(func=cmd_export)


def cmd_runs(args: argparse.Namespace) -> int:
    """List runs."""
    reader = open_reader(args)
    if reader is None:
        return EXIT_NO_DATA
    with reader:
        runs = reader.runs()
        if args.json:
            print(json.dumps([r.to_dict() for r in runs], indent=2, default=str))
            return EXIT_OK
        if not runs:
            print("no runs")
            return EXIT_OK
        print(f"{'run':36} {'status':9} {'framework':10} {'steps':>7} {'crit':>5} {'warn':>5}  updated")
        for r in runs:
            updated = _when(r.updated_at)
            # Names are the user's: escaped before they are cut to the column width.
            print(
                f"{printable(r.run_id)[:36]:36} {printable(r.status)[:9]:9} {printable(r.framework or '-')[:10]:10} "
                f"{r.n_steps:>7} {r.alert_counts.get('critical', 0):>5} {r.alert_counts.get('warning', 0):>5}  "
                f"{updated}"
            )
    return EXIT_OK


def _when(stamp: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(stamp))) if stamp else "-"
    except (TypeError, ValueError, OverflowError, OSError):  # a damaged row: show it, do not fail the listing
        return "?"


def cmd_export(args: argparse.Namespace) -> int:
    """Write every row of a run (to ``--output``, else stdout)."""
    reader = open_reader(args)
    if reader is None:
        return EXIT_NO_DATA
    with reader:
        run_id = pick_run(reader, args.run)
        if run_id is None:
            return fail("export", f"no run {args.run!r} in {reader.path}" if args.run else "no runs", EXIT_NO_DATA)
        if args.output:
            return _export_to_file(reader, run_id, args.format, args.output)
        # The dashboard's exporter: one implementation of the file formats
        # (formula-safe CSV headers, non-finite values spelled out in JSON).
        from rlwatch.dashboard.export import export_chunks

        # Redirected, the bytes are exact; on a terminal, metric names cannot drive it (JSON escapes them itself).
        tty = sys.stdout.isatty()
        for chunk in export_chunks(reader, run_id, args.format):
            sys.stdout.write(printable(chunk, keep="\n") if tty else chunk)
    return EXIT_OK


def _export_to_file(reader: Any, run_id: str, fmt: str, path: str) -> int:
    from rlwatch.dashboard.export import export_chunks

    created = not os.path.lexists(path)
    try:
        with open(path, "w", newline="", encoding="utf-8") as out:
            for chunk in export_chunks(reader, run_id, fmt):
                out.write(chunk)
    except BaseException as exc:
        # A file this command created and could not finish must not look complete; anything that was
        # there before (a FIFO, /dev/stdout, the user's file) is never removed.
        if created and os.path.isfile(path):
            with contextlib.suppress(OSError):
                os.unlink(path)
        if isinstance(exc, OSError):
            return fail("export", f"cannot write {path}: {exc.strerror or exc}", EXIT_USAGE)
        raise  # a damaged database (StoreError) or Ctrl+C: reported by main
    return EXIT_OK
