"""One process of a 2-process JAX job on CPU (jax.distributed + gloo).

Usage: ``python jax_distributed.py PROCESS_ID PORT LOG_DIR``. Both processes
attach rlwatch with no rank configuration and no RANK/WORLD_SIZE variables:
the rank must come from rlwatch-jax's ``rlwatch_detect_rank`` hook. They run
the same sharded step (a cross-process psum, a log call with axis_name);
prints one JSON line.
"""

from __future__ import annotations

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
import rlwatch
import rlwatch_jax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "processes"
STEPS = 5


def main() -> None:
    process_id, port, log_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=process_id)
    monitor = rlwatch.attach(run_id="distributed", log_dir=log_dir)

    def body(x: jax.Array, step: jax.Array) -> jax.Array:
        total = jax.lax.psum(x.sum(), AXIS)  # a collective: every process must run the same program
        rlwatch_jax.log(step, axis_name=AXIS, loss=total, local_sum=x.sum())
        return x + 1

    mesh = jax.make_mesh((2,), (AXIS,))
    step_fn = jax.jit(jax.shard_map(body, mesh=mesh, in_specs=(P(AXIS), P()), out_specs=P(AXIS)))
    x = jax.make_array_from_process_local_data(
        NamedSharding(mesh, P(AXIS)), np.full((1, 4), float(process_id + 1), np.float32)
    )
    for i in range(STEPS):
        x = step_fn(x, i)
    x.block_until_ready()
    print(json.dumps({"process_id": process_id, "rank": monitor.rank, "world_size": monitor.world_size,
                      "active": monitor.active, "process_count": jax.process_count(),
                      "final": float(jnp.sum(x.addressable_data(0)))}), flush=True)
    monitor.stop()


if __name__ == "__main__":
    main()
