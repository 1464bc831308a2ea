"""The one boundary guard: catch, log once, carry on.

Every public entry point of every rlwatch package runs its body inside
`swallow` (or the `guarded` decorator). An internal error is logged through
``logging.getLogger("rlwatch")``: the first occurrence at a given place with
its traceback, later ones only counted and summarised now and then, so a bug
hit on every step cannot flood the training log.

Tests install a listener with `add_listener` so that a swallowed error fails
the test unless it was expected (see tests/conftest.py): production forgives,
tests do not.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from rlwatch.errors import ConfigError

logger = logging.getLogger("rlwatch")

_P = ParamSpec("_P")
_R = TypeVar("_R")

_counts: dict[str, int] = {}
_counts_lock = threading.Lock()
_listeners: list[Callable[[str, BaseException], None]] = []

# After the first traceback, repeat summaries at these counts (then every 10k).
_REPORT_AT = frozenset({10, 100, 1000})


def add_listener(listener: Callable[[str, BaseException], None]) -> None:
    """Call ``listener(where, exc)`` for every swallowed error (used by tests)."""
    _listeners.append(listener)


def remove_listener(listener: Callable[[str, BaseException], None]) -> None:
    """Undo `add_listener`."""
    if listener in _listeners:
        _listeners.remove(listener)


def error_counts() -> dict[str, int]:
    """Swallowed errors so far, by place (shown by `rlwatch doctor`)."""
    with _counts_lock:
        return dict(_counts)


def report(where: str, exc: BaseException) -> None:
    """Record and log a swallowed error raised at `where`."""
    try:
        with _counts_lock:
            n = _counts.get(where, 0) + 1
            _counts[where] = n
        if n == 1:
            logger.error(
                "rlwatch internal error in %s (training continues; further errors here "
                "are counted, not logged): %s: %s",
                where,
                type(exc).__name__,
                exc,
                exc_info=exc,
            )
        elif n in _REPORT_AT or n % 10_000 == 0:
            logger.error("rlwatch internal error in %s has now happened %d times", where, n)
        for listener in list(_listeners):
            listener(where, exc)
    except Exception:  # noqa: BLE001 - the guard itself must never raise
        pass


@contextmanager
def swallow(where: str) -> Iterator[None]:
    """Run the block; log and swallow any ``Exception`` it raises.

    Passes through untouched: ``KeyboardInterrupt`` and ``SystemExit`` (not
    ``Exception``: they belong to the user), and `rlwatch.errors.ConfigError`,
    the user's own bad configuration, which must reach them at the setup call
    that raised it (contract: bad configuration fails loudly).
    """
    try:
        yield
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - this is the boundary
        report(where, exc)


def guarded(where: str, default: Any = None) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Decorator form of `swallow`: on error, log it and return `default`."""

    def decorate(func: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(func)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return func(*args, **kwargs)
            except ConfigError:
                raise
            except Exception as exc:  # noqa: BLE001 - this is the boundary
                report(where, exc)
                return default  # type: ignore[no-any-return]

        return wrapper

    return decorate
