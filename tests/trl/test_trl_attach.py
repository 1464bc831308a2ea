"""Explicit wiring in-process: attach(trainer=...), callbacks=[...], the guard."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rlwatch
from rlwatch.storage import StoreReader
from rlwatch_trl import RLWatchCallback, autopatch, plugin
from rlwatch_trl.samples import read_generation_batch
from tiny_setup import make_tokenizer, prompt_dataset, reward_count_a, save_tiny_model
from transformers import AutoModelForCausalLM, Trainer, TrainerState, TrainingArguments


def _grpo(tmp_path: Path, steps: int = 2, callbacks: list[Any] | None = None) -> Any:
    from trl import GRPOConfig, GRPOTrainer

    model = AutoModelForCausalLM.from_pretrained(save_tiny_model(str(tmp_path / "model")))
    args = GRPOConfig(
        output_dir=str(tmp_path / "out"), learning_rate=1e-5, max_steps=steps, per_device_train_batch_size=8,
        num_generations=4, max_completion_length=8, logging_steps=1, save_strategy="no", report_to="none",
        use_cpu=True, beta=0.0, seed=0, disable_tqdm=True, bf16=False, activation_checkpointing=False,
    )
    return GRPOTrainer(model=model, reward_funcs=reward_count_a, args=args, train_dataset=prompt_dataset(),
                       processing_class=make_tokenizer(), callbacks=callbacks)


def _ours(trainer: Any) -> list[RLWatchCallback]:
    return [cb for cb in trainer.callback_handler.callbacks if isinstance(cb, RLWatchCallback)]


def test_attach_trainer_points_the_one_callback_at_the_users_monitor(tmp_path: Path, log_dir: Path) -> None:
    trainer = _grpo(tmp_path)
    assert len(_ours(trainer)) == 1  # added when the trainer was built (the .pth hook is live here)
    monitor = rlwatch.attach(trainer=trainer, run_id="explicit", log_dir=str(log_dir))
    callbacks = _ours(trainer)
    assert len(callbacks) == 1 and callbacks[0].monitor is monitor and callbacks[0].trainer is trainer
    trainer.train()
    assert monitor.active  # the user's monitor is the user's to stop
    monitor.flush()
    reader = StoreReader(str(log_dir / "metrics.db"))
    try:
        assert [r.run_id for r in reader.runs()] == ["explicit"]
        metrics = reader.metrics("explicit")
        assert list(metrics["step"]) == [1, 2]
        assert {"entropy", "reward_mean", "advantage_std"} <= set(metrics)
    finally:
        reader.close()
    # The private per-sample view of the real trainer: groups x num_generations,
    # consistent with the reward TRL logged for the same batch.
    batch = read_generation_batch(trainer)
    assert batch["rewards"].shape == (2, 4)
    assert batch["advantages"].shape == (8,)
    last_logged = [row["reward"] for row in trainer.state.log_history if "reward" in row][-1]
    assert float(np.nanmean(batch["rewards"])) == pytest.approx(last_logged, rel=1e-5)


def test_callback_starts_and_stops_its_own_run(tmp_path: Path) -> None:
    callback = RLWatchCallback(run_id="own", log_dir=str(tmp_path / "logs"))
    trainer = _grpo(tmp_path, steps=1, callbacks=[callback])
    assert _ours(trainer) == [callback] and callback.trainer is trainer
    trainer.train()
    assert callback.monitor is None  # stopped and released at on_train_end
    reader = StoreReader(str(tmp_path / "logs" / "metrics.db"))
    try:
        run = reader.run("own")
        assert run is not None and run.status == "finished" and run.n_steps == 1
    finally:
        reader.close()


def test_duplicates_are_removed_and_the_users_choice_wins(tmp_path: Path, log_dir: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(save_tiny_model(str(tmp_path / "model")))
    args = TrainingArguments(output_dir=str(tmp_path / "out"), report_to=["rlwatch"], use_cpu=True)
    # report_to adds one (first), the user passes more: a monitor beats options beats nothing
    monitor = rlwatch.attach(run_id="given", log_dir=str(log_dir))
    plain, configured, given = RLWatchCallback(), RLWatchCallback(run_id="mine"), RLWatchCallback(monitor=monitor)
    assert _ours(Trainer(model=model, args=args, callbacks=[plain, configured, given])) == [given]
    configured = RLWatchCallback(run_id="mine")
    assert _ours(Trainer(model=model, args=args, callbacks=[configured])) == [configured]
    trainer = Trainer(model=model, args=args)
    assert len(_ours(trainer)) == 1 and _ours(trainer)[0].trainer is trainer


def test_other_ranks_do_not_log(tmp_path: Path, log_dir: Path) -> None:
    monitor = rlwatch.attach(run_id="ranks", log_dir=str(log_dir))
    callback = RLWatchCallback(monitor=monitor)
    args = TrainingArguments(output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True)
    callback.on_log(args, TrainerState(is_world_process_zero=False, global_step=1), None, logs={"loss": 1.0})
    callback.on_log(args, TrainerState(is_world_process_zero=True, global_step=2), None, logs={"loss": 2.0})
    reader = StoreReader(str(log_dir / "metrics.db"))
    try:
        assert list(reader.metrics("ranks")["step"]) == [2]
    finally:
        reader.close()


def test_disabled_callback_attaches_once_and_logging_after_the_run_starts_nothing(
    tmp_path: Path, log_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = TrainingArguments(output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True)
    monkeypatch.setenv("RLWATCH_DISABLE", "1")
    off = RLWatchCallback(log_dir=str(log_dir / "off"))
    off.on_train_begin(args, TrainerState(), None)
    first = off.monitor
    assert first is not None and not first.active
    for step in (1, 2):
        off.on_log(args, TrainerState(global_step=step), None, logs={"loss": 1.0})
    assert off.monitor is first
    monkeypatch.delenv("RLWATCH_DISABLE")
    on = RLWatchCallback(run_id="after", log_dir=str(log_dir))
    on.on_train_begin(args, TrainerState(), None)
    on.on_log(args, TrainerState(global_step=1), None, logs={"loss": 1.0})
    on.on_train_end(args, TrainerState(global_step=1), None)
    on.on_log(args, TrainerState(global_step=2), None, logs={"loss": 2.0})  # e.g. a user's trainer.log after train()
    assert on.monitor is None
    reader = StoreReader(str(log_dir / "metrics.db"))
    try:
        assert [r.run_id for r in reader.runs()] == ["after"]
        assert list(reader.metrics("after")["step"]) == [1]
    finally:
        reader.close()
    assert not (log_dir / "off").exists()


@pytest.mark.expect_internal_error
def test_hook_errors_are_swallowed(tmp_path: Path, swallowed: list[tuple[str, BaseException]]) -> None:
    callback = RLWatchCallback(monitor=object())  # type: ignore[arg-type]  # a monitor that is not one
    args = TrainingArguments(output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True)
    state = TrainerState(is_world_process_zero=True, global_step=1)
    callback.on_train_begin(args, state, None)
    callback.on_log(args, state, None, logs={"loss": 1.0})
    callback.on_train_end(args, state, None)
    assert {where for where, _ in swallowed} >= {"rlwatch_trl.on_log"}


def test_installed_transformers_is_a_supported_version() -> None:
    assert autopatch.check_version()


def test_plugin_hooks() -> None:
    assert plugin.rlwatch_detect_framework() == "trl"  # trl is imported in this process
    assert plugin.rlwatch_adapt_trainer(monitor=None, trainer=object()) is None  # type: ignore[arg-type]
    TrainingArguments(output_dir="out", report_to="none", use_cpu=True)  # initialises accelerate's state
    assert plugin.rlwatch_detect_rank() == (0, 1)


def test_trace_file_records_what_was_fed(tmp_path: Path, log_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv("RLWATCH_TRL_TRACE", str(trace))
    callback = RLWatchCallback(monitor=rlwatch.attach(run_id="traced", log_dir=str(log_dir)))
    args = TrainingArguments(output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True)
    callback.on_log(args, TrainerState(global_step=1), None, logs={"loss": 1.0, "kl": 0.1, "eval_loss": 3.0})
    callback.on_log(args, TrainerState(global_step=2), None, logs={"grad_norm": float("nan")})
    rows = [json.loads(line) for line in trace.read_text().splitlines()]
    assert rows[0] == {"step": 1, "loss": 1.0, "kl_divergence": 0.1}
    assert rows[1]["step"] == 2 and math.isnan(rows[1]["grad_norm"])
