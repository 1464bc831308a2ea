"""Entry point of the ``rlwatch`` command: builds the parser, dispatches."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from rlwatch._version import __version__
from rlwatch.cli import cmd_diagnose, cmd_doctor, cmd_import, cmd_init, cmd_notify_hint, cmd_runs
from rlwatch.cli._common import EXIT_NO_DATA, EXIT_USAGE, fail
from rlwatch.config import ConfigError
from rlwatch.errors import StoreError
from rlwatch.terminal import printable


class OneLineParser(argparse.ArgumentParser):
    """An `argparse.ArgumentParser` whose usage errors are one line on stderr (exit code 2).

    argparse prints the whole usage block before the error; for commands with
    a dozen options the one line that matters scrolls away. ``--help`` still
    prints the usage. Sub-commands (plugins' included) get this class too.
    """

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: error: MESSAGE (see PROG --help)`` and exit with `EXIT_USAGE`."""
        self.exit(EXIT_USAGE, f"{self.prog}: error: {printable(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser, plugin commands included (the CLI reference is generated from it)."""
    parser = OneLineParser(
        prog="rlwatch",
        description="Watch RL post-training runs; catch entropy collapse, KL explosion, NaNs and more.",
    )
    parser.add_argument("--version", action="version", version=f"rlwatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    cmd_init.register(sub)
    from rlwatch.cli import cmd_demo

    cmd_demo.register(sub)
    cmd_runs.register(sub)
    cmd_diagnose.register(sub)
    cmd_doctor.register(sub)
    cmd_import.register(sub)
    _register_optional(sub)
    from rlwatch import plugins

    plugins.hook().rlwatch_cli_commands(subparsers=sub)
    cmd_notify_hint.register_if_missing(sub)
    return parser


def _register_optional(sub: argparse._SubParsersAction[Any]) -> None:
    # The dashboard and report commands live beside the dashboard code.
    import importlib

    for name in ("cmd_dashboard", "cmd_report"):
        try:
            module = importlib.import_module(f"rlwatch.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"rlwatch.cli.{name}":
                raise
            continue
        module.register(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except ConfigError as exc:
        return fail(None, f"configuration error: {exc}", EXIT_USAGE)
    except StoreError as exc:
        # The file went bad after it was opened (a damaged page met halfway through a read).
        return fail(args.command, exc, EXIT_NO_DATA)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `rlwatch doctor | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
