"""Multi-device scenarios, run in a subprocess with 2 CPU devices.

Usage: ``python jax_multidevice.py SCENARIO LOG_DIR``; prints one JSON
object on stdout. XLA_FLAGS must give 2 host devices before JAX is imported,
which is why this runs in its own process.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax
import jax.numpy as jnp
import jax_bandit as jb
import rlwatch
import rlwatch_jax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "devices"
STEPS = 30


def data_parallel_update(axis_name: str | None) -> Callable[..., tuple[jax.Array, jax.Array]]:
    """A data-parallel bandit step: each device samples its own batch, gradients are averaged."""

    def update(params: jax.Array, key: jax.Array, step: jax.Array) -> tuple[jax.Array, jax.Array]:
        key = jax.random.fold_in(jax.random.fold_in(key, step), jax.lax.axis_index(AXIS))
        actions, rewards = jb.rollout(params, key)
        advantages = rewards - rewards.mean()
        loss, grads = jax.value_and_grad(jb.policy_loss)(params, actions, advantages)
        grads = jax.lax.pmean(grads, AXIS)
        # reward_mean is deliberately per device, so the test sees whose value was kept.
        rlwatch_jax.log(step, axis_name=axis_name, loss=jax.lax.pmean(loss, AXIS), reward_mean=rewards.mean())
        return params - jb.LEARNING_RATE * grads, rewards.mean()

    return update


def _train(step_fn: Callable[..., tuple[jax.Array, jax.Array]], params: jax.Array) -> dict[str, object]:
    key = jax.random.PRNGKey(0)
    local_means = []
    for i in range(STEPS):
        params, means = step_fn(params, key, i)
        local_means.append(means)
    return {"local_reward_means": [[float(m) for m in means] for means in jax.device_get(local_means)]}


def run_pmap(axis_name: str | None) -> dict[str, object]:
    step_fn = jax.pmap(data_parallel_update(axis_name), axis_name=AXIS, in_axes=(0, None, None))
    return _train(step_fn, jnp.stack([jb.init_params()] * 2))


def run_shard_map() -> dict[str, object]:
    mesh = jax.make_mesh((2,), (AXIS,))
    step_fn = jax.jit(jax.shard_map(
        lambda p, k, s: tuple(x[None] for x in data_parallel_update(AXIS)(p[0], k, s)),
        mesh=mesh, in_specs=(P(AXIS), P(), P()), out_specs=(P(AXIS), P(AXIS)),
    ))
    return _train(step_fn, jax.device_put(jnp.stack([jb.init_params()] * 2), NamedSharding(mesh, P(AXIS))))


def heavy_loop(steps: int) -> dict[str, object]:
    """Dispatch slow pmapped steps without waiting; report how many had run by the end."""
    done: list[int] = []

    def step(x: jax.Array, i: jax.Array) -> jax.Array:
        for _ in range(4):
            x = jnp.tanh(x @ x)
        rlwatch_jax.log(i, axis_name=AXIS, loss=x.mean())
        jax.debug.callback(lambda v: done.append(int(v)), i)  # a bare probe beside ours
        return x

    f = jax.pmap(step, axis_name=AXIS, in_axes=(0, None))
    x = jnp.ones((2, 320, 320)) / 320
    for i in range(steps):
        x = f(x, i)
    return {"probe_done_when_loop_returned": len(done) // 2, "steps": steps}


def bare_pmap_calls() -> dict[str, object]:
    calls: list[int] = []

    def f(x: jax.Array) -> jax.Array:
        jax.debug.callback(lambda v: calls.append(int(v)), x)
        return x

    jax.pmap(f)(jnp.arange(2))
    jax.effects_barrier()
    return {"calls_per_step": len(calls)}


def transforms(log_dir: str) -> dict[str, object]:
    """bare_pmap, then one run each for pmap with/without axis_name and shard_map."""
    out: dict[str, object] = {"bare_pmap": bare_pmap_calls()}
    runs = {"pmap_axis": lambda: run_pmap(AXIS), "pmap_first": lambda: run_pmap(None), "shard_map": run_shard_map}
    for name, run in runs.items():
        mon = rlwatch.attach(run_id=name, log_dir=log_dir)
        out[name] = run()
        rlwatch_jax.barrier()
        mon.stop()
    out["db_path"] = mon.db_path
    return out


def main() -> None:
    scenario, log_dir = sys.argv[1], sys.argv[2]
    assert jax.device_count() == 2, jax.devices()
    if scenario == "transforms":
        print(json.dumps(transforms(log_dir)))
        return
    mon = rlwatch.attach(run_id=scenario, log_dir=log_dir)
    if scenario == "stop_barrier":
        out = heavy_loop(40)
        mon.stop()  # no explicit barrier: stop() must wait for the callbacks in flight
    elif scenario == "exit_barrier":
        out = heavy_loop(40)  # no stop(): interpreter exit must wait, then flush
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    out["db_path"] = mon.db_path
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
