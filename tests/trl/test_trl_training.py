"""Real TRL training runs (tiny GPT-2 on the CPU), watched through the .pth hook.

Each script is a plain TRL script with no rlwatch in it, run in a subprocess
of the interpreter where rlwatch-trl was installed from its wheel.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from trl_helpers import ScriptRun, run_script, save_label

pytestmark = pytest.mark.slow

CANONICAL_FROM_GRPO = {
    "entropy",
    "kl_divergence",
    "reward_mean",
    "reward_std",
    "frac_reward_zero_std",
    "completion_length",
    "completion_clipped_ratio",
    "clip_fraction",
    "loss",
    "grad_norm",
    "learning_rate",
    "advantage_std",
}
JUMP_AT = 23  # the collapse run raises the learning rate from this step on
NAN_AT = 3


def _only_run(run: ScriptRun) -> tuple[Any, dict[str, np.ndarray], list[Any], list[str]]:
    """The single run of a script's store: info, metrics, alerts, metric names."""
    reader = run.reader()
    try:
        runs = reader.runs()
        assert len(runs) == 1, [r.run_id for r in runs]
        info = runs[0]
        return info, reader.metrics(info.run_id), reader.alerts(info.run_id), reader.metric_names(info.run_id)
    finally:
        reader.close()


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> ScriptRun:
    run = run_script(
        "grpo_run.py", tmp_path_factory.mktemp("healthy"), trace_case="grpo_healthy",
        TINY_STEPS="24", TINY_LR="1e-5", TINY_SCHEDULER="constant",
    )
    save_label("grpo_healthy", None, None, "tests/trl: GRPO, tiny GPT-2, lr 1e-5, 24 steps")
    return run


@pytest.fixture(scope="module")
def collapse(tmp_path_factory: pytest.TempPathFactory) -> ScriptRun:
    run = run_script(
        "grpo_run.py", tmp_path_factory.mktemp("collapse"), trace_case="grpo_huge_lr",
        TINY_STEPS="40", TINY_LR="1e-5", TINY_SCHEDULER="constant", TINY_MAX_GRAD_NORM="0",
        TINY_LR_JUMP_AT=str(JUMP_AT), TINY_LR_JUMP="5e-2",
    )
    save_label(
        "grpo_huge_lr", "entropy_collapse", JUMP_AT,
        f"tests/trl: GRPO, lr 1e-5 then 5e-2 from step {JUMP_AT}, no clipping: entropy collapses, "
        "KL jumps, groups turn degenerate",
    )
    return run


def test_healthy_run_is_stored_without_critical(healthy: ScriptRun) -> None:
    assert healthy.returncode == 0, healthy.explain()
    assert healthy.callbacks().count("RLWatchCallback") == 1
    info, _, alerts, names = _only_run(healthy)
    assert info.status == "finished"
    assert info.framework == "trl"
    assert info.n_steps == 24 and info.last_step == 24
    assert set(names) >= CANONICAL_FROM_GRPO, sorted(names)
    # Everything else TRL logs is kept under its own name ...
    assert {"rewards/reward_count_a/mean", "completions/max_length", "clip_ratio/high_max"} <= set(names)
    # ... and the evaluation/summary keys are not.
    assert not any(n.startswith("train_") for n in names), names
    assert info.alert_counts.get("critical", 0) == 0, [(a.detector, a.step, a.message) for a in alerts]
    assert not [a for a in alerts if a.severity == "critical"]


def test_stored_values_are_what_trl_logged(healthy: ScriptRun) -> None:
    _, metrics, _, _ = _only_run(healthy)
    logged = healthy.trl_logs()
    assert len(logged) == 24
    pairs = {"entropy": "entropy", "kl": "kl_divergence", "reward": "reward_mean", "loss": "loss",
             "grad_norm": "grad_norm", "completions/mean_length": "completion_length",
             "frac_reward_zero_std": "frac_reward_zero_std"}
    for i, row in enumerate(logged):
        assert metrics["step"][i] == i + 1
        for trl_key, ours in pairs.items():
            # PrinterCallback rounds to 4 significant digits
            assert metrics[ours][i] == pytest.approx(row[trl_key], rel=2e-3, abs=1e-6), (trl_key, i)


def test_advantages_are_read_from_the_trainer(healthy: ScriptRun) -> None:
    _, metrics, _, _ = _only_run(healthy)
    # advantage_std is not logged by TRL: it comes from the per-sample
    # advantages the callback reads from the trainer. GRPO scales each group
    # to unit std (std(x, ddof=1) + 1e-4), so the population std of 8 values
    # from groups of 4 sits near sqrt(3/4).
    adv = metrics["advantage_std"]
    assert np.isfinite(adv).all()
    assert 0.5 < float(np.median(adv)) < 1.0


def test_huge_learning_rate_raises_entropy_collapse_and_degenerate_groups(collapse: ScriptRun) -> None:
    assert collapse.returncode == 0, collapse.explain()
    info, metrics, alerts, _ = _only_run(collapse)
    assert info.status == "finished"
    entropy = metrics["entropy"]
    assert entropy[-1] < 0.25 * entropy[0], entropy
    assert metrics["frac_reward_zero_std"][-1] >= 0.95
    critical = {(a.detector, a.step) for a in alerts if a.severity == "critical"}
    found = {d for d, _ in critical}
    assert {"entropy_collapse", "degenerate_groups"} <= found, sorted(critical)
    # Nothing critical while the learning rate was still sane.
    assert all(step >= JUMP_AT for _, step in critical), sorted(critical)


def test_half_truncated_completions_are_no_critical(tmp_path: Path) -> None:
    """A limit that cuts about half the completions is how this run is set up, not an instability."""
    run = run_script(
        "grpo_run.py", tmp_path / "truncating", TINY_STEPS="24", TINY_LR="1e-5", TINY_SCHEDULER="constant",
        TINY_MAX_COMPLETION="6",
    )
    assert run.returncode == 0, run.explain()
    _, metrics, alerts, _ = _only_run(run)
    clipped = metrics["completion_clipped_ratio"]
    assert 0.35 <= float(np.mean(clipped)) <= 0.65, clipped  # the set-up this test is about
    assert not [a for a in alerts if a.severity == "critical"], [(a.detector, a.step, a.message) for a in alerts]


def test_learning_rate_far_too_high_from_the_start_is_critical_within_ten_steps(tmp_path: Path) -> None:
    """lr 0.1 from step 1, no clipping: KL 0 -> 45 and entropy 2.2 -> 0.04 nats within six steps."""
    run = run_script(
        "grpo_run.py", tmp_path / "hot", TINY_STEPS="12", TINY_LR="0.1", TINY_SCHEDULER="constant",
        TINY_MAX_GRAD_NORM="0",
    )
    assert run.returncode == 0, run.explain()
    _, metrics, alerts, _ = _only_run(run)
    assert float(np.nanmin(metrics["entropy"][:10])) < 0.15 * float(metrics["entropy"][0])
    assert float(np.nanmax(metrics["kl_divergence"][:10])) > 1.0
    first_critical = {}
    for a in sorted(alerts, key=lambda a: a.step):
        if a.severity == "critical":
            first_critical.setdefault(a.detector, a.step)
    assert first_critical.get("entropy_collapse", 99) <= 10, first_critical
    assert first_critical.get("kl_explosion", 99) <= 10, first_critical


@pytest.mark.parametrize(
    ("yaml_text", "reason"),
    [
        ("storage:\n  flush_interval_seconds: [oops\n", "rlwatch.yaml"),  # not YAML at all
        ("entropy_collapse:\n  warning_ratio: 0.1\n  critical_ratio: 0.5\n", "critical_ratio"),  # impossible
    ],
)
def test_malformed_yaml_on_the_zero_code_path_says_monitoring_is_off(tmp_path: Path, yaml_text: str,
                                                                    reason: str) -> None:
    """Nobody asked for rlwatch in code: training runs, and one clear line says it is unmonitored, and why."""
    work = tmp_path / "badyaml"
    work.mkdir()
    (work / "rlwatch.yaml").write_text(yaml_text)
    run = run_script("grpo_run.py", work, TINY_STEPS="2")
    assert run.returncode == 0, run.explain()
    lines = [line for line in run.stderr.splitlines() if "monitoring is OFF" in line]
    assert len(lines) == 1, run.stderr[-3000:]
    assert reason in lines[0]
    assert "internal error" not in run.stderr and "Traceback" not in run.stderr, run.stderr[-3000:]
    # said before training started: ahead of the trainer's first log line on stdout/stderr
    first_log = min((i for i, line in enumerate(run.stderr.splitlines()) if "'loss'" in line), default=None)
    if first_log is not None:
        assert run.stderr.splitlines().index(lines[0]) < first_log
    assert not list(work.rglob("metrics.db"))


def test_nan_loss_alert_is_stored_before_the_crash(tmp_path: Path) -> None:
    run = run_script("grpo_run.py", tmp_path / "nan", trace_case="grpo_nan",
                     TINY_STEPS="8", TINY_NAN_AT=str(NAN_AT))
    save_label("grpo_nan", "loss_nan", NAN_AT,
               f"tests/trl: GRPO whose training forward turns NaN at step {NAN_AT}; the process then "
               "crashes in generation")
    assert run.returncode != 0, run.explain()
    assert "probability tensor contains" in run.stderr, run.explain()
    info, metrics, alerts, _ = _only_run(run)
    assert info.status == "crashed"
    assert info.last_step == NAN_AT
    # transformers hides the NaN loss (logging_nan_inf_filter); grad_norm shows it
    assert math.isnan(metrics["grad_norm"][-1])
    nan_alerts = [a for a in alerts if a.detector == "loss_nan"]
    assert nan_alerts and nan_alerts[0].severity == "critical" and nan_alerts[0].step == NAN_AT


def test_nan_alert_survives_a_hard_exit(tmp_path: Path) -> None:
    # The same crash, but the process dies without running atexit or the
    # excepthook (like an OOM kill): only what on_log flushed is on disk.
    run = run_script("hard_exit.py", tmp_path / "nan-hard", TINY_STEPS="8", TINY_NAN_AT=str(NAN_AT))
    assert run.returncode == 3, run.explain()
    info, _, alerts, _ = _only_run(run)
    assert info.status == "running"  # nobody could mark it
    assert info.last_step == NAN_AT
    assert [(a.detector, a.severity, a.step) for a in alerts if a.detector == "loss_nan"][:1] == [
        ("loss_nan", "critical", NAN_AT)
    ]


def test_disabled_records_nothing(tmp_path: Path) -> None:
    run = run_script("grpo_run.py", tmp_path / "off", TINY_STEPS="2", RLWATCH_DISABLE="1")
    assert run.returncode == 0, run.explain()
    assert "RLWatchCallback" not in run.callbacks()
    assert not (run.cwd / "rlwatch_logs").exists()


def test_report_to_rlwatch_with_rlwatch_disabled_still_trains(tmp_path: Path) -> None:
    run = run_script("grpo_run.py", tmp_path / "off-report", TINY_STEPS="2", RLWATCH_DISABLE="1",
                     TINY_REPORT_TO="rlwatch")
    assert run.returncode == 0, run.explain()
    assert not (run.cwd / "rlwatch_logs").exists()


def test_user_callback_is_the_only_one(tmp_path: Path) -> None:
    run = run_script("grpo_run.py", tmp_path / "user-cb", TINY_STEPS="3", TINY_USER_CALLBACK="1")
    assert run.returncode == 0, run.explain()
    assert run.callbacks().count("RLWatchCallback") == 1
    info, metrics, _, _ = _only_run(run)
    assert info.n_steps == 3 and list(metrics["step"]) == [1, 2, 3]
    assert "is not after the previous step" not in run.stderr  # nothing logged twice


def test_report_to_rlwatch(tmp_path: Path) -> None:
    run = run_script("grpo_run.py", tmp_path / "report-to", TINY_STEPS="2", TINY_REPORT_TO="rlwatch")
    assert run.returncode == 0, run.explain()
    assert run.callbacks().count("RLWatchCallback") == 1
    info, _, _, names = _only_run(run)
    assert info.n_steps == 2 and "entropy" in names


def test_rloo_smoke(tmp_path: Path) -> None:
    run = run_script("grpo_run.py", tmp_path / "rloo", trace_case="rloo_smoke",
                     TINY_TRAINER="rloo", TINY_STEPS="4")
    save_label("rloo_smoke", None, None, "tests/trl: RLOO, tiny GPT-2, lr 1e-5, 4 steps")
    assert run.returncode == 0, run.explain()
    assert run.callbacks().count("RLWatchCallback") == 1
    info, metrics, _, names = _only_run(run)
    assert info.status == "finished" and info.n_steps == 4
    assert {"entropy", "kl_divergence", "reward_mean", "advantage_std", "loss"} <= set(names)
    assert np.isfinite(metrics["kl_divergence"]).all()


def test_dpo_smoke(tmp_path: Path) -> None:
    run = run_script("dpo_run.py", tmp_path / "dpo", trace_case="dpo_smoke", TINY_STEPS="4")
    save_label("dpo_smoke", None, None, "tests/trl: DPO, tiny GPT-2, lr 1e-4, 4 steps")
    assert run.returncode == 0, run.explain()
    assert run.callbacks().count("RLWatchCallback") == 1
    info, _, alerts, names = _only_run(run)
    assert info.status == "finished" and info.n_steps == 4
    assert {"loss", "grad_norm", "rewards/margins", "rewards/accuracies", "logps/chosen"} <= set(names)
    # DPO has no sampling policy: the entropy it logs is the model's on the preference data
    assert "entropy" not in names and "supervised_entropy" in names
    assert not [a for a in alerts if a.severity == "critical"]


def test_sft_smoke_keeps_data_entropy_away_from_the_policy_detector(tmp_path: Path) -> None:
    run = run_script("sft_run.py", tmp_path / "sft", TINY_STEPS="4")
    assert run.returncode == 0, run.explain()
    assert run.callbacks().count("RLWatchCallback") == 1
    info, _, _, names = _only_run(run)
    assert info.status == "finished" and info.n_steps == 4
    assert {"loss", "grad_norm", "supervised_entropy", "mean_token_accuracy"} <= set(names)
    assert "entropy" not in names
