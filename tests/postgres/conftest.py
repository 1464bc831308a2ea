"""Fixtures of the rlwatch-postgres tests: a real, throwaway PostgreSQL server and "nodes".

`pg_cluster` is one PostgreSQL server for the whole session, started from the
machine's own server binaries (Debian's ``postgresql`` package; ``nox -s
postgres`` installs it when missing) in a temporary folder, as an
unprivileged user when the tests run as root, and removed at the end. Every
test gets a database of its own (`pg_url`), so tests never see each other's
rows. Tests that stop the server (outages) start a cluster of their own
(`own_cluster`). No test mocks the database.

Nodes (separate processes standing in for training jobs on machines) and
store comparisons are in `_helpers`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest
from rlwatch_postgres.testing import ClusterUnavailable, TemporaryCluster

_db_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[TemporaryCluster]:
    """One throwaway PostgreSQL server for the session."""
    try:
        cluster = TemporaryCluster()
    except ClusterUnavailable as exc:
        pytest.skip(str(exc))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def own_cluster() -> Iterator[TemporaryCluster]:
    """A PostgreSQL server of this test's own (for stopping and restarting it)."""
    try:
        cluster = TemporaryCluster()
    except ClusterUnavailable as exc:
        pytest.skip(str(exc))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def pg_url(pg_cluster: TemporaryCluster) -> str:
    """URL (with password) of a fresh, empty database owned by the test role."""
    name = f"t{os.getpid()}_{next(_db_numbers)}"
    pg_cluster.execute_admin(f'CREATE DATABASE "{name}" OWNER "{pg_cluster.role}"', database="postgres")
    return pg_cluster.url.rsplit("/", 1)[0] + "/" + name
