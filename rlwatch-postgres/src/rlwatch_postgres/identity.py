"""Run identity in a team store: what a run reference means, and what a clash is.

Every run has a global identity, its ``run_uid`` (32 hex characters, created
when the run is first opened in its spool file). The ``run_id`` stays what
the user chose, so two jobs on two machines may both call their run
``grpo-7b``; the store keeps them apart, never merges them, and records host,
process id and start time for each. A reference to a run is resolved in this
order:

1. an exact ``run_id``: the most recently started run with that id;
2. ``run_id@host``: the most recently started run with that id on that host;
3. a ``run_uid`` or a prefix of at least 8 hex characters that matches one run.

When a shipper first writes a run whose ``run_id`` another run already uses,
it logs one warning (`clash_message`) naming both and how to refer to each.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

UID_PREFIX_MIN = 8
"""Shortest run_uid prefix accepted as a reference."""

_HEX = re.compile(r"^[0-9a-fA-F]+$")


def looks_like_uid_prefix(ref: str) -> bool:
    """True when `ref` can be a run_uid prefix (8 to 32 hex characters)."""
    return UID_PREFIX_MIN <= len(ref) <= 32 and bool(_HEX.match(ref))


def split_host_ref(ref: str) -> tuple[str, str] | None:
    """``("run_id", "host")`` for a ``run_id@host`` reference, else None."""
    run_id, sep, host = ref.rpartition("@")
    if not sep or not run_id or not host:
        return None
    return run_id, host


def _when(started_at: float | None) -> str:
    if started_at is None:
        return "at an unknown time"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started_at))


def clash_message(
    run_id: str,
    run_uid: str,
    host: str | None,
    others: Sequence[tuple[str | None, float | None, str]],
    where: str,
) -> str:
    """The warning for a run whose ``run_id`` is already used by other runs in the store.

    Args:
        run_id: The shared user-facing id.
        run_uid: This run's identity.
        host: This run's host.
        others: ``(host, started_at, run_uid)`` of the other runs with that id.
        where: The store, already redacted.
    """
    listed = "; ".join(
        f"host {other_host or '?'}, started {_when(started)}, uid {uid[:UID_PREFIX_MIN]}"
        for other_host, started, uid in others[:3]
    )
    more = f" and {len(others) - 3} more" if len(others) > 3 else ""
    same_host = any(other_host == host for other_host, _s, _u in others)
    how = f"'{run_uid[:UID_PREFIX_MIN]}'" if same_host else f"'{run_id}@{host}' or '{run_uid[:UID_PREFIX_MIN]}'"
    return (
        f"rlwatch: run id '{run_id}' is already used in {where} by another run ({listed}{more}). Both are kept as "
        f"separate runs, never merged. Readers show the most recently started one for '{run_id}'; "
        f"refer to this run (host {host or '?'}) as {how}."
    )
