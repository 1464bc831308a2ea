"""`rlwatch diagnose`: a retrospective report; non-zero exit on critical alerts.

``rlwatch diagnose [RUN]`` diagnoses a stored run (the most recent by
default). ``rlwatch diagnose PATH`` first imports logs of a run rlwatch did
not watch (a ``trainer_state.json``, a TensorBoard folder, a W&B export...,
as ``rlwatch import`` reads them) and diagnoses that, with the same exit
codes, so ``rlwatch diagnose trainer_state.json || fail`` gates CI.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from rlwatch.cli._common import EXIT_CRITICAL, EXIT_NO_DATA, EXIT_OK, add_db_option, fail, open_reader, pick_run
from rlwatch.diagnose import diagnose, render_text
from rlwatch.terminal import printable


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``diagnose`` command."""
    p = subparsers.add_parser(
        "diagnose",
        help="summarise a run: metrics, alerts with recommendations, detectors without data",
        description=(
            "Diagnose a stored run, or the logs at PATH (imported first, as `rlwatch import` does). "
            "Exit code 1 when the run had critical alerts, so it can gate CI; 2 for unreadable input; "
            "3 when there is no such run or the database cannot be used (missing, damaged, newer schema)."
        ),
    )
    p.add_argument("run", nargs="?", metavar="RUN|PATH",
                   help="run id, or a log file/folder to import and diagnose (default: the most recent run)")
    add_db_option(p)
    p.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    p.set_defaults(func=cmd_diagnose)


def cmd_diagnose(args: argparse.Namespace) -> int:
    """Print the diagnosis of a run (importing it first when given a path)."""
    if args.run and os.path.exists(args.run):
        imported = _import_path(args)
        if isinstance(imported, int):
            return imported
        args.db, args.run = imported
    reader = open_reader(args)
    if reader is None:
        return EXIT_NO_DATA
    with reader:
        run_id = pick_run(reader, args.run)
        result = diagnose(reader, run_id) if run_id else None
        if result is None:
            return fail("diagnose", f"no run {args.run!r} in {reader.path}" if args.run else "no runs", EXIT_NO_DATA)
        if args.json:
            print(json.dumps(result.to_dict(), indent=2, default=str))
        else:
            print(render_text(result))
        return EXIT_CRITICAL if result.critical else EXIT_OK


def _import_path(args: argparse.Namespace) -> tuple[str, str] | int:
    """``(db, run_id)`` of the imported logs, or the exit code of a failed import (one line printed)."""
    from rlwatch.importers import ImportProblem, diagnose_source

    try:
        db, run_id = diagnose_source(args.run, db=getattr(args, "db", None) or None,
                                     progress=None if sys.stderr.isatty() else False)
    except ImportProblem as exc:
        return fail("diagnose", exc, exc.exit_code)
    if not getattr(args, "db", None):
        print(printable(f"rlwatch diagnose: imported {args.run} as run {run_id!r} into {db} "
                        f"(rlwatch dashboard --db {db} to look at it)"), file=sys.stderr)
    return db, run_id
