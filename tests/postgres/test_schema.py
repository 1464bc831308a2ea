"""The PostgreSQL schema: created once by whoever comes first, migrated forward, never written when newer."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest
from rlwatch.errors import SchemaTooNewError, StoreError
from rlwatch_postgres import PostgresStore, Shipper, schema
from rlwatch_postgres.connection import connect

from ._helpers import count_rows, log_run


def _version(url: str) -> int:
    with psycopg.connect(url) as conn:
        return schema.current_version(conn)


def test_many_processes_create_the_schema_once(pg_url: str) -> None:
    errors: list[BaseException] = []

    def create() -> None:
        try:
            with connect(pg_url, "test", autocommit=True) as conn:
                assert schema.ensure_schema(conn) == schema.SCHEMA_VERSION
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert count_rows(pg_url, f"SELECT count(*) FROM {schema.VERSION_TABLE}") == schema.SCHEMA_VERSION


def test_a_newer_schema_is_refused_before_anything_is_written(log_dir: Path, pg_url: str) -> None:
    log_run("old", log_dir, pg_url, range(100))
    with psycopg.connect(pg_url) as conn:
        conn.execute(f"INSERT INTO {schema.VERSION_TABLE} (version, applied_by) VALUES (99, 'a newer rlwatch')")
        rows_before = conn.execute("SELECT count(*) FROM metric_rows").fetchone()
    with pytest.raises(SchemaTooNewError, match="99, newer than"):
        PostgresStore(pg_url)
    with connect(pg_url, "test", autocommit=True) as conn, pytest.raises(SchemaTooNewError):
        schema.ensure_schema(conn)
    # A shipper says so and writes nothing, while training goes on.
    log_run("new", log_dir, None, range(100))
    shipper = Shipper(pg_url, str(log_dir / "metrics.db"), exclusive=False)
    result = shipper.ship_until_idle(time.monotonic() + 30)
    shipper.close()
    assert not result.caught_up and "SchemaTooNewError" in (result.error or "")
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM metric_rows").fetchone() == rows_before
        assert conn.execute("SELECT count(*) FROM runs WHERE run_id = 'new'").fetchone() == (0,)


def test_a_schema_migrated_while_a_shipper_is_connected_stops_its_writes(log_dir: Path, pg_url: str) -> None:
    log_run("first", log_dir, None, range(50))
    shipper = Shipper(pg_url, str(log_dir / "metrics.db"), exclusive=False)
    assert shipper.ship_until_idle(time.monotonic() + 30).caught_up
    with psycopg.connect(pg_url) as conn:
        conn.execute(f"INSERT INTO {schema.VERSION_TABLE} (version) VALUES (2)")
    log_run("second", log_dir, None, range(50))
    result = shipper.ship_until_idle(time.monotonic() + 30)
    shipper.close()
    assert "SchemaTooNewError" in (result.error or "")
    assert count_rows(pg_url, "SELECT count(*) FROM runs WHERE run_id = 'second'") == 0


def test_forward_migration_keeps_the_data(log_dir: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    log_run("kept", log_dir, pg_url, range(300))
    v2 = ("ALTER TABLE runs ADD COLUMN notes text", "CREATE INDEX runs_by_host ON runs (host)")
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(schema.MIGRATIONS, 2, v2)
    with connect(pg_url, "test", autocommit=True) as conn:
        assert schema.ensure_schema(conn, applied_by="test") == 2
    assert _version(pg_url) == 2
    with PostgresStore(pg_url) as store:
        info = store.run("kept")
        assert info is not None and info.n_steps == 300
    assert count_rows(pg_url, "SELECT count(*) FROM runs WHERE notes IS NULL") == 1


def test_an_older_schema_is_not_read_until_migrated(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with connect(pg_url, "test", autocommit=True) as conn:
        schema.ensure_schema(conn)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(schema.MIGRATIONS, 2, ("SELECT 1",))
    with pytest.raises(StoreError, match="rlwatch sync --init"):
        PostgresStore(pg_url)


def test_tables_of_someone_else_are_never_touched(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE runs (id serial primary key, name text)")
    with connect(pg_url, "test", autocommit=True) as conn, pytest.raises(StoreError, match="search_path"):
        schema.ensure_schema(conn)
    # Its own schema, named in the URL, and everything works there.
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE SCHEMA rlwatch")
    url = pg_url + "?options=-csearch_path%3Drlwatch"
    with connect(url, "test", autocommit=True) as conn:
        assert schema.ensure_schema(conn) == schema.SCHEMA_VERSION
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('rlwatch.metric_rows') IS NOT NULL").fetchone() == (True,)
        assert conn.execute("SELECT count(*) FROM public.runs").fetchone() == (0,)
