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
from typing import TYPE_CHECKING, Any

from rlwatch import hookimpl
from rlwatch.channels.base import Channel

from rlwatch_notify.channel_set import build_channels
from rlwatch_notify.cli import add_notify_test
from rlwatch_notify.config import CONFIG_SECTIONS

if TYPE_CHECKING:
    from rlwatch.config import RLWatchConfig


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
    add_notify_test(subparsers)
