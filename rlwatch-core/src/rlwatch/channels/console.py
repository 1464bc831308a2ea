"""The built-in console channel: a readable block on stderr."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, ClassVar, TextIO

from rlwatch.alerts import Alert
from rlwatch.channels.base import Channel, Delivery, RunContext
from rlwatch.hookspecs import hookimpl
from rlwatch.terminal import printable

if TYPE_CHECKING:
    from rlwatch.config import RLWatchConfig

_COLOURS = {"info": "\033[36m", "warning": "\033[33m", "critical": "\033[1;31m"}
_RESET = "\033[0m"


def format_alert(alert: Alert, context: RunContext, colour: bool = False) -> str:
    """Multi-line, human-readable text of an alert (also used by the CLI).

    Run ids, metric names and the messages that quote them come from user
    code: their control characters are shown escaped (`rlwatch.terminal`), so
    an alert can neither drive the terminal nor forge a line of its own.
    """
    head = printable(f"[rlwatch] {alert.severity.upper()} {alert.detector} at step {alert.step} "
                     f"(run {context.run_id})")
    if colour:
        head = f"{_COLOURS.get(alert.severity, '')}{head}{_RESET}"
    lines = [head, f"  {printable(alert.message)}"]
    if alert.metric_values:
        shown = ", ".join(f"{k}={_fmt(v)}" for k, v in list(alert.metric_values.items())[:8])
        lines.append(f"  values: {printable(shown)}")
    if alert.recommendation:
        lines.append(f"  what to do: {printable(alert.recommendation)}")
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class ConsoleChannel(Channel):
    """Prints each alert to stderr (synchronously: it is cheap and local)."""

    synchronous: ClassVar[bool] = True

    def __init__(self, min_severity: str = "info", stream: TextIO | None = None) -> None:
        super().__init__("console", min_severity)
        self._stream = stream

    def send(self, alert: Alert, context: RunContext) -> Delivery:
        """Write the alert block and flush, so it shows before a crash."""
        stream = self._stream or sys.stderr
        colour = bool(getattr(stream, "isatty", lambda: False)())
        stream.write(format_alert(alert, context, colour) + "\n")
        stream.flush()
        return Delivery("delivered")


@hookimpl
def rlwatch_channels(config: RLWatchConfig) -> list[Channel]:
    """The console channel, unless ``alerts.console.enabled`` is false."""
    console = config.alerts.console
    if not console.enabled:
        return []
    return [ConsoleChannel(min_severity=console.min_severity)]
