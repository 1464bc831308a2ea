"""rlwatch-notify: Slack, Discord, email, generic webhook and PagerDuty alerts for rlwatch.

Installing this distribution registers the ``notify`` plugin (entry point
group ``rlwatch``). It sends nothing until a channel is configured in
``rlwatch.yaml`` or through ``RLWATCH_*`` environment variables; deliveries
run on the core's dispatcher threads, never on the training thread, with
retries, backoff and a circuit breaker, and every outcome is stored with its
alert. All of rlwatch's network code lives in this package.

Public names are re-exported here; see ``docs/channels/`` for each channel.
"""

from rlwatch_notify._version import __version__
from rlwatch_notify.channels import DiscordChannel, EmailChannel, PagerDutyChannel, SlackChannel, WebhookChannel
from rlwatch_notify.config import DiscordConfig, EmailConfig, PagerDutyConfig, SlackConfig, WebhookConfig
from rlwatch_notify.retry import CircuitBreaker, RetryPolicy

__all__ = [
    "CircuitBreaker",
    "DiscordChannel",
    "DiscordConfig",
    "EmailChannel",
    "EmailConfig",
    "PagerDutyChannel",
    "PagerDutyConfig",
    "RetryPolicy",
    "SlackChannel",
    "SlackConfig",
    "WebhookChannel",
    "WebhookConfig",
    "__version__",
]
