"""veRL's real ``Tracking`` with the ``rlwatch`` backend, fed by veRL's own metric functions.

Each test builds ``Tracking`` from a Hydra-composed veRL config exactly as
veRL's trainers do, then logs the dicts `verl_stream.GRPOStream` computes with
veRL's code from synthetic batches, step by step, as the trainer's loop would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rlwatch
from rlwatch.integration import ConfigError
from rlwatch_verl import samples
from rlwatch_verl.backend import RLWatchBackend
from verl_helpers import compose, read_run, read_runs, tracking_for
from verl_stream import GRPOStream, Schedule, all_groups_fail, entropy_collapse, healthy, kl_explosion

STEPS = 80
ONSET = 50


def run_stream(actor_config: Any, schedule: Schedule, *overrides: str, steps: int = STEPS, seed: int = 1,
               exit_code: int = 0, with_uid: bool = True) -> GRPOStream:
    """`steps` steps of a GRPO stream through a Tracking configured with `overrides`, then finish."""
    tracking = tracking_for(compose("trainer.logger=['console','rlwatch']", *overrides))
    stream = GRPOStream(actor_config, schedule, seed=seed, with_uid=with_uid)
    for step in range(1, steps + 1):
        tracking.log(data=stream.step(step), step=step)
    tracking.finish(exit_code=exit_code)
    return stream


@pytest.mark.parametrize("seed", [1, 2])
def test_a_healthy_run_raises_no_alert(actor_config: Any, seed: int) -> None:
    run_stream(actor_config, healthy(), "+rlwatch.run_id=healthy", seed=seed)
    run = read_run()
    assert (run.run_id, run.status, run.framework, run.n_steps) == ("healthy", "finished", "verl", STEPS)
    assert run.alerts == []


def test_entropy_collapse_is_critical_within_ten_steps(actor_config: Any) -> None:
    run_stream(actor_config, entropy_collapse(ONSET))
    run = read_run()
    first = run.first("entropy_collapse")
    assert first is not None and ONSET <= first <= ONSET + 10, run.alerts
    assert not [a for a in run.alerts if a[2] is not None and a[2] < ONSET], run.alerts
    # A policy that collapses also leaves the reference: kl_explosion may join, nothing else.
    assert run.criticals() <= {"entropy_collapse", "kl_explosion"}


def test_kl_explosion_is_critical_and_entropy_stays_quiet(actor_config: Any) -> None:
    run_stream(actor_config, kl_explosion(ONSET))
    run = read_run()
    first = run.first("kl_explosion")
    assert first is not None and ONSET <= first <= ONSET + 10, run.alerts
    assert run.criticals() == {"kl_explosion"}
    assert not [a for a in run.alerts if a[2] is not None and a[2] < ONSET], run.alerts


@pytest.mark.parametrize("with_uid", [True, False], ids=["legacy-trainer-batch", "v1-trainer-batch"])
def test_per_response_scores_arrive_as_groups(actor_config: Any, with_uid: bool) -> None:
    # veRL logs no share of zero-variance groups: only a groups x n rewards
    # array lets degenerate_groups see that every group failed.
    run_stream(actor_config, all_groups_fail(40), with_uid=with_uid)
    run = read_run()
    first = run.first("degenerate_groups")
    assert first is not None and 40 <= first <= 50, run.alerts


def test_rewards_and_advantages_are_the_batch_s_own(actor_config: Any) -> None:
    stream = run_stream(actor_config, healthy(), steps=25)
    batch = stream.last_batch
    assert batch is not None
    scores = batch.batch["token_level_scores"].sum(-1).double().numpy()
    mask = batch.batch["response_mask"].double().numpy()
    per_response_adv = (batch.batch["advantages"].double().numpy() * mask).sum(-1) / mask.sum(-1)
    stored = read_run().metrics
    last = int(np.flatnonzero(stored["step"] == 25)[0])
    assert stored["reward_std"][last] == pytest.approx(scores.std())  # derived by rlwatch from `rewards`
    assert stored["reward_mean"][last] == pytest.approx(scores.mean())
    assert stored["advantage_std"][last] == pytest.approx(per_response_adv.std())


def test_the_captured_batch_is_grouped_by_prompt(actor_config: Any) -> None:
    tracking = tracking_for(compose("trainer.logger=['rlwatch']"))
    for with_uid in (True, False):
        stream = GRPOStream(actor_config, healthy(), seed=5, with_uid=with_uid)
        data = stream.step(1)
        arrays = samples.take_for(data)
        batch = stream.last_batch
        assert batch is not None
        expected = batch.batch["token_level_scores"].sum(-1).double().numpy().reshape(8, 4)
        np.testing.assert_allclose(arrays["rewards"], expected)
        assert arrays["advantages"].shape == (32,)
        assert samples.take_for(data) == {}  # consumed: never recorded twice
    tracking.finish()


def test_arrays_of_another_batch_are_never_attached(actor_config: Any) -> None:
    tracking = tracking_for(compose("trainer.logger=['rlwatch']"))
    stream = GRPOStream(actor_config, healthy(), seed=6)
    first = stream.step(1)
    stream.step(2)  # a later summary replaces the capture
    assert samples.take_for(first) == {}
    tracking.finish()


@pytest.mark.parametrize(("exit_code", "status", "reason"), [(0, "finished", None), (1, "failed", "exit code 1")])
def test_finish_exit_code_sets_the_status(actor_config: Any, exit_code: int, status: str, reason: str | None) -> None:
    # veRL's main_ppo ends its TaskRunner with tracking.finish(exit_code=0 if succeeded else 1).
    run_stream(actor_config, healthy(), steps=5, exit_code=exit_code)
    run = read_run()
    assert (run.status, run.end_reason) == (status, reason)


def test_a_tracking_collected_without_finish_ends_finished(actor_config: Any) -> None:
    # The legacy trainer never calls finish: its Tracking is a local of fit, finished by __del__.
    tracking = tracking_for(compose("trainer.logger=['rlwatch']"))
    tracking.log(data=GRPOStream(actor_config, healthy()).step(1), step=1)
    del tracking
    assert read_run().status == "finished"


def test_not_named_means_not_watched(actor_config: Any) -> None:
    tracking = tracking_for(compose("trainer.logger=['console']"))
    assert "rlwatch" not in tracking.logger
    stream = GRPOStream(actor_config, healthy())
    data = stream.step(1)
    tracking.log(data=data, step=1)
    tracking.finish()
    assert samples.take_for(data) == {}  # nothing was even captured
    assert not Path("rlwatch_logs").exists()
    assert rlwatch.get_monitor() is None


def test_rlwatch_disable_keeps_the_name_valid_and_records_nothing(actor_config: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLWATCH_DISABLE", "1")
    run_stream(actor_config, kl_explosion(10), steps=30)
    assert read_runs() == []


def test_options_from_the_config_section(actor_config: Any, tmp_path: Path) -> None:
    log_dir = tmp_path / "shared" / "rlwatch_logs"
    run_stream(actor_config, healthy(), "+rlwatch.run_id=grpo-7b", f"+rlwatch.log_dir={log_dir}", steps=3)
    run = read_run(tmp_path / "shared")
    assert (run.run_id, run.n_steps) == ("grpo-7b", 3)


def test_a_bad_rlwatch_option_fails_when_tracking_is_built() -> None:
    with pytest.raises(ConfigError, match="no_such_option"):
        tracking_for(compose("trainer.logger=['console','rlwatch']", "+rlwatch.no_such_option=1"))


def test_the_user_s_own_monitor_is_borrowed_not_stopped(actor_config: Any) -> None:
    mine = rlwatch.attach(run_id="mine")
    run_stream(actor_config, healthy(), steps=4)
    assert mine.active  # finish flushed it; stopping it stays the user's call
    mine.stop()
    run = read_run()
    assert (run.run_id, run.n_steps, run.status) == ("mine", 4, "finished")


def test_summing_loss_aggregation_records_sequence_entropy(actor_config: Any) -> None:
    run_stream(actor_config, entropy_collapse(30), "actor_rollout_ref.actor.loss_agg_mode=seq-mean-token-sum",
               steps=45)
    run = read_run()
    assert "sequence_entropy" in run.metrics and "entropy" not in run.metrics
    assert "entropy_collapse" not in {a[0] for a in run.alerts}


def test_the_backend_is_veRL_s_logger_entry(grpo_config: Any) -> None:
    tracking = tracking_for(grpo_config)
    backend = tracking.logger["rlwatch"]
    assert isinstance(backend, RLWatchBackend) and backend.recording
    assert "rlwatch" in type(tracking).supported_backend
    tracking.finish()
    assert not backend.recording
    backend.log({"actor/entropy": 1.0}, step=99)  # after the end: ignored, never raises
    assert read_run().n_steps == 0


def test_attach_in_a_verl_process_detects_the_framework() -> None:
    # The plugin hook (entry point `verl`), for users who call rlwatch.attach() in a custom veRL script.
    import verl  # noqa: F401

    assert rlwatch.attach().framework == "verl"
