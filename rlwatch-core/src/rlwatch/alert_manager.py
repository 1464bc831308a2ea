"""Decides which alerts go out: cooldown, escalation, dedupe and a per-run cap.

Every alert is persisted whatever the decision; the decision only says
whether channels hear about it. Rules, per detector:

- Within ``cooldown_steps`` of the last alert sent, a repeat of the same or a
  lower severity is suppressed ("cooldown"); a critical after a warning is
  sent (escalation). A warning never "de-escalates" a critical.
- The same (detector, severity, step) twice is suppressed ("duplicate").
- After ``max_alerts_per_run`` sent alerts, further ones are suppressed
  ("cap") except a detector's first critical, which is always sent.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from rlwatch.alerts import Alert, severity_rank


@dataclass
class _DetectorState:
    last_step: int
    last_rank: int
    sent_critical: bool


class AlertManager:
    """Per-run alert decisions; thread-safe (the stall timer also raises alerts)."""

    def __init__(self, max_alerts_per_run: int, cooldowns: dict[str, int]) -> None:
        self.max_alerts_per_run = max_alerts_per_run
        self.cooldowns = cooldowns
        self.sent = 0
        self._state: dict[str, _DetectorState] = {}
        self._seen: set[tuple[str, str, int]] = set()
        self._lock = threading.Lock()

    def decide(self, alert: Alert) -> tuple[str, str]:
        """Return ``("sent", "")`` or ``("suppressed", reason)`` and update state."""
        rank = severity_rank(alert.severity)
        with self._lock:
            key = (alert.detector, alert.severity, alert.step)
            if key in self._seen:
                return "suppressed", "duplicate"
            self._seen.add(key)
            if len(self._seen) > 10_000:  # bounded memory on very long runs
                self._seen.clear()
                self._seen.add(key)
            state = self._state.get(alert.detector)
            first_critical = rank >= 2 and (state is None or not state.sent_critical)
            cooldown = self.cooldowns.get(alert.detector, 0)
            if state is not None and 0 <= alert.step - state.last_step < cooldown and rank <= state.last_rank:
                return "suppressed", f"cooldown ({cooldown} steps)"
            if self.sent >= self.max_alerts_per_run and not first_critical:
                return "suppressed", f"cap ({self.max_alerts_per_run} alerts per run)"
            self.sent += 1
            self._state[alert.detector] = _DetectorState(
                last_step=alert.step,
                last_rank=rank,
                sent_critical=(state.sent_critical if state else False) or rank >= 2,
            )
            return "sent", ""
