"""``rlwatch notify-test``: prove each configured channel works, before a run needs it.

Sends one clearly marked test alert to every configured channel (or those
named with ``--channel``), prints one line per channel, and exits 0 only if
every one was delivered. Mentions and pings are left out of test messages,
and a PagerDuty test incident is resolved right after it is triggered.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from typing import Any, TextIO

from rlwatch.alerts import Alert
from rlwatch.channels.base import Channel, Delivery, RunContext
from rlwatch.config import load_config
from rlwatch.errors import ConfigError

from rlwatch_notify.channel_set import CHANNEL_NAMES, build_channels
from rlwatch_notify.format import TEST_FLAG
from rlwatch_notify.redact import scrub


def test_alert() -> Alert:
    """The alert `notify-test` sends: obviously a test, realistic in shape."""
    return Alert(
        detector="entropy_collapse",
        severity="warning",
        step=0,
        message="Test alert from `rlwatch notify-test`: if you can read this, rlwatch alerts reach this channel.",
        metric_values={"entropy": 0.0421, "entropy_baseline": 1.93},
        recommendation="Nothing to do: this is a test. Real alerts put the most likely fix here.",
        run_id="notify-test",
        alert_id=0,
    )


def add_notify_test(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Register the ``notify-test`` subcommand."""
    parser = subparsers.add_parser(
        "notify-test",
        help="send a test alert to every configured notification channel",
        description=(
            "Send one clearly marked test alert to every configured channel (or those named with --channel) "
            "and print the outcome per channel. Exits 0 only if every one was delivered. Test messages mention "
            "nobody, and a PagerDuty test incident is resolved right after it is triggered."
        ),
    )
    parser.add_argument(
        "--channel",
        action="append",
        choices=CHANNEL_NAMES,
        metavar="NAME",
        dest="notify_channels",
        help=f"only this channel (repeatable): {', '.join(CHANNEL_NAMES)}",
    )
    parser.add_argument(
        "--config",
        dest="notify_config",
        default=None,
        metavar="PATH",
        help="rlwatch.yaml to read (default: the usual lookup and RLWATCH_* variables)",
    )
    parser.set_defaults(func=run_notify_test)


def run_notify_test(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Handler of ``rlwatch notify-test``; returns the exit code."""
    out = out or sys.stdout
    names: list[str] | None = getattr(args, "notify_channels", None)
    path = getattr(args, "notify_config", None) or getattr(args, "config", None)
    try:
        config = load_config(path)
        channels = build_channels(config, names)
    except ConfigError as exc:
        print(f"rlwatch notify-test: configuration error: {scrub(str(exc))}", file=sys.stderr)
        return 2
    built = {channel.name for channel in channels}
    missing = [name for name in names or [] if name not in built]
    for name in missing:
        print(f"{name:<10} not configured (set its URL/key in rlwatch.yaml or the environment)", file=out)
    if not channels:
        if not missing:
            print("No notification channel is configured; see docs/channels/ for how to add one.", file=out)
        return 1
    context = RunContext(run_id="notify-test", host=socket.gethostname(), extra={TEST_FLAG: True})
    failed = len(missing)
    for channel in channels:
        delivery = _send(channel, context)
        if delivery.status != "delivered":
            failed += 1
        print(_line(channel, delivery), file=out)
    return 1 if failed else 0


def _send(channel: Channel, context: RunContext) -> Delivery:
    started = time.monotonic()
    try:
        delivery = channel.send(test_alert(), context)
    except Exception as exc:  # noqa: BLE001 - report it; the next channel still gets its test
        delivery = Delivery("failed", 1, type(exc).__name__)
    finally:
        channel.close()
    delivery.detail = f"{delivery.detail} in {time.monotonic() - started:.1f} s".strip()
    return delivery


def _line(channel: Channel, delivery: Delivery) -> str:
    info = channel.describe()
    where = info.get("url") or info.get("smtp_host") or ""
    tries = f"{delivery.attempts} {'try' if delivery.attempts == 1 else 'tries'}"
    return scrub(f"{channel.name:<10} {delivery.status:<10} {tries:<8} {delivery.detail}  {where}".rstrip())
