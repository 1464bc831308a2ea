"""Generic JSON webhook channel: any service that accepts an HTTP POST.

The body is the default schema (`default_body`, documented in
``docs/channels/webhook.md``) or the user's template
(`rlwatch_notify.template`). With a ``secret``, each request carries
``X-RLWatch-Signature: sha256=<hex>``, the HMAC-SHA256 of the exact body
bytes under that secret, so the receiver can check who sent it.

Header values may say ``${env:NAME}`` to take a token from the environment
instead of writing it into ``rlwatch.yaml``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from typing import Any

from rlwatch.alerts import Alert
from rlwatch.channels.base import Delivery, RunContext

from rlwatch_notify import format as fmt
from rlwatch_notify.channels.common import JsonWebhookChannel
from rlwatch_notify.config import WebhookConfig
from rlwatch_notify.redact import redact_headers, register_secret
from rlwatch_notify.template import compile_template, render

SCHEMA = "rlwatch.alert/v1"
"""Value of the ``schema`` key of the default body."""

_ENV_REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


def default_body(alert: Alert, context: RunContext, severity_labels: dict[str, str] | None = None) -> dict[str, Any]:
    """The default JSON body; its keys are also the template's fields.

    Non-finite metric values are null here (standard JSON has no NaN).
    """
    safe: dict[str, Any] = fmt.json_safe(template_values(alert, context, severity_labels))
    return safe


def template_values(alert: Alert, context: RunContext, severity_labels: dict[str, str] | None = None) -> dict[str, Any]:
    """The fields as Python values; NaN stays NaN so text can say ``NaN``."""
    labels = severity_labels or {}
    return {
        "schema": SCHEMA,
        "event": "test" if fmt.is_test(context) else "alert",
        "test": fmt.is_test(context),
        "title": fmt.title(alert, context),
        "text": fmt.plain_text(alert, context),
        "alert_id": alert.alert_id,
        "run_id": alert.run_id or context.run_id,
        "detector": alert.detector,
        "severity": alert.severity,
        "severity_label": labels.get(alert.severity, alert.severity),
        "step": alert.step,
        "message": alert.message,
        "recommendation": alert.recommendation,
        "metric_values": dict(alert.metric_values),
        "timestamp": alert.timestamp,
        "time": fmt.iso_time(alert.timestamp),
        "host": context.host,
        "framework": context.framework,
    }


def sign(secret: str, body: bytes) -> str:
    """Signature header value: ``sha256=`` + hex HMAC-SHA256 of `body`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def expand_env(value: str) -> str:
    """Replace ``${env:NAME}`` by the variable's value (empty when unset)."""
    return _ENV_REFERENCE.sub(lambda match: os.environ.get(match.group(1), ""), value)


class WebhookChannel(JsonWebhookChannel):
    """Sends alerts as JSON to any HTTP endpoint."""

    def __init__(self, config: WebhookConfig) -> None:
        headers = {str(name): expand_env(str(value)) for name, value in config.headers.items()}
        super().__init__("webhook", config, config.url.strip(), method=config.method, headers=headers)
        self.webhook = config
        self._template = compile_template(config.template) if config.template.strip() else None
        if config.secret:
            register_secret(config.secret)

    def payload(self, alert: Alert, context: RunContext) -> Any:
        """Default body, or the template filled with the same fields."""
        if self._template is None:
            return default_body(alert, context, self.webhook.severity_labels)
        return render(self._template, template_values(alert, context, self.webhook.severity_labels))

    def send(self, alert: Alert, context: RunContext) -> Delivery:
        """Serialise, sign when a secret is set, and deliver with retries."""
        body = fmt.dumps_json(self.payload(alert, context))
        headers = {}
        if self.webhook.secret:
            headers[self.webhook.signature_header] = sign(self.webhook.secret, body)
        return self.endpoint.send_json(body, headers)

    def describe(self) -> dict[str, Any]:
        """Adds method, header names (values hidden) and whether bodies are signed."""
        info = super().describe()
        info.update(
            method=self.endpoint.method,
            headers=redact_headers(self.endpoint.headers),
            template=self._template is not None,
            signed=bool(self.webhook.secret),
        )
        return info
