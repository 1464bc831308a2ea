"""The log_step workload, runnable by any interpreter that has an `rlwatch` installed.

Used for our own package and for rlwatch 0.5.1 (in its own virtualenv: it
installs the same import name), so both are measured with the same code.
Prints one JSON object.

    python benchmarks/workload.py --steps 100000 --log-dir /tmp/x
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time


def import_cost(repeats: int = 5) -> dict[str, float]:
    """Best-of-N wall time of `import rlwatch` in a fresh interpreter, and its peak RSS."""
    code = (
        "import time, resource; t = time.perf_counter(); import rlwatch; dt = time.perf_counter() - t; "
        "print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    times, rss = [], []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
        times.append(float(out[0]))
        rss.append(float(out[1]) / 1024.0)
    return {"import_s": min(times), "import_rss_mib": min(rss)}


def _metrics(i: int, rng: random.Random) -> dict[str, float]:
    # A healthy run with realistic noise: no alerts expected.
    return {
        "entropy": 2.0 + 0.05 * rng.gauss(0, 1),
        "kl_divergence": 0.02 * math.exp(0.3 * rng.gauss(0, 1)),
        "reward_mean": 0.5 + 0.02 * rng.gauss(0, 1),
        "reward_std": 0.3 + 0.01 * rng.gauss(0, 1),
        "advantage_std": 1.0 + 0.02 * rng.gauss(0, 1),
        "loss": 0.3 + 0.01 * rng.gauss(0, 1),
        "grad_norm": 1.0 * math.exp(0.2 * rng.gauss(0, 1)),
        "learning_rate": 1e-5,
    }


def latency(monitor: object, steps: int, offset: int, with_rewards: int = 0) -> dict[str, float]:
    """Per-call latency of log_step over `steps` steps (values precomputed)."""
    rng = random.Random(0)
    rows = [_metrics(i, rng) for i in range(steps)]
    rewards = None
    if with_rewards:
        import numpy as np

        nrng = np.random.default_rng(0)
        rewards = [nrng.normal(0.5, 0.3, with_rewards) for _ in range(64)]
    log_step = monitor.log_step  # type: ignore[attr-defined]
    pc = time.perf_counter_ns
    times = [0] * steps
    gc.collect()
    for i, row in enumerate(rows):
        if rewards is not None:
            t0 = pc()
            log_step(offset + i, rewards=rewards[i % 64], **row)
            times[i] = pc() - t0
        else:
            t0 = pc()
            log_step(offset + i, **row)
            times[i] = pc() - t0
    srt = sorted(times)
    slow = [i for i, t in enumerate(times) if t > 1_000_000]
    gaps = [b - a for a, b in itertools.pairwise(slow)]
    return {
        "median_us": srt[steps // 2] / 1e3,
        "p99_us": srt[int(steps * 0.99)] / 1e3,
        "max_ms": srt[-1] / 1e6,
        "stalls_over_1ms": len(slow),
        "stall_every_steps": statistics.median(gaps) if gaps else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--log-dir", default="")
    args = parser.parse_args()
    log_dir = args.log_dir or tempfile.mkdtemp(prefix="rlwatch-bench-")
    config = os.path.join(log_dir, "bench.yaml")
    with open(config, "w") as fh:
        fh.write(f"storage:\n  log_dir: {log_dir}\n")
    result: dict[str, object] = {"python": sys.version.split()[0]}
    result.update(import_cost())
    import rlwatch

    result["version"] = getattr(rlwatch, "__version__", "?")
    monitor = rlwatch.attach(config_path=config, run_id="bench")
    latency(monitor, 1000, 0)  # warm-up: baselines, imports, first rows
    result["log_step"] = latency(monitor, args.steps, 1000)
    result["log_step_rewards256"] = latency(monitor, 20_000, 1000 + args.steps, with_rewards=256)
    bulk = getattr(monitor, "log_metrics", None)
    if bulk is not None:
        rng = random.Random(1)
        n = 200_000
        rows = [{"step": 10**7 + i, **_metrics(i, rng)} for i in range(n)]
        t0 = time.perf_counter()
        bulk(rows, detect=False)
        monitor.flush(timeout=120)
        result["bulk_steps_per_s"] = n / (time.perf_counter() - t0)
    monitor.stop()
    db = os.path.join(log_dir, "metrics.db")
    result["db_bytes_per_step"] = os.path.getsize(db) / (args.steps + 21_000 + (200_000 if bulk else 0))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
