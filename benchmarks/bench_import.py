"""Benchmark of ``rlwatch import``: 100 000 logged steps of 30 metrics, end to end.

Writes a TRL-style ``trainer_state.json`` and the same rows as JSONL (a
healthy GRPO run: 30 keys a step, the ones TRL logs plus extras), then
imports each into a fresh database through `rlwatch.importers.import_paths`
(sniffing, checking, key map, replay through the monitor and its
detectors, SQLite) and prints one JSON line with the seconds each took.

Target (issue 15): under 10 s each on the 2-core reference machine. Exits 1
only when an import takes more than twice that, so a busy machine does not
make `nox -s bench` flaky.

Usage: python benchmarks/bench_import.py [--steps N]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 10.0
EXTRA_KEYS = [
    "completions/max_length", "completions/min_length", "completions/mean_terminated_length",
    "completions/max_terminated_length", "completions/min_terminated_length", "clip_ratio/low_mean",
    "clip_ratio/low_min", "clip_ratio/high_mean", "clip_ratio/high_max", "rewards/reward_fn/mean",
    "rewards/reward_fn/std", "num_tokens", "step_time", "epoch", "kl_ref_mean", "advantage_abs_mean",
    "sampling/importance_sampling_ratio/mean", "sampling/importance_sampling_ratio/max",
    "sampling/sampling_logp_difference/mean",
]


def history(steps: int, seed: int = 0) -> list[dict[str, float]]:
    """A healthy GRPO run's log_history: 30 keys per step."""
    rnd = random.Random(seed)
    rows = []
    for t in range(1, steps + 1):
        row: dict[str, float] = {
            "step": t,
            "loss": 0.02 + rnd.gauss(0, 0.01),
            "grad_norm": 0.3 * math.exp(rnd.gauss(0, 0.3)),
            "learning_rate": 1e-6,
            "entropy": 0.5 * math.exp(rnd.gauss(0, 0.05)),
            "kl": 0.01 * math.exp(rnd.gauss(0, 0.3)),
            "reward": 0.3 + 0.2 * t / steps + rnd.gauss(0, 0.03),
            "reward_std": 0.4 + rnd.gauss(0, 0.02),
            "frac_reward_zero_std": max(0.0, 0.1 + rnd.gauss(0, 0.03)),
            "completions/mean_length": 200 + rnd.gauss(0, 10),
            "completions/clipped_ratio": max(0.0, 0.01 + rnd.gauss(0, 0.005)),
            "clip_ratio/region_mean": max(0.0, 0.002 + rnd.gauss(0, 0.001)),
        }
        for key in EXTRA_KEYS:
            row[key] = rnd.random()
        rows.append(row)
    return rows


def timed_import(path: Path, db: Path) -> tuple[float, int]:
    """Seconds to import `path` into `db`, and the rows stored."""
    from rlwatch.importers import ImportOptions, import_paths

    start = time.perf_counter()
    results = import_paths([str(path)], ImportOptions(db=str(db), progress=False))
    seconds = time.perf_counter() - start
    return seconds, sum(r.rows for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="logged steps (default 100000)")
    args = parser.parse_args()
    rows = history(args.steps)
    assert len(rows[0]) - 1 == 30, len(rows[0])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        state = folder / "out" / "trainer_state.json"
        state.parent.mkdir()
        state.write_text(json.dumps({"global_step": args.steps, "log_history": rows}))
        lines = folder / "rows.jsonl"
        with lines.open("w") as fh:
            for row in rows:
                fh.write(json.dumps(row) + "\n")
        del rows
        trainer_state_s, trainer_state_rows = timed_import(state, folder / "a.db")
        jsonl_s, jsonl_rows = timed_import(lines, folder / "b.db")
    result = {
        "steps": args.steps, "metrics_per_step": 30,
        "trainer_state_seconds": round(trainer_state_s, 3), "trainer_state_rows": trainer_state_rows,
        "jsonl_seconds": round(jsonl_s, 3), "jsonl_rows": jsonl_rows,
        "target_seconds": TARGET_SECONDS,
    }
    print(json.dumps(result))
    scale = args.steps / 100_000
    worst = max(trainer_state_s, jsonl_s)
    if worst > TARGET_SECONDS * scale:
        print(f"import of {args.steps} steps took {worst:.1f} s: MISSES TARGET of {TARGET_SECONDS * scale:.1f} s",
              file=sys.stderr)
    if trainer_state_rows != args.steps or jsonl_rows != args.steps:
        print("rows lost in the import", file=sys.stderr)
        return 1
    return 1 if worst > 2 * TARGET_SECONDS * scale else 0


if __name__ == "__main__":
    sys.exit(main())
