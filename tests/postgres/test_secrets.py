"""Credentials stay secret: never in the spool, logs, status, doctor, CLI output, the store or errors."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import psycopg
import pytest
from rlwatch_postgres import PostgresStore, Shipper
from rlwatch_postgres.redact import display_url, remember_secrets, scrub
from rlwatch_postgres.testing import TemporaryCluster

from ._helpers import finish, node_env, rlwatch_cli, start_node

PASSWORD = "Sup3r-s3cret/pw@x"
"""Characters a URL must escape, so both spellings must be hidden."""


@pytest.fixture
def secret_url(pg_cluster: TemporaryCluster, pg_url: str) -> str:
    role = f"sec_{pg_url.rsplit('/', 1)[1]}"
    pg_cluster.execute_admin(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
    database = pg_url.rsplit("/", 1)[1]
    pg_cluster.execute_admin(f'GRANT ALL ON DATABASE "{database}" TO {role}', database="postgres")
    pg_cluster.execute_admin(f"GRANT ALL ON SCHEMA public TO {role}", database=database)
    from urllib.parse import quote

    return f"postgresql://{role}:{quote(PASSWORD, safe='')}@127.0.0.1:{pg_cluster.port}/{database}"


def _leaks(text: str) -> bool:
    from urllib.parse import quote

    return PASSWORD in text or quote(PASSWORD, safe="") in text


def test_display_url_hides_every_credential() -> None:
    assert display_url("postgresql://u:pw-123456@db.internal:5433/rl?sslmode=verify-full") == (
        "postgresql://u@db.internal:5433/rl?sslmode=verify-full"
    )
    assert "pw-123456" not in display_url("postgresql://db/rl?user=u&password=pw-123456")
    assert display_url("postgresql://u:pw@[::1") == "postgresql://***"
    remember_secrets("postgresql://u:hunter2-secret@h/db")
    assert scrub("error near 'hunter2-secret' in postgresql://u:hunter2-secret@h") == "error near '***' in postgresql://u:***@h"


def test_a_whole_job_leaks_the_password_nowhere(tmp_path: Path, secret_url: str, pg_cluster: TemporaryCluster) -> None:
    out, err = finish(start_node("secret-job", tmp_path, secret_url, 500))
    assert not _leaks(out + err)
    assert "secret-job" in out or out  # the node printed its status (with the redacted URL)
    # Not in the spool (the redacted config is stored there), nor in the team store.
    for path in tmp_path.glob("metrics.db*"):
        assert not _leaks(path.read_bytes().decode("latin-1")), path
    dump = pg_cluster.execute_admin(
        "SELECT string_agg(r::text, '') FROM runs r", database=secret_url.rsplit("/", 1)[1]
    )[0][0]
    assert "secret-job" in dump and not _leaks(dump)
    # Not in what readers show.
    env = node_env(None)
    for args in (["runs", "--db", secret_url, "--json"], ["diagnose", "secret-job", "--db", secret_url],
                 ["doctor"], ["sync", "--db", str(tmp_path / "metrics.db"), "--to", secret_url]):
        result = rlwatch_cli(*args, env=node_env(secret_url) if args[0] == "doctor" else env)
        assert not _leaks(result.stdout + result.stderr), args
    with PostgresStore(secret_url) as store:
        assert not _leaks(store.path) and not _leaks(repr(store.runs()))


def test_errors_and_logs_never_carry_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    unreachable = f"postgresql://someone:{PASSWORD.replace('/', '%2F').replace('@', '%40')}@127.0.0.1:1/nothing"
    finish(start_node("offline", tmp_path, None, 50))
    caplog.set_level(logging.DEBUG)
    shipper = Shipper(unreachable, str(tmp_path / "metrics.db"), exclusive=False)
    result = shipper.ship_until_idle(time.monotonic() + 10)
    status = shipper.status()
    shipper.close()
    assert result.error and not _leaks(result.error)
    assert not _leaks(repr(status)) and not _leaks(caplog.text)
    with pytest.raises(Exception) as err:
        PostgresStore(unreachable)
    assert not _leaks(str(err.value))
    # A URL that does not parse: libpq would quote it back; we never do.
    with pytest.raises(Exception) as bad:
        PostgresStore(f"postgresql://u:{PASSWORD}@h:notaport/db x")
    assert not _leaks(str(bad.value))
    sync = rlwatch_cli("sync", "--db", str(tmp_path / "metrics.db"), "--to", unreachable)
    assert sync.returncode == 1 and not _leaks(sync.stdout + sync.stderr)


def test_tls_options_are_passed_through(pg_url: str) -> None:
    # The throwaway server has no TLS: sslmode=require must make the connection fail, proving it reached libpq.
    with pytest.raises(Exception, match="SSL"):
        PostgresStore(pg_url + "?sslmode=require")
    with psycopg.connect(pg_url) as conn:
        conn.execute("SELECT 1")
