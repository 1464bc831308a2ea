"""Fixtures of the rlwatch-jax tests: a monitor per test, a reader of its run."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# The training loop lives beside the tests (jax_bandit.py); make it importable
# whatever pytest's import mode.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import rlwatch
from rlwatch.core import RLWatch
from rlwatch.storage import StoreReader


@dataclass
class StoredRun:
    """What one run left in SQLite."""

    metrics: dict[str, np.ndarray]
    alerts: list[Any]

    @property
    def steps(self) -> list[int]:
        return [int(s) for s in self.metrics.get("step", [])]

    def critical(self, detector: str | None = None) -> list[Any]:
        return [a for a in self.alerts if a.severity == "critical" and detector in (None, a.detector)]


def read_run(db_path: str | Path, run_id: str) -> StoredRun:
    """Read one run back through the public read API."""
    reader = StoreReader(str(db_path))
    try:
        return StoredRun(reader.metrics(run_id), reader.alerts(run_id))
    finally:
        reader.close()


@pytest.fixture
def monitor(log_dir: Path, request: pytest.FixtureRequest) -> Iterator[RLWatch]:
    """The global monitor, attached for this test, writing into `log_dir`."""
    mon = rlwatch.attach(run_id=request.node.name[:60], log_dir=str(log_dir))
    yield mon
    mon.stop()


@pytest.fixture
def finish(monitor: RLWatch) -> Callable[[], StoredRun]:
    """Stop the test's monitor and return what it stored."""

    def _finish() -> StoredRun:
        monitor.stop()
        return read_run(monitor.db_path, monitor.run_id)

    return _finish
