"""The channel interface: where an alert goes once the pipeline lets it out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rlwatch.alerts import Alert


@dataclass
class RunContext:
    """What a channel may say about the run besides the alert itself."""

    run_id: str
    framework: str = ""
    host: str = ""
    db_path: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Delivery:
    """Outcome of one channel's delivery of one alert, stored with the alert.

    Attributes:
        status: ``"delivered"``, ``"failed"`` or ``"suppressed"``.
        attempts: How many tries were made (0 when suppressed).
        detail: Short reason (HTTP status, exception class); never a secret.
    """

    status: str
    attempts: int = 1
    detail: str = ""


class Channel(ABC):
    """Base class of alert channels.

    Synchronous channels (the console) run on the caller's thread and must be
    cheap. All others run on a dispatcher thread of their own with a bounded
    queue; they may block (network) and may retry inside `send`.

    Attributes:
        name: Channel name (``"console"``, ``"slack"``, ...).
        min_severity: Lowest severity this channel receives.
        synchronous: True only for cheap, local channels.
    """

    synchronous: ClassVar[bool] = False

    def __init__(self, name: str, min_severity: str = "warning") -> None:
        self.name = name
        self.min_severity = min_severity

    @abstractmethod
    def send(self, alert: Alert, context: RunContext) -> Delivery:
        """Deliver one alert. May raise; the dispatcher records a failure."""

    def run_finished(self, context: RunContext, status: str) -> None:  # noqa: B027 - optional hook
        """Called once when the run ends (``"finished"`` or ``"crashed"``)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (sessions, connections)."""

    def describe(self) -> dict[str, Any]:
        """Redacted description for `rlwatch doctor` (no secrets)."""
        return {"name": self.name, "min_severity": self.min_severity}
