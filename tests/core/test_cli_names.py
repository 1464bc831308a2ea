"""User-chosen names as the CLI and the console channel show them, from a real run in a real process.

Run ids and metric names come from user code. Made of terminal control
characters (ESC sequences, ``\\r``, C0/C1 controls, DEL, bidi overrides) they
must reach a terminal as visible escapes (`rlwatch.terminal.printable`),
never as bytes that clear the screen, set the title or forge a line. Named
like an export column (``wall_time``, ``run_id``), a metric keeps a column of
its own in ``rlwatch export`` (``metric/<name>``) instead of overwriting the
row's.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import rlwatch
from rlwatch.storage import StoreReader
from rlwatch.terminal import printable

EVIL_RUN = "evil\x1b[2J\x1b]0;pwned\x07\r\x00\x7f\x9b31m\u202e-run"
EVIL_METRIC = "m\x1b[31mred\r\nCRITICAL fake\x9b"
ACTIVE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""What must never reach a terminal from user text (everything but the line feed)."""

WATCHED = f"""
import sys, rlwatch
mon = rlwatch.attach(log_dir=sys.argv[1], run_id={EVIL_RUN!r}, loss_nan={{"watch": ["loss", {EVIL_METRIC!r}]}})
for i in range(60):
    mon.log_step(i, entropy=2.0, loss=0.5, **{{{EVIL_METRIC!r}: float("nan") if i == 50 else 1.0}})
mon.stop()
"""
"""A run whose id and metric are hostile; the NaN makes loss_nan quote the metric in a critical alert."""


def run(cmd: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RLWATCH_DISABLE_PLUGINS": "1"}  # the broken test plugin's start-up line is noise here
    return subprocess.run([cmd, *args], capture_output=True, text=True, cwd=cwd, timeout=120, env=env)


def assert_inert(text: str) -> None:
    found = ACTIVE.findall(text)
    assert not found, f"control characters reach the terminal: {found!r} in {text[:400]!r}"


@pytest.fixture
def hostile_db(tmp_path: Path) -> Path:
    """The WATCHED run, recorded in its own process (its stderr is the console channel's output)."""
    log_dir = tmp_path / "logs"
    out = subprocess.run([sys.executable, "-c", WATCHED, str(log_dir)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "RLWATCH_DISABLE_PLUGINS": "1"})
    assert out.returncode == 0, out.stderr
    (tmp_path / "console.txt").write_text(out.stderr)
    return log_dir / "metrics.db"


def test_console_channel_shows_names_escaped(hostile_db: Path, tmp_path: Path) -> None:
    console = (tmp_path / "console.txt").read_text()
    assert_inert(console)
    head = f"[rlwatch] CRITICAL loss_nan at step 50 (run {printable(EVIL_RUN)})"
    assert head in console.splitlines()
    assert f"{printable(EVIL_METRIC)}=nan" in console
    assert not any(line.startswith("CRITICAL fake") for line in console.splitlines())  # no forged line


def test_runs_diagnose_doctor_and_export_messages_show_names_escaped(
    hostile_db: Path, rlwatch_cmd: str, tmp_path: Path
) -> None:
    runs = run(rlwatch_cmd, "runs", "--db", str(hostile_db), cwd=tmp_path)
    assert runs.returncode == 0, runs.stderr
    assert_inert(runs.stdout)
    assert printable(EVIL_RUN)[:36] in runs.stdout
    as_json = run(rlwatch_cmd, "runs", "--db", str(hostile_db), "--json", cwd=tmp_path)
    assert_inert(as_json.stdout)  # JSON escapes them itself, and keeps the exact id
    assert json.loads(as_json.stdout)[0]["run_id"] == EVIL_RUN

    diagnose = run(rlwatch_cmd, "diagnose", "--db", str(hostile_db), cwd=tmp_path)
    assert diagnose.returncode == 1, diagnose.stderr  # the critical loss_nan
    assert_inert(diagnose.stdout + diagnose.stderr)
    assert f"Run {printable(EVIL_RUN)}  status=finished" in diagnose.stdout
    assert f"{printable(EVIL_METRIC)}=nan" in diagnose.stdout
    assert not any(line.startswith("CRITICAL fake") for line in diagnose.stdout.splitlines())

    asked = EVIL_RUN.replace("\x00", "") + "-nope"  # a command line cannot hold NUL
    missing = run(rlwatch_cmd, "export", asked, "--db", str(hostile_db), cwd=tmp_path)
    assert missing.returncode == 3
    assert_inert(missing.stderr)
    assert missing.stderr.startswith("rlwatch export: no run ")

    # doctor prints paths and configuration: a folder named with control characters.
    odd = tmp_path / "logs\x1b[31m\rX"
    odd.mkdir()
    (odd / "metrics.db").write_bytes(hostile_db.read_bytes())
    (tmp_path / "rlwatch.yaml").write_text(f"run_id: {json.dumps(EVIL_RUN)}\n")
    doctor = run(rlwatch_cmd, "doctor", "--db", str(odd / "metrics.db"), cwd=tmp_path)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert_inert(doctor.stdout)
    assert printable(str(odd)) in doctor.stdout


def test_export_to_a_terminal_escapes_names_and_stays_exact_when_redirected(
    hostile_db: Path, rlwatch_cmd: str, tmp_path: Path
) -> None:
    redirected = subprocess.run([rlwatch_cmd, "export", "--db", str(hostile_db)], capture_output=True, cwd=tmp_path,
                                timeout=120, env={**os.environ, "RLWATCH_DISABLE_PLUGINS": "1"})
    assert redirected.returncode == 0
    header = next(csv.reader(io.StringIO(redirected.stdout.decode("utf-8"), newline="")))
    assert EVIL_METRIC in header  # the file is the data: exact names

    controller, terminal = pty.openpty()
    proc = subprocess.Popen([rlwatch_cmd, "export", "--db", str(hostile_db)], stdout=terminal, stderr=terminal,
                            cwd=tmp_path, env={**os.environ, "RLWATCH_DISABLE_PLUGINS": "1"})
    os.close(terminal)
    shown = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the program exited and closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert proc.wait(timeout=60) == 0
    text = shown.decode("utf-8").replace("\r\n", "\n")  # the terminal itself turns \n into \r\n
    assert_inert(text)
    assert printable(EVIL_METRIC, keep="\n").split("\n")[0] in text


def test_metrics_named_like_export_columns_keep_their_own_columns(
    log_dir: Path, db_path: Path, rlwatch_cmd: str, tmp_path: Path
) -> None:
    """`wall_time` and `run_id` metrics (and one already called ``metric/wall_time``) clobber nothing.

    A metric called ``step`` cannot be recorded at all: ``log_step(s, **logs)`` takes a
    ``"step"`` key as the step itself (rlwatch.core), so ``Step`` and ``_step`` stand for it.
    """
    started = time.time()
    mon = rlwatch.attach(log_dir=str(log_dir), run_id="collide")
    for i in range(20):
        mon.log_step(i, loss=1.0, **{"wall_time": 7.5, "run_id": 3.0, "metric/wall_time": 1.25, "Step": float(i),
                                     "_step": 2.0 * i})
    mon.stop()
    with StoreReader(str(db_path)) as reader:  # the Store API's rows follow the same rule
        first = next(reader.iter_rows("collide"))
    assert first["step"] == 0 and first["wall_time"] >= started and first["metric/metric/wall_time"] == 7.5

    csv_out = run(rlwatch_cmd, "export", "collide", "--db", str(db_path), cwd=tmp_path)
    assert csv_out.returncode == 0, csv_out.stderr
    reader_ = csv.reader(io.StringIO(csv_out.stdout))
    header = next(reader_)
    assert len(header) == len(set(header)), header
    assert header[:2] == ["step", "wall_time"]
    assert set(header[2:]) == {"loss", "Step", "_step", "metric/run_id", "metric/wall_time", "metric/metric/wall_time"}
    rows = [dict(zip(header, values, strict=True)) for values in reader_]
    assert [int(r["step"]) for r in rows] == list(range(20))
    assert all(float(r["wall_time"]) >= started for r in rows)  # the real wall time, not the metric
    assert {(r["metric/metric/wall_time"], r["metric/wall_time"], r["metric/run_id"]) for r in rows} == {
        ("7.5", "1.25", "3.0")}
    assert [float(r["Step"]) for r in rows] == [float(i) for i in range(20)]

    jsonl = run(rlwatch_cmd, "export", "collide", "--db", str(db_path), "--format", "jsonl", cwd=tmp_path)
    records = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert len(records) == 20
    assert all(r["run_id"] == "collide" and r["wall_time"] >= started for r in records)
    assert [r["step"] for r in records] == list(range(20))
    assert records[5]["metric/run_id"] == 3.0 and records[5]["metric/metric/wall_time"] == 7.5
    assert records[5]["metric/wall_time"] == 1.25 and records[5]["_step"] == 10.0
