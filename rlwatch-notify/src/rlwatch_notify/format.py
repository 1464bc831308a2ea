"""Words and numbers shared by every channel's message.

Every channel says the same things (severity, detector, run, step, message,
recommended action, metric values) in its own markup; this module decides
the words once so a Slack message and an email read alike.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from typing import Any

from rlwatch.alerts import Alert
from rlwatch.channels.base import RunContext

TEST_FLAG = "notify_test"
"""Key in ``RunContext.extra`` that marks a ``rlwatch notify-test`` message."""

SEVERITY_COLOURS: dict[str, int] = {"critical": 0xD93025, "warning": 0xF2A600, "info": 0x1A73E8}
"""RGB colour per severity (Discord embeds, email accents)."""

SEVERITY_EMOJI: dict[str, str] = {
    "critical": ":rotating_light:",
    "warning": ":warning:",
    "info": ":information_source:",
}
"""Slack emoji shortcode per severity."""


def is_test(context: RunContext) -> bool:
    """True for the test alerts sent by ``rlwatch notify-test``."""
    return bool(context.extra.get(TEST_FLAG, False))


def title(alert: Alert, context: RunContext) -> str:
    """One-line headline, e.g. ``CRITICAL loss_nan at step 120 (run grpo-7)``."""
    prefix = "[TEST] " if is_test(context) else ""
    run = alert.run_id or context.run_id
    text = f"{prefix}{alert.severity.upper()} {alert.detector} at step {alert.step}"
    return f"{text} (run {run})" if run else text


def format_number(value: Any) -> str:
    """Compact human form of a metric value: 4 significant digits, NaN/inf spelled out."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return f"{number:.4g}"


def metric_lines(alert: Alert) -> list[tuple[str, str]]:
    """``(name, formatted value)`` pairs, in the order the detector gave them."""
    return [(name, format_number(value)) for name, value in alert.metric_values.items()]


def iso_time(timestamp: float) -> str:
    """UTC ISO-8601 time with seconds, e.g. ``2026-11-26T06:42:13Z``."""
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def json_safe(value: Any) -> Any:
    """Return `value` with NaN/inf replaced by None, so JSON stays standard.

    Python's `json` writes ``NaN`` and ``Infinity`` tokens, which most JSON
    parsers (Slack's, Discord's, PagerDuty's, JavaScript's) reject.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    # numpy scalars and friends: as a float when they are numbers, else text.
    try:
        return json_safe(float(value))
    except (TypeError, ValueError):
        return str(value)


def truncate(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters, marking the cut with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + "\u2026"


def plain_text(alert: Alert, context: RunContext) -> str:
    """The whole alert as plain text (email body, generic ``text`` field)."""
    lines = [title(alert, context), "", alert.message]
    if alert.recommendation:
        lines += ["", "Recommended action:", alert.recommendation]
    metrics = metric_lines(alert)
    if metrics:
        width = max(len(name) for name, _ in metrics)
        lines += ["", "Metric values:"] + [f"  {name.ljust(width)}  {value}" for name, value in metrics]
    lines += ["", *run_facts(alert, context)]
    if is_test(context):
        lines += ["", "This is a test alert sent by `rlwatch notify-test`; no action is needed."]
    return "\n".join(lines)


def run_facts(alert: Alert, context: RunContext) -> list[str]:
    """``Label: value`` lines about the run (only those that are known)."""
    facts = [
        ("Run", alert.run_id or context.run_id),
        ("Step", str(alert.step)),
        ("Detector", alert.detector),
        ("Severity", alert.severity),
        ("Framework", context.framework),
        ("Host", context.host),
        ("Time", iso_time(alert.timestamp)),
    ]
    return [f"{label}: {value}" for label, value in facts if value]


def dumps_json(value: Any) -> bytes:
    """Strict, compact UTF-8 JSON; NaN/inf are turned into null first."""
    return json.dumps(json_safe(value), allow_nan=False, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
