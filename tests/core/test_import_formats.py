"""`rlwatch import` of every text format the core reads alone, good and bad.

Each format is written the way its tool writes it (a transformers
trainer_state.json, a W&B chart export, W&B history and veRL file-logger
JSONL, veRL and OpenRLHF console lines, plain CSV), imported, and checked
for the run it yields: its steps (sparse logging stays sparse), its metric
names (through the framework's key map) and the alerts the live detectors
raise on it. Every malformed or truncated variant must give one line naming
the file and the position, exit code 2, and leave the database exactly as
it was.
"""

from __future__ import annotations

import csv
import json
import math
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rlwatch.cli.main import main
from rlwatch.importers import ImportFormatError, ImportOptions, ImportUsageError, import_paths
from rlwatch.storage import StoreReader

COLLAPSE_AT = 120


def grpo_rows(steps: int = 200, every: int = 1, seed: int = 0, collapse_at: int = COLLAPSE_AT) -> list[dict[str, Any]]:
    """A GRPO run in TRL's key names whose policy entropy collapses at `collapse_at` (logged every `every` steps)."""
    rnd = random.Random(seed)
    rows = []
    for step in range(1, steps + 1):
        if step % every:
            continue
        late = step >= collapse_at
        rows.append({
            "step": step,
            "loss": 0.02 + rnd.gauss(0, 0.005),
            "grad_norm": 0.5 * math.exp(rnd.gauss(0, 0.1)),
            "learning_rate": 1e-6,
            "entropy": (0.01 if late else 1.2) * math.exp(rnd.gauss(0, 0.05)),
            "kl": 0.01 * math.exp(rnd.gauss(0, 0.1)),
            "reward": 0.4 + rnd.gauss(0, 0.02),
            "reward_std": 0.3 + rnd.gauss(0, 0.01),
            "frac_reward_zero_std": 0.1,
            "completions/mean_length": 200 + rnd.gauss(0, 5),
            "epoch": step / steps,
        })
    return rows


def trainer_state(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A trainer_state.json as transformers saves it: log entries, evaluation entries, the final summary."""
    history: list[dict[str, Any]] = []
    for row in rows:
        history.append(dict(row))
        if row["step"] % 50 == 0:
            history.append({"epoch": row["epoch"], "eval_loss": 0.5, "eval_runtime": 1.0, "step": row["step"]})
    last = rows[-1]["step"]
    history.append({"epoch": 1.0, "step": last, "total_flos": 0.0, "train_loss": 0.02, "train_runtime": 12.5,
                    "train_samples_per_second": 3.0, "train_steps_per_second": 1.0})
    return {"best_metric": None, "epoch": 1.0, "global_step": last, "log_history": history, "logging_steps": 1,
            "max_steps": last, "num_train_epochs": 1, "save_steps": 50, "stateful_callbacks": {},
            "total_flos": 0.0, "train_batch_size": 8, "trial_name": None, "trial_params": None}


def write_trainer_state(folder: Path, rows: list[dict[str, Any]], checkpoint: int | None = None) -> Path:
    target = folder / f"checkpoint-{checkpoint}" if checkpoint is not None else folder
    target.mkdir(parents=True, exist_ok=True)
    path = target / "trainer_state.json"
    path.write_text(json.dumps(trainer_state(rows), indent=2, sort_keys=True))
    return path


def write_wandb_chart(path: Path, runs: dict[str, list[dict[str, Any]]], metric: str, source_key: str,
                      x_axis: str = "Step") -> None:
    """One W&B chart export: x-axis column, then per run the value, __MIN and __MAX (every cell quoted)."""
    steps = sorted({row["step"] for rows in runs.values() for row in rows if source_key in row})
    header = [x_axis]
    for run in runs:
        header += [f"{run} - {metric}", f"{run} - {metric}__MIN", f"{run} - {metric}__MAX"]
    by_step = {run: {row["step"]: row.get(source_key) for row in rows} for run, rows in runs.items()}
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL)
        writer.writerow(header)
        for step in steps:
            line = [str(step)]
            for run in runs:
                value = by_step[run].get(step)
                line += [""] * 3 if value is None else [repr(value)] * 3
            writer.writerow(line)


def db_state(db: Path) -> tuple[bytes, ...]:
    """The database's bytes (and its WAL's), to prove a failed import changed nothing."""
    files = [db, db.with_name(db.name + "-wal")]
    return tuple(f.read_bytes() if f.exists() else b"<absent>" for f in files)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def seeded_db(tmp_path: Path) -> Path:
    """A database that already holds one imported run (failed imports must leave it byte for byte)."""
    db = tmp_path / "seed.db"
    rows = tmp_path / "seed.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in grpo_rows(60)))
    import_paths([str(rows)], ImportOptions(db=str(db)))
    return db


def only_run(db: Path, run_id: str) -> tuple[Any, dict[str, np.ndarray], list[Any]]:
    with StoreReader(str(db)) as reader:
        info = reader.run(run_id)
        assert info is not None, [r.run_id for r in reader.runs()]
        return info, reader.metrics(run_id), reader.alerts(run_id)


def detectors_fired(alerts: list[Any]) -> set[str]:
    return {a.detector for a in alerts if a.status != "suppressed"}


# -- trainer_state.json -------------------------------------------------------------------------------


def test_trainer_state_yields_the_run_and_its_alerts(tmp_path: Path) -> None:
    rows = grpo_rows()
    write_trainer_state(tmp_path / "out", rows[:100], checkpoint=100)
    write_trainer_state(tmp_path / "out", rows, checkpoint=200)  # the latest checkpoint wins
    db = tmp_path / "m.db"
    (result,) = import_paths([str(tmp_path / "out")], ImportOptions(db=str(db)))
    assert result.format == "trainer-state" and result.keymap == "trl-grpo"
    assert result.display.endswith("checkpoint-200/trainer_state.json")
    assert result.rows == 200 and (result.first_step, result.last_step) == (1, 200)
    info, metrics, alerts = only_run(db, result.run_id)
    assert info.status == "finished" and info.framework == "trl"
    assert metrics["step"].tolist() == list(range(1, 201))
    # TRL's names through the trl-grpo map; evaluation and the end-of-run summary are not metrics.
    assert {"entropy", "kl_divergence", "reward_mean", "completion_length", "loss"} <= set(metrics)
    assert not {"eval_loss", "train_runtime", "kl", "reward"} & set(metrics)
    fired = [a for a in alerts if a.detector == "entropy_collapse" and a.status != "suppressed"]
    assert fired and fired[0].step >= COLLAPSE_AT and fired[0].step < COLLAPSE_AT + 10
    assert any(a.severity == "critical" for a in fired)
    assert "kl_explosion" not in detectors_fired(alerts)


def test_trainer_state_records_source_and_run_name(tmp_path: Path) -> None:
    path = write_trainer_state(tmp_path / "grpo-qwen", grpo_rows(40))
    (result,) = import_paths([str(path)], ImportOptions(db=str(tmp_path / "m.db")))
    assert result.run_id.startswith("grpo-qwen-") and len(result.run_id) == len("grpo-qwen-") + 8
    assert result.source_path == str(path)
    with StoreReader(str(tmp_path / "m.db")) as reader:
        info = reader.run(result.run_id)
    assert info is not None
    if hasattr(info, "source"):  # storage schema v4
        assert (info.source, info.source_path) == ("trainer-state", str(path))


def test_sparse_logging_keeps_the_sources_steps(tmp_path: Path) -> None:
    path = write_trainer_state(tmp_path / "out", grpo_rows(300, every=10))
    (result,) = import_paths([str(path)], ImportOptions(db=str(tmp_path / "m.db")))
    _, metrics, alerts = only_run(tmp_path / "m.db", result.run_id)
    assert metrics["step"].tolist() == list(range(10, 301, 10))  # no filled gaps
    assert "entropy_collapse" in detectors_fired(alerts)


@pytest.mark.parametrize(
    ("damage", "position"),
    [
        (lambda text: text[: len(text) // 2], "line "),
        (lambda text: text.replace('"log_history": [', '"log_history": 3, "x": [', 1), "top level"),
        (lambda text: text.replace('"step": 7\n', '"step": "seven"\n', 1), "entry 6 of log_history"),
        (lambda text: "not json at all", "line 1, column 1"),
    ],
    ids=["truncated", "no-history-list", "bad-step", "not-json"],
)
def test_malformed_trainer_state_fails_cleanly(
    tmp_path: Path, seeded_db: Path, capsys: pytest.CaptureFixture[str], damage: Any, position: str
) -> None:
    path = write_trainer_state(tmp_path / "out", grpo_rows(40))
    path.write_text(damage(path.read_text()))
    before = db_state(seeded_db)
    code, out, err = cli(capsys, "import", str(path), "--db", str(seeded_db))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"rlwatch import: {path}: ") and position in lines[0]
    assert "Traceback" not in err and out == ""
    assert db_state(seeded_db) == before


def test_truncated_trainer_state_names_line_and_byte(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_trainer_state(tmp_path / "out", grpo_rows(40))
    text = path.read_text()
    path.write_text(text[:5000])
    code, _, err = cli(capsys, "import", str(path), "--db", str(tmp_path / "m.db"))
    assert code == 2 and "byte" in err and "truncated" in err
    assert not (tmp_path / "m.db").exists()  # nothing written, not even an empty database


def test_plain_trainer_run_without_an_rl_key_map(tmp_path: Path) -> None:
    rows = [{"step": s, "loss": 1.0 / s, "grad_norm": 1.0, "learning_rate": 1e-5, "epoch": s / 30}
            for s in range(1, 31)]
    rows[-5]["loss"] = float("nan")
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"log_history": rows}))  # json writes NaN as transformers does
    (result,) = import_paths([str(path)], ImportOptions(db=str(tmp_path / "m.db")))
    assert result.keymap == "none"
    _, metrics, alerts = only_run(tmp_path / "m.db", result.run_id)
    assert {"loss", "grad_norm", "learning_rate"} <= set(metrics)
    assert "loss_nan" in detectors_fired(alerts)


def test_sft_log_uses_the_offline_map(tmp_path: Path) -> None:
    rows = [{"step": s, "loss": 1.0, "grad_norm": 1.0, "learning_rate": 1e-5, "entropy": 2.0 / s,
             "mean_token_accuracy": 0.5, "num_tokens": 100.0 * s} for s in range(1, 80)]
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"log_history": rows}))
    (result,) = import_paths([str(path)], ImportOptions(db=str(tmp_path / "m.db")))
    assert result.keymap == "trl-offline"
    _, metrics, alerts = only_run(tmp_path / "m.db", result.run_id)
    assert "supervised_entropy" in metrics and "entropy" not in metrics
    assert "entropy_collapse" not in detectors_fired(alerts)


# -- importing twice ----------------------------------------------------------------------------------


def test_importing_twice_does_not_duplicate_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_trainer_state(tmp_path / "out", grpo_rows(40))
    db = tmp_path / "m.db"
    code, out, _ = cli(capsys, "import", str(path), "--db", str(db))
    assert code == 0 and "-> run out-" in out
    before = db_state(db)
    code, out, _ = cli(capsys, "import", str(path), "--db", str(db))
    assert code == 0 and "was imported before as run out-" in out and "--force" in out
    assert db_state(db) == before
    code, out, _ = cli(capsys, "import", str(path), "--db", str(db), "--force")
    assert code == 0
    with StoreReader(str(db)) as reader:
        ids = sorted(r.run_id for r in reader.runs())
    assert len(ids) == 2 and ids[1] == ids[0] + "-2"
    # A file that changed (the run went on) is a new source, not a duplicate.
    write_trainer_state(tmp_path / "out", grpo_rows(45))
    code, out, _ = cli(capsys, "import", str(path), "--db", str(db))
    assert code == 0 and "-> run out-" in out


def test_explicit_run_id_and_collision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_trainer_state(tmp_path / "out", grpo_rows(40))
    db = tmp_path / "m.db"
    assert cli(capsys, "import", str(path), "--db", str(db), "--run-id", "mine")[0] == 0
    code, out, _ = cli(capsys, "import", str(path), "--db", str(db), "--run-id", "mine")
    assert code == 0 and "imported before as run mine" in out
    assert cli(capsys, "import", str(path), "--db", str(db), "--run-id", "mine", "--force")[0] == 0
    with StoreReader(str(db)) as reader:
        assert sorted(r.run_id for r in reader.runs()) == ["mine", "mine-2"]


# -- JSONL: flat rows, W&B history, veRL's file logger ---------------------------------------------------


def test_jsonl_rows_and_sparse_steps(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in grpo_rows(250, every=5)) + "\n")
    (result,) = import_paths([str(path)], ImportOptions(db=str(tmp_path / "m.db")))
    assert (result.format, result.keymap) == ("jsonl", "trl-grpo")
    _, metrics, alerts = only_run(tmp_path / "m.db", result.run_id)
    assert metrics["step"].tolist() == list(range(5, 251, 5))
    assert "entropy_collapse" in detectors_fired(alerts)


def test_wandb_history_jsonl_prefers_the_trainers_step(tmp_path: Path) -> None:
    # transformers' WandbCallback logs under train/ with train/global_step; W&B adds _step, _runtime, _timestamp,
    # and evaluation rows (eval/*) have no train/ keys but do carry train/global_step.
    lines = []
    wandb_step = 0
    for row in grpo_rows(200, every=2):
        record = {f"train/{k}": v for k, v in row.items() if k != "step"}
        record.update({"train/global_step": row["step"], "_step": wandb_step, "_runtime": row["step"] * 1.5,
                       "_timestamp": 1.7e9 + row["step"]})
        lines.append(record)
        wandb_step += 1
        if row["step"] % 40 == 0:
            lines.append({"eval/loss": 0.4, "train/global_step": row["step"], "_step": wandb_step,
                          "_runtime": 1.0, "_timestamp": 1.7e9 + row["step"]})
            wandb_step += 1
    lines.append({"_step": wandb_step, "_runtime": 400.0, "_timestamp": 1.7e9 + 400, "train/train_runtime": 400.0})
    path = tmp_path / "wandb-history.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    (result,) = import_paths([str(path)], ImportOptions(db=str(tmp_path / "m.db")))
    assert result.keymap == "trl-grpo" and result.namespaced
    assert result.skipped == {"rows without 'train/global_step'": 1}
    _, metrics, alerts = only_run(tmp_path / "m.db", result.run_id)
    assert metrics["step"].tolist() == list(range(2, 201, 2))  # training steps, not W&B's _step
    assert not {"_step", "_runtime", "_timestamp", "eval/loss", "eval_loss", "train/entropy"} & set(metrics)
    assert "entropy_collapse" in detectors_fired(alerts)
    with StoreReader(str(tmp_path / "m.db")) as reader:
        first = next(reader.iter_rows(result.run_id))
    assert first["wall_time"] == pytest.approx(1.7e9 + 2)  # the source's clock, not the import's


def test_verl_file_logger_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    with path.open("w") as fh:
        for row in grpo_rows(200):
            data = {
                "actor/entropy": row["entropy"], "actor/pg_loss": row["loss"], "actor/grad_norm": row["grad_norm"],
                "actor/kl_loss": row["kl"], "actor/pg_clipfrac": 0.01, "actor/ppo_kl": 0.001,
                "critic/score/mean": row["reward"], "critic/rewards/mean": row["reward"],
                "critic/advantages/mean": 0.0, "response_length/mean": 200.0, "response_length/clip_ratio": 0.0,
                "training/global_step": row["step"], "timing_s/step": 3.0,
            }
            fh.write(json.dumps({"step": row["step"], "elapsed_seconds": row["step"] * 3.0, "data": data}) + "\n")
    (result,) = import_paths([str(path)], ImportOptions(db=str(tmp_path / "m.db")))
    assert result.keymap.startswith("verl")
    _, metrics, alerts = only_run(tmp_path / "m.db", result.run_id)
    assert "entropy" in metrics and "timing_s/step" not in metrics and "elapsed_seconds" not in metrics
    assert "entropy_collapse" in detectors_fired(alerts)


@pytest.mark.parametrize(
    ("damage", "position"),
    [
        (lambda lines: [*lines[:-1], lines[-1][: len(lines[-1]) // 2]], "line 40, column"),
        (lambda lines: [*lines[:9], "[1, 2, 3]", *lines[10:]], "line 10"),
        (lambda lines: [*lines[:4], lines[4].replace('"step": 5', '"step": 5.5'), *lines[5:]], "line 5"),
    ],
    ids=["truncated-last-line", "not-an-object", "fractional-step"],
)
def test_malformed_jsonl_fails_cleanly(
    tmp_path: Path, seeded_db: Path, capsys: pytest.CaptureFixture[str], damage: Any, position: str
) -> None:
    path = tmp_path / "rows.jsonl"
    lines = [json.dumps(r) for r in grpo_rows(40)]
    path.write_text("\n".join(damage(lines)))
    before = db_state(seeded_db)
    code, out, err = cli(capsys, "import", str(path), "--db", str(seeded_db))
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and f"{path}: {position}" in err, err
    assert db_state(seeded_db) == before


def test_jsonl_without_a_step_column_asks_for_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({"epoch_index": i, "loss": 1.0}) + "\n" for i in range(10)))
    code, _, err = cli(capsys, "import", str(path), "--db", str(tmp_path / "m.db"))
    assert code == 2 and "--step-key" in err
    code, out, _ = cli(capsys, "import", str(path), "--db", str(tmp_path / "m.db"), "--step-key", "epoch_index")
    assert code == 0 and "10 steps (0..9)" in out


# -- CSV -------------------------------------------------------------------------------------------------


def test_generic_csv_with_gaps_and_text(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    rows = grpo_rows(200)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["", "global_step", "loss", "entropy", "note"])  # pandas' index column first
        for i, row in enumerate(rows):
            entropy = "" if row["step"] % 3 == 0 else repr(row["entropy"])  # entropy logged 2 steps in 3
            writer.writerow([i, row["step"], row["loss"], entropy, "ok"])
    (result,) = import_paths([str(path)], ImportOptions(db=str(tmp_path / "m.db")))
    assert result.format == "csv"
    assert result.skipped == {"non-numeric values in column 'note'": 200}
    _, metrics, alerts = only_run(tmp_path / "m.db", result.run_id)
    assert np.isnan(metrics["entropy"][2]) and not np.isnan(metrics["entropy"][0])  # the gap stays a gap
    assert "entropy_collapse" in detectors_fired(alerts)


def test_truncated_csv_fails_cleanly(tmp_path: Path, seeded_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "log.csv"
    text = "step,loss,entropy\n" + "".join(f"{s},0.5,1.0\n" for s in range(30)) + "30,0.5"
    path.write_text(text)
    before = db_state(seeded_db)
    code, _, err = cli(capsys, "import", str(path), "--db", str(seeded_db))
    assert code == 2 and f"{path}: line 32: 2 cells where the header has 3" in err and "truncated" in err
    assert db_state(seeded_db) == before


# -- W&B chart exports -------------------------------------------------------------------------------------


def test_wandb_chart_exports_merge_into_one_run_per_wandb_run(tmp_path: Path) -> None:
    runs = {"brisk-sun-12": grpo_rows(200, every=2), "calm-sea-3": grpo_rows(200, every=2, collapse_at=10_000)}
    for metric in ("entropy", "kl", "reward", "loss"):
        write_wandb_chart(tmp_path / f"{metric}.csv", runs, f"train/{metric}", metric, x_axis="train/global_step")
    paths = sorted(str(p) for p in tmp_path.glob("*.csv"))
    db = tmp_path / "m.db"
    results = import_paths(paths, ImportOptions(db=str(db), run_id="sweep"))
    assert {r.run_id for r in results} == {"sweep-brisk-sun-12", "sweep-calm-sea-3"}
    for result in results:
        assert result.format == "wandb-csv" and result.keymap == "trl-grpo" and result.namespaced
        _, metrics, alerts = only_run(db, result.run_id)
        assert metrics["step"].tolist() == list(range(2, 201, 2))
        assert {"entropy", "kl_divergence", "reward_mean", "loss"} <= set(metrics)
        assert not any(name.endswith(("__MIN", "__MAX")) for name in metrics)
        collapsed = "entropy_collapse" in detectors_fired(alerts)
        assert collapsed == (result.run_id == "sweep-brisk-sun-12")


def test_wandb_chart_with_runs_logging_different_steps(tmp_path: Path) -> None:
    runs = {"a": grpo_rows(100, every=2), "b": grpo_rows(100, every=5)}
    write_wandb_chart(tmp_path / "entropy.csv", runs, "entropy", "entropy")
    results = import_paths([str(tmp_path / "entropy.csv")], ImportOptions(db=str(tmp_path / "m.db")))
    steps = {only_run(tmp_path / "m.db", r.run_id)[1]["step"].tolist()[0] for r in results}
    assert steps == {2, 5}
    assert {r.rows for r in results} == {50, 20}  # each run's own points, no empty cells filled


@pytest.mark.parametrize(
    ("damage", "position"),
    [
        (lambda text: text[: text.rindex("\n", 0, len(text) - 2) + 12], "cells where the header has"),
        (lambda text: text.replace('"10",', '"10.5",', 1), "is not a whole number"),
    ],
    ids=["truncated", "time-axis"],
)
def test_malformed_wandb_chart_fails_cleanly(
    tmp_path: Path, seeded_db: Path, capsys: pytest.CaptureFixture[str], damage: Any, position: str
) -> None:
    path = tmp_path / "entropy.csv"
    write_wandb_chart(path, {"run-1": grpo_rows(60)}, "entropy", "entropy")
    path.write_text(damage(path.read_text()))
    before = db_state(seeded_db)
    code, _, err = cli(capsys, "import", str(path), "--db", str(seeded_db))
    assert code == 2 and err.startswith(f"rlwatch import: {path}: line ") and position in err, err
    assert err.strip().count("\n") == 0
    assert db_state(seeded_db) == before


def test_wandb_runs_table_export_is_explained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "wandb_export.csv"
    path.write_text('"Name","Created","Runtime","ID","train/loss"\n"run-1","2024-01-01T00:00:00Z","100","x1","0.5"\n')
    code, _, err = cli(capsys, "import", str(path), "--db", str(tmp_path / "m.db"))
    assert code == 2 and "runs-table export" in err and "chart" in err


# -- console logs --------------------------------------------------------------------------------------------


def verl_console(rows: list[dict[str, Any]]) -> Iterator[str]:
    yield "INFO 11-02 10:00:01 model loading...\n"
    yield "\x1b[36m(TaskRunner pid=2187)\x1b[0m Training Progress:   0%|          | 0/200\n"
    for row in rows:
        fields = [
            f"actor/entropy:np.float64({row['entropy']!r})", f"actor/pg_loss:{row['loss']:.3f}",
            f"actor/grad_norm:{row['grad_norm']!r}", f"actor/kl_loss:{row['kl']!r}", "actor/pg_clipfrac:0.002",
            "actor/ppo_kl:0.0001", f"critic/score/mean:{row['reward']!r}", f"critic/rewards/mean:{row['reward']!r}",
            "critic/advantages/mean:0.0", "response_length/mean:200.0", "response_length/clip_ratio:0.0",
            "perf/mfu/actor:0.31", f"training/global_step:{row['step']}",
        ]
        yield f"\x1b[36m(TaskRunner pid=2187)\x1b[0m step:{row['step']} - " + " - ".join(fields) + "\n"
        yield "(WorkerDict pid=2390) some warning the log also holds\n"


def test_verl_console_log(tmp_path: Path) -> None:
    path = tmp_path / "train.log"
    path.write_text("".join(verl_console(grpo_rows(200))))
    (result,) = import_paths([str(path)], ImportOptions(db=str(tmp_path / "m.db")))
    assert result.format == "console" and result.keymap.startswith("verl")
    _, metrics, alerts = only_run(tmp_path / "m.db", result.run_id)
    assert metrics["step"].tolist() == list(range(1, 201))
    assert "entropy" in metrics and not any(name.startswith("perf/") for name in metrics)
    assert "entropy_collapse" in detectors_fired(alerts)


def test_openrlhf_console_log(tmp_path: Path) -> None:
    path = tmp_path / "openrlhf.log"
    with path.open("w") as fh:
        fh.write("[2025-01-01 10:00:00,000] [INFO] [launcher.py:10] starting\n")
        for row in grpo_rows(200):
            status = {"policy_loss": row["loss"], "actor_lr": 1e-6, "entropy_loss": row["entropy"], "kl": row["kl"],
                      "reward": row["reward"], "return": row["reward"], "response_length": 200.0,
                      "total_length": 300.0, "ppo_clip_ratio": 0.01, "ppo_kl": 0.001, "group_reward_std": 0.2}
            if row["step"] == 150:
                status["policy_loss"] = float("nan")
            fh.write(f"[2025-01-01 10:00:01,000] [INFO] [ppo_trainer.py:300] \u2728 Global step {row['step']}: "
                     f"{status!r}\n")
    (result,) = import_paths([str(path)], ImportOptions(db=str(tmp_path / "m.db")))
    assert (result.format, result.keymap) == ("console", "openrlhf")
    _, metrics, alerts = only_run(tmp_path / "m.db", result.run_id)
    assert {"entropy", "kl_divergence", "reward_mean", "loss", "completion_length", "return"} <= set(metrics)
    fired = detectors_fired(alerts)
    assert {"entropy_collapse", "loss_nan"} <= fired


@pytest.mark.parametrize(
    ("last_line", "problem"),
    [
        ("(TaskRunner pid=1) step:41 - actor/entropy:0.5 - actor/kl_lo", "has no key:value"),
        ("\u2728 Global step 41: {'policy_loss': 0.1, 'kl':", "not readable"),
    ],
    ids=["verl", "openrlhf"],
)
def test_cut_console_line_fails_cleanly(
    tmp_path: Path, seeded_db: Path, capsys: pytest.CaptureFixture[str], last_line: str, problem: str
) -> None:
    path = tmp_path / "train.log"
    path.write_text("".join(verl_console(grpo_rows(40))) + last_line)
    before = db_state(seeded_db)
    code, _, err = cli(capsys, "import", str(path), "--db", str(seeded_db), "--format", "console")
    assert code == 2 and f"{path}: line 83: " in err and problem in err, err
    assert db_state(seeded_db) == before


# -- key maps, overrides, errors of use ---------------------------------------------------------------------


def test_map_overrides_and_forced_keymap(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    rows = [{"step": r["step"], "policy_entropy": r["entropy"], "my_loss": r["loss"], "noise": 1.0}
            for r in grpo_rows(200)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    options = ImportOptions(db=str(tmp_path / "m.db"), overrides={"policy_entropy": "entropy", "noise": ""},
                            keymap="none")
    (result,) = import_paths([str(path)], options)
    _, metrics, alerts = only_run(tmp_path / "m.db", result.run_id)
    assert "entropy" in metrics and "noise" not in metrics and "my_loss" in metrics
    assert "entropy_collapse" in detectors_fired(alerts)


def test_bad_map_and_keymap_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_trainer_state(tmp_path / "out", grpo_rows(20))
    code, _, err = cli(capsys, "import", str(path), "--map", "entropy")
    assert code == 2 and "KEY=METRIC" in err
    with pytest.raises(ImportUsageError, match="not a known key map"):
        import_paths([str(path)], ImportOptions(db=str(tmp_path / "m.db"), keymap="nope"))


def test_missing_path_and_unknown_content(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "import", str(tmp_path / "nope.json"), "--db", str(tmp_path / "m.db"))
    assert code == 2 and "no such file or folder" in err
    (tmp_path / "notes.txt").write_text("just some text\n")
    code, _, err = cli(capsys, "import", str(tmp_path / "notes.txt"), "--db", str(tmp_path / "m.db"))
    assert code == 2 and "cannot tell the format" in err and "--format" in err
    (tmp_path / "empty").mkdir()
    code, _, err = cli(capsys, "import", str(tmp_path / "empty"), "--db", str(tmp_path / "m.db"))
    assert code == 2 and "no trainer_state.json" in err
    assert not (tmp_path / "m.db").exists()


def test_a_bad_source_among_several_writes_nothing(tmp_path: Path, seeded_db: Path) -> None:
    good = write_trainer_state(tmp_path / "good", grpo_rows(30))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"step": 1, "loss": 1.0}\n{"step": 2, "loss"')
    before = db_state(seeded_db)
    with pytest.raises(ImportFormatError):
        import_paths([str(good), str(bad)], ImportOptions(db=str(seeded_db)))
    assert db_state(seeded_db) == before


def test_replay_failure_removes_the_half_written_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The file is checked first; if reading fails anyway during the replay (a disk error, the file
    # replaced in between, Ctrl+C), the run that was started is removed again.
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in grpo_rows(120)))
    db = tmp_path / "m.db"
    import_paths([str(write_trainer_state(tmp_path / "first", grpo_rows(30)))], ImportOptions(db=str(db)))
    from rlwatch.importers import replay as replay_module

    monkeypatch.setattr(replay_module, "CHUNK_ROWS", 25)
    from rlwatch.importers.jsonl import JsonlReader

    real_rows = JsonlReader.rows

    def failing_rows(self: JsonlReader, progress: Any) -> Iterator[Any]:
        for i, row in enumerate(real_rows(self, progress)):
            if i == 90:
                raise KeyboardInterrupt
            yield row

    monkeypatch.setattr(JsonlReader, "rows", failing_rows)
    with StoreReader(str(db)) as reader:
        before = sorted(r.run_id for r in reader.runs())
    with pytest.raises(KeyboardInterrupt):
        import_paths([str(path)], ImportOptions(db=str(db)))
    with StoreReader(str(db)) as reader:
        assert sorted(r.run_id for r in reader.runs()) == before
    con = sqlite3.connect(db)
    try:
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = {c[1] for c in con.execute(f'PRAGMA table_info("{table}")')}
            if "run_pk" in columns:
                pks = {pk for (pk,) in con.execute(f'SELECT DISTINCT run_pk FROM "{table}"')}
                assert pks <= {pk for (pk,) in con.execute("SELECT run_pk FROM runs")}, table
    finally:
        con.close()


def test_printed_trainer_dicts_are_a_console_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What a transformers/TRL Trainer prints at each logging step (values as strings too, as Unsloth prints)."""
    lines = ["Loading checkpoint shards: 100%|████| 2/2", "{'loss': 0.05, 'grad_norm': 0.0, 'reward': 1.85, "
             "'entropy': 0.45, 'epoch': 0.03}"]
    for i in range(2, 30):
        lines.append(f"{{'loss': '0.04', 'grad_norm': '0.359', 'reward': '{1.9 + i / 100}', 'entropy': 0.44, "
                     f"'epoch': {i / 100}}}")
    lines.append("{'train_runtime': 120.5, 'train_samples_per_second': 3.1, 'train_loss': 0.04, 'epoch': 0.3}")
    path = tmp_path / "train.log"
    path.write_text("\n".join(lines) + "\n")
    code, _, err = cli(capsys, "import", str(path), "--db", str(tmp_path / "m.db"), "--logging-steps", "10")
    assert code == 0, err
    with StoreReader(str(tmp_path / "m.db")) as r:
        (run,) = r.runs()
        data = r.metrics(run.run_id, ["reward_mean", "entropy", "grad_norm"])
    assert list(data["step"]) == [10 * k for k in range(1, 30)]  # the summary line is not a step
    assert data["reward_mean"][0] == 1.85 and data["grad_norm"][-1] == 0.359
