"""`rlwatch report RUN -o report.html`: one self-contained, offline HTML report."""

from __future__ import annotations

import argparse
from typing import Any

from rlwatch.cli._common import (
    EXIT_MISSING_EXTRA,
    EXIT_NO_DATA,
    EXIT_OK,
    EXIT_USAGE,
    add_db_option,
    dashboard_extra_missing,
    fail,
    open_reader,
    pick_run,
)
from rlwatch.terminal import printable


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``report`` command."""
    p = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report of a run (charts, alerts, diagnosis, config)",
        description=(
            "Write one HTML file that opens offline in any browser, to attach to a bug report or an email. "
            "Needs the optional extra: pip install 'rlwatch-core[dashboard]'."
        ),
    )
    p.add_argument("run", nargs="?", help="run id (default: the most recent run)")
    add_db_option(p)
    p.add_argument("-o", "--output", metavar="FILE", help="output file (default: rlwatch-report-<run>.html)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report; returns the exit code."""
    from rlwatch.dashboard.report import default_filename, write_report

    if dashboard_extra_missing("report"):
        return EXIT_MISSING_EXTRA
    reader = open_reader(args)
    if reader is None:
        return EXIT_NO_DATA
    with reader:
        run_id = pick_run(reader, args.run)
        if run_id is None:
            what = f"no run {args.run!r}" if args.run else "no runs"
            return fail("report", f"{what} in {reader.path}", EXIT_NO_DATA)
        output = args.output or default_filename(run_id)
        try:
            size = write_report(reader, run_id, output)
        except OSError as exc:
            return fail("report", f"cannot write {output}: {exc.strerror or exc}", EXIT_USAGE)
    print(printable(f"rlwatch report: wrote {output} ({size / 1e6:.1f} MB, opens offline)"))
    return EXIT_OK
