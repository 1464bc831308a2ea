"""The patches `rlwatch_verl._bootstrap` applies as veRL's modules are imported.

* ``verl.utils.tracking``: ``Tracking`` accepts ``"rlwatch"`` among its
  backends (``trainer.logger=['console','rlwatch']``). When it is named,
  ``Tracking.__init__`` ends by opening an `RLWatchBackend` (one rlwatch run)
  under ``tracking.logger["rlwatch"]``, and ``Tracking.finish(exit_code)``
  ends that run: ``finished`` for exit code 0, ``crashed`` otherwise. When it
  is not named, nothing of rlwatch runs: an installed adapter does not watch
  runs nobody asked it to (docs/adapters/verl.md says why).
* ``verl.trainer.ppo.metric_utils``: ``compute_data_metrics`` is wrapped so
  that, while a backend records, the per-response scores and advantages of
  the batch it summarises are kept for the next ``log`` (`rlwatch_verl.samples`).
  The trainer modules import the function by name, so they are pointed at the
  wrapper too.
* ``verl.trainer.ppo.ray_trainer`` and ``verl.trainer.ppo.v1.trainer_base``:
  ``RayPPOTrainer.fit`` and ``PPOTrainer.fit`` are wrapped so that an
  exception leaving them (a Ray worker that died surfaces there as
  ``RayActorError``/``RayTaskError``) ends the runs opened during that ``fit``
  as ``crashed`` before it propagates. veRL's legacy trainer never calls
  ``finish``; its ``Tracking`` is a local of ``fit``, finished when it is
  garbage-collected, so without this an exception would end as ``finished``.

Every patch is applied once (wrappers are marked) and guarded: if anything
here fails, veRL runs exactly as without rlwatch. ``RLWATCH_DISABLE=1`` is
honoured by the monitor itself: ``"rlwatch"`` stays a valid backend name, so
configs that name it keep working, and nothing is recorded.
"""

from __future__ import annotations

import functools
import inspect
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

from rlwatch.integration import ConfigError, report, swallow

from rlwatch_verl import backend as backends
from rlwatch_verl import samples

logger = logging.getLogger("rlwatch")

BACKEND_NAME = "rlwatch"
"""The name to add to veRL's ``trainer.logger`` list."""

SUPPORTED_VERL = ((0, 9), (0, 10))
"""Versions of veRL this adapter is built and tested for: [0.9, 0.10)."""

# The modules `rlwatch_verl._bootstrap.TARGETS` names (that module imports
# nothing of the package, so the names are written out in both).
TRACKING = "verl.utils.tracking"
METRIC_UTILS = "verl.trainer.ppo.metric_utils"
_TRAINER_CLASSES = {"verl.trainer.ppo.ray_trainer": "RayPPOTrainer", "verl.trainer.ppo.v1.trainer_base": "PPOTrainer"}
PATCHED_MODULES = frozenset({TRACKING, METRIC_UTILS, *_TRAINER_CLASSES})
"""Every module `on_module` patches."""

_WRAPPED_MARK = "__rlwatch_verl_wrapped__"
_SUMMARY_FUNCTION = "compute_data_metrics"


def on_module(module: Any) -> None:
    """Patch a freshly imported target module (see `rlwatch_verl._bootstrap.TARGETS`)."""
    with swallow("rlwatch_verl.autopatch"):
        name = getattr(module, "__name__", "")
        if name == TRACKING:
            check_version()
            tracking_cls = getattr(module, "Tracking", None)
            if isinstance(tracking_cls, type):
                patch_tracking_class(tracking_cls)
        elif name == METRIC_UTILS:
            wrap_summary_function(module)
        elif name in _TRAINER_CLASSES:
            wrap_summary_function(module)  # its own reference, bound at import time
            trainer_cls = getattr(module, _TRAINER_CLASSES[name], None)
            if isinstance(trainer_cls, type):
                patch_fit(trainer_cls)


def check_version() -> bool:
    """Warn once when the installed veRL is outside `SUPPORTED_VERL`; True when supported.

    The patches are applied anyway: every step of them is guarded.
    """
    from importlib.metadata import version

    raw = version("verl")
    try:
        found = tuple(int(part) for part in raw.split(".")[:2])
    except ValueError:
        return False
    low, high = SUPPORTED_VERL
    if low <= found < high:
        return True
    logger.warning("rlwatch-verl is tested with verl %d.%d; found %s. Recording may be incomplete.", *low, raw)
    return False


def is_named(backends_arg: Any) -> bool:
    """True when ``Tracking``'s ``default_backend`` (a name or a list of names) includes ``rlwatch``."""
    if isinstance(backends_arg, str):
        return backends_arg == BACKEND_NAME
    return isinstance(backends_arg, Iterable) and BACKEND_NAME in list(backends_arg)


def exit_status(exit_code: Any) -> tuple[str, str]:
    """``(status, reason)`` of a run for ``Tracking.finish(exit_code)``: 0 is ``finished``, else ``failed``."""
    if exit_code in (0, None):
        return "finished", ""
    return "failed", f"exit code {exit_code}"


def exception_status(exc: BaseException) -> tuple[str, str]:
    """``(status, reason)`` of a run for an exception that ended ``fit``.

    ``SystemExit(0)`` is a clean exit and another ``SystemExit`` a failure;
    Ctrl-C is ``interrupted``; anything else (a Ray worker that died, a bug)
    is ``crashed``, with the exception's type as the reason.
    """
    if isinstance(exc, SystemExit):
        return exit_status(exc.code)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", "KeyboardInterrupt"
    return "crashed", f"exception: {type(exc).__name__}"


def patch_tracking_class(cls: type) -> bool:
    """Teach ``Tracking`` the ``rlwatch`` backend; idempotent. True if patched (now or before)."""
    names = cls.__dict__.get("supported_backend")
    if isinstance(names, list):
        if BACKEND_NAME not in names:
            names.append(BACKEND_NAME)
    elif isinstance(names, tuple):
        cls.supported_backend = [*names, BACKEND_NAME]  # type: ignore[attr-defined]
    else:
        return False
    init, finish = cls.__dict__.get("__init__"), cls.__dict__.get("finish")
    if init is None or finish is None:
        return False
    if not getattr(init, _WRAPPED_MARK, False):
        _set(cls, "__init__", _tracking_init(init))
    if not getattr(finish, _WRAPPED_MARK, False):
        _set(cls, "finish", _tracking_finish(finish))
    return True


def _set(cls: type, name: str, wrapper: Callable[..., Any]) -> None:
    setattr(wrapper, _WRAPPED_MARK, True)
    setattr(cls, name, wrapper)


def _tracking_init(init: Callable[..., Any]) -> Callable[..., None]:
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        try:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            if is_named(bound.arguments.get("default_backend")):
                self.logger[BACKEND_NAME] = backends.RLWatchBackend.open(bound.arguments.get("config"))
        except ConfigError:
            raise  # the user's own rlwatch configuration is wrong: say so before the first step
        except Exception as exc:  # noqa: BLE001 - anything else: veRL trains on without rlwatch
            report("rlwatch_verl.Tracking.__init__", exc)

    return __init__


def _tracking_finish(finish: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(finish)
    # Bound now: Tracking.__del__ calls finish again at interpreter shutdown,
    # when module globals may already be gone (rlwatch's exit hook has closed
    # the run by then).
    backend_cls, is_finalizing = backends.RLWatchBackend, sys.is_finalizing

    @functools.wraps(finish)
    def finish_and_close(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return finish(self, *args, **kwargs)
        finally:
            if not is_finalizing():
                _close_backend(self, backend_cls, signature, args, kwargs)

    return finish_and_close


def _close_backend(tracking: Any, backend_cls: type[backends.RLWatchBackend], signature: inspect.Signature,
                   args: Any, kwargs: Any) -> None:
    # veRL's finish knows its own backends by name only: ours is closed here.
    with swallow("rlwatch_verl.Tracking.finish"):
        ours = getattr(tracking, "logger", {}).get(BACKEND_NAME)
        if isinstance(ours, backend_cls):
            bound = signature.bind(tracking, *args, **kwargs)
            bound.apply_defaults()
            ours.close(*exit_status(bound.arguments.get("exit_code", 0)))


def wrap_summary_function(module: Any) -> bool:
    """Point `module`'s ``compute_data_metrics`` at the capturing wrapper; idempotent.

    The trainer modules bind the function by name when they are imported;
    they share metric_utils' wrapper when theirs is the same function.
    """
    function = getattr(module, _SUMMARY_FUNCTION, None)
    if not callable(function):
        return False
    if getattr(function, _WRAPPED_MARK, False):
        return True
    metric_utils = sys.modules.get(METRIC_UTILS)
    shared = getattr(metric_utils, _SUMMARY_FUNCTION, None)
    if getattr(shared, _WRAPPED_MARK, False) and getattr(shared, "__wrapped__", None) is function:
        wrapper = shared
    else:
        wrapper = _capturing(function)
        setattr(wrapper, _WRAPPED_MARK, True)
        if shared is function:
            setattr(metric_utils, _SUMMARY_FUNCTION, wrapper)
    setattr(module, _SUMMARY_FUNCTION, wrapper)
    return True


def _capturing(function: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(function)

    @functools.wraps(function)
    def compute_data_metrics(*args: Any, **kwargs: Any) -> Any:
        summary = function(*args, **kwargs)
        if backends.any_recording():
            with swallow("rlwatch_verl.capture"):
                bound = signature.bind(*args, **kwargs)
                if isinstance(summary, dict):
                    samples.capture(bound.arguments["batch"], summary)
        return summary

    return compute_data_metrics


def patch_fit(cls: type) -> bool:
    """Wrap ``cls.fit`` so that an exception leaving it ends the runs it opened; idempotent."""
    fit = cls.__dict__.get("fit")
    if fit is None or inspect.iscoroutinefunction(fit):
        return False
    if getattr(fit, _WRAPPED_MARK, False):
        return True

    @functools.wraps(fit)
    def fit_and_close_on_error(self: Any, *args: Any, **kwargs: Any) -> Any:
        position = backends.mark()
        try:
            return fit(self, *args, **kwargs)
        except BaseException as exc:
            with swallow("rlwatch_verl.fit"):
                backends.close_opened_since(position, *exception_status(exc))
            raise

    _set(cls, "fit", fit_and_close_on_error)
    return True
