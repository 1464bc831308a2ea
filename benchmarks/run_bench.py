"""`nox -s bench`: measure rlwatch and rlwatch 0.5.1 side by side, compare with the baseline.

Runs benchmarks/workload.py with our interpreter and with the 0.5.1 one
(passed with --seed-python), plus the other bench_*.py scripts, prints a
table, and fails only on a gross regression (3x the recorded baseline), so
a busy machine does not make it flaky.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
BASELINE = HERE / "baseline.json"
TARGETS = {  # the numbers a user is promised on the 2-core reference machine (issue 14)
    "log_step.median_us": 4.0,
    "log_step.p99_us": 20.0,
    "log_step.max_ms": 2.0,
    "log_step_rewards256.p99_us": 40.0,
    "log_step_rewards256.max_ms": 2.0,
    "import_s": 0.15,
    "import_rss_mib": 40.0,
}
MIN_TARGETS = {"bulk_steps_per_s": 200_000.0}
# Framework benchmarks run inside their own nox sessions, where the framework is installed.
NEEDS = {
    "bench_dashboard.py": ("playwright", "plotly"),
    "bench_jax.py": ("jax", "rlwatch_jax"),
    "bench_trl_startup.py": ("rlwatch_trl",),
    "bench_notify.py": ("rlwatch_notify",),
    "bench_postgres.py": ("rlwatch_postgres",),
}
SESSION = {"bench_dashboard.py": "nox -s dashboard", "bench_jax.py": "nox -s jax",
           "bench_trl_startup.py": "nox -s trl", "bench_notify.py": "nox -s notify",
           "bench_postgres.py": "nox -s bench (with rlwatch-postgres)"}


def _run(python: str, steps: int) -> dict[str, object]:
    out = subprocess.run([python, str(HERE / "workload.py"), "--steps", str(steps)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"workload failed under {python}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _flat(d: dict[str, object], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "."))
        elif isinstance(v, (int, float)):
            out[key] = float(v)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed-python", help="interpreter of a venv with rlwatch==0.5.1")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--record", action="store_true", help="write the results as the new baseline")
    args = parser.parse_args()
    ours = _flat(_run(sys.executable, args.steps))
    seed = _flat(_run(args.seed_python, args.steps)) if args.seed_python else {}
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    keys = [k for k in ours if k not in ("python",)]
    print(f"{'metric':34} {'rlwatch':>12} {'target':>10} {'baseline':>10} {'0.5.1':>12} {'0.5.1/ours':>10}")
    failures = []
    for k in keys:
        target = TARGETS.get(k) or MIN_TARGETS.get(k)
        s = seed.get(k)
        ratio = (s / ours[k]) if s and ours[k] else None
        if k in MIN_TARGETS and ratio:
            ratio = ours[k] / s if s else None
        b = baseline.get(k)
        flag = ""
        if target is not None:
            met = ours[k] >= target if k in MIN_TARGETS else ours[k] <= target
            flag = "" if met else "  MISSES TARGET"
        if b and k not in MIN_TARGETS and k.endswith(("_us", "_s")) and ours[k] > 3 * b:
            failures.append(f"{k}: {ours[k]:.3g} > 3x baseline {b:.3g}")
        print(f"{k:34} {ours[k]:>12.4g} {target if target is not None else '':>10} "
              f"{b if b is not None else '':>10} {s if s is not None else '-':>12} "
              f"{f'{ratio:.1f}x' if ratio else '-':>10}{flag}")
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n== {script.name}")
        missing = [m for m in NEEDS.get(script.name, ()) if importlib.util.find_spec(m) is None]
        if missing:
            print(f"skipped here (needs {', '.join(missing)}); it runs in its own session: {SESSION[script.name]}")
            continue
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=900)
        print(out.stdout.rstrip())
        if out.returncode != 0:
            print(out.stderr[-2000:])
            failures.append(f"{script.name} exited {out.returncode}")
    if args.record:
        BASELINE.write_text(json.dumps(ours, indent=2, sort_keys=True) + "\n")
        print(f"\nrecorded {BASELINE}")
    if failures:
        print("\nGROSS REGRESSIONS / FAILURES:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
