"""rlwatch-postgres: one team store in PostgreSQL for the runs of every machine.

Each training process keeps writing its local SQLite spool (the hot path is
unchanged); with ``storage.url: postgresql://...`` (or
``RLWATCH_STORAGE_URL``) a background `Shipper` replicates its runs, metrics
and alerts to PostgreSQL in idempotent batches and records how far it got.
Every reader takes the URL: ``rlwatch runs --db postgresql://...``
(`PostgresStore`). ``rlwatch sync`` ships what an offline or killed job left
in its spool. All of this package's network code talks to the PostgreSQL
server named by that URL, and to nothing else.

Public names are re-exported here; see ``docs/team-store.md``.
"""

from rlwatch_postgres._version import __version__
from rlwatch_postgres.redact import display_url
from rlwatch_postgres.schema import SCHEMA_VERSION, ensure_schema
from rlwatch_postgres.shipper import Shipper, ShipResult
from rlwatch_postgres.store import PostgresStore

__all__ = [
    "SCHEMA_VERSION",
    "PostgresStore",
    "ShipResult",
    "Shipper",
    "__version__",
    "display_url",
    "ensure_schema",
]
