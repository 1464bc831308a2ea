"""CSV with a header and one row per logged step (any script's dump, W&B's ``run.history().to_csv()``).

The step column is the first of `STEP_KEYS` in the header (or
``--step-key``); W&B's ``_runtime``/``_timestamp`` and an unnamed index
column (pandas' ``to_csv``) are bookkeeping, not metrics. Empty cells are
steps where a metric was not logged (gaps are kept, not filled); cells
that are not numbers are left out and counted per column. A row with more
or fewer cells than the header is malformed (a truncated file ends with one).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from typing import Any

from rlwatch.importers.errors import ImportFormatError
from rlwatch.importers.progress import Progress
from rlwatch.importers.source import (
    NOT_METRICS,
    STEP_KEYS,
    WALL_TIME_KEYS,
    RawRow,
    Scan,
    SourceReader,
    parse_number,
    parse_step,
    pick_key,
)

# Large cells (a W&B table serialised into one cell) must not stop the reader.
csv.field_size_limit(64 * 1024 * 1024)


def open_text(path: str, display: str) -> io.TextIOWrapper:
    """Open a text file for the csv module, or a clear error."""
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ImportFormatError(display, "", f"cannot read: {exc.strerror or exc}") from None


def read_header(reader: Any, display: str) -> list[str]:
    """The header row, or a clear error for an empty or binary file."""
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFormatError(display, "line 1", "empty file: no header row") from None
    except UnicodeDecodeError as exc:
        raise ImportFormatError(display, "line 1", f"not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise ImportFormatError(display, "line 1", f"not valid CSV: {exc}") from None
    return [h.strip() for h in header]


def data_rows(reader: Any, display: str, width: int) -> Iterator[tuple[int, list[str]]]:
    """``(line number, cells)`` of every non-blank row, each checked to have `width` cells."""
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise ImportFormatError(display, f"line {reader.line_num + 1}", f"not UTF-8 text ({exc.reason})") from None
        except csv.Error as exc:
            raise ImportFormatError(display, f"line {reader.line_num}", f"not valid CSV: {exc}") from None
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        if len(cells) != width:
            cut = " (the row is cut short: truncated file?)" if len(cells) < width else ""
            raise ImportFormatError(
                display, f"line {reader.line_num}",
                f"{len(cells)} cell{'' if len(cells) == 1 else 's'} where the header has {width}{cut}",
            )
        yield reader.line_num, cells


class CsvReader(SourceReader):
    """Reads one CSV file with a header row.

    Args:
        path: The file.
        step_key: The column holding the step (default: the first of `STEP_KEYS`).
    """

    format = "csv"

    def __init__(self, path: str, display: str | None = None, step_key: str | None = None) -> None:
        stem = os.path.splitext(os.path.basename(path))[0]
        super().__init__([path], display or path, stem)
        self.step_key = step_key
        self._columns: list[tuple[int, str]] = []
        self._step_index = -1
        self._wall_index = -1

    def _layout(self, header: list[str]) -> None:
        step_key = self.step_key or pick_key(header, STEP_KEYS)
        if step_key is None or step_key not in header:
            wanted = f"column {self.step_key!r} (--step-key)" if self.step_key else (
                f"step column (looked for {', '.join(STEP_KEYS)}; name it with --step-key)")
            raise ImportFormatError(self.display, "line 1", f"no {wanted} in the header")
        self.step_key = step_key
        self._step_index = header.index(step_key)
        wall_key = pick_key(header, WALL_TIME_KEYS)
        self._wall_index = header.index(wall_key) if wall_key else -1
        self._columns = [
            (i, name) for i, name in enumerate(header)
            if name and i != self._step_index and name not in NOT_METRICS and name not in STEP_KEYS
        ]

    def _rows(self, progress: Progress, scan: Scan | None) -> Iterator[RawRow]:
        with open_text(self.files[0], self.display) as fh:
            reader = csv.reader(fh)
            header = read_header(reader, self.display)
            self._layout(header)
            columns, step_index, wall_index = self._columns, self._step_index, self._wall_index
            for lineno, cells in data_rows(reader, self.display, len(header)):
                progress.advance()
                if not cells[step_index].strip():
                    if scan is not None:
                        scan.skip(f"rows without {self.step_key!r}")
                    continue
                step = parse_step(cells[step_index], self.display, f"line {lineno}")
                wall = parse_number(cells[wall_index]) if wall_index >= 0 else None
                values: dict[str, Any] = {}
                for i, name in columns:
                    text = cells[i].strip()
                    if not text:
                        continue
                    number = parse_number(text)
                    if number is None:
                        if scan is not None:
                            scan.skip(f"non-numeric values in column {name!r}")
                        continue
                    values[name] = number
                yield step, wall, values

    def scan(self, progress: Progress) -> Scan:
        """Check every row."""
        progress.phase(f"checking {os.path.basename(self.display)}", 0, "rows")
        scan = Scan()
        for step, _, values in self._rows(progress, scan):
            scan.add(step, values)
        return scan

    def rows(self, progress: Progress) -> Iterator[RawRow]:
        """The rows in file order."""
        return self._rows(Progress(enabled=False), None)
