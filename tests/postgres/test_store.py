"""Readers on the team store: the same answers as on the SQLite spool, through the same code.

The CLI, the dashboard's data layer and ``diagnose`` run unchanged against
`PostgresStore` (opened through the core's ``open_store`` and the
``rlwatch_open_store`` hook), and the named SQL for people works in both.
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import psycopg
import pytest
import rlwatch
from rlwatch.dashboard import data
from rlwatch.errors import StoreError
from rlwatch.storage.reader import StoreReader
from rlwatch.stores import open_store
from rlwatch_postgres import PostgresStore

from ._helpers import log_run, node_env, rlwatch_cli


@pytest.fixture
def shipped(log_dir: Path, pg_url: str) -> tuple[Path, str]:
    """A spool with one 2500-step run (NaN, inf, an alert), shipped to `pg_url`."""
    log_run("run-a", log_dir, pg_url, range(2500), metrics=8)
    return log_dir / "metrics.db", pg_url


def test_open_store_reaches_the_plugin(shipped: tuple[Path, str]) -> None:
    _spool, url = shipped
    with open_store(url) as store:
        assert isinstance(store, PostgresStore)
        assert store.health() == "ok"
        assert store.path.startswith("postgresql://rlwatch@127.0.0.1:")


def test_the_dashboard_data_layer_gives_the_same_payloads(shipped: tuple[Path, str]) -> None:
    spool, url = shipped
    with StoreReader(str(spool)) as local, PostgresStore(url) as team:
        assert data.dumps(data.runs_payload(team)) == data.dumps(data.runs_payload(local))
        assert data.dumps(data.run_payload(team, "run-a")) == data.dumps(data.run_payload(local, "run-a"))
        assert data.dumps(data.metrics_payload(team, "run-a")) == data.dumps(data.metrics_payload(local, "run-a"))
        zoomed = data.metrics_payload(team, "run-a", start=100, end=400)
        assert zoomed == data.metrics_payload(local, "run-a", start=100, end=400)
        assert data.dumps(data.alerts_payload(team, "run-a")) == data.dumps(data.alerts_payload(local, "run-a"))
        assert data.dumps(data.diagnosis_payload(team, "run-a")) == data.dumps(data.diagnosis_payload(local, "run-a"))
        # NaN != NaN: compare the JSON spelling (NaN, Infinity) of both sides.
        assert json.dumps(list(team.iter_rows("run-a", 40, 70))) == json.dumps(list(local.iter_rows("run-a", 40, 70)))


def test_iter_rows_keeps_nan_apart_from_missing(shipped: tuple[Path, str]) -> None:
    _spool, url = shipped
    with PostgresStore(url) as team:
        rows = {r["step"]: r for r in team.iter_rows("run-a", 49, 61)}
    assert math.isnan(rows[50]["loss"]) and rows[60]["loss"] == math.inf
    assert rows[49]["loss"] == 0.2
    assert "kl_divergence" not in rows[49]  # never logged in this run: not a column


def test_a_metric_named_like_a_row_field_keeps_its_own_key(log_dir: Path, pg_url: str) -> None:
    """``wall_time`` and ``run_id`` metrics are ``metric/<name>`` in rows, as in the local store (and export)."""
    monitor = rlwatch.attach(run_id="collide", storage={"log_dir": str(log_dir), "url": pg_url})
    for step in range(10):
        monitor.log_step(step, loss=1.0, wall_time=7.5, run_id=3.0)
    monitor.stop()
    with StoreReader(str(log_dir / "metrics.db")) as local, PostgresStore(pg_url) as team:
        rows = list(team.iter_rows("collide"))
        assert json.dumps(rows) == json.dumps(list(local.iter_rows("collide")))
    assert [r["step"] for r in rows] == list(range(10))
    assert rows[3]["metric/wall_time"] == 7.5 and rows[3]["metric/run_id"] == 3.0
    assert rows[3]["wall_time"] > 1e9  # the row's own wall time, not the metric


def test_sql_downsampling_keeps_every_spike(log_dir: Path, pg_url: str) -> None:
    monitor = rlwatch.attach(run_id="spiky", storage={"log_dir": str(log_dir), "url": pg_url})
    rng = np.random.default_rng(0)
    values = rng.normal(0.0, 1.0, 20_000)
    values[[777, 12_345, 19_998]] = [50.0, -40.0, 60.0]
    for step, value in enumerate(values):
        monitor.log_step(step, grad_norm=float(value))
    monitor.stop()
    with PostgresStore(pg_url) as team:
        out = team.metrics("spiky", ["grad_norm"], max_points=400)
        full = team.metrics("spiky", ["grad_norm"])
    steps, series = out["step"], out["grad_norm"]
    kept = ~np.isnan(series)
    assert 200 <= kept.sum() <= 400
    # Every kept point is a real (step, value) of the run.
    np.testing.assert_array_equal(series[kept], full["grad_norm"][steps[kept]])
    for spike in (777, 12_345, 19_998):
        assert spike in set(steps[kept].tolist())
    # Each bucket's extremes: the global minimum and maximum are there.
    assert series[kept].max() == values.max() and series[kept].min() == values.min()
    # A zoomed range with fewer steps than max_points comes back at full resolution.
    zoom = PostgresStore(pg_url).metrics("spiky", ["grad_norm"], start=1000, end=1199, max_points=400)
    np.testing.assert_array_equal(zoom["step"], np.arange(1000, 1200))


def test_run_references(tmp_path: Path, pg_url: str) -> None:
    from ._helpers import finish, start_node

    procs = []
    for host in ("node-a", "node-b"):
        folder = tmp_path / host
        folder.mkdir()
        procs.append(start_node("same", folder, pg_url, 50, host=host))
        finish(procs[-1])
    with PostgresStore(pg_url) as team:
        runs = team.matching_runs("same")
        assert [r.host for r in runs] == ["node-b", "node-a"]  # newest first
        newest, oldest = runs
        assert team.run("same").run_uid == newest.run_uid
        assert team.run("same@node-a").run_uid == oldest.run_uid
        assert team.run(oldest.run_uid[:8]).run_uid == oldest.run_uid
        assert team.run(oldest.run_uid.upper()[:10]).run_uid == oldest.run_uid
        assert team.run("same@nowhere") is None and team.run("nope") is None
        assert team.metric_names("same@node-a") == team.metric_names("same")
        assert len(team.metrics("same@node-a", ["entropy"])["step"]) == 50


def test_named_sql_reads_the_same_in_psql_and_sqlite3(shipped: tuple[Path, str]) -> None:
    spool, url = shipped
    query = "select step, value, is_nan from metric_points where run_id='run-a' and metric=%s order by step"
    with sqlite3.connect(spool) as lite:
        expected = lite.execute(query.replace("%s", "?"), ("loss",)).fetchall()
    with psycopg.connect(url) as conn:
        got = conn.execute(query, ("loss",)).fetchall()  # type: ignore[arg-type]
        assert [tuple(r) for r in got] == expected
        assert got[50] == (50, None, 1)
        # The per-run wide select, one column per metric named as logged.
        sql = conn.execute("select wide_metrics_sql('run-a')").fetchone()[0]
        cur = conn.execute(sql)
        columns = [c.name for c in cur.description or []]
        rows = cur.fetchall()
    assert columns[0] == "step" and {"entropy", "loss", "reward_mean", "m00"} <= set(columns)
    assert len(rows) == 2500
    loss = columns.index("loss")
    assert math.isnan(rows[50][loss]) and rows[60][loss] == math.inf and rows[10][loss] == 0.2


def test_cli_readers_take_the_url(shipped: tuple[Path, str], tmp_path: Path) -> None:
    _spool, url = shipped
    env = node_env(None)
    runs = rlwatch_cli("runs", "--db", url, "--json", env=env)
    assert runs.returncode == 0, runs.stderr
    (run,) = json.loads(runs.stdout)
    assert run["run_id"] == "run-a" and run["n_steps"] == 2500
    export = rlwatch_cli("export", "run-a", "--db", url, "--format", "jsonl", env=env)
    assert export.returncode == 0, export.stderr
    assert len(export.stdout.splitlines()) == 2500
    diagnose = rlwatch_cli("diagnose", "run-a", "--db", url, "--json", env=env)
    assert diagnose.returncode in (0, 1), diagnose.stderr
    assert json.loads(diagnose.stdout)["run"]["run_id"] == "run-a"
    report = rlwatch_cli("report", "run-a", "--db", url, "-o", str(tmp_path / "r.html"), env=env)
    if report.returncode == 4:
        pytest.skip("the dashboard extra (plotly) is not installed")
    assert report.returncode == 0, report.stderr
    assert "run-a" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_a_store_that_cannot_be_read_says_why(pg_url: str) -> None:
    with pytest.raises(StoreError, match="no rlwatch tables"):
        PostgresStore(pg_url)
    wrong = "postgresql://rlwatch:not-the-password@" + pg_url.split("@", 1)[1]
    with pytest.raises(StoreError, match="password authentication failed") as err:
        PostgresStore(wrong)
    assert "not-the-password" not in str(err.value)


def test_open_store_passes_the_reason_through(pg_url: str) -> None:
    # The hook's contract: a StoreError reaches the reader's user as one clear line.
    wrong = "postgresql://rlwatch:not-the-password@" + pg_url.split("@", 1)[1]
    with pytest.raises(StoreError, match="password authentication failed") as err:
        open_store(wrong)
    assert "not-the-password" not in str(err.value)
