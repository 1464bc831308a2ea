"""Weights & Biases chart exports: the CSV of a line plot's "Export panel -> CSV".

The layout W&B writes (checked against exports committed to public
repositories)::

    "Step","<run> - <metric>","<run> - <metric>__MIN","<run> - <metric>__MAX",...
    "0","0.52","0.52","0.52",...

The first column is the chart's x-axis: ``Step`` by default, or the step
metric the trainer defined (``train/global_step`` for transformers and
OpenRLHF). Each plotted run has three columns per metric: the value and
the ``__MIN`` / ``__MAX`` of the points W&B merged into it (equal to the
value unless the chart was downsampled or grouped; only the value is
imported). A run has an empty cell at steps where it logged nothing.

One chart holds one metric, so exports are usually several files: all the
files given to one import are merged by W&B run name, and each W&B run
becomes one rlwatch run with every metric of every file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from rlwatch.importers.csv_rows import data_rows, open_text, read_header
from rlwatch.importers.errors import ImportFormatError
from rlwatch.importers.progress import Progress
from rlwatch.importers.source import NOT_METRICS, RawRow, Scan, SourceReader, parse_number, parse_step

SEPARATOR = " - "
AGGREGATES = ("__MIN", "__MAX")
_RUNS_TABLE_COLUMNS = frozenset({"Name", "State", "Created", "Runtime", "ID"})


def split_column(name: str) -> tuple[str, str, str] | None:
    """``(run, metric, aggregate)`` of a chart column (aggregate ``""``, ``"__MIN"`` or ``"__MAX"``), or None.

    Run names may hold `` - `` (people name runs ``qwen 7b - lr 1e-6``),
    metric keys practically never do: the split is at the last one.
    """
    run, sep, metric = name.rpartition(SEPARATOR)
    if not sep or not run or not metric:
        return None
    for aggregate in AGGREGATES:
        if metric.endswith(aggregate):
            return run, metric[: -len(aggregate)], aggregate
    return run, metric, ""


def looks_like(header: list[str]) -> bool:
    """True when a CSV header is a W&B chart export's."""
    if len(header) < 2:
        return False
    parts = [split_column(h) for h in header[1:]]
    return all(p is not None for p in parts) and (
        any(p is not None and p[2] for p in parts) or len(header) == 2
    )


def is_runs_table(header: list[str]) -> bool:
    """True for W&B's runs-table export (one row per run, final values only)."""
    return len(_RUNS_TABLE_COLUMNS.intersection(header)) >= 3


def runs_in(path: str, display: str) -> list[str]:
    """The W&B run names plotted in one chart export, in column order.

    Raises:
        ImportFormatError: not a chart export (a runs-table export says so).
    """
    with open_text(path, display) as fh:
        header = read_header(csv.reader(fh), display)
    if is_runs_table(header):
        raise ImportFormatError(
            display, "line 1",
            "a W&B runs-table export (one row per run, final values only) has no history to replay; "
            "export a chart panel (Export panel -> CSV) or the run's history instead",
        )
    if not looks_like(header):
        raise ImportFormatError(
            display, "line 1", 'not a W&B chart export (expected columns "Step","<run> - <metric>",...)'
        )
    names: list[str] = []
    for column in header[1:]:
        parts = split_column(column)
        if parts is not None and parts[0] not in names:
            names.append(parts[0])
    return names


class WandbChartReader(SourceReader):
    """One W&B run, read from the chart exports that plot it.

    Args:
        files: The chart CSV files holding this run's columns, as ``(path, name in messages)``.
        run: The W&B run name.
        display: How the source is named in messages.
    """

    format = "wandb-csv"

    def __init__(self, files: list[tuple[str, str]], run: str, display: str) -> None:
        super().__init__([path for path, _ in files], display, run)
        self.run = run
        self._displays = [shown for _, shown in files]
        self._rows: dict[int, dict[str, Any]] | None = None

    def _read(self, scan: Scan, progress: Progress) -> dict[int, dict[str, Any]]:
        merged: dict[int, dict[str, Any]] = {}
        for path, display in zip(self.files, self._displays, strict=True):
            with open_text(path, display) as fh:
                reader = csv.reader(fh)
                header = read_header(reader, display)
                columns = []
                for i, name in enumerate(header):
                    parts = split_column(name) if i else None
                    if parts and parts[0] == self.run and not parts[2] and parts[1] not in NOT_METRICS:
                        columns.append((i, parts[1]))
                for lineno, cells in data_rows(reader, display, len(header)):
                    progress.advance()
                    present = [(name, cells[i].strip()) for i, name in columns if cells[i].strip()]
                    if not present:
                        continue  # another run's point, or a step this run did not log
                    try:
                        step = parse_step(cells[0], display, f"line {lineno}")
                    except ImportFormatError as exc:
                        raise ImportFormatError(
                            exc.path, exc.position,
                            f"{exc.problem} (is the chart's x-axis {header[0]!r} a step? "
                            "export it with Step as x-axis)",
                        ) from None
                    row = merged.setdefault(step, {})
                    for name, text in present:
                        number = parse_number(text)
                        if number is None:
                            scan.skip(f"non-numeric values of {name!r}")
                            continue
                        row[name] = number
        return merged

    def scan(self, progress: Progress) -> Scan:
        """Read and merge every file's columns of this run."""
        progress.phase(f"reading {self.run}", 0, "rows")
        scan = Scan()
        merged = self._read(scan, progress)
        for step in sorted(merged):
            scan.add(step, merged[step])
        self._rows = merged
        return scan

    def rows(self, progress: Progress) -> Iterator[RawRow]:
        """The merged rows, by step."""
        merged = self._rows if self._rows is not None else self._read(Scan(), Progress(enabled=False))
        for step in sorted(merged):
            yield step, None, merged[step]


def readers_for(paths: list[tuple[str, str]]) -> list[WandbChartReader]:
    """One reader per W&B run plotted in any of the chart exports ``[(path, display), ...]``."""
    by_run: dict[str, list[tuple[str, str]]] = {}
    for path, display in paths:
        for run in runs_in(path, display):
            by_run.setdefault(run, []).append((path, display))
    readers = []
    for run, found in by_run.items():
        shown = ", ".join(d for _, d in found[:3]) + (f" (+{len(found) - 3} more)" if len(found) > 3 else "")
        readers.append(WandbChartReader(found, run, f"{shown} [{run}]"))
    return readers
