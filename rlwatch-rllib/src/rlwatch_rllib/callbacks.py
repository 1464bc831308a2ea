"""`RLWatchCallbacks`: the RLlib callbacks class that feeds the rlwatch monitor.

RLlib instantiates a callbacks class in the Algorithm (the driver) *and* in
every EnvRunner, with no arguments. So ``__init__`` only sets attributes, and
the two roles are split by hook:

* EnvRunner side, ``on_episode_end``: log the finished episode's return (all
  of its chunks) to the EnvRunner's MetricsLogger as an item series. RLlib
  merges those lists from every EnvRunner into the next ``train()`` result
  under ``env_runners/rlwatch/...``; nothing is opened, stored or sent here.
* Driver side, ``on_algorithm_init`` / ``on_train_result``: open the monitor
  (lazily, once) and call ``log_step`` once per ``train()`` iteration with the
  already aggregated result, mapped by `rlwatch_rllib.mapping`.

Every hook body runs under `rlwatch.integration.swallow`: an adapter error is logged
once and training goes on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ray.rllib.callbacks.callbacks import RLlibCallback
from rlwatch.integration import MonitorLease, lease_monitor, swallow

from rlwatch_rllib.mapping import (
    EPISODE_RETURNS,
    MODULE_EPISODE_RETURNS,
    REWARDS_GROUP,
    env_steps_lifetime,
    episode_metrics,
    metrics_from_result,
    result_keys,
    step_of,
)

if TYPE_CHECKING:
    from rlwatch.alerts import Alert
    from rlwatch.core import RLWatch

RETURNS_WINDOW = 10_000
"""Most episode returns an EnvRunner keeps between two reductions (bounds memory)."""

RESULT_KEY = "rlwatch"
"""Top-level key of the counts this adapter adds to each train() result."""

# Monitors bound through `attach(trainer=config)`, by token; process-local on
# purpose: the callbacks class travels to EnvRunners, a monitor must not.
_bound: dict[str, RLWatch] = {}


class RLWatchCallbacks(RLlibCallback):
    """Send every ``train()`` iteration's metrics to rlwatch.

    Example::

        from rlwatch_rllib import RLWatchCallbacks
        config = PPOConfig().environment("CartPole-v1").callbacks(RLWatchCallbacks)
        # with options for rlwatch.attach(...):
        config.callbacks(RLWatchCallbacks.configure(run_id="ppo-cartpole", log_dir="/abs/logs"))
        # next to your own callbacks (new API stack):
        config.callbacks([MyCallbacks, RLWatchCallbacks])

    The step is RLlib's ``training_iteration`` (1, 2, ...). A multi-agent
    algorithm with several modules gets one run per module id, named
    ``<run_id>.<module_id>``, next to the main run, which then holds the
    whole-environment episode metrics.
    """

    rlwatch_options: ClassVar[dict[str, Any]] = {}
    """Keyword arguments for `rlwatch.attach` (set through `configure`)."""
    rlwatch_monitor_token: ClassVar[str] = ""
    """Set by ``attach(trainer=config)``: use that process-local monitor."""

    def __init__(self) -> None:
        # Trivial on purpose: this also runs in every EnvRunner.
        super().__init__()
        self.monitor: RLWatch | None = None
        self.module_monitors: dict[str, RLWatch] = {}
        self._lease: MonitorLease | None = None

    @classmethod
    def configure(cls, **attach_options: Any) -> type[RLWatchCallbacks]:
        """A subclass whose driver opens its monitor with ``rlwatch.attach(**attach_options)``.

        Relative ``log_dir`` / ``storage.log_dir`` / ``config_path`` are made
        absolute here, in the process that builds the config, because Ray Tune
        runs the Algorithm with another working directory.

        Args:
            **attach_options: ``run_id``, ``config_path``, ``log_dir`` and any
                other override `rlwatch.attach` takes.

        Returns:
            A new callbacks class to pass to ``config.callbacks(...)``.

        Raises:
            rlwatch.ConfigError: an unknown key or impossible value, here and
                now (the monitor itself opens later, in the Algorithm process).
        """
        options = {**cls.rlwatch_options, **_absolute_paths(attach_options)}
        _validate(options)
        return type(cls.__name__, (cls,), {"rlwatch_options": options, "__module__": cls.__module__})

    # -- EnvRunner side -------------------------------------------------------

    def on_episode_end(
        self,
        *,
        episode: Any,
        prev_episode_chunks: list[Any] | None = None,
        env_runner: Any = None,
        metrics_logger: Any = None,
        **kwargs: Any,
    ) -> None:
        """Log the finished episode's return (summed over its chunks) as an item series."""
        with swallow("rlwatch_rllib.on_episode_end"):
            if metrics_logger is None:  # old API stack: no per-episode returns
                return
            if getattr(getattr(env_runner, "config", None), "in_evaluation", False):
                return  # evaluation episodes are not training signal
            chunks = [episode, *(prev_episode_chunks or [])]
            total = sum(float(chunk.get_return()) for chunk in chunks)
            _log_item(metrics_logger, (REWARDS_GROUP, EPISODE_RETURNS), total)
            if hasattr(episode, "agent_episodes"):  # MultiAgentEpisode
                per_module: dict[str, float] = {}
                for chunk in chunks:
                    for agent_episode in chunk.agent_episodes.values():
                        module_id = str(getattr(agent_episode, "module_id", None))
                        per_module[module_id] = per_module.get(module_id, 0.0) + float(agent_episode.get_return())
                for module_id, value in per_module.items():
                    _log_item(metrics_logger, (REWARDS_GROUP, MODULE_EPISODE_RETURNS, module_id), value)

    # -- driver side ------------------------------------------------------------

    def on_algorithm_init(self, *, algorithm: Any, metrics_logger: Any = None, **kwargs: Any) -> None:
        """Open the monitor before the first iteration (so a bad config shows early)."""
        with swallow("rlwatch_rllib.on_algorithm_init"):
            self._ensure_monitor()

    def on_train_result(
        self, *, algorithm: Any, metrics_logger: Any = None, result: dict[str, Any], **kwargs: Any
    ) -> None:
        """Log one step per ``train()`` call from the already aggregated `result`."""
        with swallow("rlwatch_rllib.on_train_result"):
            monitor = self._ensure_monitor()
            # Our item series is adapter plumbing: keep it out of the user's
            # result (and out of Tune's loggers) once read.
            per_module = metrics_from_result(result)
            env = result.get(result_keys().env_runners)
            if isinstance(env, dict):
                env.pop(REWARDS_GROUP, None)
            result[RESULT_KEY] = {"warnings": 0, "criticals": 0}
            if monitor is None or not monitor.active:
                return
            step = step_of(result, default=int(getattr(algorithm, "iteration", 0) or 0))
            alerts: list[Alert] = []
            if len(per_module) == 1:
                (row,) = per_module.values()
                alerts.extend(monitor.log_step(step, **row))
            else:
                alerts.extend(monitor.log_step(step, **_whole_env_row(result)))
                for module_id, row in per_module.items():
                    module_monitor = self._module_monitor(monitor, module_id)
                    if module_monitor is not None:
                        alerts.extend(module_monitor.log_step(step, **row))
            result[RESULT_KEY] = {
                "warnings": sum(1 for a in alerts if a.severity == "warning"),
                "criticals": sum(1 for a in alerts if a.severity == "critical"),
            }

    # -- monitors -----------------------------------------------------------------

    def _ensure_monitor(self) -> RLWatch | None:
        if self.monitor is not None:
            return self.monitor
        token = type(self).rlwatch_monitor_token
        bound = _bound.get(token) if token else None
        options = dict(type(self).rlwatch_options)
        options.setdefault("framework", "rllib")
        # RLlib already aggregated across workers: this driver is the one writer.
        options.setdefault("distributed", {"rank": 0, "world_size": 1})
        # The user's own rlwatch.attach() is fed unless options ask for a run of our own; a monitor another
        # Algorithm of this process opened is never borrowed (each Algorithm is its own run).
        self._lease = lease_monitor(bound, borrow_global=not type(self).rlwatch_options, **options)
        self.monitor = self._lease.monitor
        return self.monitor

    def _module_monitor(self, main: RLWatch, module_id: str) -> RLWatch | None:
        found = self.module_monitors.get(module_id)
        if found is None:
            import dataclasses

            import rlwatch

            config = dataclasses.replace(main.config, run_id=f"{main.run_id}.{module_id}", framework="rllib")
            found = rlwatch.RLWatch(config).start()
            self.module_monitors[module_id] = found
        return found

    def stop(self, status: str = "finished") -> None:
        """Stop the per-module monitors and, if this object opened it, the main one."""
        with swallow("rlwatch_rllib.stop"):
            for monitor in self.module_monitors.values():
                monitor.stop(status)
            if self._lease is not None:
                self._lease.release(status)


def _whole_env_row(result: Mapping[str, Any]) -> dict[str, Any]:
    """Whole-environment episode metrics of a multi-module result, for the main run."""
    row = episode_metrics(result)
    lifetime = env_steps_lifetime(result)
    if lifetime is not None:
        row["num_env_steps_sampled_lifetime"] = lifetime
    return row


def _log_item(metrics_logger: Any, key: tuple[str, ...], value: float) -> None:
    """Append `value` to an item series that is merged, not averaged, across EnvRunners."""
    metrics_logger.log_value(key, value, reduce="item_series", window=RETURNS_WINDOW)


def _validate(options: Mapping[str, Any]) -> None:
    """Build (not start) the configuration so that bad options raise ConfigError now."""
    from rlwatch.config import load_config

    overrides = {k: v for k, v in options.items() if k != "config_path"}
    load_config(options.get("config_path"), overrides)


def _absolute_paths(options: dict[str, Any]) -> dict[str, Any]:
    out = dict(options)
    for key in ("log_dir", "config_path"):
        if isinstance(out.get(key), str) and out[key]:
            out[key] = os.path.abspath(out[key])
    storage = out.get("storage")
    if isinstance(storage, Mapping) and isinstance(storage.get("log_dir"), str):
        out["storage"] = {**storage, "log_dir": os.path.abspath(storage["log_dir"])}
    return out


def iter_rlwatch_callbacks(algorithm: Any) -> list[RLWatchCallbacks]:
    """The `RLWatchCallbacks` instances living in `algorithm` (new or old API stack)."""
    found = getattr(algorithm, "callbacks", None)
    items = list(found) if isinstance(found, (list, tuple)) else [found]
    out: list[RLWatchCallbacks] = []
    for item in items:
        if isinstance(item, RLWatchCallbacks):
            out.append(item)
        for inner in getattr(item, "_callback_list", ()) or ():  # old stack's multi-callbacks
            if isinstance(inner, RLWatchCallbacks):
                out.append(inner)
    return out


def stop(algorithm: Any, status: str = "finished") -> None:
    """Flush and close the runs the adapter opened for `algorithm` (call after ``algo.stop()``).

    Without it they are closed at interpreter exit, which is fine for a script.
    """
    with swallow("rlwatch_rllib.stop"):
        for callbacks in iter_rlwatch_callbacks(algorithm):
            callbacks.stop(status)
