"""Discord webhook channel: one embed per alert, coloured by severity.

Critical alerts ping the roles in ``mention_roles``; warnings never ping.
``allowed_mentions`` is always sent and lists only those roles, so text in an
alert (say, a metric named ``@everyone``) can never ping anyone.
"""

from __future__ import annotations

from typing import Any

from rlwatch.alerts import Alert
from rlwatch.channels.base import RunContext

from rlwatch_notify import format as fmt
from rlwatch_notify.channels.common import JsonWebhookChannel
from rlwatch_notify.config import DiscordConfig

# Discord embed limits (discord.com/developers/docs/resources/message#embed-object-embed-limits).
_TITLE_LIMIT = 256
_DESCRIPTION_LIMIT = 4096
_FIELD_VALUE_LIMIT = 1024
_FOOTER_LIMIT = 2048
_EMBED_TOTAL_LIMIT = 6000  # title + description + field names/values + footer


class DiscordChannel(JsonWebhookChannel):
    """Posts alerts to a Discord channel webhook."""

    def __init__(self, config: DiscordConfig) -> None:
        super().__init__("discord", config, config.webhook_url.strip())
        self.discord = config

    def payload(self, alert: Alert, context: RunContext) -> dict[str, Any]:
        """The webhook message (content + one embed) for one alert."""
        fields: list[dict[str, Any]] = [
            {"name": "Run", "value": fmt.truncate(alert.run_id or context.run_id or "-", 256), "inline": True},
            {"name": "Step", "value": str(alert.step), "inline": True},
            {"name": "Detector", "value": fmt.truncate(alert.detector, 256), "inline": True},
        ]
        if context.host:
            fields.append({"name": "Host", "value": fmt.truncate(context.host, 256), "inline": True})
        metrics = fmt.metric_lines(alert)
        if metrics:
            table = "\n".join(f"{name}: {value}" for name, value in metrics)
            fields.append(
                {
                    "name": "Metric values",
                    "value": "```" + fmt.truncate(table, _FIELD_VALUE_LIMIT - 6) + "```",
                    "inline": False,
                }
            )
        if alert.recommendation:
            fields.append(
                {
                    "name": "Recommended action",
                    "value": fmt.truncate(alert.recommendation, _FIELD_VALUE_LIMIT),
                    "inline": False,
                }
            )
        footer = f"rlwatch · alert #{alert.alert_id}"
        if fmt.is_test(context):
            footer = "Test message from rlwatch notify-test: no action needed · " + footer
        title = fmt.truncate(fmt.title(alert, context), _TITLE_LIMIT)
        footer = fmt.truncate(footer, _FOOTER_LIMIT)
        used = len(title) + len(footer) + sum(len(f["name"]) + len(f["value"]) for f in fields)
        # The message is what matters most; the other parts are already capped
        # well below the total, so the description gets what is left.
        room = min(_DESCRIPTION_LIMIT, max(200, _EMBED_TOTAL_LIMIT - used))
        embed = {
            "title": title,
            "description": fmt.truncate(alert.message, room),
            "color": fmt.SEVERITY_COLOURS.get(alert.severity, fmt.SEVERITY_COLOURS["info"]),
            "fields": fields,
            "footer": {"text": footer},
            "timestamp": fmt.iso_time(alert.timestamp),
        }
        roles = [str(role) for role in self.discord.mention_roles]
        ping = alert.severity == "critical" and not fmt.is_test(context) and roles
        message: dict[str, Any] = {
            "embeds": [embed],
            "allowed_mentions": {"parse": [], "roles": roles if ping else []},
        }
        if ping:
            message["content"] = " ".join(f"<@&{role}>" for role in roles)
        if self.discord.username:
            message["username"] = self.discord.username
        if self.discord.avatar_url:
            message["avatar_url"] = self.discord.avatar_url
        return message
