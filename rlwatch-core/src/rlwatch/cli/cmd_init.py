"""`rlwatch init`: write a commented starter rlwatch.yaml with every option."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from rlwatch.cli._common import EXIT_OK, EXIT_USAGE, fail
from rlwatch.config.reference import iter_options
from rlwatch.terminal import printable


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``init`` command."""
    p = subparsers.add_parser("init", help="write a commented starter rlwatch.yaml")
    p.add_argument("-o", "--output", default="rlwatch.yaml", help="file to write (default: rlwatch.yaml)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=cmd_init)


def starter_yaml() -> str:
    """Every option at its default, commented out, grouped by section."""
    lines = [
        "# rlwatch configuration. Every option is shown commented out at its default;",
        "# uncomment what you change. Environment variables (named below) override this file,",
        "# and keyword arguments to rlwatch.attach() override both.",
    ]
    current: list[str] = []
    for opt in iter_options():
        parts = opt.path.split(".")
        section, name = parts[:-1], parts[-1]
        if section != current:
            common = 0
            while common < min(len(section), len(current)) and section[common] == current[common]:
                common += 1
            for depth in range(common, len(section)):
                lines.append("")
                lines.append("#" + "  " * depth + f" {section[depth]}:")
            current = section
        indent = "  " * len(section)
        note = opt.help
        if opt.env:
            note = f"{note} [env {opt.env}]".strip()
        if opt.secret:
            note = f"{note} (secret: prefer the environment variable)".strip()
        if note:
            lines.append(f"#{indent} # {note}")
        lines.append(f"#{indent} {name}: {json.dumps(opt.default)}")
    return "\n".join(lines) + "\n"


def cmd_init(args: argparse.Namespace) -> int:
    """Write the starter file."""
    if os.path.exists(args.output) and not args.force:
        return fail("init", f"{args.output} exists; use --force to overwrite", EXIT_USAGE)
    try:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(starter_yaml())
    except OSError as exc:
        return fail("init", f"cannot write {args.output}: {exc.strerror or exc}", EXIT_USAGE)
    print(printable(f"wrote {args.output}"))
    return EXIT_OK
