"""Slack incoming-webhook channel: one Block Kit message per alert.

The message: a header with severity and detector, the alert sentence (with
mentions in front when ``mention_users`` is set), a fields section with run,
step, host and framework, the metric values in a code block, the recommended
action, and a context line with the alert id and time. ``text`` carries the
one-line title for notifications and clients that cannot show blocks.
"""

from __future__ import annotations

from typing import Any

from rlwatch.alerts import Alert
from rlwatch.channels.base import RunContext

from rlwatch_notify import format as fmt
from rlwatch_notify.channels.common import JsonWebhookChannel
from rlwatch_notify.config import SlackConfig

# Block Kit limits (api.slack.com/reference/block-kit): header text 150
# characters, section text 3000, section field 2000, at most 10 fields.
_HEADER_LIMIT = 150
_SECTION_LIMIT = 3000
_FIELD_LIMIT = 2000


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(member_id: str) -> str:
    """Mention syntax for a member (U…/W…) or a user group (S…)."""
    member_id = member_id.strip()
    if member_id.startswith("S"):
        return f"<!subteam^{member_id}>"
    return f"<@{member_id}>"


class SlackChannel(JsonWebhookChannel):
    """Posts alerts to a Slack incoming webhook."""

    def __init__(self, config: SlackConfig) -> None:
        super().__init__("slack", config, config.webhook_url.strip())
        self.slack = config

    def payload(self, alert: Alert, context: RunContext) -> dict[str, Any]:
        """The Block Kit message for one alert."""
        emoji = fmt.SEVERITY_EMOJI.get(alert.severity, "")
        header = fmt.truncate(f"{emoji} {fmt.title(alert, context)}".strip(), _HEADER_LIMIT)
        mentions = " ".join(mention(member) for member in self.slack.mention_users if member.strip())
        lead = escape(alert.message)
        if mentions and not fmt.is_test(context):
            lead = f"{mentions} {lead}"
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
            {"type": "section", "text": {"type": "mrkdwn", "text": fmt.truncate(lead, _SECTION_LIMIT)}},
            {"type": "section", "fields": self._fields(alert, context)},
        ]
        metrics = fmt.metric_lines(alert)
        if metrics:
            width = max(len(name) for name, _ in metrics)
            table = "\n".join(f"{name.ljust(width)}  {value}" for name, value in metrics)
            text = "*Metric values*\n```" + fmt.truncate(escape(table), _SECTION_LIMIT - 40) + "```"
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
        if alert.recommendation:
            text = fmt.truncate(f"*Recommended action*\n{escape(alert.recommendation)}", _SECTION_LIMIT)
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
        footer = f"rlwatch · alert #{alert.alert_id} · {fmt.iso_time(alert.timestamp)}"
        if fmt.is_test(context):
            footer = "Test message from `rlwatch notify-test`: no action needed · " + footer
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})

        message: dict[str, Any] = {"text": fmt.title(alert, context), "blocks": blocks}
        for key, value in (
            ("channel", self.slack.channel),
            ("username", self.slack.username),
            ("icon_emoji", self.slack.icon_emoji),
        ):
            if value:
                message[key] = value
        return message

    @staticmethod
    def _fields(alert: Alert, context: RunContext) -> list[dict[str, str]]:
        facts = [
            ("Run", alert.run_id or context.run_id),
            ("Step", str(alert.step)),
            ("Severity", alert.severity),
            ("Detector", alert.detector),
            ("Host", context.host),
            ("Framework", context.framework),
        ]
        return [
            {"type": "mrkdwn", "text": fmt.truncate(f"*{label}*\n{escape(value)}", _FIELD_LIMIT)}
            for label, value in facts
            if value
        ]
