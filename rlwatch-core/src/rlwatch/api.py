"""The module-level API: ``rlwatch.attach()``, ``rlwatch.log_step()``, ``rlwatch.get_monitor()``.

One process-wide monitor for the common case (one training run per
process); `rlwatch.core.RLWatch` for anything else (several runs at once).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from rlwatch import plugins, process
from rlwatch.alerts import Alert
from rlwatch.config import load_config
from rlwatch.core import RLWatch
from rlwatch.errors import ConfigError
from rlwatch.guard import report

logger = logging.getLogger("rlwatch")

_global: RLWatch | None = None
_global_lock = threading.RLock()
_warned_no_monitor = False


def attach(
    config_path: str | None = None,
    framework: str = "auto",
    run_id: str = "",
    trainer: Any = None,
    **overrides: Any,
) -> RLWatch:
    """Create, start and make global a monitor for this process.

    Args:
        config_path: YAML file (else ``$RLWATCH_CONFIG``, else ./rlwatch.yaml).
        framework: ``"auto"`` asks adapters; or a name (trl, lightning, ...).
        run_id: Run name; the same id again resumes that run.
        trainer: A framework object (e.g. a TRL Trainer) to wire up through
            the adapters' ``rlwatch_adapt_trainer`` hook.
        **overrides: Config overrides, nested (``storage={"log_dir": d}``) or
            shorthands (``log_dir=d``).

    Returns:
        The started monitor (a no-op one if disabled or on a non-zero rank).

    Raises:
        ConfigError: bad configuration (the user's setup call, before training).
    """
    global _global
    if not isinstance(run_id, str) or not isinstance(framework, str):
        raise ConfigError(
            f"run_id and framework must be strings, got {type(run_id).__name__} and {type(framework).__name__}"
        )
    if run_id:
        overrides["run_id"] = run_id
    if framework != "auto":
        overrides["framework"] = framework
    config = load_config(config_path, overrides)
    try:
        hook = plugins.hook()
        if config.framework == "auto":
            detected = hook.rlwatch_detect_framework()
            config.framework = str(detected) if detected else "manual"
        with _global_lock:
            current = _global
            if (current is not None and current.active and config.run_id
                    and current.run_id == config.run_id and current.db_path == os.path.abspath(config.db_path)):
                monitor = current
            else:
                monitor = RLWatch(config).start()
                _global = monitor
        if trainer is not None and monitor.active:
            handled = hook.rlwatch_adapt_trainer(monitor=monitor, trainer=trainer)
            if not handled:
                logger.warning(
                    "rlwatch: no installed adapter knows %s; install rlwatch-trl, rlwatch-lightning, "
                    "rlwatch-rllib or rlwatch-verl, or call monitor.log_step yourself", type(trainer).__name__,
                )
        return monitor
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - never raise into user code
        report("rlwatch.attach", exc)
        return _global if _global is not None else RLWatch(config)


def get_monitor() -> RLWatch | None:
    """The process-wide monitor set by `attach`, or None."""
    return _global


def log_step(step: Any = None, /, **metrics: Any) -> list[Alert]:
    """`RLWatch.log_step` on the process-wide monitor; [] (one warning) before attach."""
    global _warned_no_monitor
    monitor = _global
    if monitor is None:
        if not _warned_no_monitor:
            _warned_no_monitor = True
            logger.warning("rlwatch.log_step called before rlwatch.attach(); nothing is recorded")
        return []
    return monitor.log_step(step, **metrics)


def _reset_for_tests() -> None:
    """Stop every monitor and forget the global one (tests only)."""
    global _global, _warned_no_monitor
    process.stop_all("finished")
    process.reset_for_tests()
    _global = None
    _warned_no_monitor = False
