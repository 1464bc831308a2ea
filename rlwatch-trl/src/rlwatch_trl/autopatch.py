"""Automatic registration: one `RLWatchCallback` in every transformers Trainer.

`rlwatch_trl._bootstrap` calls `on_trainer_module` right after
``transformers.trainer`` is imported. It

* wraps ``Trainer.__init__`` (once; the wrapper is marked) so that every
  trainer, TRL's included, ends its construction with exactly one
  `RLWatchCallback` bound to it: one is added unless the user already passed
  one (or asked for it with ``report_to=["rlwatch"]``); duplicates are
  removed;
* registers ``"rlwatch"`` as a ``report_to`` integration name, so that
  ``TrainingArguments(report_to=["rlwatch"])`` works too.

``RLWATCH_DISABLE=1`` (read when each trainer is built) skips the automatic
callback; the ``report_to`` name stays known so that scripts asking for it
still run, and the monitor itself is then a no-op. Nothing here raises.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from rlwatch import envflags
from rlwatch.integration import swallow

logger = logging.getLogger("rlwatch")

SUPPORTED_TRANSFORMERS = (5, 6)
"""Major versions of transformers this adapter is built and tested for: [5, 6)."""

REPORT_TO_NAME = "rlwatch"
"""The name to put in ``TrainingArguments.report_to``."""

_WRAPPED_MARK = "__rlwatch_trl_wrapped__"


def on_trainer_module(module: Any) -> None:
    """Patch a freshly imported ``transformers.trainer`` module."""
    with swallow("rlwatch_trl.autopatch"):
        check_version()
        register_report_to()
        trainer_cls = getattr(module, "Trainer", None)
        if isinstance(trainer_cls, type):
            patch_trainer_class(trainer_cls)


def check_version() -> bool:
    """Warn (once per process) when the installed transformers is outside the tested range.

    The patch is applied anyway: every step of it is guarded, and a failure
    leaves transformers as it was. Returns True when the version is supported.
    """
    from importlib.metadata import version

    raw = version("transformers")
    try:
        major = int(raw.split(".")[0])
    except ValueError:
        return False
    low, high = SUPPORTED_TRANSFORMERS
    if low <= major < high:
        return True
    logger.warning("rlwatch-trl is tested with transformers %d.x; found %s. Recording may be incomplete.", low, raw)
    return False


def register_report_to() -> bool:
    """Make ``report_to=["rlwatch"]`` resolve to `RLWatchCallback`.

    transformers 5.x resolves ``report_to`` names at ``Trainer.__init__``
    through the module-level dict ``INTEGRATION_TO_CALLBACK`` of
    ``transformers.integrations.integration_utils`` (unknown names raise
    ValueError), and instantiates a class it finds there with no arguments.
    Returns False when that dict is not where it is expected.
    """
    from transformers.integrations import integration_utils

    from rlwatch_trl.callback import RLWatchCallback

    table = getattr(integration_utils, "INTEGRATION_TO_CALLBACK", None)
    if not isinstance(table, dict):
        logger.debug("rlwatch-trl: transformers has no INTEGRATION_TO_CALLBACK; report_to='rlwatch' unavailable")
        return False
    table.setdefault(REPORT_TO_NAME, RLWatchCallback)
    return True


def patch_trainer_class(cls: type) -> bool:
    """Wrap ``cls.__init__`` to attach rlwatch after construction; idempotent.

    Returns True if the class is (now or already) patched.
    """
    init = cls.__dict__.get("__init__")
    if init is None:
        return False
    if getattr(init, _WRAPPED_MARK, False):
        return True

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if not envflags.flag(envflags.DISABLE):
            with swallow("rlwatch_trl.auto_attach"):
                ensure_callback(self)

    setattr(__init__, _WRAPPED_MARK, True)
    cls.__init__ = __init__  # type: ignore[misc]
    return True


def ensure_callback(trainer: Any, monitor: Any = None) -> Any:
    """Give `trainer` exactly one `RLWatchCallback`, bound to it, and return it.

    An existing one (from ``callbacks=[...]`` or ``report_to``) is kept: the
    first holding a monitor, else the first given ``attach`` options, else
    the first; extra ones are removed so no step is recorded twice.
    `monitor`, if given, becomes the kept callback's monitor.
    """
    from rlwatch_trl.callback import RLWatchCallback

    handler = trainer.callback_handler
    ours = [cb for cb in handler.callbacks if isinstance(cb, RLWatchCallback)]
    if not ours:
        keep = RLWatchCallback(trainer=trainer, automatic=True)
        trainer.add_callback(keep)
    else:
        keep = next((cb for cb in ours if cb.has_explicit_monitor),
                    next((cb for cb in ours if cb.is_configured), ours[0]))
        for extra in ours:
            if extra is not keep:
                handler.remove_callback(extra)
        keep.bind_trainer(trainer)
    if monitor is not None:
        keep.use_monitor(monitor)
    return keep
