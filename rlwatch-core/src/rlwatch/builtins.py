"""The built-in plugin: rlwatch's own detectors and console channel.

Registered through the same hooks as third-party plugins, so the plugin
path is the tested path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rlwatch.hookspecs import hookimpl

if TYPE_CHECKING:
    from rlwatch.channels.base import Channel
    from rlwatch.config import RLWatchConfig
    from rlwatch.detectors.base import Detector


@hookimpl
def rlwatch_detectors() -> list[type[Detector]]:
    """The ten built-in detectors."""
    from rlwatch.detectors import BUILTIN_DETECTORS

    return list(BUILTIN_DETECTORS)


@hookimpl
def rlwatch_channels(config: RLWatchConfig) -> list[Channel]:
    """The console channel, unless disabled."""
    from rlwatch.channels.console import ConsoleChannel

    console = config.alerts.console
    if not console.enabled:
        return []
    return [ConsoleChannel(min_severity=console.min_severity)]

