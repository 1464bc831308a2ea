"""The notification channels, one module each."""

from rlwatch_notify.channels.discord import DiscordChannel
from rlwatch_notify.channels.email import EmailChannel
from rlwatch_notify.channels.pagerduty import PagerDutyChannel
from rlwatch_notify.channels.slack import SlackChannel
from rlwatch_notify.channels.webhook import WebhookChannel

__all__ = ["DiscordChannel", "EmailChannel", "PagerDutyChannel", "SlackChannel", "WebhookChannel"]
