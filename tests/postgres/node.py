"""One "node" of the rlwatch-postgres tests: a training job stand-in on its own machine.

Attaches a real monitor (``rlwatch.attach``; ``RLWATCH_STORAGE_URL`` from
the environment turns on the shipper), logs ``--steps`` steps with
``--metrics`` metrics, ``--interval`` seconds of busy work apart, measures each
``log_step`` call, and stops the monitor (final flush and bounded final
catch-up). Prints JSON lines on stdout: ``{"event": "started"}``, then
``{"event": "progress", "step": N}`` every 500 steps, then ``{"event":
"done", "status": {...}}`` with the shipper's status.

``--host NAME`` makes the run's recorded host NAME (a second "machine" on one
real one). ``--latency-file PATH`` writes ``wall_time latency_ns
control_ns`` per step (numpy .npy, three columns): ``control_ns`` times a
fixed piece of pure-Python work of similar size done just before each
``log_step``, so that a test can tell a slower rlwatch from a slower machine
(a shared CI host's speed drifts by more than 10 % within a minute).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time


def _control_work(step: int) -> float:
    """Pure-Python work of about log_step's size (dicts, floats, calls): the machine's speed, now."""
    row = {f"m{i}": math.sin(step + i) * 0.5 for i in range(24)}
    return sum(v * v for v in row.values() if math.isfinite(v))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--log-dir", required=True)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=0.0)
    parser.add_argument("--metrics", type=int, default=6)
    parser.add_argument("--host")
    parser.add_argument("--latency-file")
    args = parser.parse_args()
    if args.host:
        # The monitor records platform.node() as the run's host.
        platform.node = lambda: args.host  # type: ignore[assignment]
    import numpy as np
    import rlwatch

    monitor = rlwatch.attach(run_id=args.run_id, log_dir=args.log_dir)
    print(json.dumps({"event": "started", "pid": os.getpid()}), flush=True)
    extra = [f"extra_{i}" for i in range(max(0, args.metrics - 4))]
    record = np.zeros((args.steps, 3)) if args.latency_file else None
    perf = time.perf_counter_ns
    for step in range(args.steps):
        values = {f: 0.001 * (step % 97) + i for i, f in enumerate(extra)}
        start = perf()
        _control_work(step)
        before = perf()
        monitor.log_step(
            step,
            entropy=1.5 + 0.1 * math.sin(step / 50.0),
            kl_divergence=0.01 + 0.001 * (step % 7),
            reward_mean=0.5 + 0.0001 * step,
            loss=0.3,
            **values,
        )
        after = perf()
        if record is not None:
            record[step] = (time.time(), after - before, before - start)
        if step % 500 == 499:
            print(json.dumps({"event": "progress", "step": step}), flush=True)
        if args.interval:
            # Busy, like a training step (a sleeping loop would measure the CPU's wake-up, not rlwatch).
            until = time.perf_counter() + args.interval
            while time.perf_counter() < until:
                pass
    from rlwatch import replication

    status = replication.statuses()
    monitor.stop()
    if record is not None:
        np.save(args.latency_file, record)
    print(json.dumps({"event": "done", "status": status}, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
