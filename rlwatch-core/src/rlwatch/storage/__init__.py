"""SQLite storage: the writer thread and the read API.

The reader (and numpy with it) is imported on first use, so that
``import rlwatch`` stays cheap for a training process that never reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rlwatch.storage.schema import SCHEMA_VERSION

if TYPE_CHECKING:
    from rlwatch.storage.reader import AlertRow, RunInfo, StoreError, StoreReader

__all__ = ["SCHEMA_VERSION", "AlertRow", "RunInfo", "StoreError", "StoreReader"]


def __getattr__(name: str) -> Any:
    if name in ("AlertRow", "RunInfo", "StoreError", "StoreReader"):
        from rlwatch.storage import reader

        return getattr(reader, name)
    raise AttributeError(name)
