"""What every store offers readers, and what a replicator offers the monitor.

The CLI, the dashboard, the report and ``rlwatch diagnose`` read runs only
through `Store`, so the same code serves the local SQLite file
(`rlwatch.storage.reader.StoreReader`) and a team store provided by a plugin
(rlwatch-postgres), opened with `rlwatch.stores.open_store`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from rlwatch.storage.records import AlertRow, RunInfo


class Store(Protocol):
    """Read-only access to runs, metrics and alerts.

    ``run_ref`` is a run id. Where an id is ambiguous (a team store holding
    runs of the same id from two hosts), a store also accepts
    ``run_id@host`` and a unique prefix (>= 8 hex digits) of the run's
    ``run_uid``; a plain id then means the most recently started run.
    """

    path: str
    """Where the data comes from, for messages (credentials redacted)."""

    def runs(self) -> list[RunInfo]:
        """Every run, newest first."""
        ...

    def run(self, run_ref: str) -> RunInfo | None:
        """One run, or None."""
        ...

    def metric_names(self, run_ref: str) -> list[str]:
        """Names of the metrics logged in a run, sorted."""
        ...

    def metrics(
        self,
        run_ref: str,
        names: Sequence[str] | None = None,
        start: int | None = None,
        end: int | None = None,
        max_points: int | None = None,
    ) -> dict[str, np.ndarray[Any, np.dtype[Any]]]:
        """Columns of a run: ``"step"`` (int64) and a float64 array per metric (NaN where missing).

        With `max_points`, a store may downsample (in SQL), keeping each
        bucket's extremes so that spikes survive.
        """
        ...

    def iter_rows(self, run_ref: str, start: int | None = None, end: int | None = None) -> Iterator[dict[str, Any]]:
        """Rows as dicts: step, wall_time and each metric (None = not logged, nan = logged as NaN).

        Each metric is under its `rlwatch.storage.records.row_keys` key: its own name, or
        ``metric/<name>`` for a metric called ``step``, ``wall_time`` or ``run_id``.
        """
        ...

    def alerts(self, run_ref: str | None = None, include_suppressed: bool = True) -> list[AlertRow]:
        """Alerts of one run (or all runs), oldest first, with their deliveries."""
        ...

    def nan_counts(self, run_ref: str) -> dict[str, int]:
        """How many times each metric was logged as NaN."""
        ...

    def health(self) -> str:
        """``"ok"``, or one line saying what is wrong with the store."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...

    def __enter__(self) -> Store: ...

    def __exit__(self, *exc: object) -> None: ...


class Replicator(Protocol):
    """A background shipper from the local SQLite spool to a team store (see the ``rlwatch_replicator`` hook)."""

    def stop(self, timeout: float) -> None:
        """Ship what remains within `timeout` seconds, then stop. Never raises."""
        ...

    def status(self) -> dict[str, Any]:
        """State for ``rlwatch doctor``: connected, lag, last error (credentials redacted)."""
        ...
