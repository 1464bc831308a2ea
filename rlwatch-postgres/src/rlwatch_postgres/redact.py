"""Keeping PostgreSQL credentials out of everything rlwatch shows or stores.

A connection URL may carry a password (``postgresql://user:pw@host/db`` or
``?password=...``), and libpq echoes parts of a malformed connection string
in its error messages. So:

* `display_url` turns any URL into ``postgresql://user@host:port/dbname``
  (plus ``sslmode``), never with a password, and never the raw string when it
  does not parse.
* `remember_secrets` registers the password of a URL (and ``PGPASSWORD``) so
  that `scrub` replaces it by ``***`` in any free text: error messages, log
  records, status dictionaries.
* `install_log_filter` puts the scrub on psycopg's own loggers too.
"""

from __future__ import annotations

import os
from urllib.parse import quote

from rlwatch.redaction import SecretRegistry

REDACTED = "***"
"""What a hidden value is replaced with."""

SECRET_KEYS = frozenset({"password", "sslpassword"})
"""libpq connection parameters whose values are secrets."""

# Shorter strings would scrub ordinary words out of every message and hide nothing.
_registry = SecretRegistry(min_length=4, replacement=REDACTED)


def parse_url(url: str) -> dict[str, str]:
    """The libpq parameters of a URL or ``key=value`` string.

    Raises:
        ValueError: it does not parse; the message never repeats the input.
    """
    from psycopg import conninfo

    try:
        return {str(k): str(v) for k, v in conninfo.conninfo_to_dict(url).items() if v is not None}
    except Exception:  # noqa: BLE001 - libpq's message may quote the string, password included
        raise ValueError("the PostgreSQL URL does not parse (check its quoting)") from None


def display_url(url: str) -> str:
    """A form of `url` that is safe to print: no password, no unknown parameters.

    Returns:
        ``postgresql://user@host:port/dbname`` (``?sslmode=...`` when set),
        ``postgresql://***`` when the URL does not parse.
    """
    try:
        params = parse_url(url)
    except ValueError:
        return f"postgresql://{REDACTED}"
    user = params.get("user", "")
    host = params.get("host", "")
    # A unix socket directory is a path; brackets keep an IPv6 address readable.
    shown_host = f"[{host}]" if ":" in host else quote(host, safe="")
    netloc = (quote(user, safe="") + "@" if user else "") + shown_host
    if params.get("port"):
        netloc += f":{params['port']}"
    out = f"postgresql://{netloc}/{quote(params.get('dbname', ''), safe='')}"
    if params.get("sslmode"):
        out += f"?sslmode={quote(params['sslmode'], safe='')}"
    return out


def remember_secrets(url: str) -> None:
    """Register the secret parameters of `url` and ``PGPASSWORD`` for `scrub`."""
    candidates = [os.environ.get("PGPASSWORD", "")]
    try:
        params = parse_url(url)
    except ValueError:
        # Nothing can be picked out of it, so the whole string is the secret.
        candidates.append(url)
    else:
        candidates.extend(v for k, v in params.items() if k in SECRET_KEYS)
    for value in candidates:
        _registry.add(value)


def scrub(text: str) -> str:
    """`text` with every registered secret replaced by ``***``."""
    return _registry.scrub(text)


def describe_error(exc: BaseException) -> str:
    """``"TypeName: message"`` with secrets scrubbed and the message kept to one line."""
    message = " ".join(str(exc).split())
    return scrub(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def install_log_filter() -> None:
    """Scrub records of psycopg's loggers and rlwatch's (idempotent)."""
    _registry.install(("psycopg", "psycopg.pq", "psycopg.conninfo", "rlwatch"))
