"""The ``rlwatch import`` command as an installed program, ``diagnose_source``, and the CLI's first-hour polish.

Polish (issue 15): every option has help text; ``rlwatch demo`` prints each
recommendation once; ``rlwatch doctor`` leads with a verdict;
``rlwatch notify-test`` without rlwatch-notify says how to get it.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rlwatch.cli.main import build_parser
from rlwatch.importers import ImportFormatError, ImportUsageError, MissingExtraError, diagnose_source
from rlwatch.importers.progress import Progress
from rlwatch.storage import StoreReader


def run(cmd: str, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # `nox -s core` installs a broken plugin on purpose (tests/core/test_plugins.py): keep it out of
    # these outputs, which are about the CLI itself.
    env = {**(env if env is not None else os.environ), "RLWATCH_DISABLE_PLUGINS": "brokenplugin"}
    return subprocess.run([cmd, *args], capture_output=True, text=True, cwd=cwd, timeout=300, env=env)


def write_rows(path: Path, steps: int = 120, collapse_at: int = 80, nan_at: int | None = None) -> Path:
    lines = []
    for step in range(steps):
        entropy = 1.5 if step < collapse_at else 0.01
        loss = float("nan") if nan_at is not None and step >= nan_at else 0.3
        lines.append(json.dumps({"step": step, "entropy": entropy, "kl": 0.01, "reward": 0.5, "reward_std": 0.2,
                                 "loss": loss, "grad_norm": 1.0}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_import_then_diagnose_the_post_mortem_path(rlwatch_cmd: str, tmp_path: Path) -> None:
    log = write_rows(tmp_path / "run.jsonl")
    out = run(rlwatch_cmd, "import", str(log), "--run-id", "pm", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "-> run pm (jsonl, key map trl-grpo): 120 steps (0..119)" in out.stdout
    assert "CRITICAL entropy_collapse" in out.stdout and "Next: rlwatch diagnose pm" in out.stdout
    assert out.stderr == ""  # notifications (the console channel included) are off for imports
    diag = run(rlwatch_cmd, "diagnose", "pm", cwd=tmp_path)  # the default database, like a live run's
    assert diag.returncode == 1 and "CRITICAL entropy_collapse" in diag.stdout
    runs = json.loads(run(rlwatch_cmd, "runs", "--json", cwd=tmp_path).stdout)
    assert [r["run_id"] for r in runs] == ["pm"]


def test_import_json_output_and_notify(rlwatch_cmd: str, tmp_path: Path) -> None:
    log = write_rows(tmp_path / "run.jsonl")
    out = run(rlwatch_cmd, "import", str(log), "--db", str(tmp_path / "m.db"), "--json", "--notify", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout.strip().splitlines()[-1])
    assert record["format"] == "jsonl" and record["rows"] == 120 and not record["already"]
    assert record["alerts"][0]["detector"] == "entropy_collapse"
    assert "[rlwatch] CRITICAL entropy_collapse" in out.stderr  # --notify: the console channel speaks


def test_malformed_input_is_one_line_and_exit_2(rlwatch_cmd: str, tmp_path: Path) -> None:
    log = write_rows(tmp_path / "run.jsonl")
    log.write_text(log.read_text()[:-40])
    out = run(rlwatch_cmd, "import", str(log), "--db", str(tmp_path / "m.db"), cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith(f"rlwatch import: {log}: line 120, column ")
    assert not (tmp_path / "m.db").exists()


def test_missing_import_extra_names_the_pip_command(rlwatch_cmd: str, tmp_path: Path) -> None:
    # Whether or not tensorboard is installed here, a tensorboard that cannot be imported is what a
    # core-only installation looks like to rlwatch.
    fake = tmp_path / "fake"
    (fake / "tensorboard").mkdir(parents=True)
    (fake / "tensorboard" / "__init__.py").write_text("raise ImportError('no tensorboard here')\n")
    event_file = tmp_path / "events.out.tfevents.1700000000.host.1.0"
    event_file.write_bytes(b"\x00" * 32)
    import os

    env = {**os.environ, "PYTHONPATH": str(fake)}
    out = run(rlwatch_cmd, "import", str(event_file), "--db", str(tmp_path / "m.db"), cwd=tmp_path, env=env)
    assert out.returncode == 4
    assert out.stderr.strip() == ("rlwatch import: reading TensorBoard event files needs the optional extra: "
                                  "pip install 'rlwatch-core[import]'")


def test_the_core_imports_without_the_extra(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['tensorboard'] = None\n"
        "import rlwatch, rlwatch.importers, rlwatch.cli.main\n"
        "rlwatch.cli.main.build_parser()\n"
        "assert 'tensorboard.backend' not in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr


def test_diagnose_source_into_a_temporary_or_given_database(tmp_path: Path) -> None:
    log = write_rows(tmp_path / "run.jsonl", nan_at=100)
    db, run_id = diagnose_source(str(log))
    assert Path(db).exists() and Path(db).parent != tmp_path
    with StoreReader(db) as reader:
        assert {a.detector for a in reader.alerts(run_id)} >= {"entropy_collapse", "loss_nan"}
    given = tmp_path / "given.db"
    db2, run_id2 = diagnose_source(str(log), db=str(given))
    assert db2 == str(given) and run_id2 == run_id
    _, run_id3 = diagnose_source(str(log), db=str(given))  # already there: not imported again
    assert run_id3 == run_id
    with StoreReader(str(given)) as reader:
        assert len(reader.runs()) == 1


def test_diagnose_source_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"step": 1, "loss": ')
    with pytest.raises(ImportFormatError) as info:
        diagnose_source(str(bad))
    assert info.value.exit_code == 2 and "line 1" in str(info.value)
    with pytest.raises(ImportUsageError):
        diagnose_source(str(tmp_path / "missing.json"))
    two = tmp_path / "two.csv"
    two.write_text('"Step","a - loss","a - loss__MIN","a - loss__MAX","b - loss","b - loss__MIN","b - loss__MAX"\n'
                   '"1","0.5","0.5","0.5","0.4","0.4","0.4"\n')
    with pytest.raises(ImportUsageError, match="holds 2 runs"):
        diagnose_source(str(two))
    assert MissingExtraError.exit_code == 4


def test_progress_bar_draws_after_its_delay_and_erases_itself() -> None:
    stream = io.StringIO()
    bar = Progress(enabled=True, stream=stream, delay=0.0)
    bar.phase("replaying run", 200, "rows")
    bar.advance(100)
    drawn = stream.getvalue()
    assert drawn.startswith("\rreplaying run [############------------]  50% 100/200 rows")
    bar.close()
    assert stream.getvalue().endswith("\r\x1b[K")
    quiet = io.StringIO()
    late = Progress(enabled=True, stream=quiet, delay=3600)
    late.phase("x", 10, "rows")
    late.advance(10)
    late.close()
    assert quiet.getvalue() == ""  # an import shorter than the delay draws nothing
    assert Progress(stream=io.StringIO()).enabled is False  # not a terminal: no bar


# -- first-hour polish -------------------------------------------------------------------------------------


def test_every_command_and_option_has_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in sub._choices_actions}
    missing = [name for name in sub.choices if not helps.get(name)]
    for name, command in sub.choices.items():
        for action in command._actions:
            if not isinstance(action, argparse._HelpAction) and not action.help:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, f"options without help text: {missing}"


def test_demo_prints_each_recommendation_once(rlwatch_cmd: str, tmp_path: Path) -> None:
    out = run(rlwatch_cmd, "demo", "--delay", "0", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    both = out.stdout + out.stderr
    recommendations = [line.split("what to do:", 1)[1].strip() for line in both.splitlines() if "what to do:" in line]
    assert len(recommendations) >= 4
    assert len(recommendations) == len(set(recommendations)), "a recommendation was printed more than once"
    assert "ALERT CRITICAL entropy_collapse at step" in out.stderr  # alerts still show up as they happen


def test_doctor_leads_with_a_verdict(rlwatch_cmd: str, tmp_path: Path) -> None:
    ok = run(rlwatch_cmd, "doctor", cwd=tmp_path)
    assert ok.returncode == 0 and ok.stdout.startswith("rlwatch doctor: OK: ready to record (")
    (tmp_path / "rlwatch.yaml").write_text("storage:\n  log_dri: x\n")
    bad = run(rlwatch_cmd, "doctor", cwd=tmp_path)
    first = bad.stdout.splitlines()[0]
    assert bad.returncode == 2 and first.startswith("rlwatch doctor: 1 problem(s): configuration error")
    report = json.loads(run(rlwatch_cmd, "doctor", "--json", cwd=tmp_path).stdout)
    assert next(iter(report)) == "verdict" and report["verdict"]["ok"] is False


@pytest.mark.skipif(importlib.util.find_spec("rlwatch_notify") is not None,
                    reason="rlwatch-notify is installed: the real notify-test is registered")
def test_notify_test_without_rlwatch_notify_says_how_to_get_it(rlwatch_cmd: str, tmp_path: Path) -> None:
    out = run(rlwatch_cmd, "notify-test", "--channel", "slack", cwd=tmp_path)
    assert out.returncode == 4
    assert out.stderr.strip().endswith("pip install rlwatch-notify")
