"""Which channel serves which config section, and building the configured ones."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

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
