"""Long run: 1M steps, 8 metrics and a 64-sample rewards array: memory, DB size, latency drift."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ._helpers import run_py

STEPS = int(os.environ.get("RLWATCH_LONG_RUN_STEPS", "1000000"))

CODE = """
import gc, json, math, random, resource, sys, time
import numpy as np
import rlwatch

steps = int(sys.argv[2])
m = rlwatch.attach(log_dir=sys.argv[1], run_id="long", alerts={"console": {"enabled": False}})
rng = np.random.default_rng(0)
rewards = [rng.normal(0.5, 0.3, 64) for _ in range(256)]
noise = rng.normal(0, 1, (4096, 8)).tolist()
pc = time.perf_counter_ns

def rss_mib():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20

window = []
windows = {}
rss = {}
for i in range(steps):
    n = noise[i % 4096]
    t0 = pc()
    m.log_step(i, entropy=2.0 + 0.05 * n[0], kl_divergence=0.02 * math.exp(0.3 * n[1]), reward_mean=0.5 + 0.02 * n[2],
               reward_std=0.3, advantage_std=1.0 + 0.02 * n[3], loss=0.3 + 0.01 * n[4],
               grad_norm=math.exp(0.2 * n[5]), learning_rate=1e-5, rewards=rewards[i % 256])
    window.append(pc() - t0)
    if (i + 1) % (steps // 10) == 0:
        window.sort()
        windows[i + 1] = window[len(window) // 2] / 1e3
        window = []
        rss[i + 1] = rss_mib()
m.stop()
from rlwatch.storage import StoreReader
run = StoreReader(m.db_path).run("long")
print(json.dumps({"median_us_by_step": windows, "rss_mib_by_step": rss, "stored": run.n_steps,
                  "dropped": run.dropped_rows}))
"""


def test_one_million_steps(tmp_path: Path, record: Any) -> None:
    out = run_py(CODE, str(tmp_path), str(STEPS), timeout=3000)
    assert out.returncode == 0, out.stderr[-3000:]
    data = json.loads(out.stdout.strip().splitlines()[-1])
    med = list(data["median_us_by_step"].values())
    rss = list(data["rss_mib_by_step"].values())
    db_bytes = sum(p.stat().st_size for p in tmp_path.iterdir() if p.name.startswith("metrics.db"))
    record(tried=f"{STEPS} steps, 8 metrics + 64-sample rewards array", steps=STEPS,
           rss_first_tenth_mib=rss[0], rss_end_mib=rss[-1], rss_growth_mib=rss[-1] - rss[0],
           db_bytes_per_step=db_bytes / STEPS, median_us_first_tenth=med[0], median_us_last_tenth=med[-1],
           stored=data["stored"], dropped=data["dropped"])
    assert data["stored"] == STEPS and data["dropped"] == 0  # the writer keeps up with a tight loop
    assert rss[-1] - rss[0] < 64, rss  # bounded: no per-step accumulation
    assert med[-1] < 2 * med[0] + 5, med  # no latency drift
