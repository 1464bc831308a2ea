"""Zero code: the start-up hook, a fresh interpreter, and a Ray actor as veRL's driver.

These run in fresh interpreters of this environment, where the nox session
installed rlwatch-verl from its wheel, so ``rlwatch_verl.pth`` is what
patches veRL: nothing in the scripts imports rlwatch_verl.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from verl_helpers import PTH_FILE, clean_env, read_run, require_pth, run_python


def _last_json(proc: subprocess.CompletedProcess[str]) -> dict:  # type: ignore[type-arg]
    assert proc.returncode == 0, proc.stderr[-6000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_wheel_ships_the_start_files_at_the_root() -> None:
    require_pth()
    assert PTH_FILE.read_text().startswith("import ")
    start = PTH_FILE.with_suffix(".start").read_text().splitlines()
    assert [line for line in start if line and not line.startswith("#")] == ["rlwatch_verl._bootstrap:install"]


def test_start_up_loads_only_the_bootstrap(tmp_path: Path) -> None:
    out = _last_json(run_python(
        """
        import json, sys
        print(json.dumps({
            "ours": sorted(m for m in sys.modules if m.startswith("rlwatch_verl")),
            "heavy": sorted(m for m in ("verl", "torch", "numpy", "rlwatch", "ray") if m in sys.modules),
            "finders": [type(f).__name__ for f in sys.meta_path],
        }))
        """, tmp_path))
    assert out["ours"] == ["rlwatch_verl", "rlwatch_verl._bootstrap"]
    assert out["heavy"] == []
    assert out["finders"].count("VerlImportHook") == 1


def test_the_bootstrap_imports_nothing_but_itself() -> None:
    # Without site (-S) nothing else runs at start-up: the hook adds exactly its own two small modules.
    code = textwrap.dedent(
        f"""
        import json, sys
        sys.path.append({str(PTH_FILE.parent)!r})
        before = set(sys.modules)
        import rlwatch_verl._bootstrap as boot
        boot.install()
        print(json.dumps(sorted(set(sys.modules) - before)))
        """
    )
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60, check=True,
                          env=clean_env())
    assert json.loads(proc.stdout) == ["rlwatch_verl", "rlwatch_verl._bootstrap"]


def test_importing_tracking_teaches_it_the_backend_and_nothing_else(tmp_path: Path) -> None:
    out = _last_json(run_python(
        """
        import json, sys
        from verl.utils.tracking import Tracking
        print(json.dumps({
            "supported": "rlwatch" in Tracking.supported_backend,
            "wrapped": [getattr(getattr(Tracking, name), "__rlwatch_verl_wrapped__", False)
                        for name in ("__init__", "finish")],
            "rlwatch_modules": sorted(m for m in sys.modules if m == "rlwatch" or m.startswith("rlwatch.")),
        }))
        """, tmp_path))
    assert out["supported"] and out["wrapped"] == [True, True]
    assert "rlwatch.core" in out["rlwatch_modules"]  # the adapter is loaded: veRL is in use


def test_a_run_launched_with_hydra_overrides_is_watched_in_its_ray_driver(tmp_path: Path) -> None:
    # As main_ppo runs it: Hydra composes the config from the user's overrides,
    # a Ray actor (the TaskRunner) builds the trainer, whose fit builds Tracking
    # from the config and logs each step, and finish(exit_code) ends it.
    proc = run_python(
        """
        import json, os, ray
        from verl_helpers import compose

        config = compose("trainer.logger=['console','rlwatch']", "+rlwatch.run_id=grpo-ray",
                         "trainer.experiment_name=kl_runaway")
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)

        @ray.remote
        class TaskRunner:
            def run(self, config):
                from verl.utils.config import omega_conf_to_dataclass
                from verl_helpers import tracking_for
                from verl_stream import GRPOStream, kl_explosion

                tracking = tracking_for(config)
                stream = GRPOStream(omega_conf_to_dataclass(config.actor_rollout_ref.actor), kl_explosion(50))
                succeeded = False
                try:
                    for step in range(1, 71):
                        tracking.log(data=stream.step(step), step=step)
                    succeeded = True
                finally:
                    tracking.finish(exit_code=0 if succeeded else 1)
                return os.getpid(), os.getcwd()

        pid, cwd = ray.get(TaskRunner.remote().run.remote(config), timeout=400)
        ray.shutdown()
        print(json.dumps({"actor_pid": pid, "driver_pid": os.getpid(), "actor_cwd": cwd}))
        """, tmp_path, timeout=600)
    out = _last_json(proc)
    assert out["actor_pid"] != out["driver_pid"] and Path(out["actor_cwd"]) == tmp_path
    run = read_run(tmp_path)
    assert (run.run_id, run.status, run.framework, run.n_steps) == ("grpo-ray", "finished", "verl", 70)
    assert run.criticals() == {"kl_explosion"}
    assert "reward_std" in run.metrics  # the per-response scores made it too
