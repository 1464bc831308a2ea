"""Work in progress on the dashboard's daemon threads, so that a stop can let it end.

Request and warm-up threads are daemons, so that an idle keep-alive
connection never holds up Ctrl+C. But a daemon thread that is still inside
numpy's C++ code (the sort behind downsampling releases the GIL) when the
interpreter finalises is torn down by ``pthread_exit`` through C++ frames,
and the whole process aborts ("terminate called without an active
exception", SIGABRT). `InFlight` counts the answers being computed; the
server waits for them (bounded) before it returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

SHUTDOWN_WAIT_SECONDS = 10.0
"""How long a stopping server waits for answers in progress (a cold 100k-step run page takes 1-2 s)."""


class InFlight:
    """A count of computations in progress and a stop flag for background work."""

    def __init__(self) -> None:
        """Nothing in progress, not stopping."""
        self._changed = threading.Condition()
        self._busy = 0
        self.stopping = threading.Event()
        """Set by `wait_idle`: background work (the warm-up) ends at its next check."""

    @contextmanager
    def working(self) -> Iterator[None]:
        """Count the block as work in progress."""
        with self._changed:
            self._busy += 1
        try:
            yield
        finally:
            with self._changed:
                self._busy -= 1
                self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Set `stopping`, then wait up to ``timeout`` seconds for the work in progress; True when idle."""
        self.stopping.set()
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0.0:
                    return False
                self._changed.wait(left)
        return True
