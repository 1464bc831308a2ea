"""Redaction of secrets for anything shown or stored: logs, config dumps, ``doctor``, reports.

A leaf module: every layer (and every plugin) redacts the same way:
`redact_url` for a URL shown on purpose, `SecretRegistry` for secrets that
could turn up in free text.
"""

from __future__ import annotations

import logging
import threading
import urllib.parse
from collections.abc import Iterable

REDACTED = "***redacted***"
"""What a secret value is replaced with."""

_SECRET_QUERY_KEYS = ("password", "sslpassword", "passfile", "token", "secret", "key")


def redact_url(url: str) -> str:
    """A URL with credentials removed: ``postgresql://***@db.internal:5432/rlwatch``.

    The scheme, host, port and database stay visible so a reader can tell
    where data goes; the user/password part and secret query parameters
    (``password=``, ``sslpassword=``...) are replaced.
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        query = "&".join(
            f"{k}={'***' if any(w in k.lower() for w in _SECRET_QUERY_KEYS) else v}" for k, v in pairs
        )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class SecretRegistry:
    """Secret strings a package has seen (tokens, passwords), scrubbed from any text it shows or logs.

    Channels and stores register the secrets of their configuration
    (`add`); `scrub` replaces every registered one in free text (error
    messages, status dictionaries), and `install` puts the same scrub on
    third-party loggers that may echo them (urllib3 logs webhook paths at
    DEBUG level, libpq echoes connection strings in its errors).

    Args:
        min_length: Shorter strings are not registered: they would scrub
            ordinary words out of every line and hide nothing.
        replacement: What a secret is replaced with.
    """

    def __init__(self, min_length: int, replacement: str = "***") -> None:
        self.min_length = min_length
        self.replacement = replacement
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self._filter = _ScrubFilter(self)
        self._installed: set[str] = set()

    def add(self, value: str) -> None:
        """Register `value`, and its URL-decoded and URL-encoded spellings (what appears inside a URL)."""
        forms = {value, urllib.parse.unquote(value), urllib.parse.quote(value, safe="")}
        with self._lock:
            self._secrets.update(form for form in forms if len(form) >= self.min_length)

    def scrub(self, text: str) -> str:
        """`text` with every registered secret replaced (longest first, so a URL goes before its path)."""
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, self.replacement)
        return text

    def install(self, logger_names: Iterable[str]) -> None:
        """Scrub the records of these loggers (idempotent per logger)."""
        with self._lock:
            for name in logger_names:
                if name not in self._installed:
                    logging.getLogger(name).addFilter(self._filter)
                    self._installed.add(name)


class _ScrubFilter(logging.Filter):
    """Rewrites a record's message so that no registered secret survives; never drops a record."""

    def __init__(self, registry: SecretRegistry) -> None:
        super().__init__()
        self._registry = registry

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):  # a malformed record: logging reports it itself
            return True
        cleaned = self._registry.scrub(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = ()
        return True
