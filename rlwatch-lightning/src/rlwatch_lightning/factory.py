"""Lightning ``callbacks_factory`` entry points: monitoring with zero code.

Lightning's Trainer calls every function registered in the entry-point group
``lightning.pytorch.callbacks_factory`` (``pytorch_lightning.callbacks_factory``
for the standalone package) with no arguments when it is constructed, and
appends what it returns (a list of callbacks) to ``trainer.callbacks``.

The factory returns one `RLWatchCallback` marked as zero-code: if the user
also passed their own, the zero-code one stays idle (see
`rlwatch_lightning.hooks.RLWatchHooks`). It returns nothing when
``RLWATCH_DISABLE`` is true, when ``RLWATCH_DISABLE_PLUGINS`` is true or
names ``lightning``, or when the installed Lightning is outside
`SUPPORTED_LIGHTNING`. A factory error is logged, never raised: it would
break constructing every Trainer.
"""

from __future__ import annotations

import importlib
import logging
import os
from importlib import metadata
from typing import Any

# Only the standard library at import time: Lightning loads this module while
# constructing every Trainer and does not guard it; even a broken rlwatch
# install must not break a Trainer.

logger = logging.getLogger("rlwatch")

SUPPORTED_LIGHTNING = (2, 3)
"""Supported Lightning major versions: ``>= 2, < 3``."""

ENTRY_POINT_NAME = "lightning"
"""Our name in the ``rlwatch`` group, as ``RLWATCH_DISABLE_PLUGINS`` spells it."""

def zero_code_disabled(environ: Any = None) -> bool:
    """True when the environment turns the zero-code callback off.

    The same reading as rlwatch-core's (`rlwatch.envflags`): ``RLWATCH_DISABLE``
    on, or ``RLWATCH_DISABLE_PLUGINS`` on or naming ``lightning``.
    """
    from rlwatch import envflags

    env = os.environ if environ is None else environ
    if envflags.flag(envflags.DISABLE, env):
        return True
    all_off, names = envflags.disabled_plugins(env)
    return all_off or ENTRY_POINT_NAME in names


def _supported(distribution: str) -> bool:
    try:
        version = metadata.version(distribution)
        major = int(version.split(".", 1)[0])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    lo, hi = SUPPORTED_LIGHTNING
    if lo <= major < hi:
        return True
    logger.warning("rlwatch-lightning supports %s %d.x only; %s is installed: not monitoring",
                   distribution, lo, version)
    return False


def _zero_code_callbacks(distribution: str, module: str) -> list[Any]:
    where = f"rlwatch_lightning.factory({distribution})"
    try:
        if zero_code_disabled() or not _supported(distribution):
            return []
        callback = importlib.import_module(module).RLWatchCallback()
        callback._from_factory = True
        return [callback]
    except Exception as exc:  # noqa: BLE001 - raising here would break Trainer()
        try:
            from rlwatch.integration import report

            report(where, exc)
        except Exception:  # noqa: BLE001 - rlwatch itself cannot be imported
            logger.warning("rlwatch: %s failed, Lightning runs unmonitored: %s", where, exc)
        return []


def lightning_callbacks() -> list[Any]:
    """Entry point of ``lightning.pytorch.callbacks_factory``."""
    return _zero_code_callbacks("lightning", "rlwatch_lightning.callback")


def pytorch_lightning_callbacks() -> list[Any]:
    """Entry point of ``pytorch_lightning.callbacks_factory``."""
    return _zero_code_callbacks("pytorch-lightning", "rlwatch_lightning.pl_callback")
