"""What the HTTP channels share: building the endpoint from config, describe, close."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from rlwatch.alerts import Alert
from rlwatch.channels.base import Channel, Delivery, RunContext

from rlwatch_notify.config import ChannelConfig
from rlwatch_notify.format import dumps_json
from rlwatch_notify.http import HttpEndpoint
from rlwatch_notify.redact import redact_url
from rlwatch_notify.retry import CircuitBreaker, RetryPolicy


def retry_policy(config: ChannelConfig) -> RetryPolicy:
    """The `RetryPolicy` a channel section asks for."""
    return RetryPolicy(
        max_attempts=config.max_attempts,
        backoff_base=config.backoff_base,
        backoff_max=config.backoff_max,
    )


def circuit_breaker(name: str, config: ChannelConfig) -> CircuitBreaker:
    """The `CircuitBreaker` a channel section asks for."""
    return CircuitBreaker(name, threshold=config.breaker_threshold, cooldown=config.breaker_cooldown)


class JsonWebhookChannel(Channel):
    """A channel that POSTs one JSON document per alert to one URL.

    Subclasses build the document in `payload`. Runs on the core's dispatcher
    thread; `send` blocks for at most the retry policy's tries and waits.

    Args:
        name: Channel name.
        config: Its validated config section.
        url: Where to send.
        method: HTTP method.
        headers: Extra headers (secret values).
    """

    def __init__(
        self,
        name: str,
        config: ChannelConfig,
        url: str,
        *,
        method: str = "POST",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(name, config.min_severity)
        self.config = config
        self.endpoint = HttpEndpoint(
            name,
            url,
            method=method,
            headers=headers,
            timeout=config.timeout,
            policy=retry_policy(config),
            breaker=circuit_breaker(name, config),
        )

    @abstractmethod
    def payload(self, alert: Alert, context: RunContext) -> Any:
        """The JSON-able document for one alert."""

    def send(self, alert: Alert, context: RunContext) -> Delivery:
        """Serialise `payload` and deliver it with retries."""
        return self.endpoint.send_json(dumps_json(self.payload(alert, context)))

    def describe(self) -> dict[str, Any]:
        """Name, severity, redacted URL and breaker state; no secrets."""
        info = super().describe()
        info.update(
            url=redact_url(self.endpoint.url),
            timeout=self.endpoint.timeout,
            max_attempts=self.endpoint.policy.max_attempts,
            circuit=self.endpoint.breaker.state,
        )
        return info

    def close(self) -> None:
        """Stop waiting on retries and close pooled connections."""
        self.endpoint.close()
