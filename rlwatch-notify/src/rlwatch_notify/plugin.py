"""rlwatch plugin entry point of rlwatch-notify (entry point ``rlwatch: notify``).

Hooks implemented:

* ``rlwatch_config_sections``: adds ``alerts.slack``, ``alerts.discord``,
  ``alerts.email``, ``alerts.webhook`` and ``alerts.pagerduty``.
* ``rlwatch_channels``: builds a channel for each section that is configured
  and enabled; nothing configured means nothing is built and nothing is ever
  sent.
* ``rlwatch_cli_commands``: adds ``rlwatch notify-test``.

Turn the plugin off with ``RLWATCH_DISABLE_PLUGINS=notify``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from rlwatch import hookimpl
from rlwatch.channels.base import Channel

from rlwatch_notify.channels import DiscordChannel, EmailChannel, PagerDutyChannel, SlackChannel, WebhookChannel
from rlwatch_notify.config import (
    CONFIG_SECTIONS,
    ChannelConfig,
    DiscordConfig,
    EmailConfig,
    PagerDutyConfig,
    SlackConfig,
    WebhookConfig,
)

if TYPE_CHECKING:
    from rlwatch.config import RLWatchConfig

CHANNEL_FACTORIES: dict[type[ChannelConfig], Callable[[Any], Channel]] = {
    SlackConfig: SlackChannel,
    DiscordConfig: DiscordChannel,
    EmailConfig: EmailChannel,
    WebhookConfig: WebhookChannel,
    PagerDutyConfig: PagerDutyChannel,
}
"""Which channel class serves which config section."""

CHANNEL_NAMES: tuple[str, ...] = tuple(section.rsplit(".", 1)[1] for section in CONFIG_SECTIONS)
"""Channel names, as used by ``--channel`` and in delivery records."""


def build_channels(config: RLWatchConfig, names: Iterable[str] | None = None) -> list[Channel]:
    """Build the configured, enabled channels (optionally only those named).

    Raises:
        rlwatch.config.ConfigError: a configured section is invalid.
    """
    wanted = set(names) if names is not None else None
    channels: list[Channel] = []
    for path, cls in CONFIG_SECTIONS.items():
        name = path.rsplit(".", 1)[1]
        if wanted is not None and name not in wanted:
            continue
        section = config.section(path)
        if not isinstance(section, cls) or not section.active():
            continue
        section.validate()
        channels.append(CHANNEL_FACTORIES[cls](section))
    return channels


@hookimpl
def rlwatch_config_sections() -> dict[str, type]:
    """The five ``alerts.<channel>`` sections."""
    return dict(CONFIG_SECTIONS)


@hookimpl
def rlwatch_channels(config: RLWatchConfig) -> list[Channel]:
    """Channels for every configured and enabled section."""
    return build_channels(config)


@hookimpl
def rlwatch_cli_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``rlwatch notify-test``."""
    from rlwatch_notify.cli import add_notify_test

    add_notify_test(subparsers)
