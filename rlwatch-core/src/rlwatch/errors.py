"""rlwatch's exception types, in one leaf module every layer may import.

Only configuration and storage problems are exceptions, and only at the
user's setup calls or in readers: the training-time path never raises (see
`rlwatch.guard`).
"""

from __future__ import annotations


class RLWatchError(Exception):
    """Base class of rlwatch's own exceptions."""


class ConfigError(RLWatchError, ValueError):
    """Bad configuration: raised by ``attach()`` / ``load_config()`` before training starts.

    The message names the key path, the bad value and the valid choices.
    """


class StoreError(RLWatchError, RuntimeError):
    """A store cannot be read: missing, unreadable, damaged, or not an rlwatch database."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer rlwatch; this one neither reads nor downgrades it."""
