"""Redaction of secrets for anything shown or stored: logs, config dumps, ``doctor``, reports.

A leaf module: every layer (and every plugin) redacts the same way.
"""

from __future__ import annotations

import urllib.parse

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
