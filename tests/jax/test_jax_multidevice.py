"""pmap / shard_map on 2 CPU devices, and a 2-process job (subprocesses): one record per step, nothing lost."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import read_run

SCRIPT = Path(__file__).resolve().parent / "jax_multidevice.py"
STEPS = 30


def run_scenario(name: str, log_dir: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RLWATCH_", "XLA_FLAGS"))}
    proc = subprocess.run([sys.executable, str(SCRIPT), name, str(log_dir)], capture_output=True, text=True,
                          timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "internal error" not in proc.stderr, proc.stderr[-3000:]
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


@pytest.fixture(scope="module")
def transforms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One subprocess runs every transformation scenario (JAX starts once)."""
    return run_scenario("transforms", tmp_path_factory.mktemp("multidevice"))


def test_a_bare_debug_callback_runs_once_per_device(transforms: dict[str, Any]) -> None:
    # The JAX fact the one-record-per-step rule exists for.
    assert transforms["bare_pmap"]["calls_per_step"] == 2


@pytest.mark.parametrize("scenario", ["pmap_axis", "shard_map"])
def test_with_axis_name_each_step_is_logged_once_with_replica_0(scenario: str, transforms: dict[str, Any]) -> None:
    run = read_run(transforms["db_path"], scenario)
    local = np.asarray(transforms[scenario]["local_reward_means"])
    assert run.steps == list(range(STEPS))
    assert not np.allclose(local[:, 0], local[:, 1])  # the devices really differ
    np.testing.assert_allclose(run.metrics["reward_mean"], local[:, 0], rtol=1e-6)
    assert np.isfinite(run.metrics["loss"]).all()


def test_without_axis_name_each_step_is_still_logged_once(transforms: dict[str, Any]) -> None:
    run = read_run(transforms["db_path"], "pmap_first")
    local = np.asarray(transforms["pmap_first"]["local_reward_means"])
    assert run.steps == list(range(STEPS))
    # The first device to report a step wins: each stored value is one of the two.
    stored = run.metrics["reward_mean"]
    assert np.all(np.isclose(stored, local[:, 0], rtol=1e-6) | np.isclose(stored, local[:, 1], rtol=1e-6))


def test_at_interpreter_exit_callbacks_in_flight_are_awaited_before_the_flush(log_dir: Path) -> None:
    out = run_scenario("exit_barrier", log_dir)
    # Dispatch is asynchronous under pmap: work was still pending when the loop returned ...
    assert out["probe_done_when_loop_returned"] < out["steps"]
    # ... and none of it was lost.
    run = read_run(out["db_path"], "exit_barrier")
    assert run.steps == list(range(out["steps"]))


def test_monitor_stop_awaits_callbacks_in_flight(log_dir: Path) -> None:
    out = run_scenario("stop_barrier", log_dir)
    assert out["probe_done_when_loop_returned"] < out["steps"]
    run = read_run(out["db_path"], "stop_barrier")
    assert run.steps == list(range(out["steps"]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_jax_processes_write_one_run_from_process_0(log_dir: Path) -> None:
    script = Path(__file__).resolve().parent / "jax_distributed.py"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RLWATCH_", "XLA_FLAGS")) and k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    port = str(_free_port())
    procs = [subprocess.Popen([sys.executable, str(script), str(i), port, str(log_dir)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=240)
        assert p.returncode == 0, stderr[-3000:]
        assert "internal error" not in stderr, stderr[-3000:]
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    # The rank came from jax.process_index() through the plugin; only process 0 records.
    assert [(o["rank"], o["world_size"], o["active"]) for o in outs] == [(0, 2, True), (1, 2, False)]
    runs = _runs(log_dir)
    assert [(r.run_id, r.rank, r.world_size) for r in runs] == [("distributed", 0, 2)]
    run = read_run(log_dir / "metrics.db", "distributed")
    assert run.steps == list(range(5))
    # Replica 0 is process 0 (its shard holds 1.0s): local sums 4, 8, ...; the psum adds process 1's 2.0s.
    np.testing.assert_allclose(run.metrics["local_sum"], [4.0 * (1 + i) for i in range(5)])
    np.testing.assert_allclose(run.metrics["loss"], [12.0 + 8.0 * i for i in range(5)])


def _runs(log_dir: Path) -> list[Any]:
    from rlwatch.storage import StoreReader

    reader = StoreReader(str(log_dir / "metrics.db"))
    try:
        return reader.runs()
    finally:
        reader.close()
