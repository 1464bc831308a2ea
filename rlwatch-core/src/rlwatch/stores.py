"""Opening a store for reading, wherever it is: a local SQLite file, or a team store by URL.

Every reader (the CLI's ``--db``, the dashboard, the report) goes through
`open_store`, so the same code reads a run from the local file or from a
team-wide database provided by a plugin (``postgresql://`` with
rlwatch-postgres). The core never opens a network connection: a URL is
handed to the ``rlwatch_open_store`` hook.
"""

from __future__ import annotations

import re
import urllib.parse

from rlwatch import plugins
from rlwatch.errors import StoreError
from rlwatch.redaction import redact_url
from rlwatch.storage.protocol import Store

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(location: str) -> bool:
    """True for ``scheme://...`` locations (a team store), False for file paths."""
    return bool(_URL.match(location))


def open_store(location: str) -> Store:
    """A read-only store for a SQLite path or a plugin-handled URL.

    Raises:
        StoreError: the file or server cannot be read (one clear line, credentials redacted).
    """
    if not is_url(location) or location.startswith("file://"):
        from rlwatch.storage.reader import StoreReader

        path = urllib.parse.urlsplit(location).path if location.startswith("file://") else location
        return StoreReader(path)
    store = plugins.hook().rlwatch_open_store(url=location)
    if store is None:
        scheme = urllib.parse.urlsplit(location).scheme
        hint = " (pip install rlwatch-postgres)" if scheme.startswith("postgres") else ""
        raise StoreError(f"no installed plugin reads {scheme}:// stores{hint}: {redact_url(location)}")
    return store  # type: ignore[no-any-return]
