"""Configuration: dataclasses with defaults, loaded from YAML, environment and overrides.

`load_config` builds and validates a `RLWatchConfig`. Detector options live
with their detectors and reach the configuration through the plugin
registry (``cfg.entropy_collapse``); rlwatch's own sections are in
`rlwatch.config.sections`.
"""

from __future__ import annotations

from rlwatch.config.loader import load_config
from rlwatch.config.model import RLWatchConfig
from rlwatch.config.sections import (
    AlertConfig,
    ConsoleConfig,
    DashboardConfig,
    DistributedConfig,
    StorageConfig,
)
from rlwatch.errors import ConfigError

__all__ = [
    "AlertConfig",
    "ConfigError",
    "ConsoleConfig",
    "DashboardConfig",
    "DistributedConfig",
    "RLWatchConfig",
    "StorageConfig",
    "load_config",
]
