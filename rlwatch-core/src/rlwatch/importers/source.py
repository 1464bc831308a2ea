"""What every format reader shares: the row type, the reader interface, step and number parsing.

A reader turns one source (a file, or the files of one run) into raw rows
``(step, wall_time, values)``: the source's own training step, its wall
time if it has one, and the logged key -> value pairs under the source's
own names. Key maps (`rlwatch.importers.keys`) rename them later; readers
never do.

Reading has two steps: `SourceReader.scan` checks the whole source and
learns its keys before anything is written, then `SourceReader.rows` yields
the rows for the replay (from what the scan kept, where the reader can: see
`rlwatch.importers.row_cache`). A malformed source therefore fails in
`scan`, with the database untouched.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar

from rlwatch.importers.errors import ImportFormatError
from rlwatch.importers.progress import Progress

RawRow = tuple[int, float | None, dict[str, Any]]
"""``(step, wall_time or None, {logged key: value})``: one logged step of a source."""

MAX_STEP = 9_223_372_036_854_775_807
"""Largest step SQLite's INTEGER holds."""

STEP_KEYS = ("train/global_step", "trainer/global_step", "training/global_step", "global_step", "step", "_step",
             "update", "iteration")
"""Columns that hold the training step, most specific first.

W&B's own ``_step`` counts ``wandb.log`` calls, not training steps, so the
global step a trainer logs beside it (transformers and OpenRLHF log
``train/global_step``, Lightning ``trainer/global_step``, veRL
``training/global_step``) wins when present.
"""

WALL_TIME_KEYS = ("wall_time", "_timestamp", "timestamp")
"""Columns that hold a Unix wall time in seconds."""

NOT_METRICS = frozenset({"_runtime", "_step", "_timestamp", "wall_time", "timestamp", "elapsed_seconds"})
"""Bookkeeping columns of loggers (W&B's run clock, veRL's elapsed time): never metrics."""


@dataclass
class Scan:
    """What `SourceReader.scan` learnt about a source.

    Attributes:
        rows: Rows that will be replayed.
        keys: Every logged key seen (before key maps).
        first_step: Smallest step, or None when there are no rows.
        last_step: Largest step, or None.
        skipped: Importer-level skips by reason (``"rows without a step"``: 3);
            values the monitor cannot read are counted by the monitor itself.
    """

    rows: int = 0
    keys: set[str] = field(default_factory=set)
    first_step: int | None = None
    last_step: int | None = None
    skipped: dict[str, int] = field(default_factory=dict)

    def add(self, step: int, keys: Iterable[str]) -> None:
        """Count one row, which logged `keys`."""
        self.rows += 1
        self.keys.update(keys)
        if self.first_step is None or step < self.first_step:
            self.first_step = step
        if self.last_step is None or step > self.last_step:
            self.last_step = step

    def skip(self, reason: str, n: int = 1) -> None:
        """Count rows or values left out, by reason."""
        self.skipped[reason] = self.skipped.get(reason, 0) + n


class SourceReader(ABC):
    """One source to import as one run.

    Attributes:
        format: The format name (``--format``), recorded on the run as its source.
        framework_hint: The framework the format implies (``"verl"`` for veRL's
            console lines), used to break ties when choosing a key map.
        files: The files read, absolute, in reading order (hashed to recognise
            a second import of the same data).
        display: The path shown in messages, as the user gave it.
        name: A short name for the run id (the run folder, the W&B run name...).
    """

    format: ClassVar[str] = ""
    framework_hint: str | None = None

    def __init__(self, files: list[str], display: str, name: str) -> None:
        self.files = [os.path.abspath(f) for f in files]
        self.display = display
        self.name = name

    @property
    def source_path(self) -> str:
        """The path recorded on the run: the file, or the folder of a multi-file source."""
        if len(self.files) == 1:
            return self.files[0]
        return os.path.commonpath(self.files)

    def total_bytes(self) -> int:
        """Size of the files read (progress of a scan)."""
        total = 0
        for path in self.files:
            try:
                total += os.path.getsize(path)
            except OSError:
                pass
        return total

    @abstractmethod
    def scan(self, progress: Progress) -> Scan:
        """Read the whole source once, check it, and learn its keys.

        Raises:
            ImportFormatError: malformed or truncated input (file and position named).
        """

    @abstractmethod
    def rows(self, progress: Progress) -> Iterator[RawRow]:
        """The rows, in replay order (after a successful `scan`)."""


def open_source(path: str, display: str, text: bool = False) -> IO[Any]:
    """Open a source file (bytes, or text with undecodable bytes replaced), or a clear one-line error."""
    try:
        if text:
            return open(path, encoding="utf-8", errors="replace")
        return open(path, "rb")
    except OSError as exc:
        raise ImportFormatError(display, "", f"cannot read: {exc.strerror or exc}") from None


def parse_step(value: Any, path: str, position: str) -> int:
    """A source's step value as an int, or a clear error.

    Whole floats (``12.0``, as CSV exports write them) are accepted; negative,
    fractional, boolean and non-numeric steps are not.
    """
    if isinstance(value, bool):
        raise ImportFormatError(path, position, f"step {value!r} is not a whole number")
    if isinstance(value, int):
        step = value
    else:
        if isinstance(value, str):
            text = value.strip()
            try:
                number: float | int = int(text)
            except ValueError:
                try:
                    number = float(text)
                except ValueError:
                    raise ImportFormatError(path, position, f"step {value!r} is not a number") from None
        elif isinstance(value, float):
            number = value
        else:
            raise ImportFormatError(path, position, f"step {value!r} is not a number")
        if isinstance(number, float):
            if not math.isfinite(number) or not number.is_integer():
                raise ImportFormatError(path, position, f"step {value!r} is not a whole number")
            number = int(number)
        step = number
    if not 0 <= step <= MAX_STEP:
        raise ImportFormatError(path, position, f"step {step} is out of range (0 to {MAX_STEP})")
    return step


def parse_number(text: str) -> float | None:
    """A text cell as a float (``nan`` and ``inf`` included), or None when it is not a number."""
    try:
        return float(text)
    except ValueError:
        return None


def pick_key(keys: Any, preferred: tuple[str, ...]) -> str | None:
    """The first of `preferred` present in `keys` (any container), or None."""
    for key in preferred:
        if key in keys:
            return key
    return None
