"""SQLite storage: the writer thread and the read API."""

from rlwatch.storage.reader import AlertRow, RunInfo, StoreError, StoreReader
from rlwatch.storage.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "AlertRow", "RunInfo", "StoreError", "StoreReader"]
