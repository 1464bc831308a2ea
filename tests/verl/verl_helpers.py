"""Helpers for the rlwatch-verl tests: veRL configs as users write them, runs read back."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rlwatch.storage import StoreReader

PTH_FILE = Path(sysconfig.get_paths()["purelib"]) / "rlwatch_verl.pth"

# A GRPO run as veRL's examples launch one (examples/grpo_trainer/*.sh), sized
# for the synthetic batches of verl_stream.py. The model path is never loaded.
USER_OVERRIDES = (
    "algorithm.adv_estimator=grpo",
    "data.train_batch_size=8",
    "data.max_prompt_length=6",
    "data.max_response_length=20",
    "actor_rollout_ref.model.path=Qwen/Qwen2.5-0.5B-Instruct",
    "actor_rollout_ref.actor.optim.lr=1e-6",
    "actor_rollout_ref.actor.ppo_mini_batch_size=8",
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4",
    "actor_rollout_ref.actor.use_kl_loss=True",
    "actor_rollout_ref.actor.kl_loss_coef=0.001",
    "actor_rollout_ref.actor.kl_loss_type=low_var_kl",
    "actor_rollout_ref.actor.entropy_coeff=0",
    "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=4",
    "actor_rollout_ref.rollout.n=4",
    "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=4",
    "algorithm.use_kl_in_reward=False",
    "trainer.critic_warmup=0",
    "trainer.logger=['console','rlwatch']",
    "trainer.project_name=rlwatch_tests",
    "trainer.experiment_name=grpo",
    "trainer.n_gpus_per_node=8",
    "trainer.nnodes=1",
    "trainer.save_freq=-1",
    "trainer.test_freq=-1",
    "trainer.total_epochs=1",
)


def compose(*extra: str) -> Any:
    """veRL's ``ppo_trainer`` config composed by Hydra with `USER_OVERRIDES` and `extra`, as ``main_ppo`` gets it."""
    import verl
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    config_dir = Path(verl.__file__).parent / "trainer" / "config"
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        return hydra_compose(config_name="ppo_trainer", overrides=[*USER_OVERRIDES, *extra])


def tracking_for(config: Any) -> Any:
    """veRL's ``Tracking``, built from `config` exactly as its trainers build it in ``fit``."""
    from omegaconf import OmegaConf
    from verl.utils.tracking import Tracking

    return Tracking(
        project_name=config.trainer.project_name,
        experiment_name=config.trainer.experiment_name,
        default_backend=config.trainer.logger,
        config=OmegaConf.to_container(config, resolve=True),
    )


@dataclass
class StoredRun:
    """One run read back from ./rlwatch_logs/metrics.db."""

    run_id: str
    status: str
    framework: str | None
    n_steps: int
    alerts: list[tuple[str, str, int | None]]
    metrics: dict[str, Any]
    end_reason: str | None = None

    def criticals(self) -> set[str]:
        """Detectors that raised a critical alert."""
        return {detector for detector, severity, _ in self.alerts if severity == "critical"}

    def first(self, detector: str, severity: str = "critical") -> int | None:
        """Step of the first alert of `detector` at `severity`, or None."""
        steps = [s for d, sev, s in self.alerts if d == detector and sev == severity and s is not None]
        return min(steps) if steps else None


def read_runs(folder: Path | str = ".") -> list[StoredRun]:
    """Every run of ``<folder>/rlwatch_logs/metrics.db`` (empty if there is no store)."""
    path = Path(folder) / "rlwatch_logs" / "metrics.db"
    if not path.exists():
        return []
    reader = StoreReader(str(path))
    try:
        out = []
        for run in reader.runs():
            alerts = [(a.detector, a.severity, a.step) for a in reader.alerts(run.run_id)]
            out.append(StoredRun(run.run_id, run.status, run.framework, run.n_steps, alerts,
                                 reader.metrics(run.run_id), run.end_reason))
        return out
    finally:
        reader.close()


def read_run(folder: Path | str = ".") -> StoredRun:
    """The one run of the store in `folder`."""
    runs = read_runs(folder)
    assert len(runs) == 1, [(r.run_id, r.status) for r in runs]
    return runs[0]


def require_pth() -> None:
    """Fail clearly if rlwatch-verl is not installed from its wheel here."""
    if not PTH_FILE.exists():
        pytest.fail(
            f"{PTH_FILE} is missing: install rlwatch-verl from a built wheel (the `verl` nox session does); "
            "an editable install does not ship the start-up hook",
            pytrace=False,
        )


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without RLWATCH_* variables, offline, with `extra` added."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RLWATCH_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled",
               PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore")
    env.update(extra)
    return env


def run_python(code: str, cwd: Path, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter of this environment (the .pth hook live), in `cwd`."""
    require_pth()
    here = str(Path(__file__).resolve().parent)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False, env=clean_env(PYTHONPATH=here, **env))
