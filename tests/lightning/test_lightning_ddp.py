"""DDP on 2 CPU processes (gloo): one run is written, by rank 0 only."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rlwatch.storage import StoreReader

SCRIPT = Path(__file__).resolve().parent / "ddp_run.py"


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["zero-code", "user-attach"])
def test_ddp_with_two_processes_writes_one_run(tmp_path: Path, log_dir: Path, mode: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RLWATCH_", "PL_", "LOCAL_RANK", "RANK"))}
    env.update({
        "RLWATCH_LOG_DIR": str(log_dir),
        "RLWATCH_RUN_ID": "ddp",
        "MASTER_ADDR": "127.0.0.1",  # never leave the machine
        "PYTHONUNBUFFERED": "1",
    })
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "16", mode],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # Found anywhere in the output, not per line: other output of a rank may
    # share a line with the result line of the other rank.
    lines = sorted(re.findall(r"RANK \d+ STEPS \d+ RECORDING (?:True|False)", proc.stdout))
    # 16 batches shared by 2 ranks: 8 optimizer steps each; only rank 0 recorded.
    assert lines == ["RANK 0 STEPS 8 RECORDING True", "RANK 1 STEPS 8 RECORDING False"], proc.stdout

    assert [p.name for p in log_dir.iterdir() if p.suffix == ".db"] == ["metrics.db"]
    assert not (tmp_path / "rlwatch_logs").exists()
    reader = StoreReader(str(log_dir / "metrics.db"))
    try:
        [run] = reader.runs()
        # zero-code: the rank and world size come from Lightning; user-attach:
        # what the user told rlwatch (rank 0 of 1), yet rank 1 did not record.
        world_size = 2 if mode == "zero-code" else 1
        assert (run.run_id, run.rank, run.world_size, run.status) == ("ddp", 0, world_size, "finished")
        assert reader.metrics(run.run_id)["step"].tolist() == list(range(1, 9))
        assert "rlwatch internal error" not in proc.stderr
    finally:
        reader.close()
