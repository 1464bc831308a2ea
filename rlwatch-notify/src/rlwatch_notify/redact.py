"""Keeping webhook URLs, routing keys, passwords and auth headers out of sight.

Three tools, used wherever a channel could print something:

* `redact_url` keeps what identifies the service (scheme, host, port) and hides
  the path and query, which is where Slack, Discord and most webhooks keep
  their token.
* `redact_headers` keeps header names and hides their values.
* `register_secret` + `scrub` remove known secret strings from free text. The
  same registry backs a logging filter on urllib3's loggers, because urllib3
  logs request paths at DEBUG level and a webhook path *is* the secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from rlwatch.redaction import SecretRegistry

REDACTED = "***"
"""What a hidden value is replaced with."""

# Short strings ("/", "a") would scrub half of every log line and hide nothing.
_registry = SecretRegistry(min_length=6, replacement=REDACTED)

# The loggers urllib3 writes request lines to (each module logs under its own
# name, and a filter only sees records created by the logger it sits on).
_URLLIB3_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
)


def redact_url(url: str) -> str:
    """Return `url` with credentials, path, query and fragment hidden.

    Args:
        url: Any string; it need not be a valid URL.

    Returns:
        ``"https://hooks.slack.com/***"`` for a URL with a path or query,
        ``"https://host:8080"`` when there is nothing to hide, ``"***"`` for
        something that does not parse as a URL, ``""`` for an empty string.
    """
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        return REDACTED
    if not parts.scheme or not host:
        return REDACTED
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    hidden = parts.path not in ("", "/") or parts.query or parts.fragment
    return f"{parts.scheme}://{netloc}" + ("/" + REDACTED if hidden else "")


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Return the header names with every value hidden."""
    return {name: REDACTED for name in headers}


def register_secret(value: str) -> None:
    """Remember `value` (and its URL-decoded and -encoded forms) so `scrub` hides it."""
    _registry.add(value)


def register_url_secrets(url: str) -> None:
    """Register the secret-bearing parts of a URL: path, query, credentials."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        register_secret(url)
        return
    register_secret(url)
    for piece in (parts.path, parts.query, parts.password or "", parts.username or ""):
        if piece not in ("", "/"):
            register_secret(piece)
    if parts.query:
        register_secret(f"{parts.path}?{parts.query}")


def scrub(text: str) -> str:
    """Replace every registered secret in `text` by ``***``."""
    return _registry.scrub(text)


def install_log_scrubber() -> None:
    """Attach the scrub filter to urllib3's loggers (idempotent)."""
    _registry.install(_URLLIB3_LOGGERS)
