"""Runs notification channels off the training thread.

Each non-synchronous channel gets its own daemon thread and bounded queue,
so a hanging Slack endpoint delays neither training nor the email channel.
A full queue drops the alert for that channel and records the drop. At stop
or exit, `drain` waits a bounded time for pending deliveries; whatever is
still pending then is recorded as failed.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from rlwatch.alerts import Alert, severity_rank
from rlwatch.channels.base import Channel, Delivery, RunContext
from rlwatch.guard import report

Recorder = Callable[[Alert, str, Delivery], None]
"""Called with (alert, channel name, delivery) for every outcome."""

_STOP = object()


class ChannelWorker:
    """One channel, one thread, one bounded queue."""

    def __init__(self, channel: Channel, context: RunContext, record: Recorder, maxsize: int) -> None:
        self.channel = channel
        self.context = context
        self.record = record
        self.queue: queue.Queue[object] = queue.Queue(maxsize=maxsize)
        self.dropped = 0
        self._in_flight: Alert | None = None
        self._abandoned = False
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._loop, name=f"rlwatch-notify-{channel.name}", daemon=True)
        self._thread.start()

    def submit(self, alert: Alert) -> None:
        """Queue an alert; never blocks."""
        try:
            self._idle.clear()
            self.queue.put_nowait(alert)
        except queue.Full:
            self.dropped += 1
            self.record(alert, self.channel.name, Delivery("failed", 0, "dropped: notification queue full"))

    def _loop(self) -> None:
        while True:
            item = self.queue.get()
            if item is _STOP:
                self._idle.set()
                return
            assert isinstance(item, Alert)
            self._in_flight = item
            try:
                delivery = self.channel.send(item, self.context)
            except Exception as exc:  # noqa: BLE001 - a channel failure is an outcome, not a crash
                delivery = Delivery("failed", 1, f"{type(exc).__name__}")
                if not _expected(exc):
                    report(f"channel {self.channel.name}.send", exc)
            self._in_flight = None
            if self._abandoned:  # stop() already recorded it as not delivered in time
                continue
            try:
                self.record(item, self.channel.name, delivery)
            except Exception as exc:  # noqa: BLE001
                report("dispatcher.record", exc)
            if self.queue.empty():
                self._idle.set()

    def wait_idle(self, deadline: float) -> bool:
        """Wait until the queue is empty and nothing is in flight."""
        return self._idle.wait(max(0.0, deadline - time.monotonic()))

    def stop(self, deadline: float, context_status: str | None) -> None:
        """Drain (bounded), tell the channel the run ended, stop the thread."""
        if not self.wait_idle(deadline):
            in_flight = self._in_flight
            if in_flight is not None:
                # The send still running (a hanging endpoint) would otherwise
                # leave its alert with no outcome at all once the process exits.
                self._abandoned = True
                gave_up = Delivery("failed", 0, "still sending at exit; gave up waiting")
                self.record(in_flight, self.channel.name, gave_up)
        while True:  # whatever is left after the deadline is recorded, not lost silently
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, Alert):
                self.record(item, self.channel.name, Delivery("failed", 0, "not delivered before exit"))
        if context_status is not None:
            try:
                self.channel.run_finished(self.context, context_status)
            except Exception as exc:  # noqa: BLE001
                report(f"channel {self.channel.name}.run_finished", exc)
        try:
            self.queue.put_nowait(_STOP)
        except queue.Full:
            pass
        try:
            self.channel.close()
        except Exception as exc:  # noqa: BLE001
            report(f"channel {self.channel.name}.close", exc)


def _expected(exc: BaseException) -> bool:
    # Network errors are the channel's business (it reports them as a failed
    # Delivery); only programming errors count as internal errors.
    return isinstance(exc, (OSError, TimeoutError, ConnectionError))


class Dispatcher:
    """Routes alerts to channels by severity; owns the channel workers."""

    def __init__(self, channels: list[Channel], context: RunContext, record: Recorder, queue_size: int) -> None:
        self.sync = [c for c in channels if c.synchronous]
        self.workers = [ChannelWorker(c, context, record, queue_size) for c in channels if not c.synchronous]
        self.context = context
        self.record = record

    def dispatch(self, alert: Alert) -> None:
        """Send to synchronous channels now, queue for the others."""
        rank = severity_rank(alert.severity)
        for channel in self.sync:
            if rank >= severity_rank(channel.min_severity):
                try:
                    channel.send(alert, self.context)
                except Exception as exc:  # noqa: BLE001
                    report(f"channel {channel.name}.send", exc)
        for worker in self.workers:
            if rank >= severity_rank(worker.channel.min_severity):
                worker.submit(alert)
            else:
                self.record(alert, worker.channel.name, Delivery("suppressed", 0, "below min_severity"))

    def close(self, timeout: float, status: str | None) -> None:
        """Bounded drain of every worker, then stop them."""
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            worker.stop(deadline, status)
