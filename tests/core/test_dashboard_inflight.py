"""The dashboard lets answers in progress end before it stops (daemon threads in numpy abort the process)."""

from __future__ import annotations

import threading
import time

from rlwatch.dashboard.inflight import InFlight


def test_wait_idle_waits_for_work_in_progress_and_says_when_it_gave_up() -> None:
    inflight = InFlight()
    entered = threading.Event()

    def answer(seconds: float) -> None:
        with inflight.working():
            entered.set()
            time.sleep(seconds)

    worker = threading.Thread(target=answer, args=(0.3,))
    worker.start()
    entered.wait(5)
    started = time.monotonic()
    assert inflight.wait_idle(timeout=10.0)
    assert time.monotonic() - started >= 0.2  # it waited for the answer to end
    assert inflight.stopping.is_set()
    worker.join()

    entered.clear()
    slow = threading.Thread(target=answer, args=(1.0,))
    slow.start()
    entered.wait(5)
    assert not inflight.wait_idle(timeout=0.05)  # bounded: a stuck answer does not hold Ctrl+C forever
    slow.join()
    assert inflight.wait_idle(timeout=0.0)


def test_idle_returns_at_once_and_errors_still_end_the_work() -> None:
    inflight = InFlight()
    assert inflight.wait_idle(timeout=0.0)
    try:
        with inflight.working():
            raise ValueError("an answer that failed")
    except ValueError:
        pass
    assert inflight.wait_idle(timeout=0.0)
