"""Every public log in tests/fixtures/real_logs imports (trainer_state.json files, veRL logs...).

Each run there is a folder: the log as its tool wrote it, beside
``provenance.json`` and ``label.json`` (see the folder's README). Every log
must be recognised, mapped with its framework's key map, and import without
error into a fresh database as a run with steps. What the detectors make of
them is measured by the real-log quality suite (``nox -s quality``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rlwatch.importers import ImportOptions, import_paths
from rlwatch.storage import StoreReader

REAL_LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "real_logs"
_NOT_LOGS = frozenset({"provenance.json", "label.json"})


def _logs() -> list[Path]:
    if not REAL_LOGS.is_dir():
        return []
    found = []
    for folder in sorted(p for p in REAL_LOGS.iterdir() if p.is_dir()):
        files = [f for f in folder.iterdir() if f.is_file() and f.name not in _NOT_LOGS]
        assert len(files) == 1, f"{folder}: expected one log beside provenance.json and label.json, got {files}"
        found.append(files[0])
    return found


@pytest.mark.parametrize("log", _logs(), ids=lambda p: p.parent.name)
def test_real_log_imports(log: Path, tmp_path: Path) -> None:
    provenance = json.loads((log.parent / "provenance.json").read_text())
    db = tmp_path / "m.db"
    (result,) = import_paths([str(log)], ImportOptions(db=str(db), progress=False))
    assert result.rows > 0
    framework = str(provenance.get("framework", "")).lower()
    if framework in ("trl", "verl"):
        assert result.keymap.startswith(framework), (result.keymap, framework)
    with StoreReader(str(db)) as reader:
        run = reader.run(result.run_id)
        assert run is not None and run.n_steps == result.rows and run.source == result.format


def test_there_are_enough_real_logs() -> None:
    """The real-log suite needs at least 15 runs from at least 8 public repositories."""
    logs = _logs()
    repos = {json.loads((log.parent / "provenance.json").read_text())["repo"] for log in logs}
    assert len(logs) >= 15 and len(repos) >= 8, (len(logs), len(repos))
