"""`rlwatch import` of the trainer_state.json a real (tiny) TRL GRPO run writes.

The run is tests/trl/scripts/grpo_run.py, the plain user script the other
TRL tests use, with checkpoints switched on (the wrapper below changes only
``save_strategy``), in the collapse scenario: the learning rate jumps at step
23 and the policy's entropy collapses. rlwatch-trl watches it live (through
its start-up hook) while it runs, so the import can be held against the live
run: the same steps, the same values for every key both map, and the same
first entropy_collapse alert.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from rlwatch.cli.main import main
from rlwatch.importers import ImportOptions, import_paths
from rlwatch.storage import StoreReader
from trl_helpers import SCRIPTS, ScriptRun, run_script

pytestmark = pytest.mark.slow

JUMP_AT = 23
STEPS = 40
SAVE_STEPS = 20

WRAPPER = f'''
"""grpo_run.py with checkpoints: what a user gets with save_strategy="steps"."""
import os
import sys

sys.path.insert(0, {str(SCRIPTS)!r})
import grpo_run
from tiny_setup import tiny_run_args


def with_checkpoints(*args, **kwargs):
    arguments = tiny_run_args(*args, **kwargs)
    arguments.update(save_strategy="steps", save_steps=int(os.environ["TINY_SAVE_STEPS"]))
    return arguments


grpo_run.tiny_run_args = with_checkpoints
grpo_run.main()
'''


@pytest.fixture(scope="module")
def collapse_with_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> ScriptRun:
    folder = tmp_path_factory.mktemp("checkpointed")
    wrapper = folder / "grpo_checkpointed.py"
    wrapper.write_text(textwrap.dedent(WRAPPER))
    return run_script(
        str(wrapper), folder / "work", TINY_STEPS=str(STEPS), TINY_LR="1e-5", TINY_SCHEDULER="constant",
        TINY_MAX_GRAD_NORM="0", TINY_LR_JUMP_AT=str(JUMP_AT), TINY_LR_JUMP="5e-2", TINY_SAVE_STEPS=str(SAVE_STEPS),
    )


def first_alerts(db: Path, run_id: str) -> dict[str, int]:
    with StoreReader(str(db)) as reader:
        first: dict[str, int] = {}
        for alert in reader.alerts(run_id):
            if alert.status != "suppressed" and alert.step is not None:
                first.setdefault(alert.detector, alert.step)
        return first


def test_import_of_the_runs_trainer_state_matches_the_live_run(collapse_with_checkpoints: ScriptRun,
                                                               tmp_path: Path) -> None:
    run = collapse_with_checkpoints
    assert run.returncode == 0, run.explain()
    output = run.cwd / "out"
    assert sorted(p.name for p in output.glob("checkpoint-*")) == [f"checkpoint-{SAVE_STEPS}", f"checkpoint-{STEPS}"]
    db = tmp_path / "imported.db"
    (result,) = import_paths([str(output)], ImportOptions(db=str(db)))
    assert result.display.endswith(f"checkpoint-{STEPS}/trainer_state.json")  # the latest checkpoint
    assert (result.format, result.keymap) == ("trainer-state", "trl-grpo")
    assert (result.first_step, result.last_step, result.rows) == (1, STEPS, STEPS)
    with StoreReader(str(db)) as reader:
        imported = reader.metrics(result.run_id)
    with run.reader() as reader:
        (live_run,) = reader.runs()
        live = reader.metrics(live_run.run_id)
    assert imported["step"].tolist() == live["step"].tolist() == list(range(1, STEPS + 1))
    for name in ("entropy", "kl_divergence", "reward_mean", "reward_std", "loss", "grad_norm", "learning_rate",
                 "completion_length"):
        np.testing.assert_allclose(imported[name], live[name], rtol=1e-6, err_msg=name)
    imported_first = first_alerts(db, result.run_id)
    live_first = first_alerts(run.db_path, live_run.run_id)
    assert "entropy_collapse" in imported_first and imported_first["entropy_collapse"] >= JUMP_AT
    assert imported_first["entropy_collapse"] == live_first["entropy_collapse"]


def test_cut_trainer_state_of_the_run_fails_cleanly(collapse_with_checkpoints: ScriptRun, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    run = collapse_with_checkpoints
    assert run.returncode == 0, run.explain()
    source = run.cwd / "out" / f"checkpoint-{STEPS}" / "trainer_state.json"
    cut = tmp_path / "trainer_state.json"
    cut.write_bytes(source.read_bytes()[: source.stat().st_size * 3 // 5])
    db = tmp_path / "m.db"
    import_paths([str(run.cwd / "out" / f"checkpoint-{SAVE_STEPS}")], ImportOptions(db=str(db)))
    before = db.read_bytes()
    code = main(["import", str(cut), "--db", str(db)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"rlwatch import: {cut}: line ") and "byte" in err and "truncated" in err
    assert db.read_bytes() == before
