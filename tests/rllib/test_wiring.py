"""How the adapter is wired in: plugin hooks, attach(trainer=...), user callbacks, multi-agent,
the old API stack, the off switch and the never-raise guard, each on a short real run."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rlwatch
import rlwatch_rllib
from _ppo import Recorder, ppo_config, recorder_of
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.rllib.utils.metrics import EPISODE_MODULE_RETURN_MEAN
from rlwatch.storage import StoreReader
from rlwatch_rllib import RLWatchCallbacks, add_to_config
from rlwatch_rllib import plugin as rllib_plugin


def _train(config: Any, iterations: int) -> tuple[Any, list[dict[str, Any]]]:
    algo = config.build_algo()
    try:
        results = [algo.train() for _ in range(iterations)]
    finally:
        algo.stop()
        rlwatch_rllib.stop(algo)
    return algo, results


# -- no training needed ---------------------------------------------------------------------


def test_plugin_registration_does_not_import_ray() -> None:
    code = (
        "import sys; from rlwatch import plugins; plugins.get_manager();"
        "names = [r.name for r in plugins._records if r.status == 'loaded'];"
        "assert 'rllib' in names, names;"
        "assert plugins.hook().rlwatch_detect_framework() is None;"
        "assert 'ray' not in sys.modules, 'plugin imported ray'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_detect_framework_once_rllib_is_imported() -> None:
    assert rllib_plugin.rlwatch_detect_framework() == "rllib"  # this module imported ray.rllib


def test_installed_ray_is_in_the_supported_range() -> None:
    from rlwatch_rllib._compat import check_ray_version, installed_ray_version

    version = installed_ray_version()
    assert version is not None and version >= (2, 40)
    assert check_ray_version()


def test_add_to_config_keeps_user_callbacks_and_never_duplicates() -> None:
    config = ppo_config().callbacks(Recorder)
    add_to_config(config, run_id="a")
    add_to_config(config, run_id="b")  # replaces, does not add a second one
    classes: Any = config.callbacks_class
    assert isinstance(classes, list) and classes[0] is Recorder and len(classes) == 2
    assert issubclass(classes[1], RLWatchCallbacks)
    assert classes[1].rlwatch_options == {"run_id": "b"}
    alone = add_to_config(ppo_config())  # the default no-op RLlibCallback is not kept
    assert alone.callbacks_class is RLWatchCallbacks


def test_configure_rejects_bad_options_at_once() -> None:
    with pytest.raises(rlwatch.ConfigError, match="warmup"):
        RLWatchCallbacks.configure(entropy_collapse={"warmup": 3})


def test_configure_makes_paths_absolute_for_tune() -> None:
    cls = RLWatchCallbacks.configure(log_dir="rel/logs", storage={"db_name": "x.db", "log_dir": "s"})
    assert Path(cls.rlwatch_options["log_dir"]).is_absolute()
    assert Path(cls.rlwatch_options["storage"]["log_dir"]).is_absolute()
    assert RLWatchCallbacks.rlwatch_options == {}  # the base class is untouched


# -- short real runs -------------------------------------------------------------------------


@pytest.mark.usefixtures("ray_cluster")
def test_attach_with_config_as_trainer_and_user_callbacks(log_dir: Path) -> None:
    config = ppo_config().callbacks(Recorder)
    monitor = rlwatch.attach(run_id="attached", log_dir=str(log_dir), trainer=config)
    assert monitor.active and monitor.framework == "rllib"  # detected through the plugin
    classes: Any = config.callbacks_class
    assert classes[0] is Recorder and issubclass(classes[1], RLWatchCallbacks)

    algo, _ = _train(config, 2)
    monitor.flush()
    # The adapter used the user's monitor (not a second run) and left it open for them.
    assert monitor.active
    reader = StoreReader(str(log_dir / "metrics.db"))
    assert [r.run_id for r in reader.runs()] == ["attached"]
    assert list(reader.metrics("attached")["step"]) == [1, 2]
    # The user's callbacks ran too, first, and saw the returns the EnvRunner side collected.
    assert all(recorder_of(algo).returns)
    monitor.stop()


@pytest.mark.usefixtures("ray_cluster")
def test_attach_with_built_algorithm_records_driver_metrics(log_dir: Path) -> None:
    algo = ppo_config().build_algo()
    try:
        monitor = rlwatch.attach(run_id="built", log_dir=str(log_dir), trainer=algo)
        for _ in range(2):
            algo.train()
    finally:
        algo.stop()
    monitor.stop()
    metrics = StoreReader(str(log_dir / "metrics.db")).metrics("built")
    assert list(metrics["step"]) == [1, 2]
    assert np.isfinite(metrics["entropy"]).all() and np.isfinite(metrics["kl_divergence"]).all()


def _policy_for_agent(agent_id: Any, episode: Any = None, **kwargs: Any) -> str:
    return f"p{agent_id}"


@pytest.mark.usefixtures("ray_cluster")
def test_multi_agent_gets_one_run_per_module(log_dir: Path) -> None:
    from ray.rllib.env.multi_agent_env import make_multi_agent

    config = (
        ppo_config()
        .environment(make_multi_agent("CartPole-v1"), env_config={"num_agents": 2})
        .multi_agent(policies={"p0", "p1"}, policy_mapping_fn=_policy_for_agent)
        .callbacks(RLWatchCallbacks.configure(run_id="ma", log_dir=str(log_dir)))
    )
    # A global monitor of the user's own stays theirs: the adapter opens its runs beside it.
    users = rlwatch.attach(run_id="users-own", log_dir=str(log_dir))
    _, results = _train(config, 2)
    assert rlwatch.get_monitor() is users and users.active
    users.stop()
    reader = StoreReader(str(log_dir / "metrics.db"))
    assert sorted(r.run_id for r in reader.runs()) == ["ma", "ma.p0", "ma.p1", "users-own"]
    users_run = reader.run("users-own")
    assert users_run is not None and users_run.n_steps == 0
    for module in ("p0", "p1"):
        metrics = reader.metrics(f"ma.{module}")
        assert list(metrics["step"]) == [1, 2]
        learner = results[-1]["learners"][module]
        assert metrics["entropy"][-1] == pytest.approx(learner["entropy"])
        assert metrics["kl_divergence"][-1] == pytest.approx(learner["mean_kl_loss"])
        module_mean = results[-1]["env_runners"][EPISODE_MODULE_RETURN_MEAN][module]
        assert metrics["reward_mean"][-1] == pytest.approx(module_mean)
        assert np.isfinite(metrics["reward_std"][-1])  # from the module's own returns array
    env = reader.metrics("ma")
    assert env["reward_mean"][-1] == pytest.approx(results[-1]["env_runners"]["episode_return_mean"])
    assert "entropy" not in env  # learner metrics live in the module runs only


@pytest.mark.usefixtures("ray_cluster")
def test_old_api_stack_scalars_are_mapped(log_dir: Path) -> None:
    config = (
        ppo_config()
        .api_stack(enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False)
        .training(train_batch_size=256)
        .callbacks(RLWatchCallbacks.configure(run_id="old", log_dir=str(log_dir)))
    )
    _, results = _train(config, 2)
    metrics = StoreReader(str(log_dir / "metrics.db")).metrics("old")
    stats = results[-1]["info"]["learner"]["default_policy"]["learner_stats"]
    assert list(metrics["step"]) == [1, 2]
    assert metrics["entropy"][-1] == pytest.approx(stats["entropy"])
    assert metrics["kl_divergence"][-1] == pytest.approx(stats["kl"])
    assert metrics["loss"][-1] == pytest.approx(stats["total_loss"])
    assert metrics["grad_norm"][-1] == pytest.approx(stats["grad_gnorm"])
    assert metrics["reward_mean"][-1] == pytest.approx(results[-1]["env_runners"]["episode_reward_mean"])


@pytest.mark.usefixtures("ray_cluster")
def test_disabled_records_nothing(log_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLWATCH_DISABLE", "1")
    config = ppo_config().callbacks(RLWatchCallbacks.configure(run_id="off", log_dir=str(log_dir)))
    _, results = _train(config, 1)
    assert not (log_dir / "metrics.db").exists()
    assert "rlwatch" not in results[0]["env_runners"]  # plumbing still cleaned up
    assert results[0]["rlwatch"] == {"warnings": 0, "criticals": 0}  # the key is always there


class _BrokenMapping(Mapping[str, Any]):
    """What a buggy user callback might leave in the result: a mapping that raises."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("broken result entry")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("broken result entry")

    def __len__(self) -> int:
        return 1


class _Vandal(RLlibCallback):
    def on_train_result(self, *, result: dict[str, Any], **kwargs: Any) -> None:
        result["learners"] = _BrokenMapping()


@pytest.mark.expect_internal_error
@pytest.mark.usefixtures("ray_cluster")
def test_adapter_errors_never_reach_training(
    log_dir: Path, swallowed: list[tuple[str, BaseException]]
) -> None:
    config = ppo_config().callbacks(
        [_Vandal, RLWatchCallbacks.configure(run_id="guarded", log_dir=str(log_dir))]
    )
    _, results = _train(config, 2)  # would raise here without the guard
    assert len(results) == 2
    assert [where for where, _ in swallowed] == ["rlwatch_rllib.on_train_result"] * 2
