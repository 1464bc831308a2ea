"""The real-log quality suite: public training logs, labelled by hand, replayed through rlwatch.

Each folder of ``tests/fixtures/real_logs`` holds one run's log as its tool
wrote it, its provenance and a label (healthy / unstable with an onset step /
unclear) decided from the curves, independently of rlwatch. Every log is
replayed with ``rlwatch import`` (`rlwatch.importers.import_paths`): the live
monitor's code path, with the framework's key map and the default
configuration. Scores, as the issue defines them:

* healthy runs: how many got any critical, and warnings and criticals per
  1000 logged steps (alerts as sent, after cooldown; ``info`` findings are
  configuration notes, listed but not counted);
* unstable runs: caught by an expected detector at or after the onset, and
  the delay in logged steps (rows of the log) and in training steps;
* unclear runs: listed with what fired, not scored.

``split`` (dev / holdout) is printed so that tuning on dev and checking on
holdout stays visible.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REAL_LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "real_logs"
_NOT_LOGS = frozenset({"provenance.json", "label.json"})

REAL_TARGETS = {
    "healthy_runs_with_critical": 0,
    "healthy_warnings_per_1000_steps": 2.0,
    "unstable_caught_fraction": 1.0,
    "unstable_median_delay_logged_steps": 3.0,
}


@dataclass
class RealResult:
    """One real log's replay: its label and what rlwatch said."""

    slug: str
    label: str
    split: str
    onset: int | None
    expected: list[str]
    steps: list[int]
    alerts: list[tuple[str, str, int]] = field(default_factory=list)  # (detector, severity, step), as sent
    keymap: str = ""

    @property
    def rows(self) -> int:
        """Logged steps (rows of the log)."""
        return len(self.steps)

    def caught(self) -> tuple[str, str, int] | None:
        """The first alert of an expected detector at or after the onset (warnings count), or None."""
        if self.onset is None:
            return None
        hits = [a for a in self.alerts if a[0] in self.expected and a[2] >= self.onset and a[1] != "info"]
        return min(hits, key=lambda a: a[2]) if hits else None

    def delay(self) -> tuple[int, int] | None:
        """(logged steps, training steps) from the onset to the catch."""
        hit = self.caught()
        if hit is None or self.onset is None:
            return None
        onset_row = next((i for i, s in enumerate(self.steps) if s >= self.onset), len(self.steps))
        hit_row = self.steps.index(hit[2]) if hit[2] in self.steps else onset_row
        return hit_row - onset_row, hit[2] - self.onset


def logs(folder: Path = REAL_LOGS) -> list[Path]:
    """The log file of every labelled run."""
    if not folder.is_dir():
        return []
    out = []
    for run in sorted(p for p in folder.iterdir() if p.is_dir() and (p / "label.json").exists()):
        files = [f for f in run.iterdir() if f.is_file() and f.name not in _NOT_LOGS]
        if len(files) == 1:
            out.append(files[0])
    return out


def replay(log: Path, db: str) -> RealResult:
    """Import one log into `db` and collect what rlwatch said about it."""
    from rlwatch.importers import ImportOptions, import_paths
    from rlwatch.storage import StoreReader

    label = json.loads((log.parent / "label.json").read_text())
    provenance = json.loads((log.parent / "provenance.json").read_text())
    logging_steps = int(provenance.get("logging_steps") or 1)
    (imported,) = import_paths([str(log)], ImportOptions(db=db, progress=False, logging_steps=logging_steps,
                                                         run_id=log.parent.name, force=True))
    with StoreReader(db) as reader:
        steps = [int(s) for s in reader.metrics(imported.run_id)["step"]]
        alerts = [(a.detector, a.severity, int(a.step or 0)) for a in reader.alerts(imported.run_id)
                  if a.status != "suppressed"]
    return RealResult(
        slug=log.parent.name, label=str(label["label"]), split=str(label.get("split", "dev")),
        onset=label.get("onset_step"), expected=list(label.get("expected_detectors") or []), steps=steps,
        alerts=sorted(alerts, key=lambda a: a[2]), keymap=imported.keymap,
    )


def run_all(folder: Path = REAL_LOGS) -> list[RealResult]:
    """Replay every labelled log of `folder`, each into a database of its own."""
    results = []
    with tempfile.TemporaryDirectory(prefix="rlwatch-real-") as tmp:
        for i, log in enumerate(logs(folder)):
            results.append(replay(log, str(Path(tmp) / f"r{i}.db")))
    return results


def summarise(results: list[RealResult]) -> dict[str, Any]:
    """The numbers the issue asks for, overall and per split."""
    healthy = [r for r in results if r.label == "healthy"]
    unstable = [r for r in results if r.label == "unstable"]
    healthy_rows = sum(r.rows for r in healthy)
    warnings = sum(1 for r in healthy for a in r.alerts if a[1] == "warning")
    criticals = sum(1 for r in healthy for a in r.alerts if a[1] == "critical")
    delays = [d for r in unstable if (d := r.delay()) is not None]
    return {
        "healthy_runs": len(healthy),
        "healthy_logged_steps": healthy_rows,
        "healthy_runs_with_critical": sum(1 for r in healthy if any(a[1] == "critical" for a in r.alerts)),
        "healthy_warnings_per_1000_steps": 1000.0 * warnings / max(healthy_rows, 1),
        "healthy_criticals_per_1000_steps": 1000.0 * criticals / max(healthy_rows, 1),
        "unstable_runs": len(unstable),
        "unstable_caught": len(delays),
        "unstable_caught_fraction": len(delays) / max(len(unstable), 1),
        "unstable_median_delay_logged_steps": statistics.median(d[0] for d in delays) if delays else None,
        "unstable_median_delay_training_steps": statistics.median(d[1] for d in delays) if delays else None,
        "unclear_runs": sum(1 for r in results if r.label == "unclear"),
    }


def check(summary: dict[str, Any]) -> list[str]:
    """Targets missed by a summary (empty when every target is met)."""
    missed = []
    if summary["healthy_runs_with_critical"] > REAL_TARGETS["healthy_runs_with_critical"]:
        missed.append(f"real healthy runs with a critical: {summary['healthy_runs_with_critical']} (target 0)")
    if summary["healthy_warnings_per_1000_steps"] > REAL_TARGETS["healthy_warnings_per_1000_steps"]:
        missed.append(f"real healthy warnings per 1000 logged steps: "
                      f"{summary['healthy_warnings_per_1000_steps']:.2f} (target <= 2)")
    if summary["unstable_caught_fraction"] < REAL_TARGETS["unstable_caught_fraction"]:
        missed.append(f"real unstable runs caught by an expected detector: {summary['unstable_caught']} of "
                      f"{summary['unstable_runs']} (target all)")
    delay = summary["unstable_median_delay_logged_steps"]
    if delay is None or delay > REAL_TARGETS["unstable_median_delay_logged_steps"]:
        missed.append(f"real unstable median delay: {delay} logged steps (target <= 3)")
    return missed


def format_table(results: list[RealResult]) -> str:
    """One line per log, then the summary overall and per split."""
    lines = [f"{'run':16} {'split':7} {'label':9} {'rows':>5} {'onset':>6}  {'keymap':14} what rlwatch sent"]
    for r in results:
        sent = ", ".join(f"{d}:{s[0].upper()}@{step}" for d, s, step in r.alerts[:6]) or "no alerts"
        if len(r.alerts) > 6:
            sent += f", +{len(r.alerts) - 6} more"
        note = ""
        if r.label == "unstable":
            d = r.delay()
            note = f"  -> caught, delay {d[0]} logged / {d[1]} training steps" if d else "  -> MISSED"
        onset = "" if r.onset is None else str(r.onset)
        lines.append(f"{r.slug:16} {r.split:7} {r.label:9} {r.rows:>5} {onset:>6}  {r.keymap:14} {sent}{note}")
    for name, subset in (("all", results), ("dev", [r for r in results if r.split == "dev"]),
                         ("holdout", [r for r in results if r.split == "holdout"])):
        s = summarise(subset)
        delay = s["unstable_median_delay_logged_steps"]
        training = s["unstable_median_delay_training_steps"]
        lines.append(
            f"{name:8} healthy runs {s['healthy_runs']} ({s['healthy_logged_steps']} logged steps): "
            f"{s['healthy_runs_with_critical']} with a critical, {s['healthy_warnings_per_1000_steps']:.2f} warnings "
            f"and {s['healthy_criticals_per_1000_steps']:.2f} criticals per 1000 steps; unstable caught "
            f"{s['unstable_caught']}/{s['unstable_runs']}, median delay "
            f"{'-' if delay is None else f'{delay:g}'} logged steps "
            f"({'-' if training is None else f'{training:g}'} training steps); unclear {s['unclear_runs']}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    found = run_all()
    print(format_table(found))
    missed = check(summarise(found))
    print("\n" + ("MISSED: " + "; ".join(missed) if missed else "All real-log targets met."))
