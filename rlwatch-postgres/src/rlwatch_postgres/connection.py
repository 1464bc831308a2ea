"""Opening PostgreSQL connections the same careful way everywhere.

Credentials come only from where libpq looks for them: the URL, the
environment (``PGPASSWORD``, ``PGSERVICE``...) or ``~/.pgpass``; TLS options
(``sslmode``, ``sslrootcert``...) in the URL are passed through untouched.
What this module adds, only where the URL does not say otherwise: a connect
timeout, TCP keepalives (so a server that vanished is noticed in seconds, not
after the kernel's two hours), and an ``application_name`` that says which
rlwatch process holds the connection in ``pg_stat_activity``.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import conninfo

from rlwatch_postgres.redact import install_log_filter, parse_url, remember_secrets

SCHEMES = ("postgresql://", "postgres://")
"""URL prefixes this package handles."""

DEFAULTS: dict[str, str] = {
    "connect_timeout": "5",
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
}
"""libpq parameters added when the URL does not set them."""


def is_postgres_url(location: str) -> bool:
    """True for a ``postgresql://`` or ``postgres://`` URL."""
    return location.strip().lower().startswith(SCHEMES)


def connect(url: str, application_name: str, *, autocommit: bool = False, **overrides: Any) -> psycopg.Connection[Any]:
    """Open a connection to `url` with rlwatch's defaults.

    Args:
        url: ``postgresql://...`` URL (or a libpq ``key=value`` string).
        application_name: Shown in ``pg_stat_activity`` unless the URL sets one.
        autocommit: Passed to psycopg.
        **overrides: libpq parameters that win over the URL (e.g. a shorter
            ``connect_timeout`` for a bounded final catch-up).

    Raises:
        ValueError: the URL does not parse (message without the URL).
        psycopg.OperationalError: the server cannot be reached or refused us.
    """
    remember_secrets(url)
    install_log_filter()
    params = parse_url(url)
    extra = {k: v for k, v in DEFAULTS.items() if k not in params}
    if "application_name" not in params:
        extra["application_name"] = application_name
    extra.update({k: str(v) for k, v in overrides.items()})
    return psycopg.connect(conninfo.make_conninfo(url, **extra), autocommit=autocommit)
