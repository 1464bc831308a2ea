"""How a run ends when veRL's real trainers' ``fit`` ends.

``fit`` builds ``Tracking`` itself, from the trainer's config. These tests
call veRL's real ``RayPPOTrainer.fit`` (legacy) and ``PPOTrainer.fit`` (v1) on
trainers whose GPU-side parts (worker groups, checkpoint manager, validation)
are replaced by the few attributes ``fit`` touches before the test's failure
point; no worker is started.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from ray.exceptions import ActorDiedError
from verl_helpers import compose, read_run


def _legacy_trainer(config: Any) -> Any:
    from verl.trainer.ppo.ray_trainer import RayPPOTrainer

    trainer = object.__new__(RayPPOTrainer)  # no worker groups: __init__ would start them
    trainer.config = config
    trainer._dump_executor = SimpleNamespace(_shutdown=False)
    trainer._shutdown_dump_executor = lambda: None
    trainer.checkpoint_manager = SimpleNamespace(update_weights=lambda step: None)
    trainer.train_dataloader = [{}]
    return trainer


def _v1_trainer(config: Any) -> Any:
    from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync

    trainer = object.__new__(PPOTrainerSync)
    trainer.config = config
    trainer._shutdown_dump_executor = lambda: None
    return trainer


def _worker_died() -> Any:
    raise ActorDiedError()  # what ray.get raises in the driver when a worker process dies


def test_legacy_fit_raising_a_ray_worker_failure_ends_crashed() -> None:
    trainer = _legacy_trainer(compose("trainer.logger=['rlwatch']", "trainer.resume_mode=disable"))
    trainer._load_checkpoint = _worker_died  # the first thing fit asks of the workers
    with pytest.raises(ActorDiedError):
        trainer.fit()
    assert read_run().status == "crashed"


def test_legacy_fit_returning_ends_finished() -> None:
    # The legacy trainer never calls Tracking.finish: the run ends when fit's local Tracking goes away.
    trainer = _legacy_trainer(compose("trainer.logger=['rlwatch']", "trainer.resume_mode=disable",
                                      "trainer.val_before_train=True", "trainer.val_only=True"))
    trainer._validate = lambda: {"val-core/gsm8k/acc/mean@1": 0.25}
    trainer.fit()
    run = read_run()
    assert (run.status, run.n_steps) == ("finished", 0)  # validation results are not training steps


def test_v1_fit_raising_ends_crashed_before_task_runner_finish() -> None:
    trainer = _v1_trainer(compose("trainer.logger=['rlwatch']", "trainer.val_before_train=True"))
    trainer._validate = _worker_died
    with pytest.raises(ActorDiedError):
        trainer.fit(agent_loop_manager=None)
    assert read_run().status == "crashed"
    trainer.logger.finish(exit_code=1)  # what main_ppo's TaskRunnerV1 then does: no change
    assert read_run().status == "crashed"


def test_keyboard_interrupt_in_fit_is_not_finished() -> None:
    trainer = _v1_trainer(compose("trainer.logger=['rlwatch']", "trainer.val_before_train=True"))

    def interrupted() -> Any:
        raise KeyboardInterrupt

    trainer._validate = interrupted
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(agent_loop_manager=None)
    run = read_run()
    assert (run.status, run.end_reason) == ("interrupted", "KeyboardInterrupt")


def test_fit_is_wrapped_once() -> None:
    from rlwatch_verl.autopatch import patch_fit
    from verl.trainer.ppo.ray_trainer import RayPPOTrainer
    from verl.trainer.ppo.v1.trainer_base import PPOTrainer

    for cls in (RayPPOTrainer, PPOTrainer):
        before = cls.__dict__["fit"]
        assert patch_fit(cls) and cls.__dict__["fit"] is before
        assert before.__wrapped__.__qualname__ == f"{cls.__name__}.fit"


def test_the_start_up_hook_waits_for_exactly_the_modules_that_are_patched() -> None:
    from rlwatch_verl import _bootstrap, autopatch

    assert autopatch.PATCHED_MODULES == _bootstrap.TARGETS
