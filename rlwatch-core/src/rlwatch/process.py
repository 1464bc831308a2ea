"""Process-wide hooks: how the process ends decides how its runs end.

Installed once, by the first monitor that starts. They know nothing of the
monitor class: a monitor registers itself with `track` and is stopped
through its ``stop(status, reason)`` when the process ends.

How a run ends (``runs.status``, with ``runs.end_reason``):

==================  ==============================================================
``finished``        ``stop()``, or the interpreter exits normally / ``sys.exit(0)``
``failed``          ``sys.exit(<non-zero>)`` (``exit code N``)
``crashed``         an uncaught exception (``exception: ValueError``)
``interrupted``     Ctrl-C (``KeyboardInterrupt``), SIGTERM (ours or a framework's
                    handler we chain to), or a framework's SIGTERM exception
``running``         never closed: ``os._exit``, SIGKILL, power loss. Readers show
                    such a run as ended without a word once its heartbeat is stale.
==================  ==============================================================

``sys.exit`` is wrapped (the wrapper records the code and calls the original)
because exit hooks cannot see the exit code; a bare ``raise SystemExit(n)``
bypasses the wrapper and ends the run as ``finished``.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import weakref
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, NoReturn, Protocol

from rlwatch.guard import swallow


class Stoppable(Protocol):
    """What the process hooks need of a monitor."""

    def stop(self, status: str = "finished", reason: str = "") -> None:
        """Close the run with `status`."""

    def deactivate(self) -> None:
        """Stop recording without touching storage (a forked child's copy)."""


_tracked: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()
_installed = False
_ending: tuple[str, str] | None = None  # (status, reason) the process is dying of
_previous_sigterm: Any = None
_original_exit: Callable[..., Any] | None = None

_INTERRUPT_EXCEPTIONS = ("KeyboardInterrupt", "SIGTERMException", "SigtermException")
"""Exception class names that mean the job was stopped from outside (Lightning raises SIGTERMException)."""


def track(monitor: Stoppable) -> None:
    """Stop `monitor` (with the process's ending) when the process ends; install the hooks once."""
    _tracked.add(monitor)
    install()


def untrack(monitor: Stoppable) -> None:
    """Forget a monitor that was stopped."""
    _tracked.discard(monitor)


def ending() -> tuple[str, str]:
    """``(status, reason)`` the process would end its runs with now."""
    return _ending or ("finished", "")


def note_ending(status: str, reason: str) -> None:
    """Record how the process is ending (adapters call it when a framework reports the cause)."""
    global _ending
    # the first cause wins: a SIGTERM that then makes the framework raise is still an interruption
    if _ending is None or _ending[0] == "finished":
        _ending = (status, reason)


def stop_all(status: str, reason: str = "") -> None:
    """Stop every tracked monitor (exit handler, signal handler)."""
    for monitor in list(_tracked):
        monitor.stop(status, reason)


def install() -> None:
    """Install the exit, exception, signal and fork hooks (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    atexit.register(_at_exit)
    _wrap_excepthook()
    _wrap_sys_exit()
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
    if threading.current_thread() is threading.main_thread():
        with swallow("process.install SIGTERM handler"):
            _chain_sigterm()


def _at_exit() -> None:
    status, reason = ending()
    stop_all(status, reason)


def _wrap_excepthook() -> None:
    previous = sys.excepthook

    def excepthook(tp: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if tp.__name__ in _INTERRUPT_EXCEPTIONS:
            note_ending("interrupted", tp.__name__)
        else:
            note_ending("crashed", f"exception: {tp.__name__}")
        previous(tp, value, tb)

    sys.excepthook = excepthook


def _wrap_sys_exit() -> None:
    global _original_exit
    original = sys.exit
    _original_exit = original

    def exit_(status: str | int | None = None) -> NoReturn:
        with swallow("process.sys_exit"):
            if status is None or status == 0:
                pass
            elif isinstance(status, int):
                note_ending("failed", f"exit code {status}")
            else:
                note_ending("failed", "exit code 1 (sys.exit with a message)")
        original(status)

    exit_.__doc__ = original.__doc__
    sys.exit = exit_


def _chain_sigterm() -> None:
    global _previous_sigterm
    _previous_sigterm = signal.getsignal(signal.SIGTERM)
    if _previous_sigterm is signal.SIG_IGN:
        return
    signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    note_ending("interrupted", "SIGTERM")
    previous = _previous_sigterm
    if callable(previous):
        # A framework's own handler (graceful shutdown): let it decide; our exit hook closes the runs.
        previous(signum, frame)
        return
    # Default disposition: close the runs, then die of SIGTERM as the default would.
    stop_all("interrupted", "SIGTERM")
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _after_fork_in_child() -> None:
    # A forked worker (DataLoader, multiprocessing) must not write the parent's runs.
    for monitor in list(_tracked):
        monitor.deactivate()
    _tracked.clear()


def reset_for_tests() -> None:
    """Forget the recorded ending (tests only)."""
    global _ending
    _ending = None
