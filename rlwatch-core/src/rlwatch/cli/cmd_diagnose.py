"""`rlwatch diagnose`: a retrospective report; non-zero exit on critical alerts."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rlwatch.cli._common import EXIT_CRITICAL, EXIT_NO_DATA, EXIT_OK, add_db_option, open_reader, pick_run
from rlwatch.diagnose import diagnose, render_text


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``diagnose`` command."""
    p = subparsers.add_parser(
        "diagnose",
        help="summarise a run: metrics, alerts with recommendations, detectors without data",
        description="Exit code 1 when the run had critical alerts, so it can gate CI.",
    )
    p.add_argument("run", nargs="?", help="run id (default: the most recent run)")
    add_db_option(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_diagnose)


def cmd_diagnose(args: argparse.Namespace) -> int:
    """Print the diagnosis of a run."""
    reader = open_reader(args)
    if reader is None:
        return EXIT_NO_DATA
    with reader:
        run_id = pick_run(reader, args.run)
        result = diagnose(reader, run_id) if run_id else None
        if result is None:
            print(f"rlwatch: no run {args.run!r} in {reader.path}" if args.run else "rlwatch: no runs", file=sys.stderr)
            return EXIT_NO_DATA
        if args.json:
            print(json.dumps(result.to_dict(), indent=2, default=str))
        else:
            print(render_text(result))
        return EXIT_CRITICAL if result.critical else EXIT_OK
