"""Public API: attach, log_step, several monitors, resume, disable, ranks."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
import rlwatch
from rlwatch import logsink
from rlwatch.config import RLWatchConfig, StorageConfig
from rlwatch.core import RLWatch
from rlwatch.storage import StoreReader


def test_attach_log_step_stores_rows(log_dir: Path, db_path: Path) -> None:
    mon = rlwatch.attach(log_dir=str(log_dir), run_id="r1")
    assert rlwatch.get_monitor() is mon
    for i in range(10):
        assert rlwatch.log_step(i, entropy=2.0, loss=0.5, my_extra=i) == []
    mon.stop()
    with StoreReader(str(db_path)) as r:
        run = r.run("r1")
        assert run is not None and run.status == "finished" and run.n_steps == 10
        assert r.metric_names("r1") == ["entropy", "loss", "my_extra"]
        assert list(r.metrics("r1")["my_extra"]) == list(range(10))


def test_log_step_before_attach_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="rlwatch"):
        assert rlwatch.log_step(0, entropy=1.0) == []
        assert rlwatch.log_step(1, entropy=1.0) == []
    logsink.flush()  # rlwatch logs from a background thread
    assert sum("before rlwatch.attach" in r.message for r in caplog.records) == 1


def test_several_monitors_in_one_process(log_dir: Path, db_path: Path) -> None:
    a = RLWatch(RLWatchConfig(run_id="a", storage=StorageConfig(log_dir=str(log_dir)))).start()
    b = RLWatch(RLWatchConfig(run_id="b", storage=StorageConfig(log_dir=str(log_dir)))).start()
    for i in range(5):
        a.log_step(i, loss=1.0)
        b.log_step(i, loss=2.0, entropy=3.0)
    a.stop()
    b.log_step(5, loss=2.0)
    b.stop()
    with StoreReader(str(db_path)) as r:
        assert {x.run_id: x.n_steps for x in r.runs()} == {"a": 5, "b": 6}
        assert set(r.metrics("a")["loss"]) == {1.0}


def test_attach_same_run_id_resumes_without_duplicates(log_dir: Path, db_path: Path) -> None:
    m1 = rlwatch.attach(log_dir=str(log_dir), run_id="resume")
    for i in range(5):
        m1.log_step(i, loss=float(i))
    assert rlwatch.attach(log_dir=str(log_dir), run_id="resume") is m1  # still running: same monitor
    m1.stop()
    m2 = rlwatch.attach(log_dir=str(log_dir), run_id="resume")  # restarted job
    assert m2 is not m1
    for i in range(3, 8):  # overlaps 3, 4 (e.g. resumed from a checkpoint)
        m2.log_step(i, loss=10.0 + i)
    m2.stop()
    with StoreReader(str(db_path)) as r:
        data = r.metrics("resume")
        assert list(data["step"]) == list(range(8))
        assert list(data["loss"]) == [0, 1, 2, 13, 14, 15, 16, 17]
        assert len(r.runs()) == 1


def test_context_manager_marks_crash(log_dir: Path, db_path: Path) -> None:
    cfg = RLWatchConfig(run_id="cm", storage=StorageConfig(log_dir=str(log_dir)))
    with pytest.raises(ValueError), RLWatch(cfg) as m:
        m.log_step(0, loss=1.0)
        raise ValueError("boom")
    with StoreReader(str(db_path)) as r:
        assert r.run("cm").status == "crashed"  # type: ignore[union-attr]


def test_log_every_n_steps(log_dir: Path, db_path: Path) -> None:
    m = rlwatch.attach(log_dir=str(log_dir), run_id="n", log_every_n_steps=10)
    for i in range(100):
        m.log_step(i, loss=1.0)
    m.stop()
    with StoreReader(str(db_path)) as r:
        assert list(r.metrics("n")["step"]) == list(range(0, 100, 10))


def test_disable_env_makes_a_no_op(log_dir: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLWATCH_DISABLE", "1")
    m = rlwatch.attach(log_dir=str(log_dir), run_id="off")
    assert not m.active
    assert m.log_step(0, loss=float("nan")) == []
    m.stop()
    assert not db_path.exists()


def test_non_zero_rank_does_not_write(log_dir: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    m = rlwatch.attach(log_dir=str(log_dir), run_id="ddp")
    assert not m.active and m.rank == 1 and m.world_size == 2
    m.log_step(0, loss=1.0)
    m.stop()
    assert not db_path.exists()


def test_all_ranks_records_each_rank(log_dir: Path, db_path: Path) -> None:
    m = rlwatch.attach(log_dir=str(log_dir), run_id="ddp", distributed={"rank": 1, "world_size": 2, "all_ranks": True})
    assert m.active and m.run_id == "ddp-rank1"
    m.log_step(0, loss=1.0)
    m.stop()
    with StoreReader(str(db_path)) as r:
        assert [x.run_id for x in r.runs()] == ["ddp-rank1"]


def test_nan_fires_loss_nan_critical_and_is_stored(log_dir: Path, db_path: Path) -> None:
    m = rlwatch.attach(log_dir=str(log_dir), run_id="nan")
    for i in range(30):
        m.log_step(i, loss=1.0, grad_norm=1.0)
    alerts = m.log_step(30, loss=float("nan"), grad_norm=float("inf"))
    assert [a.detector for a in alerts if a.severity == "critical"] == ["loss_nan"]
    assert alerts[0].step == 30 and alerts[0].recommendation
    m.stop()
    with StoreReader(str(db_path)) as r:
        row = list(r.iter_rows("nan"))[-1]
        assert row["loss"] != row["loss"] and row["grad_norm"] == float("inf")
        stored = r.alerts("nan")
        assert stored[0].detector == "loss_nan" and stored[0].status == "sent"
    conn = sqlite3.connect(db_path)
    for slot in range(32):
        types = {t for (t,) in conn.execute(f"SELECT DISTINCT typeof(v{slot}) FROM metric_rows")}
        assert types <= {"real", "null"}


def test_huge_arrays_neither_warn_nor_raise_under_strict_numpy(log_dir: Path) -> None:
    """A user running with np.seterr(all="raise") and warnings as errors: overflow stays inside rlwatch."""
    import warnings

    import numpy as np

    m = rlwatch.attach(log_dir=str(log_dir), run_id="huge")
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(40):
            m.log_step(i, loss=1.0, rewards=np.full(64, 1e300 * (1 + i % 3)), advantages=np.array([1e308, -1e308]))
    m.stop()


def test_calls_after_stop_are_harmless(log_dir: Path) -> None:
    m = rlwatch.attach(log_dir=str(log_dir), run_id="after")
    m.stop()
    assert m.log_step(1, loss=1.0) == []
    assert m.log_metrics([{"step": 2, "loss": 1.0}]) == 0
    m.stop()
    assert m.flush() is False


def test_log_metrics_bulk(log_dir: Path, db_path: Path) -> None:
    m = rlwatch.attach(log_dir=str(log_dir), run_id="bulk")
    rows = [{"step": i, "loss": 1.0 / (i + 1), "entropy": 2.0} for i in range(1000)]
    assert m.log_metrics(rows) == 1000
    assert m.log_metrics([{"step": 1000, "loss": float("nan")}]) == 1
    m.stop()
    with StoreReader(str(db_path)) as r:
        assert r.run("bulk").n_steps == 1001  # type: ignore[union-attr]
        assert [a.detector for a in r.alerts("bulk")] == ["loss_nan"]


def test_threads_logging_into_one_monitor(log_dir: Path, db_path: Path) -> None:
    import threading

    m = rlwatch.attach(log_dir=str(log_dir), run_id="threads")

    def work(k: int) -> None:
        for i in range(500):
            m.log_step(k * 1000 + i, loss=float(k))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    m.stop()
    with StoreReader(str(db_path)) as r:
        assert r.run("threads").n_steps == 4000  # type: ignore[union-attr]
