"""The `rlwatch` command, called as a real installed program in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest
import rlwatch


def run(cmd: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([cmd, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.fixture
def filled_db(log_dir: Path, db_path: Path) -> Path:
    healthy = rlwatch.attach(log_dir=str(log_dir), run_id="healthy")
    for i in range(50):
        healthy.log_step(i, entropy=2.0, loss=0.5, custom=float(i))
    healthy.stop()
    bad = rlwatch.attach(log_dir=str(log_dir), run_id="bad")
    for i in range(50):
        bad.log_step(i, entropy=2.0, loss=0.5 if i < 40 else float("nan"))
    bad.stop()
    return db_path


def test_runs(filled_db: Path, rlwatch_cmd: str, tmp_path: Path) -> None:
    out = run(rlwatch_cmd, "runs", "--db", str(filled_db), cwd=tmp_path)
    assert out.returncode == 0 and "healthy" in out.stdout and "bad" in out.stdout
    data = json.loads(run(rlwatch_cmd, "runs", "--db", str(filled_db), "--json", cwd=tmp_path).stdout)
    assert {r["run_id"]: r["alert_counts"]["critical"] for r in data} == {"healthy": 0, "bad": 1}


def test_diagnose_exit_codes_and_content(filled_db: Path, rlwatch_cmd: str, tmp_path: Path) -> None:
    ok = run(rlwatch_cmd, "diagnose", "healthy", "--db", str(filled_db), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "Detectors that had no data" in ok.stdout and "kl_explosion" in ok.stdout
    bad = run(rlwatch_cmd, "diagnose", "bad", "--db", str(filled_db), cwd=tmp_path)
    assert bad.returncode == 1
    assert "CRITICAL loss_nan" in bad.stdout and "first at step 40" in bad.stdout and "what to do" in bad.stdout
    js = json.loads(run(rlwatch_cmd, "diagnose", "bad", "--db", str(filled_db), "--json", cwd=tmp_path).stdout)
    assert js["critical_alerts"] == 1
    missing = run(rlwatch_cmd, "diagnose", "nope", "--db", str(filled_db), cwd=tmp_path)
    assert missing.returncode == 3 and "no run 'nope'" in missing.stderr
    nodb = run(rlwatch_cmd, "diagnose", "--db", str(tmp_path / "none.db"), cwd=tmp_path)
    assert nodb.returncode == 3 and "no rlwatch database" in nodb.stderr


def test_export_csv_and_jsonl(filled_db: Path, rlwatch_cmd: str, tmp_path: Path) -> None:
    out = run(rlwatch_cmd, "export", "bad", "--db", str(filled_db), "--format", "csv", cwd=tmp_path)
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == 50 and rows[45]["loss"] == "nan" and rows[0]["loss"] == "0.5"
    target = tmp_path / "out.jsonl"
    run(rlwatch_cmd, "export", "healthy", "--db", str(filled_db), "--format", "jsonl", "-o", str(target), cwd=tmp_path)
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(lines) == 50 and lines[3]["custom"] == 3.0 and lines[3]["step"] == 3


def test_init_writes_a_loadable_file(rlwatch_cmd: str, tmp_path: Path) -> None:
    assert run(rlwatch_cmd, "init", cwd=tmp_path).returncode == 0
    assert (tmp_path / "rlwatch.yaml").exists()
    again = run(rlwatch_cmd, "init", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
    assert run(rlwatch_cmd, "doctor", cwd=tmp_path).returncode == 0


def test_doctor_reports_config_errors(rlwatch_cmd: str, tmp_path: Path) -> None:
    (tmp_path / "rlwatch.yaml").write_text("storage:\n  log_dri: x\n")
    out = run(rlwatch_cmd, "doctor", cwd=tmp_path)
    assert out.returncode == 2 and "Did you mean 'log_dir'" in out.stdout


def test_version_and_help(rlwatch_cmd: str, tmp_path: Path) -> None:
    assert rlwatch.__version__ in run(rlwatch_cmd, "--version", cwd=tmp_path).stdout
    assert run(rlwatch_cmd, cwd=tmp_path).returncode == 2


def test_demo(rlwatch_cmd: str, tmp_path: Path) -> None:
    out = run(rlwatch_cmd, "demo", "--delay", "0", "--run-id", "d", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "CRITICAL" in out.stderr  # alerts printed live by the console channel
    assert "Alerts:" in out.stdout and "rlwatch_logs/metrics.db" in out.stdout
    assert (tmp_path / "rlwatch_logs" / "metrics.db").exists()
