"""Configuration sections ``alerts.slack``, ``alerts.discord``, ``alerts.email``,
``alerts.webhook`` and ``alerts.pagerduty``.

The core loader reads them from ``rlwatch.yaml`` and from the environment
variables named in each field's ``env`` metadata, and hides every field marked
``secret``. A section is *configured* when its address is present (a webhook
URL, a routing key, an SMTP host or recipient), and a channel is built only
when it is configured **and** ``enabled``.

``enabled`` defaults to true and means "on when configured": setting a URL is
enough, ``enabled: false`` switches a configured channel off (it wins over a
URL from the environment), and an empty environment variable configures
nothing. A plain bool is used instead of a tri-state so that YAML and the
environment spell it the ordinary way.

``validate()`` is called by the core at attach/load time and raises
`rlwatch.config.ConfigError` naming the key and what is expected. Messages
never repeat a secret value.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from rlwatch.alerts import SEVERITIES
from rlwatch.errors import ConfigError

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")
_HTTP_METHODS = ("POST", "PUT", "PATCH")
_SMTP_SECURITY = ("starttls", "ssl", "none")


def _meta(help_text: str, env: str | None = None, secret: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"help": help_text}
    if env:
        meta["env"] = env
    if secret:
        meta["secret"] = True
    return meta


def check_url(section: str, key: str, url: str) -> None:
    """Raise `ConfigError` unless `url` is an absolute http(s) URL with a host.

    The message names the key but never echoes the value (it is a secret).
    """
    problem = ""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        problem = "it does not parse"
    else:
        if any(char.isspace() for char in url):
            problem = "it contains whitespace"
        elif parts.scheme not in ("http", "https"):
            problem = "the scheme must be http or https"
        elif not host:
            problem = "it has no host"
    if problem:
        raise ConfigError(f"{section}.{key} is not a valid URL: {problem} (value hidden, it is a secret)")


def split_list(values: list[str]) -> list[str]:
    """Flatten ``["a@x, b@y", "c@z"]`` into ``["a@x", "b@y", "c@z"]``.

    Environment variables give lists as one comma-separated string; this
    accepts that shape whichever way the loader passed it on.
    """
    items: list[str] = []
    for value in values:
        items.extend(part.strip() for part in str(value).split(","))
    return [item for item in items if item]


@dataclass
class ChannelConfig:
    """Settings every notification channel has.

    A channel's config is ``class XConfig(ChannelConfig, _XFields)``: its own
    options live in ``_XFields`` so that, by dataclass field order (bases
    last in the MRO come first), the address options lead in generated
    docs and ``rlwatch init``. Subclasses set `SECTION` and implement
    `configured()`.
    """

    SECTION: ClassVar[str] = "alerts.channel"

    enabled: bool = field(
        default=True,
        metadata=_meta("On when configured (URL/key present); false switches the channel off."),
    )
    min_severity: str = field(default="warning", metadata=_meta("Lowest severity sent: info, warning or critical."))
    timeout: float = field(default=10.0, metadata=_meta("Seconds allowed per request (connect, and each read)."))
    max_attempts: int = field(default=4, metadata=_meta("Tries per alert, the first included."))
    backoff_base: float = field(default=1.0, metadata=_meta("Seconds before the first retry; doubles each retry."))
    backoff_max: float = field(default=30.0, metadata=_meta("Longest wait between two tries, in seconds."))
    breaker_threshold: int = field(
        default=5, metadata=_meta("Failed tries in a row after which the channel is paused.")
    )
    breaker_cooldown: float = field(
        default=60.0, metadata=_meta("Seconds a paused channel waits before one probe try.")
    )

    def configured(self) -> bool:
        """True when the section names somewhere to deliver to."""
        return False

    def active(self) -> bool:
        """True when a channel should be built: configured and not switched off."""
        return self.enabled and self.configured()

    def validate(self) -> None:
        """Raise `ConfigError` for impossible values (called at attach time)."""
        section = self.SECTION
        if self.min_severity not in SEVERITIES:
            choices = ", ".join(SEVERITIES)
            raise ConfigError(f"{section}.min_severity must be one of {choices}, got {self.min_severity!r}")
        for key in ("timeout", "backoff_base", "backoff_max", "breaker_cooldown"):
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{section}.{key} must be a positive number of seconds, got {value!r}")
        if self.max_attempts < 1:
            raise ConfigError(f"{section}.max_attempts must be at least 1, got {self.max_attempts!r}")
        if self.breaker_threshold < 1:
            raise ConfigError(f"{section}.breaker_threshold must be at least 1, got {self.breaker_threshold!r}")
        if self.enabled and self.configured():
            self.validate_target()

    def validate_target(self) -> None:
        """Channel-specific checks, run only for an active channel."""


@dataclass
class _SlackFields:
    """Options only ``alerts.slack`` has; a base class so they come before the common ones."""

    webhook_url: str = field(
        default="",
        metadata=_meta(
            "Incoming-webhook URL (https://hooks.slack.com/services/...).", "RLWATCH_SLACK_WEBHOOK_URL", True
        ),
    )
    channel: str = field(default="", metadata=_meta("Channel override, e.g. #rl-alerts (legacy webhooks only)."))
    username: str = field(default="", metadata=_meta("Display name override (legacy webhooks only)."))
    icon_emoji: str = field(default="", metadata=_meta("Icon override, e.g. :robot_face: (legacy webhooks only)."))
    mention_users: list[str] = field(
        default_factory=list, metadata=_meta("Slack member ids (U…) or user-group ids (S…) to mention.")
    )


@dataclass
class SlackConfig(ChannelConfig, _SlackFields):
    """``alerts.slack``: a Slack incoming webhook."""

    SECTION: ClassVar[str] = "alerts.slack"

    def configured(self) -> bool:
        """Configured when a webhook URL is set."""
        return bool(self.webhook_url.strip())

    def validate_target(self) -> None:
        """Check the webhook URL and mention ids."""
        check_url(self.SECTION, "webhook_url", self.webhook_url.strip())
        for member in self.mention_users:
            if not re.fullmatch(r"[UWS][A-Z0-9]{2,}", str(member).strip()):
                raise ConfigError(
                    f"{self.SECTION}.mention_users: {member!r} is not a Slack member id (U…/W…) or "
                    "user-group id (S…); names like @alice do not work in webhooks"
                )


@dataclass
class _DiscordFields:
    """Options only ``alerts.discord`` has; a base class so they come before the common ones."""

    webhook_url: str = field(
        default="",
        metadata=_meta("Webhook URL (https://discord.com/api/webhooks/...).", "RLWATCH_DISCORD_WEBHOOK_URL", True),
    )
    username: str = field(default="rlwatch", metadata=_meta("Name the message is posted under."))
    avatar_url: str = field(default="", metadata=_meta("Avatar image URL for the message."))
    mention_roles: list[str] = field(
        default_factory=list, metadata=_meta("Role ids pinged on critical alerts only.")
    )


@dataclass
class DiscordConfig(ChannelConfig, _DiscordFields):
    """``alerts.discord``: a Discord channel webhook."""

    SECTION: ClassVar[str] = "alerts.discord"

    def configured(self) -> bool:
        """Configured when a webhook URL is set."""
        return bool(self.webhook_url.strip())

    def validate_target(self) -> None:
        """Check the URLs and role ids."""
        check_url(self.SECTION, "webhook_url", self.webhook_url.strip())
        if self.avatar_url:
            check_url(self.SECTION, "avatar_url", self.avatar_url)
        for role in self.mention_roles:
            if not str(role).isdigit():
                raise ConfigError(f"{self.SECTION}.mention_roles must hold numeric role ids, got {role!r}")
        if len(self.username) > 80:
            raise ConfigError(f"{self.SECTION}.username must be at most 80 characters")
        lowered = self.username.lower()
        if any(word in lowered for word in ("discord", "clyde", "@", "#", ":", "```")):
            raise ConfigError(
                f"{self.SECTION}.username {self.username!r} would be refused by Discord "
                "(it may not contain discord, clyde, @, #, : or ```)"
            )


@dataclass
class _EmailFields:
    """Options only ``alerts.email`` has; a base class so they come before the common ones."""

    smtp_host: str = field(default="", metadata=_meta("SMTP server host name.", "RLWATCH_SMTP_HOST"))
    smtp_port: int = field(
        default=0, metadata=_meta("SMTP port; 0 picks 587 (starttls), 465 (ssl) or 25 (none).", "RLWATCH_SMTP_PORT")
    )
    security: str = field(
        default="starttls",
        metadata=_meta("starttls (default), ssl (implicit TLS) or none.", "RLWATCH_SMTP_SECURITY"),
    )
    username: str = field(default="", metadata=_meta("SMTP login; empty skips authentication.", "RLWATCH_SMTP_USER"))
    password: str = field(default="", metadata=_meta("SMTP password.", "RLWATCH_SMTP_PASSWORD", True))
    from_addr: str = field(default="", metadata=_meta("Sender address.", "RLWATCH_EMAIL_FROM"))
    to: list[str] = field(
        default_factory=list, metadata=_meta("Recipient addresses (comma-separated in the env).", "RLWATCH_EMAIL_TO")
    )
    subject_prefix: str = field(default="[rlwatch]", metadata=_meta("Text put before every subject."))
    ca_file: str = field(default="", metadata=_meta("PEM file of CA certificates to trust instead of the system's."))


@dataclass
class EmailConfig(ChannelConfig, _EmailFields):
    """``alerts.email``: email through an SMTP server."""

    SECTION: ClassVar[str] = "alerts.email"

    def configured(self) -> bool:
        """Configured when a server or a recipient is given (either alone is an error)."""
        return bool(self.smtp_host.strip() or split_list(self.to))

    def recipients(self) -> list[str]:
        """The recipient list, with comma-separated entries split."""
        return split_list(self.to)

    def port(self) -> int:
        """The port to connect to, defaults applied."""
        if self.smtp_port:
            return self.smtp_port
        return {"ssl": 465, "none": 25}.get(self.security, 587)

    def validate_target(self) -> None:
        """Check server, security mode, addresses and credentials."""
        section = self.SECTION
        if not self.smtp_host.strip():
            raise ConfigError(f"{section}.smtp_host is required when recipients are set (or RLWATCH_SMTP_HOST)")
        if self.security not in _SMTP_SECURITY:
            raise ConfigError(f"{section}.security must be one of {', '.join(_SMTP_SECURITY)}, got {self.security!r}")
        if not 0 <= self.smtp_port <= 65535:
            raise ConfigError(f"{section}.smtp_port must be between 1 and 65535 (0 = default), got {self.smtp_port}")
        recipients = self.recipients()
        if not recipients:
            raise ConfigError(f"{section}.to needs at least one recipient address (or RLWATCH_EMAIL_TO)")
        for address in recipients:
            if not _EMAIL.match(address):
                raise ConfigError(f"{section}.to has an invalid address: {address!r}")
        if not self.from_addr.strip():
            raise ConfigError(f"{section}.from_addr is required (or RLWATCH_EMAIL_FROM)")
        if not _EMAIL.match(self.from_addr.strip()):
            raise ConfigError(f"{section}.from_addr is not an email address: {self.from_addr!r}")
        if self.password and not self.username:
            raise ConfigError(f"{section}.password is set but username is empty (or RLWATCH_SMTP_USER)")


@dataclass
class _WebhookFields:
    """Options only ``alerts.webhook`` has; a base class so they come before the common ones."""

    url: str = field(default="", metadata=_meta("Endpoint URL.", "RLWATCH_WEBHOOK_URL", True))
    method: str = field(default="POST", metadata=_meta("POST, PUT or PATCH."))
    headers: dict[str, str] = field(
        default_factory=dict,
        metadata=_meta("Extra headers; values may use ${env:NAME}. Values are secret.", secret=True),
    )
    template: str = field(
        default="",
        metadata=_meta("JSON body template with ${field} placeholders; empty sends the default schema."),
    )
    severity_labels: dict[str, str] = field(
        default_factory=dict, metadata=_meta("Maps severity to ${severity_label}, e.g. {critical: P1}.")
    )
    secret: str = field(
        default="",
        metadata=_meta("Shared secret for the HMAC-SHA256 signature header.", "RLWATCH_WEBHOOK_SECRET", True),
    )
    signature_header: str = field(
        default="X-RLWatch-Signature", metadata=_meta("Header that carries sha256=<hex HMAC of the body>.")
    )


@dataclass
class WebhookConfig(ChannelConfig, _WebhookFields):
    """``alerts.webhook``: any HTTP endpoint that takes JSON."""

    SECTION: ClassVar[str] = "alerts.webhook"

    def configured(self) -> bool:
        """Configured when a URL is set."""
        return bool(self.url.strip())

    def validate_target(self) -> None:
        """Check URL, method, headers and the template."""
        from rlwatch_notify.template import TemplateError, compile_template

        section = self.SECTION
        check_url(section, "url", self.url.strip())
        if self.method.upper() not in _HTTP_METHODS:
            raise ConfigError(f"{section}.method must be one of {', '.join(_HTTP_METHODS)}, got {self.method!r}")
        for name in [*self.headers, self.signature_header]:
            if not _HEADER_NAME.match(str(name)):
                raise ConfigError(f"{section}: {name!r} is not a valid HTTP header name")
        for name, value in self.headers.items():
            if "\n" in str(value) or "\r" in str(value):
                raise ConfigError(f"{section}.headers.{name} must be a single line (value hidden)")
        if self.template.strip():
            try:
                compile_template(self.template)
            except TemplateError as exc:
                raise ConfigError(f"{section}.template: {exc}") from None


@dataclass
class _PagerDutyFields:
    """Options only ``alerts.pagerduty`` has; a base class so they come before the common ones."""

    routing_key: str = field(
        default="",
        metadata=_meta(
            "Integration (routing) key of an Events API v2 integration.", "RLWATCH_PAGERDUTY_ROUTING_KEY", True
        ),
    )
    events_url: str = field(
        default="https://events.pagerduty.com/v2/enqueue",
        metadata=_meta("Events API endpoint (EU accounts: https://events.eu.pagerduty.com/v2/enqueue)."),
    )
    resolve_on_finish: bool = field(
        default=True, metadata=_meta("Resolve this run's incidents when it finishes cleanly (not on crash).")
    )
    source: str = field(default="", metadata=_meta("payload.source; defaults to the host name."))
    component: str = field(default="", metadata=_meta("payload.component, e.g. the model being trained."))
    group: str = field(default="", metadata=_meta("payload.group, e.g. the team or cluster."))


@dataclass
class PagerDutyConfig(ChannelConfig, _PagerDutyFields):
    """``alerts.pagerduty``: PagerDuty Events API v2."""

    SECTION: ClassVar[str] = "alerts.pagerduty"

    min_severity: str = field(
        default="critical",
        metadata=_meta("Lowest severity that triggers an incident (set warning to page on warnings)."),
    )

    def configured(self) -> bool:
        """Configured when a routing key is set."""
        return bool(self.routing_key.strip())

    def validate_target(self) -> None:
        """Check the routing key's shape and the endpoint URL."""
        key = self.routing_key.strip()
        if not re.fullmatch(r"[A-Za-z0-9_-]{20,64}", key):
            raise ConfigError(
                f"{self.SECTION}.routing_key does not look like an Events API v2 integration key "
                "(expected 32 letters/digits; value hidden)"
            )
        check_url(self.SECTION, "events_url", self.events_url)


CONFIG_SECTIONS: dict[str, type[ChannelConfig]] = {
    cls.SECTION: cls for cls in (SlackConfig, DiscordConfig, EmailConfig, WebhookConfig, PagerDutyConfig)
}
"""Every section this package adds, by dotted path."""

