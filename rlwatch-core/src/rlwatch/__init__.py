"""rlwatch: catch RL post-training runs going wrong, live.

Quick start::

    import rlwatch
    monitor = rlwatch.attach()
    for step in range(1000):
        ...
        monitor.log_step(step, entropy=ent, kl_divergence=kl, loss=loss)

Everything is local: one SQLite file (``./rlwatch_logs/metrics.db``), no
network calls (notifications are the separate ``rlwatch-notify`` package).
"""

from rlwatch._version import __version__
from rlwatch.alerts import Alert
from rlwatch.api import attach, get_monitor, log_step
from rlwatch.config import ConfigError, RLWatchConfig, load_config
from rlwatch.core import RLWatch
from rlwatch.hookspecs import hookimpl

__all__ = [
    "Alert",
    "ConfigError",
    "RLWatch",
    "RLWatchConfig",
    "__version__",
    "attach",
    "get_monitor",
    "hookimpl",
    "load_config",
    "log_step",
]
