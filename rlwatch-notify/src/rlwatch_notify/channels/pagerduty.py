"""PagerDuty Events API v2 channel.

Alerts at or above ``min_severity`` (critical by default) send a ``trigger``
event. The ``dedup_key`` is ``rlwatch:<run_id>:<detector>``, so repeats of one
problem in one run update a single incident instead of paging again. When
the run finishes cleanly and ``resolve_on_finish`` is true, every incident the
run opened is resolved; a crashed run leaves them open, since someone should
look.

A ``rlwatch notify-test`` message is triggered and then resolved at once, so
it shows the path works without leaving an open incident.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from typing import Any

from rlwatch.alerts import Alert
from rlwatch.channels.base import Delivery, RunContext

from rlwatch_notify import format as fmt
from rlwatch_notify.channels.common import JsonWebhookChannel
from rlwatch_notify.config import PagerDutyConfig
from rlwatch_notify.redact import register_secret
from rlwatch_notify.retry import RetryPolicy

# PagerDuty field limits (developer.pagerduty.com, Events API v2 overview).
_SUMMARY_LIMIT = 1024
_DEDUP_LIMIT = 255
_SEVERITIES = {"critical": "critical", "warning": "warning", "info": "info"}

# Resolves run inside the core's stop(): keep them brief. An unresolved
# incident is a nuisance; a stop() that hangs is worse.
_RESOLVE_POLICY = RetryPolicy(max_attempts=2, backoff_base=0.5, backoff_max=1.0, max_retry_after=2.0)
_RESOLVE_TIMEOUT = 5.0


def dedup_key(run_id: str, detector: str) -> str:
    """Stable key per run and detector; hashed if PagerDuty's 255 chars would be exceeded."""
    key = f"rlwatch:{run_id}:{detector}"
    if len(key) <= _DEDUP_LIMIT:
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"rlwatch:{digest}"


class PagerDutyChannel(JsonWebhookChannel):
    """Triggers (and resolves) PagerDuty incidents through Events API v2."""

    def __init__(self, config: PagerDutyConfig) -> None:
        super().__init__("pagerduty", config, config.events_url.strip())
        self.pagerduty = config
        self._routing_key = config.routing_key.strip()
        register_secret(self._routing_key)
        self._open_keys: set[str] = set()
        self._lock = threading.Lock()

    def payload(self, alert: Alert, context: RunContext) -> dict[str, Any]:
        """The ``trigger`` event for one alert."""
        run_id = alert.run_id or context.run_id
        details: dict[str, Any] = {
            "message": alert.message,
            "recommendation": alert.recommendation,
            "run_id": run_id,
            "step": alert.step,
            "alert_id": alert.alert_id,
            "metric_values": fmt.json_safe(dict(alert.metric_values)),
        }
        if context.framework:
            details["framework"] = context.framework
        if context.db_path:
            details["db_path"] = context.db_path
        if fmt.is_test(context):
            details["test"] = "Sent by rlwatch notify-test; resolved immediately."
        payload: dict[str, Any] = {
            "summary": fmt.truncate(f"{fmt.title(alert, context)}: {alert.message}", _SUMMARY_LIMIT),
            "source": self.pagerduty.source or context.host or socket.gethostname(),
            "severity": _SEVERITIES.get(alert.severity, "error"),
            "timestamp": fmt.iso_time(alert.timestamp),
            "class": alert.detector,
            "custom_details": details,
        }
        if self.pagerduty.component:
            payload["component"] = self.pagerduty.component
        if self.pagerduty.group:
            payload["group"] = self.pagerduty.group
        return {
            "routing_key": self._routing_key,
            "event_action": "trigger",
            "dedup_key": self._dedup_key(alert, context),
            "client": "rlwatch",
            "payload": payload,
        }

    def send(self, alert: Alert, context: RunContext) -> Delivery:
        """Trigger; remember the incident so a clean finish can resolve it."""
        key = self._dedup_key(alert, context)
        delivery = self.endpoint.send_json(fmt.dumps_json(self.payload(alert, context)))
        if fmt.is_test(context):
            if delivery.status == "delivered":
                self._resolve(key)
            return delivery
        if delivery.status == "delivered":
            with self._lock:
                self._open_keys.add(key)
        return delivery

    def run_finished(self, context: RunContext, status: str) -> None:
        """Resolve this run's incidents if it finished cleanly and that is wanted."""
        if status != "finished" or not self.pagerduty.resolve_on_finish:
            return
        with self._lock:
            keys = sorted(self._open_keys)
            self._open_keys.clear()
        for key in keys:
            if self._resolve(key).detail == "circuit open":
                break  # PagerDuty is unreachable: do not hold up the exit for each key

    def _resolve(self, key: str) -> Delivery:
        event = {"routing_key": self._routing_key, "event_action": "resolve", "dedup_key": key}
        timeout = min(self.endpoint.timeout, _RESOLVE_TIMEOUT)
        return self.endpoint.send_json(fmt.dumps_json(event), policy=_RESOLVE_POLICY, timeout=timeout)

    def _dedup_key(self, alert: Alert, context: RunContext) -> str:
        run_id = alert.run_id or context.run_id
        if fmt.is_test(context):
            return dedup_key(run_id, f"notify-test-{alert.timestamp:.0f}")
        return dedup_key(run_id, alert.detector)

    def describe(self) -> dict[str, Any]:
        """Adds the resolve setting and how many incidents this run has open."""
        info = super().describe()
        info.update(resolve_on_finish=self.pagerduty.resolve_on_finish, open_incidents=len(self._open_keys))
        return info
