"""The measured detection-quality suite: scenarios in, a table out.

Runs every labelled scenario of `rlwatch.simulate.scenario_suite` through
rlwatch and measures, per detector: recall on the failures it should catch,
detection delay (steps from the labelled onset to its first alert), and
false alarms on healthy runs (and before onset in failing runs). Alerts are
counted as the user sees them: after the alert manager's cooldown and
escalation.

Drivers:
    pipeline  the real `rlwatch.core.RLWatch` (SQLite in a temp dir), the
              default; what `rlwatch` users get.
    direct    detectors + `AlertManager` only (no storage): quick tuning.
The ``stalled`` detector is about wall-clock time, which the pipeline's timer
thread reads from the real clock; it is measured with the same detector and
alert manager driven by a simulated clock (1 s ticks, as the timer does).

`--legacy-python PATH` also replays the suite through ``rlwatch`` 0.5.1
installed in another virtualenv (same import name, hence a subprocess:
``legacy_driver.py``) and prints its numbers beside ours.

Real traces saved by the adapter tests under ``tests/fixtures/traces/*.jsonl``
(one JSON object per line with "step" and metrics) are replayed too; a
sidecar ``<name>.label.json`` ({"expected_detector": id|null, "onset": step})
gives the label, else the trace is treated as healthy.

Usage:
    python tests/quality/quality_suite.py [--driver pipeline|direct] [--seeds N]
        [--legacy-python /path/to/venv/bin/python] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rlwatch.metrics import CANONICAL_SCALARS
from rlwatch.simulate import FAILURES, SimulatedRun, scenario_suite

HERE = Path(__file__).resolve().parent
TRACES = HERE.parent / "fixtures" / "traces"
SCALARS = CANONICAL_SCALARS  # the columns written for the 0.5.1 replay

LEGACY_DETECTORS = (
    "entropy_collapse",
    "kl_explosion",
    "reward_hacking",
    "advantage_variance",
    "loss_nan",
    "gradient_norm_spike",
    "reward_mean_drift",
)
"""The detectors rlwatch 0.5.1 has (degenerate_groups, length_pathology, stalled are new)."""

TARGETS = {
    "healthy_runs_without_critical": 0.98,
    "healthy_warnings_per_1000_steps": 1.0,
    "recall": 0.95,
    "median_delay": 10.0,
}

DELAY_TARGETS = {
    "loss_nan": 0.0,
    "kl_explosion": 5.0,
    "advantage_variance": 5.0,
    "gradient_norm_spike": 10.0,
    "reward_hacking": 12.0,
    "degenerate_groups": 15.0,
    "entropy_collapse": 20.0,
    "reward_mean_drift": 20.0,
}
"""Median detection delay (steps after onset) each detector must meet; the others are reported only."""


@dataclass
class RunResult:
    """What one run produced: its label and the alerts the user saw."""

    name: str
    kind: str
    expected: str | None
    onset: int | None
    steps: int
    alerts: list[tuple[str, str, int]] = field(default_factory=list)  # (detector, severity, step)
    delay_unit: str = "steps"
    delay_override: float | None = None  # stalled: delay in step intervals

    def first_hit(self) -> int | None:
        """Step of the expected detector's first warning or critical at/after onset (an info is no alarm)."""
        if self.expected is None or self.onset is None:
            return None
        hits = [s for d, sev, s in self.alerts if d == self.expected and s >= self.onset and sev != "info"]
        return min(hits) if hits else None

    def false_alarms(self) -> list[tuple[str, str, int]]:
        """Warnings and criticals on healthy steps: all of healthy runs, pre-onset ones otherwise."""
        alarms = [a for a in self.alerts if a[1] != "info"]
        if self.onset is None:
            return alarms
        return [a for a in alarms if a[2] < self.onset]

    def healthy_steps(self) -> int:
        """Number of steps that were healthy."""
        return self.steps if self.onset is None else self.onset


# ---- drivers ------------------------------------------------------------------------


def drive_pipeline(run: SimulatedRun, log_dir: str) -> list[tuple[str, str, int]]:
    """Feed a run through the real monitor; return the alerts log_step returned."""
    from rlwatch.config import AlertConfig, ConsoleConfig, RLWatchConfig, StorageConfig
    from rlwatch.core import RLWatch

    cfg = RLWatchConfig(
        run_id=run.name.replace("/", "-"),
        framework="manual",
        storage=StorageConfig(log_dir=log_dir, flush_interval_seconds=0.05),
        alerts=AlertConfig(console=ConsoleConfig(enabled=False)),
    )
    # Run as a replay: heavy reward-distribution statistics then run inline, as they do live whenever a
    # training step takes more than a few milliseconds. Fed in a burst of 500 steps, a live monitor would
    # defer them to its background worker's duty cycle, which bench_detectors measures; this suite measures
    # detection.
    mon = RLWatch(cfg, source="simulation").start()
    seen: list[tuple[str, str, int]] = []
    try:
        for step, metrics in run:
            for a in mon.log_step(step, **metrics):
                seen.append((a.detector, a.severity, a.step))
    finally:
        mon.stop()
    return [a for a in seen if a[0] != "stalled"]


def _direct_monitor() -> tuple[list[Any], Any]:
    from rlwatch.alert_manager import AlertManager
    from rlwatch.plugins import builtin_detector_classes

    dets = [cls(cls.config_class()) for cls in builtin_detector_classes()]
    cooldowns = {d.id: int(d.config.cooldown_steps) for d in dets}
    return dets, AlertManager(50, cooldowns)


def drive_direct(run: SimulatedRun) -> list[tuple[str, str, int]]:
    """Feed a run to the detectors and alert manager directly (no storage)."""
    dets, manager = _direct_monitor()
    seen: list[tuple[str, str, int]] = []
    for step, metrics in run:
        values = {k: float(v) for k, v in metrics.items() if k != "rewards"}
        arrays = {"rewards": np.asarray(metrics["rewards"], dtype=np.float64)}
        for d in dets:
            if d.id == "stalled":
                continue
            for a in d.update(step, values, arrays) or ():
                if manager.decide(a)[0] == "sent":
                    seen.append((a.detector, a.severity, a.step))
    return seen


def drive_stalled(run: SimulatedRun, max_wait: float = 7200.0) -> tuple[list[tuple[str, str, int]], float | None]:
    """Replay a run's wall-clock timeline against `stalled` with 1 s ticks.

    Returns:
        The stalled alerts, and for a hanging run the seconds from the last
        step to the first alert (None if none).
    """
    from rlwatch.alert_manager import AlertManager
    from rlwatch.detectors.stalled import StalledConfig, StalledDetector

    det = StalledDetector(StalledConfig())
    manager = AlertManager(50, {"stalled": StalledConfig().cooldown_steps})
    ends = np.cumsum(run.step_seconds)
    seen: list[tuple[str, str, int]] = []
    last = -1
    idx = 0
    tick = 0.0
    horizon = float(ends[-1]) + (max_wait if run.kind == "stalled" else 0.0)
    first_after_end: float | None = None
    while tick <= horizon:
        tick += 1.0
        while idx < len(ends) and ends[idx] <= tick:
            last = idx
            idx += 1
        for a in det.check_time(tick, last) or ():
            if manager.decide(a)[0] == "sent":
                seen.append((a.detector, a.severity, a.step))
                if run.kind == "stalled" and tick > ends[-1] and first_after_end is None:
                    first_after_end = tick - float(ends[-1])
        if first_after_end is not None and len(seen) >= 2:
            break
    return seen, first_after_end


def start_legacy(runs: list[SimulatedRun], python: str, workdir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """Start replaying the runs through rlwatch 0.5.1 in its own interpreter.

    It runs concurrently with our own suite (two cores: about half the wall
    time); `finish_legacy` collects the result.
    """
    index = []
    for i, run in enumerate(runs):
        if run.kind == "stalled":
            continue
        path = workdir / f"run{i}.npz"
        scal = np.array([[m.get(k, math.nan) for k in SCALARS] for _, m in run], dtype=np.float64)
        rew = np.stack([np.asarray(m["rewards"], dtype=np.float64) for _, m in run])
        np.savez(path, steps=np.array([s for s, _ in run]), scalars=scal, rewards=rew)
        index.append({"name": run.name, "path": str(path)})
    (workdir / "index.json").write_text(json.dumps({"scalars": SCALARS, "runs": index}))
    out = workdir / "legacy_alerts.json"
    # absolute, but not resolved: a venv's python is a symlink to the base one
    python = os.path.abspath(python)
    proc = subprocess.Popen(
        [python, str(HERE / "legacy_driver.py"), str(workdir / "index.json"), str(out)],
        cwd=str(workdir),
    )
    return proc, out


def finish_legacy(proc: subprocess.Popen[bytes], out: Path) -> dict[str, list[tuple[str, str, int]]]:
    """Wait for the 0.5.1 replay; its alerts per run name."""
    code = proc.wait(timeout=900)
    if code != 0:
        raise RuntimeError(f"the rlwatch 0.5.1 replay failed with exit code {code}")
    data = json.loads(out.read_text())
    return {name: [tuple(a) for a in alerts] for name, alerts in data.items()}


# ---- traces -----------------------------------------------------------------------


def load_traces(folder: Path = TRACES) -> list[SimulatedRun]:
    """Real-framework traces saved by the adapter tests, as labelled runs."""
    runs: list[SimulatedRun] = []
    if not folder.is_dir():
        return runs
    for path in sorted(folder.glob("*.jsonl")):
        rows: list[tuple[int, dict[str, Any]]] = []
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            obj = json.loads(line)
            step = int(obj.pop("step"))
            metrics: dict[str, Any] = {}
            for k, v in obj.items():
                if k in ("rewards", "advantages") and isinstance(v, list):
                    metrics[k] = np.asarray(v, dtype=np.float64)
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    metrics[k] = float(v)
                elif v is None:
                    continue
            rows.append((step, metrics))
        label_path = path.with_suffix(".label.json")
        label = json.loads(label_path.read_text()) if label_path.exists() else {}
        expected = label.get("expected_detector")
        run = SimulatedRun(
            kind=expected or "healthy",
            variant="trace",
            profile=path.stem,
            seed=0,
            onset=label.get("onset") if expected else None,
            expected_detector=expected,
            rows=rows,
        )
        runs.append(run)
    return runs


def drive_trace(run: SimulatedRun, driver: str, log_dir: str) -> list[tuple[str, str, int]]:
    """Traces may lack arrays or metrics: feed exactly what they hold."""
    if driver == "pipeline":
        return drive_pipeline(run, log_dir)
    dets, manager = _direct_monitor()
    seen: list[tuple[str, str, int]] = []
    for step, metrics in run:
        values = {k: v for k, v in metrics.items() if isinstance(v, float)}
        arrays = {k: v for k, v in metrics.items() if isinstance(v, np.ndarray)}
        for d in dets:
            for a in d.update(step, values, arrays) or ():
                if manager.decide(a)[0] == "sent":
                    seen.append((a.detector, a.severity, a.step))
    return seen


# ---- scoring ------------------------------------------------------------------------


def run_suite(
    seeds: int = 5, steps: int = 500, driver: str = "pipeline", runs: list[SimulatedRun] | None = None
) -> list[RunResult]:
    """Run every scenario (or ``runs``) through ``driver``; return per-run results."""
    if runs is None:
        runs = scenario_suite(seeds=seeds, steps=steps)
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="rlwatch-quality-") as tmp:
        for run in runs:
            res = RunResult(run.name, run.kind, run.expected_detector, run.onset, len(run))
            if run.kind != "stalled":
                res.alerts = drive_pipeline(run, tmp) if driver == "pipeline" else drive_direct(run)
            # the clock-driven stalled check runs on every run (false alarms too)
            stalled, waited = drive_stalled(run)
            if run.kind == "stalled":
                res.alerts = stalled
                res.delay_unit = "intervals"
                interval = statistics.median(run.step_seconds)
                res.delay_override = None if waited is None else waited / interval
                res.onset = len(run) - 1
                res.alerts = [(d, s, res.onset) if st >= res.onset else (d, s, st) for d, s, st in stalled]
            else:
                res.alerts = res.alerts + stalled
            results.append(res)
    return results


def summarise(results: list[RunResult]) -> dict[str, Any]:
    """Per-detector recall/delay, and false alarms on healthy steps."""
    per: dict[str, dict[str, Any]] = {}
    by_kind: dict[str, list[RunResult]] = defaultdict(list)
    for r in results:
        if r.expected:
            by_kind[r.expected].append(r)
    healthy = [r for r in results if r.expected is None]
    healthy_steps = sum(r.healthy_steps() for r in results)
    fa_by_det: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in results:
        for d, sev, _ in r.false_alarms():
            fa_by_det[d][0 if sev == "warning" else 1] += 1
    for det in FAILURES:
        runs = by_kind.get(det, [])
        delays: list[float] = []
        for r in runs:
            if r.delay_override is not None:
                delays.append(r.delay_override)
            else:
                hit = r.first_hit()
                if hit is not None and r.onset is not None:
                    delays.append(hit - r.onset)
        per[det] = {
            "failure_runs": len(runs),
            "caught": len(delays),
            "recall": len(delays) / len(runs) if runs else math.nan,
            "median_delay": statistics.median(delays) if delays else math.nan,
            "p90_delay": float(np.percentile(delays, 90)) if delays else math.nan,
            "delay_unit": runs[0].delay_unit if runs else "steps",
            "false_warnings": fa_by_det[det][0],
            "false_criticals": fa_by_det[det][1],
        }
    n_healthy = len(healthy)
    warnings = sum(1 for r in results for a in r.false_alarms() if a[1] == "warning")
    overall = {
        "healthy_runs": n_healthy,
        "healthy_runs_without_critical": (
            sum(1 for r in healthy if not any(a[1] == "critical" for a in r.alerts)) / n_healthy
            if n_healthy
            else math.nan
        ),
        "healthy_steps": healthy_steps,
        "healthy_warnings_per_1000_steps": 1000.0 * warnings / healthy_steps if healthy_steps else math.nan,
        "false_criticals": sum(1 for r in results for a in r.false_alarms() if a[1] == "critical"),
        "failure_runs": sum(len(v) for v in by_kind.values()),
        "recall": (
            sum(p["caught"] for p in per.values()) / sum(p["failure_runs"] for p in per.values())
            if by_kind
            else math.nan
        ),
    }
    all_delays = []
    for r in results:
        if r.expected and r.delay_override is None:
            hit = r.first_hit()
            if hit is not None and r.onset is not None:
                all_delays.append(hit - r.onset)
    overall["median_delay"] = statistics.median(all_delays) if all_delays else math.nan
    return {"detectors": per, "overall": overall}


def _fmt(x: float, pct: bool = False) -> str:
    if x != x:
        return "n/a"
    return f"{100 * x:.0f}%" if pct else f"{x:.1f}"


def format_table(ours: dict[str, Any], legacy: dict[str, Any] | None = None, title: str = "") -> str:
    """The report: one row per detector, ours beside 0.5.1 when given."""
    lines = [title] if title else []
    head = f"{'detector':<22}{'runs':>5}{'recall':>8}{'median':>8}{'p90':>6}{'false W/C':>11}"
    if legacy:
        head += f" |{'0.5.1 recall':>13}{'median':>8}{'false W/C':>11}"
    lines.append(head)
    lines.append("-" * len(head))
    for det, p in ours["detectors"].items():
        unit = "" if p["delay_unit"] == "steps" else " (intervals)"
        row = (
            f"{det:<22}{p['failure_runs']:>5}{_fmt(p['recall'], True):>8}{_fmt(p['median_delay']):>8}"
            f"{_fmt(p['p90_delay']):>6}{p['false_warnings']:>6}/{p['false_criticals']:<4}"
        )
        if legacy:
            q = legacy["detectors"].get(det)
            if q is None or det not in LEGACY_DETECTORS:
                row += f" |{'(no detector)':>13}{'':>8}{'':>11}"
            else:
                row += (
                    f" |{_fmt(q['recall'], True):>13}{_fmt(q['median_delay']):>8}"
                    f"{q['false_warnings']:>6}/{q['false_criticals']:<4}"
                )
        lines.append(row + unit)
    o = ours["overall"]
    lines.append("-" * len(head))

    def overall_line(name: str, o: dict[str, Any]) -> str:
        return (
            f"{name}: healthy runs {o['healthy_runs']}, without critical "
            f"{_fmt(o['healthy_runs_without_critical'], True)} (target >= 98%); warnings per 1000 "
            f"healthy steps {o['healthy_warnings_per_1000_steps']:.2f} (target <= 1); false criticals "
            f"{o['false_criticals']}; recall {_fmt(o['recall'], True)} of {o['failure_runs']} failure "
            f"runs (target >= 95%); median delay {_fmt(o['median_delay'])} steps (target <= 10)"
        )

    lines.append(overall_line("rlwatch (this tree)", o))
    if legacy:
        own = [p for d, p in legacy["detectors"].items() if d in LEGACY_DETECTORS and p["failure_runs"]]
        caught = sum(p["caught"] for p in own)
        total = sum(p["failure_runs"] for p in own)
        lines.append(overall_line("rlwatch 0.5.1      ", legacy["overall"]))
        if total:
            lines.append(
                f"  (0.5.1 recall on the {len(LEGACY_DETECTORS)} failure kinds it has a detector for: "
                f"{100 * caught / total:.0f}% of {total} runs)"
            )
    lines.append(
        "false W/C = warnings/criticals on healthy steps (healthy runs, and failing runs before "
        "onset), as sent after cooldown."
    )
    return "\n".join(lines)


def legacy_results(results: list[RunResult], legacy: dict[str, list[tuple[str, str, int]]]) -> list[RunResult]:
    """Our labels with 0.5.1's alerts."""
    out = []
    for r in results:
        if r.kind == "stalled":
            continue
        alerts = legacy.get(r.name, [])
        out.append(RunResult(r.name, r.kind, r.expected, r.onset, r.steps, list(alerts)))
    return out


def check_targets(summary: dict[str, Any]) -> list[str]:
    """Which targets the summary misses (empty: all met)."""
    o = summary["overall"]
    missed = []
    if not o["healthy_runs_without_critical"] >= TARGETS["healthy_runs_without_critical"]:
        missed.append(f"healthy runs without critical {o['healthy_runs_without_critical']:.3f}")
    if not o["healthy_warnings_per_1000_steps"] <= TARGETS["healthy_warnings_per_1000_steps"]:
        missed.append(f"warnings per 1000 healthy steps {o['healthy_warnings_per_1000_steps']:.2f}")
    if not o["recall"] >= TARGETS["recall"]:
        missed.append(f"recall {o['recall']:.3f}")
    if not o["median_delay"] <= TARGETS["median_delay"]:
        missed.append(f"median delay {o['median_delay']}")
    for det, p in summary["detectors"].items():
        if p["failure_runs"] and not p["recall"] >= TARGETS["recall"]:
            missed.append(f"{det} recall {p['recall']:.3f}")
        target = DELAY_TARGETS.get(det)
        if target is not None and p["caught"] and not p["median_delay"] <= target:
            missed.append(f"{det} median delay {p['median_delay']} (target <= {target:g})")
    return missed


def main(argv: list[str] | None = None) -> int:
    """CLI entry: run, print the table, exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description="rlwatch detection quality suite")
    parser.add_argument("--driver", choices=("pipeline", "direct"), default="pipeline")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--legacy-python", default="", help="python of a venv with rlwatch==0.5.1")
    parser.add_argument("--json", default="", help="write the summary here")
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even if targets are missed")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    runs = scenario_suite(seeds=args.seeds, steps=args.steps)
    legacy_summary = None
    with tempfile.TemporaryDirectory(prefix="rlwatch-legacy-") as tmp:
        legacy_proc = start_legacy(runs, args.legacy_python, Path(tmp)) if args.legacy_python else None
        results = run_suite(args.seeds, args.steps, args.driver, runs=runs)
        ours = summarise(results)
        t_ours = time.perf_counter() - t0
        if legacy_proc is not None:
            legacy = finish_legacy(*legacy_proc)
            legacy_summary = summarise(legacy_results(results, legacy))
            print(f"(0.5.1 replay, run alongside ours, finished after {time.perf_counter() - t0:.1f} s)")
    print(
        format_table(
            ours,
            legacy_summary,
            title=(
                f"Detection quality ({args.driver} driver, {args.seeds} seeds, {args.steps} steps/run; {t_ours:.1f} s)"
            ),
        )
    )

    traces = load_traces()
    if traces:
        with tempfile.TemporaryDirectory(prefix="rlwatch-traces-") as tmp:
            print(f"\nReal-framework traces ({len(traces)} in {TRACES}):")
            for run in traces:
                alerts = drive_trace(run, args.driver, tmp)
                label = run.expected_detector or "healthy"
                got = sorted({f"{d}:{s}" for d, s, _ in alerts}) or ["no alerts"]
                print(f"  {run.profile:<40} expected {label:<20} got {', '.join(got)}")
    sys.path.insert(0, str(HERE))  # the sibling harness, also when this file is loaded by path
    import real_logs

    real = real_logs.run_all()
    real_summary = real_logs.summarise(real) if real else None
    if real:
        print(f"\nReal public training logs ({len(real)} in {real_logs.REAL_LOGS}; provenance and labels beside "
              "each):")
        print(real_logs.format_table(real))
    if args.json:
        Path(args.json).write_text(json.dumps({"ours": ours, "legacy": legacy_summary, "real_logs": real_summary},
                                              indent=2, default=str))
    missed = check_targets(ours) + (real_logs.check(real_summary) if real_summary else [])
    if missed:
        print("\nMISSED TARGETS: " + "; ".join(missed))
        return 0 if args.no_fail else 1
    print("\nAll quality targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
