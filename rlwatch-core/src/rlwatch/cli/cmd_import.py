"""`rlwatch import PATH...`: store finished runs' logs as runs, through the live detectors."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from rlwatch.cli._common import EXIT_OK, EXIT_USAGE, add_db_option, cannot_write_in, fail
from rlwatch.stores import is_url
from rlwatch.terminal import printable

FORMAT_HELP = (
    "auto (default) | trainer-state (Hugging Face trainer_state.json or an output folder) | tensorboard "
    "(event files or run folders; needs rlwatch-core[import]) | wandb-csv (W&B chart exports) | jsonl "
    "(rows, W&B history, veRL file logger) | csv (rows) | console (veRL or OpenRLHF console log)"
)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``import`` command."""
    from rlwatch.importers.sniff import FORMATS
    from rlwatch.keymaps import all_keymaps

    p = subparsers.add_parser(
        "import",
        help="import finished runs' logs (trainer_state.json, TensorBoard, W&B CSV, JSONL, CSV, console logs)",
        description=(
            "Replay each log step by step through the same detectors and alerts as a live run and store it as "
            "a run (then: rlwatch diagnose / dashboard / report). Nothing is written when a file is malformed "
            "(exit code 2). A source imported before is skipped unless --force. Notifications are off unless "
            "--notify."
        ),
    )
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="log files or folders (a training output folder, a TensorBoard log folder, ...)")
    p.add_argument("--run-id", metavar="ID",
                   help="run id (default: <source name>-<8 hex digits of its content>; "
                        "several sources get ID-<source name>)")
    p.add_argument("--format", choices=FORMATS, default="auto", metavar="FORMAT", help=FORMAT_HELP)
    p.add_argument("--map", action="append", default=[], metavar="KEY=METRIC", dest="overrides",
                   help="store the logged KEY as METRIC (repeatable; KEY= leaves KEY out), ahead of the key map")
    p.add_argument("--keymap", metavar="NAME", choices=["none", *(km.name for km in all_keymaps())],
                   help="key map to use instead of detecting one from the logged keys: "
                        + ", ".join(["none", *(km.name for km in all_keymaps())]))
    p.add_argument("--step-key", metavar="KEY",
                   help="column holding the training step in JSONL/CSV files (default: train/global_step, "
                        "global_step, step or _step, the first found)")
    p.add_argument("--logging-steps", type=int, default=1, metavar="N",
                   help="for console logs whose lines carry no step (the dicts a transformers Trainer prints): "
                        "the trainer's logging_steps, so rows are numbered N, 2N, ... (default: 1)")
    add_db_option(p)
    p.add_argument("--config", metavar="FILE",
                   help="rlwatch.yaml whose detector settings apply (default: $RLWATCH_CONFIG or ./rlwatch.yaml)")
    p.add_argument("--force", action="store_true",
                   help="import a source again even if it was imported before (as a new run, <id>-2, ...)")
    p.add_argument("--notify", action="store_true",
                   help="send the replay's alerts to the configured channels (console, Slack, ...); off by default")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr for imports longer than a second (default: on a terminal)")
    p.add_argument("--json", action="store_true", help="print one JSON object per imported source")
    p.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    """Import; print one summary per source. Exit 0, or 2 (bad input), or 4 (missing extra)."""
    from rlwatch.importers import ImportOptions, ImportProblem, import_paths
    from rlwatch.importers.keys import parse_overrides

    if args.db and not is_url(args.db):
        # Fail now, in one line: the writer never raises, it would wait for a folder that cannot exist.
        problem = cannot_write_in(os.path.dirname(os.path.abspath(args.db)))
        if problem is not None:
            return fail("import", f"cannot write the database {args.db}: {problem}", EXIT_USAGE)
    try:
        options = ImportOptions(
            db=args.db, run_id=args.run_id, format=args.format, keymap=args.keymap,
            overrides=parse_overrides(args.overrides), step_key=args.step_key, force=args.force,
            logging_steps=max(1, args.logging_steps),
            notify=args.notify, config_path=args.config, progress=args.progress,
        )
        results = import_paths(args.paths, options)
    except ImportProblem as exc:
        return fail("import", exc, exc.exit_code)
    for result in results:
        summary = alert_summary(result.db_path, result.run_id)
        if args.json:
            print(json.dumps({**result.__dict__, "alerts": summary}, default=str))
        else:
            print(printable(render(result, summary), keep="\n"))  # file names and run ids are the user's
    if results and not args.json:
        db = results[0].db_path
        first = next((r.run_id for r in results), "")
        print(printable(f"Next: rlwatch diagnose {first} --db {db}   |   rlwatch dashboard --db {db}   |   "
                        f"rlwatch report {first} --db {db}"))
    return EXIT_OK


def alert_summary(db_path: str, run_id: str) -> list[dict[str, Any]]:
    """Per detector, in order of first alert: worst severity, alerts sent, first step."""
    from rlwatch.storage import StoreError, StoreReader

    try:
        with StoreReader(db_path) as reader:
            alerts = reader.alerts(run_id, include_suppressed=False)
    except StoreError:
        return []
    by_detector: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        entry = by_detector.setdefault(
            alert.detector, {"detector": alert.detector, "severity": "warning", "alerts": 0, "first_step": alert.step}
        )
        entry["alerts"] += 1
        if alert.severity == "critical":
            entry["severity"] = "critical"
    return list(by_detector.values())


def render(result: Any, summary: list[dict[str, Any]]) -> str:
    """The lines printed for one imported source."""
    if result.already:
        return (f"rlwatch import: {result.display} was imported before as run {result.run_id} "
                "(nothing written; --force imports it again as a new run)")
    steps = "no steps" if result.first_step is None else (
        f"{result.rows} steps ({result.first_step}..{result.last_step})")
    keymap = f"key map {result.keymap}" + (", train/ namespace read" if result.namespaced else "")
    alerts = sum(s["alerts"] for s in summary)
    critical = sum(s["alerts"] for s in summary if s["severity"] == "critical")
    lines = [
        f"rlwatch import: {result.display} -> run {result.run_id} ({result.format}, {keymap}): {steps}, "
        f"{alerts} alert(s) ({critical} critical)"
    ]
    for s in summary:
        lines.append(
            f"  {s['severity'].upper():8} {s['detector']}: {s['alerts']} alert(s), first at step {s['first_step']}")
    for reason, count in sorted(result.skipped.items()):
        lines.append(f"  skipped: {count} {reason}")
    return "\n".join(lines)
