"""rlwatch plugin entry point of rlwatch-postgres (entry point ``rlwatch: postgres``).

Hooks implemented:

* ``rlwatch_open_store``: a read-only `PostgresStore` for a ``postgresql://``
  (or ``postgres://``) URL, so ``rlwatch runs|diagnose|export|report|dashboard
  --db postgresql://...`` read the team store.
* ``rlwatch_replicator``: a started background `Shipper` replicating the
  local SQLite spool to PostgreSQL, when ``storage.url`` (or
  ``RLWATCH_STORAGE_URL``) is a PostgreSQL URL.
* ``rlwatch_cli_commands``: adds ``rlwatch sync``.

Any other URL scheme is not ours: the hooks return None. Turn the plugin off
with ``RLWATCH_DISABLE_PLUGINS=postgres`` (a configured ``storage.url`` then
fails at ``attach()``, as it must: nothing would ship).
"""

from __future__ import annotations

import argparse
from typing import Any

from rlwatch import hookimpl
from rlwatch.errors import ConfigError

from rlwatch_postgres.connection import is_postgres_url
from rlwatch_postgres.redact import parse_url, remember_secrets
from rlwatch_postgres.shipper import Shipper
from rlwatch_postgres.store import PostgresStore


@hookimpl
def rlwatch_open_store(url: str) -> PostgresStore | None:
    """A read-only store for a PostgreSQL URL, else None.

    Raises:
        rlwatch.errors.StoreError: the store cannot be opened (message redacted).
    """
    if not is_postgres_url(url):
        return None
    return PostgresStore(url)


@hookimpl
def rlwatch_replicator(url: str, spool_path: str) -> Shipper | None:
    """A started shipper of `spool_path` to a PostgreSQL URL, else None.

    Raises:
        ConfigError: the URL does not parse (bad configuration fails at attach time).
    """
    if not is_postgres_url(url):
        return None
    remember_secrets(url)
    try:
        parse_url(url)
    except ValueError as exc:
        raise ConfigError(f"storage.url: {exc}") from None
    return Shipper(url, spool_path).start()


@hookimpl
def rlwatch_cli_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``rlwatch sync``."""
    from rlwatch_postgres.cli import add_sync

    add_sync(subparsers)
