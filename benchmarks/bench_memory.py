"""Resident memory of a wide run: 100 000 steps of 1 000 metrics each through `log_step`.

The promise (issue 14): memory does not grow with a wide metric set once the
rows are stored; RSS after the run (everything flushed) must stay within
+100 MiB of the RSS right after `attach`. Runs in a fresh interpreter so that
nothing else's memory is counted; prints one line per checkpoint and exits 1
when the target is missed.

Usage: python benchmarks/bench_memory.py [--steps 100000] [--metrics 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

TARGET_MIB = 100.0


def rss_mib() -> float:
    """Current resident set size (not the peak) from /proc, in MiB."""
    with open("/proc/self/statm") as fh:
        resident_pages = int(fh.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--metrics", type=int, default=1_000)
    args = parser.parse_args()
    import rlwatch

    log_dir = tempfile.mkdtemp(prefix="rlwatch-bench-mem-")
    config = os.path.join(log_dir, "bench.yaml")
    with open(config, "w") as fh:
        fh.write(f"storage:\n  log_dir: {log_dir}\nalerts:\n  console:\n    enabled: false\n")
    monitor = rlwatch.attach(config_path=config, run_id="wide")
    names = [f"layer{i // 50}/metric_{i}" for i in range(args.metrics)]
    row = dict.fromkeys(names, 0.0)
    monitor.log_step(0, **row)
    monitor.flush(timeout=60)
    start = rss_mib()
    t0 = time.perf_counter()
    every = max(1, args.steps // 5)
    for step in range(1, args.steps + 1):
        for j, name in enumerate(names):
            row[name] = (step * 7 + j) % 1000 / 1000.0  # values change every step: nothing to deduplicate
        monitor.log_step(step, **row)
        if step % every == 0:
            print(f"step {step:>7}: RSS {rss_mib() - start:+7.1f} MiB ({time.perf_counter() - t0:.0f} s)", flush=True)
    monitor.flush(timeout=600)
    end = rss_mib()
    rate = args.steps / (time.perf_counter() - t0)
    monitor.stop()
    from rlwatch.storage import StoreReader

    with StoreReader(os.path.join(log_dir, "metrics.db")) as reader:
        stored = reader.runs()[0].n_steps
    grown = end - start
    print(f"wide run: {args.steps} steps x {args.metrics} metrics, {rate:.0f} steps/s, {stored - 1} steps stored "
          f"({args.steps + 1 - stored} dropped, announced); RSS after flush {grown:+.1f} MiB "
          f"(target <= +{TARGET_MIB:.0f} MiB)")
    return 0 if grown <= TARGET_MIB else 1


if __name__ == "__main__":
    sys.exit(main())
