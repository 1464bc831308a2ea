"""Concurrency: threads, processes, readers, fork."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import rlwatch
from rlwatch.storage import StoreReader

from ._helpers import integrity, run_py


def test_eight_threads_one_monitor(tmp_path: Path, record: Any) -> None:
    m = rlwatch.attach(log_dir=str(tmp_path), run_id="threads", alerts={"console": {"enabled": False}})
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(5000):
                m.log_step(k * 100_000 + i, loss=float(k), entropy=2.0, grad_norm=1.0)
        except BaseException as exc:  # pragma: no cover - would fail the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    m.stop()
    with StoreReader(str(tmp_path / "metrics.db")) as r:
        n = r.run("threads").n_steps  # type: ignore[union-attr]
    record(tried="8 threads x 5000 log_step into one monitor", rows=n, seconds=elapsed)
    assert not errors and n == 40_000


def test_four_processes_and_readers(tmp_path: Path, record: Any, rlwatch_cmd: str) -> None:
    code = """
import sys, rlwatch
m = rlwatch.attach(log_dir=sys.argv[1], run_id=sys.argv[2], flush_interval_seconds=0.05,
                   alerts={"console": {"enabled": False}})
import time
for i in range(5000):
    m.log_step(i, loss=1.0, entropy=2.0, extra=float(i))
    if i % 10 == 0:
        time.sleep(0.005)  # a training step takes time: let readers overlap the writers
m.stop()
"""
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), f"p{k}"]) for k in range(4)]
    db = tmp_path / "metrics.db"
    reads = cli_calls = 0
    while any(p.poll() is None for p in procs):
        if db.exists():
            try:
                with StoreReader(str(db)) as r:
                    for run in r.runs():
                        r.metrics(run.run_id)
                reads += 1
            except Exception:  # the schema may not exist yet in the first instants
                pass
            out = subprocess.run([rlwatch_cmd, "runs", "--db", str(db)], capture_output=True, text=True, timeout=60)
            cli_calls += out.returncode in (0, 3)
    assert all(p.returncode == 0 for p in procs)
    with StoreReader(str(db)) as r:
        counts = {x.run_id: x.n_steps for x in r.runs()}
    record(tried="4 processes write 4 runs into one file while the reader API and CLI read", rows=sum(counts.values()),
           reader_passes=reads, cli_calls=cli_calls, integrity=integrity(db))
    assert counts == {f"p{k}": 5000 for k in range(4)}
    assert reads > 0 and cli_calls > 0
    assert integrity(db) == "ok"


def test_fork_in_a_data_loader_worker(tmp_path: Path, record: Any) -> None:
    out = run_py("""
import multiprocessing as mp, sys, rlwatch
m = rlwatch.attach(log_dir=sys.argv[1], run_id="fork", alerts={"console": {"enabled": False}})

def worker(k):
    # A data-loader worker that (wrongly) logs: it must not write into the parent's run.
    for i in range(100):
        m.log_step(10_000 + k * 100 + i, loss=2.0)
    rlwatch.log_step(99_999, loss=3.0)
    return k

for i in range(50):
    m.log_step(i, loss=1.0)
with mp.get_context("fork").Pool(2) as pool:
    assert pool.map(worker, range(4)) == [0, 1, 2, 3]
for i in range(50, 100):
    m.log_step(i, loss=1.0)
m.stop()
""", str(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    with StoreReader(str(tmp_path / "metrics.db")) as r:
        steps = [int(s) for s in r.metrics("fork")["step"]]
        status = r.run("fork").status  # type: ignore[union-attr]
    record(tried="os.fork() data-loader workers log after attach", parent_rows=len(steps), status=status,
           integrity=integrity(tmp_path / "metrics.db"))
    assert steps == list(range(100)) and status == "finished"
