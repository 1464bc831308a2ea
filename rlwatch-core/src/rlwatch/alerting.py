"""The alert stage of a run: number each alert, decide its fate, store it, send it, tell observers.

Every alert a detector raises goes through `AlertPipeline.handle`, on the
thread that raised it (the training thread, or the monitor's timer thread
for time-based detectors): an id unique in the run, the alert manager's
decision (sent, or suppressed and why), the stored record (always, whatever
the decision), the channels (only if sent), and the ``rlwatch_alert`` hook.
Delivery outcomes come back from the channel threads to `record_delivery`.
"""

from __future__ import annotations

import threading
from typing import Any

from rlwatch import plugins
from rlwatch.alert_manager import AlertManager
from rlwatch.alerts import Alert
from rlwatch.channels.base import Channel, Delivery, RunContext
from rlwatch.channels.dispatcher import Dispatcher
from rlwatch.storage.writer import StoreWriter


class AlertPipeline:
    """One run's alert stage.

    Args:
        run_id: The run the alerts belong to.
        manager: Cooldown, escalation and cap decisions.
        writer: Where alerts and delivery outcomes are stored.
        first_id: The first alert id to hand out (after a resumed run's last).
    """

    def __init__(self, run_id: str, manager: AlertManager, writer: StoreWriter, first_id: int) -> None:
        self.run_id = run_id
        self.manager = manager
        self.writer = writer
        self.dispatcher: Dispatcher | None = None
        self._next_id = first_id
        self._lock = threading.Lock()

    def open_channels(self, channels: list[Channel], context: RunContext, queue_size: int) -> None:
        """Start the channel workers (notification channels get a thread and a bounded queue each)."""
        self.dispatcher = Dispatcher(channels, context, self.record_delivery, queue_size)

    def handle(self, alerts: list[Alert], monitor: Any) -> list[Alert]:
        """Number, decide, store, send and announce `alerts`; returns those sent to channels."""
        out: list[Alert] = []
        hook = plugins.hook()
        for alert in alerts:
            with self._lock:
                alert.alert_id = self._next_id
                self._next_id += 1
            alert.run_id = self.run_id
            status, reason = self.manager.decide(alert)
            self.writer.put_alert(self.run_id, alert, status, reason)
            if status == "sent":
                out.append(alert)
                if self.dispatcher is not None:
                    self.dispatcher.dispatch(alert)
            hook.rlwatch_alert(alert=alert, status=status, reason=reason, monitor=monitor)
        return out

    def record_delivery(self, alert: Alert, channel: str, delivery: Delivery) -> None:
        """Store what a channel made of an alert (called from the channel threads)."""
        self.writer.put_delivery(self.run_id, alert.alert_id, channel, delivery.status, delivery.attempts,
                                 delivery.detail)

    def close(self, timeout: float, status: str | None) -> None:
        """Drain the channels (bounded by `timeout`) and tell them how the run ended."""
        if self.dispatcher is not None:
            self.dispatcher.close(timeout, status)
