"""Micro-benchmark of the built-in detectors' per-step cost.

Feeds every detector directly (no monitor, no storage) with a realistic
healthy step of 8 scalar metrics, then a step that also carries a 256-sample
rewards array, and prints microseconds per step per detector and in total.

Usage: python benchmarks/bench_detectors.py [--steps N]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from typing import Any

import numpy as np
from rlwatch.detectors.base import Detector
from rlwatch.plugins import builtin_detector_classes


def _scalar_steps(n: int, seed: int = 0) -> list[dict[str, float]]:
    rnd = random.Random(seed)
    rows = []
    for t in range(n):
        rows.append(
            {
                "entropy": 0.5 * math.exp(rnd.gauss(0, 0.05)),
                "kl_divergence": 0.01 * (1 + t / 2000) * math.exp(rnd.gauss(0, 0.3)),
                "reward_mean": 0.3 + 0.2 * t / n + rnd.gauss(0, 0.03),
                "reward_std": 0.4 + rnd.gauss(0, 0.02),
                "advantage_std": 1.0 + rnd.gauss(0, 0.01),
                "loss": 0.02 + rnd.gauss(0, 0.01),
                "grad_norm": 0.3 * math.exp(rnd.gauss(0, 0.3)),
                "learning_rate": 1e-6,
            }
        )
    return rows


def _time_detector(det: Detector, rows: list[dict[str, float]], arrays: list[dict[str, Any]], repeats: int) -> float:
    """Median over repeats of mean microseconds per step."""
    per_rep = []
    for _ in range(repeats):
        d = type(det)(det.config_class())
        upd = d.update
        t0 = time.process_time()
        for i, row in enumerate(rows):
            upd(i, row, arrays[i])
        per_rep.append((time.process_time() - t0) / len(rows) * 1e6)
    return statistics.median(per_rep)


def _time_each_step(det_cls: type[Detector], rows: list[dict[str, float]], arrays: list[dict[str, Any]]) -> list[float]:
    d = det_cls(det_cls.config_class())
    out = []
    for i, row in enumerate(rows):
        t0 = time.process_time()
        d.update(i, row, arrays[i])
        out.append((time.process_time() - t0) * 1e6)
    return out


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pipeline", action="store_true", help="also time the full RLWatch.log_step")
    args = parser.parse_args()
    rows = _scalar_steps(args.steps)
    no_arrays: list[dict[str, Any]] = [{} for _ in rows]
    rng = np.random.default_rng(0)
    with_rewards = [{"rewards": rng.normal(0.0, 1.0, 256)} for _ in rows]
    binary = [{"rewards": (rng.random((32, 8)) < 0.4).astype(np.float64)} for _ in rows]

    print(
        f"{'detector':<22} {'scalars µs/step':>16} {'+256 rewards µs/step':>21} {'median µs':>10} {'+binary 32x8':>13}"
    )
    total_s = total_r = total_med = total_b = 0.0
    for cls in builtin_detector_classes():
        det = cls(cls.config_class())
        s = _time_detector(det, rows, no_arrays, args.repeats)
        r = _time_detector(det, rows, with_rewards, args.repeats)
        b = _time_detector(det, rows, binary, args.repeats)
        med = statistics.median(_time_each_step(cls, rows, with_rewards))
        total_s += s
        total_r += r
        total_b += b
        total_med += med
        print(f"{cls.id:<22} {s:>16.3f} {r:>21.2f} {med:>10.2f} {b:>13.2f}")
    print(f"{'TOTAL':<22} {total_s:>16.3f} {total_r:>21.2f} {total_med:>10.2f} {total_b:>13.2f}")
    print("(CPU time per step: time.process_time, so other processes on the machine inflate it less)")
    if args.pipeline:
        _pipeline(rows, with_rewards)


def _pipeline(rows: list[dict[str, float]], with_rewards: list[dict[str, Any]]) -> None:
    """Median wall time of a full RLWatch.log_step (storage enqueue included)."""
    import tempfile

    from rlwatch.config import AlertConfig, ConsoleConfig, RLWatchConfig, StorageConfig
    from rlwatch.core import RLWatch

    with tempfile.TemporaryDirectory() as tmp:
        for label, arrays in (("8 scalars", None), ("8 scalars + 256 rewards", with_rewards)):
            cfg = RLWatchConfig(
                run_id=f"bench-{len(label)}",
                framework="manual",
                storage=StorageConfig(log_dir=tmp),
                alerts=AlertConfig(console=ConsoleConfig(enabled=False)),
            )
            mon = RLWatch(cfg).start()
            times = []
            for i, row in enumerate(rows):
                kw: dict[str, Any] = dict(row)
                if arrays is not None:
                    kw["rewards"] = arrays[i]["rewards"]
                t0 = time.perf_counter()
                mon.log_step(i, **kw)
                times.append((time.perf_counter() - t0) * 1e6)
            mon.stop()
            times.sort()
            print(
                f"RLWatch.log_step, {label}: median {times[len(times) // 2]:.1f} µs, "
                f"p90 {times[int(0.9 * len(times))]:.1f} µs, mean {sum(times) / len(times):.1f} µs (wall)"
            )


if __name__ == "__main__":
    main()
