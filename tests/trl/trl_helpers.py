"""Helpers for the rlwatch-trl tests: run plain TRL scripts in subprocesses.

The scripts in ``scripts/`` know nothing about rlwatch. They run with this
interpreter, in whose site-packages the nox session installed rlwatch-trl
from a built wheel, so that its ``rlwatch_trl.pth`` start-up hook is what
attaches rlwatch (that is the path these tests prove).

Set ``SAVE_TRL_TRACES=<folder>`` to also write each run's per-step metrics
as ``trl_<case>.jsonl`` (+ ``.label.json``) there, for the detectors'
scenario suite (tests/fixtures/traces).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rlwatch.storage import StoreReader

SCRIPTS = Path(__file__).resolve().parent / "scripts"
PTH_FILE = Path(sysconfig.get_paths()["purelib"]) / "rlwatch_trl.pth"
SCRIPT_TIMEOUT_SECONDS = 600


@dataclass
class ScriptRun:
    """The outcome of one training script run."""

    returncode: int
    stdout: str
    stderr: str
    cwd: Path

    @property
    def db_path(self) -> Path:
        """Where rlwatch's default store lands for this run."""
        return self.cwd / "rlwatch_logs" / "metrics.db"

    def callbacks(self) -> list[str]:
        """Callback class names the script printed after building its trainer."""
        for line in self.stdout.splitlines():
            if line.startswith("CALLBACKS "):
                return line.split(" ", 1)[1].split(",")
        raise AssertionError(f"no CALLBACKS line in output:\n{self.stdout[-2000:]}\n{self.stderr[-4000:]}")

    def trl_logs(self) -> list[dict[str, float]]:
        """The per-step dicts transformers printed (PrinterCallback), as floats."""
        out = []
        for line in self.stdout.splitlines():
            if line.startswith("{'") and "train_runtime" not in line:
                raw = ast.literal_eval(line)
                out.append({k: float(v) if v not in (None, "None") else float("nan") for k, v in raw.items()})
        return out

    def reader(self) -> StoreReader:
        """A read-only view of the run's store (the caller closes it)."""
        assert self.db_path.exists(), f"no store at {self.db_path}; stderr:\n{self.stderr[-4000:]}"
        return StoreReader(str(self.db_path))

    def explain(self) -> str:
        """Tail of the output, for assertion messages."""
        return f"rc={self.returncode}\nstdout:\n{self.stdout[-3000:]}\nstderr:\n{self.stderr[-6000:]}"


def require_pth() -> None:
    """Fail clearly if rlwatch-trl is not installed from its wheel here."""
    if not PTH_FILE.exists():
        pytest.fail(
            f"{PTH_FILE} is missing: install rlwatch-trl from a built wheel (the `trl` nox session does); "
            "an editable install does not ship the start-up hook",
            pytrace=False,
        )


def run_script(script: str, cwd: Path, trace_case: str | None = None, **env: str) -> ScriptRun:
    """Run ``scripts/<script>`` with this interpreter in `cwd`, offline.

    RLWATCH_* variables of the calling environment are dropped; `env` adds
    the script's settings (TINY_*) or RLWATCH_* ones on purpose.
    """
    require_pth()
    cwd.mkdir(parents=True, exist_ok=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("RLWATCH_", "TINY_"))}
    environment.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HOME=str(cwd / "hf-home"),
        TOKENIZERS_PARALLELISM="false",
        PYTHONUNBUFFERED="1",
        TINY_OUT=str(cwd / "out"),
    )
    trace_dir = os.environ.get("SAVE_TRL_TRACES")
    if trace_case and trace_dir:
        trace_file = Path(trace_dir) / f"trl_{trace_case}.jsonl"
        trace_file.unlink(missing_ok=True)
        environment["RLWATCH_TRL_TRACE"] = str(trace_file)
    environment.update(env)
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / script)],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_SECONDS,
        check=False,
    )
    return ScriptRun(proc.returncode, proc.stdout, proc.stderr, cwd)


def save_label(case: str, expected_detector: str | None, onset: int | None, note: str) -> None:
    """Write the scenario label beside a saved trace (only when saving traces)."""
    trace_dir = os.environ.get("SAVE_TRL_TRACES")
    if not trace_dir:
        return
    label: dict[str, Any] = {"expected_detector": expected_detector, "onset": onset, "source": note}
    (Path(trace_dir) / f"trl_{case}.label.json").write_text(json.dumps(label, indent=2) + "\n")
