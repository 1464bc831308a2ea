"""Occasional heavy statistics of detectors, computed off the training thread with a bounded CPU share.

Most detectors update in O(1) on the training thread. A few statistics (the
dip test on a step's reward distribution: ~0.3 ms for 256 samples) would
stall a fast training loop if run there, so a detector hands them to an
`Offload` slot: one job at a time per slot, computed by one process-wide
worker thread, the result picked up by the detector on a later step.

The worker holds the GIL while it computes, which a CPU-bound training
thread then waits for; so after each job taking *t* seconds it rests
``t * (1 / DUTY_CYCLE - 1)``: at most `DUTY_CYCLE` of one core, and a waiting
training thread waits at most one job. With real training steps (tenths of a
second or more) every due job runs; only a loop logging thousands of steps a
second sees jobs deferred, never dropped.

A slot can also run its jobs inline (replays, ``log_metrics``, standalone
detectors), which gives exactly the same results without the one-step delay.

At interpreter exit the worker finishes the job in hand and takes no other:
it is a daemon thread, and one still inside numpy's C++ sort (which releases
the GIL) when the interpreter finalises would be torn down by
``pthread_exit`` through C++ frames, aborting the user's process with
SIGABRT ("terminate called without an active exception").
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

DUTY_CYCLE = 0.1
"""Most of a core the worker may use over time."""

_jobs: queue.Queue[tuple[Offload, Callable[[], Any], Any]] = queue.Queue()
_worker: threading.Thread | None = None
_worker_lock = threading.Lock()
_computing = threading.Lock()
"""Held by the worker while it runs a job; taken for good at exit (see `_quiesce`)."""
EXIT_WAIT_SECONDS = 1.0
"""How long exit waits for the job in hand (a dip test takes well under a millisecond)."""


class Offload:
    """One detector's slot for background jobs: at most one in flight, one result waiting.

    Attributes:
        inline: Run jobs at once on the calling thread (the default, for
            detectors used outside a live monitor).
    """

    def __init__(self, inline: bool = True) -> None:
        self.inline = inline
        self._busy = False
        self._result: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        """A job is queued or running."""
        return self._busy

    def submit(self, fn: Callable[[], Any], tag: Any = None) -> bool:
        """Compute ``fn()``; its result comes back from `take` with `tag`. False when a job is still in flight."""
        if self.inline:
            self._result = (tag, fn())
            return True
        with self._lock:
            if self._busy:
                return False
            self._busy = True
        _ensure_worker()
        _jobs.put((self, fn, tag))
        return True

    def take(self) -> tuple[Any, Any] | None:
        """``(tag, result)`` of a finished job, once; None if none is waiting."""
        with self._lock:
            result, self._result = self._result, None
        return result

    def _finish(self, tag: Any, result: Any) -> None:
        with self._lock:
            self._result = (tag, result)
            self._busy = False


def _ensure_worker() -> None:
    global _worker
    if _worker is not None and _worker.is_alive():
        return
    with _worker_lock:
        if _worker is None or not _worker.is_alive():
            first = _worker is None
            _worker = threading.Thread(target=_work, name="rlwatch-offload", daemon=True)
            _worker.start()
            if first:
                atexit.register(_quiesce)
                if hasattr(os, "register_at_fork"):
                    os.register_at_fork(after_in_child=_unlock_in_child)


def _quiesce() -> None:
    """Let the job in hand finish and keep the worker from starting another (never released)."""
    _computing.acquire(timeout=EXIT_WAIT_SECONDS)


def _unlock_in_child() -> None:
    """A fork copies `_computing` as held if the worker was mid-job; the child has no such worker."""
    global _computing
    _computing = threading.Lock()


def _work() -> None:
    while True:
        slot, fn, tag = _jobs.get()
        with _computing:
            start = time.perf_counter()
            try:
                result = fn()
            except Exception as exc:  # noqa: BLE001 - the detector sees the error as its result
                result = exc
        slot._finish(tag, result)
        spent = time.perf_counter() - start
        time.sleep(spent * (1.0 / DUTY_CYCLE - 1.0))
