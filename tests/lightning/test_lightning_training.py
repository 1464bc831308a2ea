"""RLWatchCallback on real Lightning training of a tiny REINFORCE policy."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import rlwatch
import torch
from lightning_bandit import BanditPolicy, make_trainer
from rlwatch.storage import StoreReader
from rlwatch_lightning import RLWatchCallback


def _only_run(db: Path) -> tuple[StoreReader, str]:
    reader = StoreReader(str(db))
    runs = reader.runs()
    assert len(runs) == 1, [r.run_id for r in runs]
    return reader, runs[0].run_id


def test_healthy_run_is_stored_per_optimizer_step_without_critical_alerts(log_dir: Path) -> None:
    model = BanditPolicy(n_batches=16)
    callback = RLWatchCallback(run_id="healthy", storage={"log_dir": str(log_dir)})
    make_trainer(callbacks=[callback], max_epochs=3).fit(model)

    reader, run_id = _only_run(log_dir / "metrics.db")
    run = reader.run(run_id)
    assert run is not None
    assert run_id == "healthy" and run.status == "finished" and run.framework == "lightning"
    metrics = reader.metrics(run_id)
    assert metrics["step"].tolist() == list(range(1, 49))
    for name in ("entropy", "kl_divergence", "reward_mean", "reward_std", "advantage_std",
                 "loss", "grad_norm", "learning_rate"):
        assert np.isfinite(metrics[name]).all(), name
    # What was stored is what training computed, step by step.
    steps = metrics["step"].astype(int)
    np.testing.assert_allclose(metrics["loss"], [model.ref_losses[s] for s in steps], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(metrics["grad_norm"], [model.ref_grad_norms[s] for s in steps], rtol=1e-5)
    np.testing.assert_allclose(metrics["learning_rate"], 0.05)
    assert metrics["kl_divergence"][0] == pytest.approx(0.0, abs=1e-7)  # policy == reference at step 1
    assert metrics["kl_divergence"][-1] > 0.0
    critical = [a for a in reader.alerts(run_id) if a.severity == "critical"]
    assert critical == [], [(a.detector, a.step, a.message) for a in critical]
    reader.close()


def test_nan_loss_at_a_known_step_raises_loss_nan_critical_at_that_step(log_dir: Path) -> None:
    model = BanditPolicy(n_batches=16, nan_at_step=7, skip_nan_updates=True)
    callback = RLWatchCallback(run_id="nan", storage={"log_dir": str(log_dir)})
    make_trainer(callbacks=[callback], max_epochs=1).fit(model)

    reader, run_id = _only_run(log_dir / "metrics.db")
    losses = reader.metrics(run_id, names=["loss"])
    assert losses["step"].tolist() == list(range(1, 17))
    assert math.isnan(losses["loss"][6]) and losses["step"][6] == 7
    assert np.isfinite(np.delete(losses["loss"], 6)).all()
    nan_alerts = [a for a in reader.alerts(run_id) if a.detector == "loss_nan"]
    assert nan_alerts, "no loss_nan alert"
    first = min(nan_alerts, key=lambda a: a.step if a.step is not None else -1)
    assert first.step == 7 and first.severity == "critical"
    reader.close()


def test_training_killed_by_nan_weights_is_recorded_as_crashed(log_dir: Path) -> None:
    model = BanditPolicy(n_batches=16, nan_at_step=3)
    callback = RLWatchCallback(run_id="crash", storage={"log_dir": str(log_dir)})
    with pytest.raises(ValueError):  # torch.distributions rejects the NaN logits of step 4
        make_trainer(callbacks=[callback], max_epochs=1).fit(model)

    reader, run_id = _only_run(log_dir / "metrics.db")
    run = reader.run(run_id)
    assert run is not None and run.status == "crashed" and run.last_step == 3
    assert [(a.detector, a.step, a.severity) for a in reader.alerts(run_id)][:1] == [("loss_nan", 3, "critical")]
    reader.close()


def test_gradient_norm_is_taken_before_clipping(log_dir: Path) -> None:
    model = BanditPolicy(n_batches=8)
    callback = RLWatchCallback(run_id="clip", storage={"log_dir": str(log_dir)})
    make_trainer(callbacks=[callback], max_epochs=1, gradient_clip_val=1e-4).fit(model)

    reader, run_id = _only_run(log_dir / "metrics.db")
    stored = reader.metrics(run_id, names=["grad_norm"])["grad_norm"]
    assert (stored > 1e-3).all()  # clipped norms would be <= 1e-4
    np.testing.assert_allclose(stored, [model.ref_grad_norms[s] for s in range(1, 9)], rtol=1e-5)
    reader.close()


# Drop the logged reward keys so reward_mean/std come from the rewards array.
_REWARDS_FROM_ARRAY = {"reward": None, "reward_step": None, "reward_std": None}


def test_the_learning_rate_is_the_one_each_step_used(log_dir: Path) -> None:
    model = BanditPolicy(n_batches=5, lr=0.08, lr_gamma=0.5)
    callback = RLWatchCallback(run_id="lr", storage={"log_dir": str(log_dir)})
    make_trainer(callbacks=[callback], max_epochs=1).fit(model)

    reader, run_id = _only_run(log_dir / "metrics.db")
    stored = reader.metrics(run_id, names=["learning_rate"])["learning_rate"]
    np.testing.assert_allclose(stored, [0.08, 0.04, 0.02, 0.01, 0.005])  # not the scheduler's next value
    reader.close()


def test_gradient_accumulation_logs_once_per_optimizer_step(log_dir: Path) -> None:
    model = BanditPolicy(n_batches=8, rewards_mode="alternating")
    callback = RLWatchCallback(run_id="accum", name_map=_REWARDS_FROM_ARRAY, storage={"log_dir": str(log_dir)})
    make_trainer(callbacks=[callback], max_epochs=1, accumulate_grad_batches=2).fit(model)

    reader, run_id = _only_run(log_dir / "metrics.db")
    metrics = reader.metrics(run_id)
    assert metrics["step"].tolist() == [1, 2, 3, 4]
    # The loss is the one training_step returned (Lightning hands callbacks
    # loss / accumulate_grad_batches), from the batch that stepped.
    np.testing.assert_allclose(metrics["loss"], [model.ref_losses[s] for s in (1, 2, 3, 4)], rtol=1e-6, atol=1e-9)
    # Both micro-batches' rewards arrive together: batch 2k is all 0 and
    # batch 2k+1 all 1, so each step has mean 0.5 and std 0.5 (the last
    # micro-batch alone would give 1 and 0).
    np.testing.assert_allclose(metrics["reward_mean"], 0.5)
    np.testing.assert_allclose(metrics["reward_std"], 0.5)
    reader.close()


def test_sparse_keys_are_recorded_only_on_steps_that_logged_them(log_dir: Path) -> None:
    model = BanditPolicy(n_batches=9, sparse_every=3)
    callback = RLWatchCallback(
        run_id="sparse",
        include_unmapped=True,
        name_map={"advantage_std": None, "train/kl": "approx_kl_custom"},
        storage={"log_dir": str(log_dir)},
    )
    make_trainer(callbacks=[callback], max_epochs=1).fit(model)

    reader, run_id = _only_run(log_dir / "metrics.db")
    metrics = reader.metrics(run_id)
    sparse = metrics["sparse_metric"]
    logged = ~np.isnan(sparse)
    assert metrics["step"][logged].tolist() == [1, 4, 7]  # batches 0, 3, 6
    assert sparse[logged].tolist() == [0.0, 3.0, 6.0]
    names = set(reader.metric_names(run_id))
    assert "approx_kl_custom" in names and "kl_divergence" not in names  # user map wins
    assert "advantage_std" not in names  # mapped to None: ignored
    assert "reward_epoch" not in names  # epoch aggregates are never read per step
    reader.close()


def test_rewards_attribute_feeds_the_rewards_array(log_dir: Path) -> None:
    model = BanditPolicy(n_batches=4, rewards_mode="alternating")
    callback = RLWatchCallback(run_id="rewards", name_map=_REWARDS_FROM_ARRAY, storage={"log_dir": str(log_dir)})
    make_trainer(callbacks=[callback], max_epochs=1).fit(model)

    reader, run_id = _only_run(log_dir / "metrics.db")
    metrics = reader.metrics(run_id)
    assert metrics["reward_mean"].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert metrics["reward_std"].tolist() == [0.0, 0.0, 0.0, 0.0]
    reader.close()


def test_a_rewards_attribute_left_unchanged_is_not_fed_twice(log_dir: Path) -> None:
    model = BanditPolicy(n_batches=4, rewards_mode="first_batch_only")
    callback = RLWatchCallback(run_id="stale", name_map=_REWARDS_FROM_ARRAY, storage={"log_dir": str(log_dir)})
    make_trainer(callbacks=[callback], max_epochs=1).fit(model)

    reader, run_id = _only_run(log_dir / "metrics.db")
    reward_mean = reader.metrics(run_id)["reward_mean"]
    assert np.isfinite(reward_mean[0]) and np.isnan(reward_mean[1:]).all()
    reader.close()


def test_bad_configuration_stops_fit_before_the_first_step(log_dir: Path) -> None:
    callback = RLWatchCallback(storage={"log_dir": str(log_dir)}, loss_nan={"no_such_option": 1})
    trainer = make_trainer(callbacks=[callback])
    with pytest.raises(rlwatch.ConfigError, match="no_such_option"):
        trainer.fit(BanditPolicy(n_batches=3))
    assert trainer.global_step == 0


@pytest.mark.expect_internal_error
def test_an_adapter_error_is_logged_and_training_goes_on(
    log_dir: Path, swallowed: list[tuple[str, BaseException]]
) -> None:
    class Broken(BanditPolicy):
        @property
        def rlwatch_rewards(self) -> torch.Tensor:
            raise RuntimeError("user property exploded")

        @rlwatch_rewards.setter
        def rlwatch_rewards(self, value: object) -> None:
            pass

    model = Broken(n_batches=6)
    trainer = make_trainer(
        callbacks=[RLWatchCallback(run_id="broken", storage={"log_dir": str(log_dir)})], max_epochs=1
    )
    trainer.fit(model)
    assert trainer.global_step == 6  # training finished every step
    assert swallowed and all(where == "rlwatch_lightning.on_train_batch_end" for where, _ in swallowed)


def test_resuming_from_a_checkpoint_continues_the_step_numbers(tmp_path: Path, log_dir: Path) -> None:
    options = {"enable_checkpointing": True, "default_root_dir": str(tmp_path / "ckpt")}
    first = make_trainer(callbacks=[RLWatchCallback(run_id="resume", log_dir=str(log_dir))], max_epochs=1, **options)
    first.fit(BanditPolicy(n_batches=4))
    [checkpoint] = (tmp_path / "ckpt").rglob("*.ckpt")

    second = make_trainer(callbacks=[RLWatchCallback(run_id="resume", log_dir=str(log_dir))], max_epochs=2, **options)
    second.fit(BanditPolicy(n_batches=4), ckpt_path=str(checkpoint))

    reader, run_id = _only_run(log_dir / "metrics.db")
    assert reader.metrics(run_id)["step"].tolist() == list(range(1, 9))
    reader.close()


def test_a_callback_pickles_without_its_live_monitor(log_dir: Path) -> None:
    monitor = rlwatch.attach(run_id="pickled", log_dir=str(log_dir))
    callback = RLWatchCallback(monitor=monitor, name_map={"policy_kl": "kl_divergence"})
    clone = pickle.loads(pickle.dumps(callback))  # what ddp_spawn does to callbacks
    assert clone.monitor is None and clone._user_monitor is None
    assert clone._name_map["policy_kl"] == "kl_divergence"
    monitor.stop()
