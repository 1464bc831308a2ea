"""`rlwatch runs` and `rlwatch export`."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from typing import Any

from rlwatch.cli._common import EXIT_NO_DATA, EXIT_OK, add_db_option, open_reader, pick_run


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
                   help="csv (one column per metric, the default) or jsonl (one JSON object per step)")
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
            updated = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.updated_at)) if r.updated_at else "-"
            print(
                f"{r.run_id[:36]:36} {r.status:9} {(r.framework or '-')[:10]:10} {r.n_steps:>7} "
                f"{r.alert_counts.get('critical', 0):>5} {r.alert_counts.get('warning', 0):>5}  {updated}"
            )
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """Write every row of a run."""
    reader = open_reader(args)
    if reader is None:
        return EXIT_NO_DATA
    with reader:
        run_id = pick_run(reader, args.run)
        if run_id is None:
            print(f"rlwatch: no run {args.run!r} in {reader.path}" if args.run else "rlwatch: no runs", file=sys.stderr)
            return EXIT_NO_DATA
        # The dashboard's exporter: one implementation of the file formats
        # (formula-safe CSV headers, non-finite values spelled out in JSON).
        from rlwatch.dashboard.export import export_chunks

        with contextlib.ExitStack() as stack:
            out = (
                stack.enter_context(open(args.output, "w", newline="", encoding="utf-8")) if args.output else sys.stdout
            )
            for chunk in export_chunks(reader, run_id, args.format):
                out.write(chunk)
    return EXIT_OK
