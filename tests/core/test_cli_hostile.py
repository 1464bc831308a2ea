"""The `rlwatch` command against hostile input, as a user runs it: a real program on real files.

Damaged, foreign and newer databases; a database on a read-only folder;
arguments that point at impossible paths or values. The promise checked each
time: one line on stderr, no traceback, and the exit code docs/cli.md
documents (2: usage, such as a bad value or a path that cannot be written;
3: no usable database). Names made of terminal control characters are in
test_cli_names.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import rlwatch
from rlwatch.storage import SCHEMA_VERSION

EXIT_USAGE = 2
EXIT_NO_DATA = 3


def run(cmd: str, *args: str, cwd: Path, preexec: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    # The broken test plugin (installed for the core session) prints a line of its own at start-up;
    # plugins play no part here, so they are off and stderr holds only what the command says.
    env = {**os.environ, "RLWATCH_DISABLE_PLUGINS": "1"}
    return subprocess.run([cmd, *args], capture_output=True, text=True, cwd=cwd, timeout=120, env=env,
                          preexec_fn=preexec)


def one_line(out: subprocess.CompletedProcess[str]) -> str:
    """The single non-empty stderr line (fails on a traceback or on more lines)."""
    assert "Traceback" not in out.stderr, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    return lines[0]


@pytest.fixture
def healthy_db(log_dir: Path, db_path: Path) -> Path:
    """Two runs written through the public API (checkpointed: the monitors stopped)."""
    good = rlwatch.attach(log_dir=str(log_dir), run_id="good")
    for i in range(400):
        good.log_step(i, entropy=2.0, loss=0.5, reward_mean=0.1 * (i % 7), custom=float(i))
    good.stop()
    bad = rlwatch.attach(log_dir=str(log_dir), run_id="nan-loss")
    for i in range(60):
        bad.log_step(i, entropy=2.0, loss=0.5 if i < 50 else float("nan"))
    bad.stop()
    return db_path


def _random_bytes(db: Path) -> None:
    db.write_bytes(random.Random(0).randbytes(64 * 1024))


def _table_dropped(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE alerts")
    conn.close()


def _newer_schema(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()


def _damaged_pages(db: Path) -> None:
    # The header, the schema and the runs table stay intact, so the file opens; the metric rows' b-tree
    # root page is overwritten, so the first query that reads them meets a damaged page halfway through.
    with sqlite3.connect(db) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'metric_rows'").fetchone()[0]
    conn.close()
    assert root > 1
    with open(db, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xab" * page_size)


def _empty_file(db: Path) -> None:
    db.write_bytes(b"")


def _a_folder(db: Path) -> None:
    db.unlink()
    db.mkdir()


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "random-bytes": (_random_bytes, "is not a readable SQLite database"),
    "table-dropped": (_table_dropped, "table(s) alerts missing"),
    "newer-schema": (_newer_schema, f"has schema {SCHEMA_VERSION + 1}, newer than this rlwatch"),
    "damaged-pages": (_damaged_pages, "cannot be read, it is damaged"),
    "empty-file": (_empty_file, "is not an rlwatch database"),
    "a-folder": (_a_folder, "is a folder, not an rlwatch database"),
}
"""How the file is spoiled, and what the one line must say."""


@pytest.mark.parametrize("how", sorted(DAMAGE))
@pytest.mark.parametrize("command", [["runs"], ["diagnose", "good"], ["export", "--format", "jsonl"]])
def test_readers_say_one_line_about_an_unusable_database(
    healthy_db: Path, rlwatch_cmd: str, tmp_path: Path, how: str, command: list[str]
) -> None:
    spoil, says = DAMAGE[how]
    spoil(healthy_db)
    out = run(rlwatch_cmd, *command, "--db", str(healthy_db), cwd=tmp_path)
    assert out.returncode == EXIT_NO_DATA, out.stderr
    line = one_line(out)
    assert line.startswith(f"rlwatch {command[0]}: ") and says in line and str(healthy_db) in line


@pytest.mark.parametrize("how", ["random-bytes", "newer-schema", "damaged-pages"])
def test_export_to_a_file_leaves_no_half_written_file(healthy_db: Path, rlwatch_cmd: str, tmp_path: Path,
                                                       how: str) -> None:
    DAMAGE[how][0](healthy_db)
    target = tmp_path / "out.csv"
    out = run(rlwatch_cmd, "export", "good", "--db", str(healthy_db), "-o", str(target), cwd=tmp_path)
    assert out.returncode == EXIT_NO_DATA and DAMAGE[how][1] in one_line(out)
    assert not target.exists()


def test_doctor_exits_non_zero_on_an_unusable_database(healthy_db: Path, rlwatch_cmd: str, tmp_path: Path) -> None:
    ok = run(rlwatch_cmd, "doctor", "--db", str(healthy_db), cwd=tmp_path)
    assert ok.returncode == 0 and ok.stdout.startswith("rlwatch doctor: OK"), ok.stdout + ok.stderr
    missing = run(rlwatch_cmd, "doctor", "--db", str(tmp_path / "not-yet.db"), cwd=tmp_path)
    assert missing.returncode == 0 and "not created yet" in missing.stdout  # a fresh install is healthy
    for how, (spoil, _) in DAMAGE.items():
        copy = tmp_path / f"{how}.db"
        shutil.copyfile(healthy_db, copy)
        spoil(copy)
        out = run(rlwatch_cmd, "doctor", "--db", str(copy), cwd=tmp_path)
        first = out.stdout.splitlines()[0] if out.stdout else ""
        if how == "empty-file":  # a monitor creates its tables in an empty file: nothing to repair
            assert out.returncode == 0 and "empty" in first, out.stdout
            continue
        assert out.returncode == EXIT_NO_DATA, (how, out.stdout)
        assert first.startswith("rlwatch doctor: 1 problem(s): database"), (how, first)
        assert "Traceback" not in out.stderr
        if how == "damaged-pages":  # the whole file is checked, not only the pages a listing reads
            assert "integrity check failed" in first
            as_json = run(rlwatch_cmd, "doctor", "--db", str(copy), "--json", cwd=tmp_path)
            verdict = json.loads(as_json.stdout)["verdict"]
            assert as_json.returncode == EXIT_NO_DATA and not verdict["ok"]
            assert verdict["problems"][0].startswith("database")


# -- a database on a read-only folder ---------------------------------------------------------------------

LEFT_IN_WAL = """
import os, sys, time, rlwatch
m = rlwatch.attach(log_dir=sys.argv[1], run_id="archived", flush_interval_seconds=0.1)
for i in range(200):
    m.log_step(i, entropy=2.0, loss=1.0 / (i + 1), custom=float(i))
time.sleep(1.0)  # flushed, into the -wal
if sys.argv[2] == "stop":
    m.stop()     # the last connection closes: everything checkpointed into the file itself
else:
    os._exit(0)  # killed: rows stay in the -wal, as after a SIGKILL or a node that went away
"""


@pytest.mark.parametrize("copied", ["checkpointed", "with-wal-and-shm", "with-wal-only"])
def test_a_read_only_database_opens_in_every_reader(
    tmp_path: Path, rlwatch_cmd: str, copied: str, obeying_permissions: Callable[[Path], Callable[[], None] | None]
) -> None:
    live = tmp_path / "live"
    written = subprocess.run([sys.executable, "-c", LEFT_IN_WAL, str(live), "stop" if copied == "checkpointed"
                              else "kill"], capture_output=True, text=True, timeout=120)
    assert written.returncode == 0, written.stderr
    # An archived copy: a file with a -wal beside it may have come without its -shm (it is only an index).
    archive = tmp_path / "archive"
    archive.mkdir()
    suffixes = {"checkpointed": [""], "with-wal-and-shm": ["", "-wal", "-shm"], "with-wal-only": ["", "-wal"]}
    for suffix in suffixes[copied]:
        shutil.copyfile(live / f"metrics.db{suffix}", archive / f"metrics.db{suffix}")
        (archive / f"metrics.db{suffix}").chmod(0o444)
    if copied != "checkpointed":
        assert (archive / "metrics.db-wal").stat().st_size > 0
    before = {p.name: p.read_bytes() for p in archive.iterdir()}
    archive.chmod(0o555)
    db = str(archive / "metrics.db")
    try:
        preexec = obeying_permissions(archive)
        runs = run(rlwatch_cmd, "runs", "--db", db, "--json", cwd=tmp_path, preexec=preexec)
        assert runs.returncode == 0, runs.stderr
        assert [(r["run_id"], r["n_steps"]) for r in json.loads(runs.stdout)] == [("archived", 200)]
        export = run(rlwatch_cmd, "export", "--db", db, cwd=tmp_path, preexec=preexec)
        assert export.returncode == 0, export.stderr
        rows = list(csv.DictReader(io.StringIO(export.stdout)))
        assert [float(r["custom"]) for r in rows] == [float(i) for i in range(200)]
        diagnose = run(rlwatch_cmd, "diagnose", "--db", db, cwd=tmp_path, preexec=preexec)
        assert diagnose.returncode == 0 and "Run archived" in diagnose.stdout, diagnose.stderr
        doctor = run(rlwatch_cmd, "doctor", "--db", db, cwd=tmp_path, preexec=preexec)
        assert doctor.returncode == 0 and "database ok" in doctor.stdout.splitlines()[0], doctor.stdout
        for out in (runs, export, diagnose, doctor):
            assert out.stderr == "", out.stderr
    finally:
        archive.chmod(0o755)
    # Nothing was written beside it, and the files are untouched.
    assert {p.name: p.read_bytes() for p in archive.iterdir()} == before


# -- arguments that point at impossible paths or values ---------------------------------------------------


@pytest.mark.parametrize("where", ["missing-folder", "under-a-file", "a-folder"])
def test_export_to_an_impossible_path(healthy_db: Path, rlwatch_cmd: str, tmp_path: Path, where: str) -> None:
    (tmp_path / "a-file").write_text("x")
    target = {"missing-folder": tmp_path / "nonexistent" / "x.csv", "under-a-file": tmp_path / "a-file" / "x.csv",
              "a-folder": tmp_path}[where]
    out = run(rlwatch_cmd, "export", "good", "--db", str(healthy_db), "-o", str(target), cwd=tmp_path)
    assert out.returncode == EXIT_USAGE, out.stderr
    assert one_line(out).startswith(f"rlwatch export: cannot write {target}: ")
    assert out.stdout == ""


@pytest.mark.parametrize("where", ["missing-folder", "under-a-file", "a-file"])
def test_init_and_import_refuse_impossible_paths_at_once(rlwatch_cmd: str, tmp_path: Path, where: str) -> None:
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "log.jsonl").write_text("".join(f'{{"step": {i}, "loss": 0.5}}\n' for i in range(5)))
    base = {"missing-folder": tmp_path / "nonexistent", "under-a-file": tmp_path / "a-file" / "sub",
            "a-file": tmp_path / "a-file"}[where]
    if where != "missing-folder":  # a missing folder is created for a database, like the monitor does
        out = run(rlwatch_cmd, "import", "log.jsonl", "--db", str(base / "metrics.db"), cwd=tmp_path)
        assert out.returncode == EXIT_USAGE, out.stdout + out.stderr
        assert one_line(out).startswith(f"rlwatch import: cannot write the database {base / 'metrics.db'}: ")
    out = run(rlwatch_cmd, "init", "-o", str(base / "rlwatch.yaml"), cwd=tmp_path)
    assert out.returncode == EXIT_USAGE, out.stdout + out.stderr
    assert one_line(out).startswith(f"rlwatch init: cannot write {base / 'rlwatch.yaml'}: ")


@pytest.mark.parametrize(
    "args",
    [["--delay", "-1"], ["--delay", "inf"], ["--delay", "nan"], ["--delay", "1e309"], ["--delay", "abc"],
     ["--delay", "3600"], ["--seed", "-1"], ["--seed", "1.5"], ["--log-dir", "{file}/sub"], ["--log-dir", "{file}"]],
)
def test_demo_refuses_impossible_values_before_it_starts(rlwatch_cmd: str, tmp_path: Path, args: list[str]) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    argv = [arg.format(file=a_file) for arg in args]
    out = run(rlwatch_cmd, "demo", "--delay", "0", *argv, cwd=tmp_path)
    assert out.returncode == EXIT_USAGE, out.stdout + out.stderr
    line = one_line(out)
    assert line.startswith("rlwatch demo: "), line
    assert argv[0] in line  # names the argument it refuses
    assert out.stdout == "" and not (tmp_path / "rlwatch_logs").exists()  # nothing was simulated or written
