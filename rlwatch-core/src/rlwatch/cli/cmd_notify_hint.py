"""`rlwatch notify-test` when rlwatch-notify is not installed: say how to get it.

Notifications (Slack, Discord, email, webhooks, PagerDuty) and their
``notify-test`` command live in the separate rlwatch-notify package, which
holds all of rlwatch's network code. Without it, ``rlwatch notify-test``
would fail with argparse's "invalid choice"; this stand-in answers with the
install command instead. It is registered only when no plugin registered
the real command.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rlwatch.cli._common import EXIT_MISSING_EXTRA

COMMAND = "notify-test"
INSTALL_HINT = (
    "rlwatch notify-test: notifications (Slack, Discord, email, webhooks, PagerDuty) are the separate package "
    "rlwatch-notify: pip install rlwatch-notify"
)


def register_if_missing(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the stand-in ``notify-test`` unless a plugin (rlwatch-notify) added the real one."""
    if COMMAND in subparsers.choices:
        return
    p = subparsers.add_parser(
        COMMAND,
        help="send a test alert to every configured notification channel (needs rlwatch-notify)",
        description="Needs the rlwatch-notify package: pip install rlwatch-notify",
    )
    # The real command's options, so that `notify-test --channel slack` gets the hint, not a usage error.
    p.add_argument("--channel", action="append", metavar="NAME", help="only this channel (needs rlwatch-notify)")
    p.add_argument("--config", metavar="PATH", help="rlwatch.yaml to read channels from (needs rlwatch-notify)")
    p.set_defaults(func=cmd_notify_hint)


def cmd_notify_hint(args: argparse.Namespace) -> int:
    """Print how to install rlwatch-notify; exit 4 (a missing optional package)."""
    print(INSTALL_HINT, file=sys.stderr)
    return EXIT_MISSING_EXTRA
