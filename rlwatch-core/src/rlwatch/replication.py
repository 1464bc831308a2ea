"""Team-store replicators: one per (local file, URL) per process, shared by the monitors writing there.

The local SQLite file is always written first (the spool); with
``storage.url`` set, a plugin (rlwatch-postgres) ships it to the team store
in the background. The core only starts and stops replicators, through the
``rlwatch_replicator`` hook; it never touches the network itself.
"""

from __future__ import annotations

import os
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any

from rlwatch import plugins
from rlwatch.errors import ConfigError
from rlwatch.guard import swallow
from rlwatch.redaction import redact_url

STOP_TIMEOUT_SECONDS = 10.0
"""How long the last monitor's stop waits for a replicator's final catch-up."""


@dataclass
class _Entry:
    replicator: Any
    users: int


_lock = threading.Lock()
_active: dict[tuple[str, str], _Entry] = {}


def acquire_replicator(url: str, spool_path: str) -> tuple[str, str]:
    """Start (or share) the replicator of `spool_path` to `url`; returns the key to release it with.

    Raises:
        ConfigError: no installed plugin handles the URL's scheme, or the plugin rejects the URL.
    """
    key = (url, os.path.abspath(spool_path))
    with _lock:
        entry = _active.get(key)
        if entry is None:
            replicator = plugins.hook().rlwatch_replicator(url=url, spool_path=key[1])
            if replicator is None:
                scheme = urllib.parse.urlsplit(url).scheme or "?"
                raise ConfigError(
                    f"storage.url {redact_url(url)!r}: no installed plugin handles {scheme!r} URLs; "
                    "for PostgreSQL: pip install rlwatch-postgres"
                )
            entry = _active[key] = _Entry(replicator, 0)
        entry.users += 1
    return key


def release_replicator(key: tuple[str, str]) -> None:
    """Drop one user; the last one stops the replicator (bounded final catch-up). Never raises."""
    with _lock:
        entry = _active.get(key)
        if entry is None:
            return
        entry.users -= 1
        if entry.users > 0:
            return
        del _active[key]
    with swallow("replication.stop"):
        entry.replicator.stop(STOP_TIMEOUT_SECONDS)


def statuses() -> dict[str, dict[str, Any]]:
    """Status of every running replicator by redacted URL (for ``rlwatch doctor``)."""
    out: dict[str, dict[str, Any]] = {}
    with _lock:
        items = list(_active.items())
    for (url, spool), entry in items:
        with swallow("replication.status"):
            out[f"{redact_url(url)} <- {spool}"] = dict(entry.replicator.status())
    return out
