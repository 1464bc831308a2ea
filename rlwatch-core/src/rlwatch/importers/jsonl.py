"""JSON Lines with one object per logged step: generic, W&B history, and veRL's file logger.

Three layouts are read, told apart line by line:

* flat rows: ``{"step": 12, "loss": 0.3, ...}`` (any script's own dump,
  rlwatch's own ``rlwatch export --format jsonl``);
* W&B history (the ``wandb-history.jsonl`` of a run folder, or
  ``run.scan_history()`` written one row a line): flat rows with W&B's
  ``_step``, ``_runtime`` and ``_timestamp``; the trainer's own global
  step is preferred to ``_step`` when logged (see `STEP_KEYS`);
* veRL's file logger (``trainer.logger=[file]``, ``VERL_FILE_LOGGER_PATH``):
  ``{"step": 12, "data": {"actor/entropy": ...}}``.

The step column is the first of `STEP_KEYS` present in the file (or
``--step-key``); rows without it (W&B summary or evaluation rows) are left
out and counted. Values that are not numbers are left to the key map and
the monitor, which drop and count them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from rlwatch.importers.errors import ImportFormatError
from rlwatch.importers.progress import Progress
from rlwatch.importers.row_cache import RowCache
from rlwatch.importers.source import (
    NOT_METRICS,
    STEP_KEYS,
    WALL_TIME_KEYS,
    RawRow,
    Scan,
    SourceReader,
    open_source,
    parse_step,
    pick_key,
)

_EXCLUDED = NOT_METRICS | frozenset(STEP_KEYS)
"""Columns that are never metrics: bookkeeping and every step column."""


def looks_like(head: bytes) -> bool:
    """True when a file's first line is a JSON object."""
    first = head.lstrip().split(b"\n", 1)[0].strip()
    if not first.startswith(b"{"):
        return False
    try:
        return isinstance(json.loads(first), dict)
    except ValueError:
        # A first line longer than the sniffed head is still JSONL if it starts like one.
        return b"\n" not in head.lstrip()


class JsonlReader(SourceReader):
    """Reads one JSON Lines file.

    Args:
        path: The file.
        step_key: The column holding the step (default: the first of `STEP_KEYS` found).
    """

    format = "jsonl"

    def __init__(self, path: str, display: str | None = None, step_key: str | None = None) -> None:
        stem = os.path.splitext(os.path.basename(path))[0]
        super().__init__([path], display or path, stem)
        self.step_key = step_key
        self._wall_key: str | None = None
        self._cache = RowCache()

    def _objects(self, progress: Progress) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(line number, object)`` for every non-blank line, or a clear error."""
        with open_source(self.files[0], self.display) as fh:
            offset = 0
            for lineno, raw in enumerate(fh, 1):
                offset += len(raw)
                progress.advance(len(raw))
                line = raw.strip()
                if not line:
                    continue
                try:
                    obj = json.loads(line)
                except UnicodeDecodeError as exc:
                    raise ImportFormatError(self.display, f"line {lineno}", f"not UTF-8 text ({exc.reason})") from None
                except json.JSONDecodeError as exc:
                    ends = not raw.endswith(b"\n")
                    hint = " (the last line is cut off: truncated file?)" if ends else ""
                    raise ImportFormatError(
                        self.display, f"line {lineno}, column {exc.colno}", f"not valid JSON: {exc.msg}{hint}"
                    ) from None
                if not isinstance(obj, dict):
                    raise ImportFormatError(
                        self.display, f"line {lineno}", f"expected a JSON object, got {type(obj).__name__}"
                    )
                data = obj.get("data")
                if isinstance(data, dict) and "step" in obj:
                    # veRL's file logger: {"step": N, "data": {...}}
                    flat = dict(data)
                    flat["step"] = obj["step"]
                    obj = flat
                yield lineno, obj

    def _split(self, obj: dict[str, Any], lineno: int) -> RawRow | None:
        step_key = self.step_key
        assert step_key is not None
        if step_key not in obj or obj[step_key] is None:
            return None
        step = parse_step(obj[step_key], self.display, f"line {lineno}")
        wall = obj.get(self._wall_key) if self._wall_key else None
        for key in [k for k in _EXCLUDED if k in obj]:
            del obj[key]  # obj is this line's own fresh dict
        wall_time = float(wall) if isinstance(wall, (int, float)) and not isinstance(wall, bool) else None
        return step, wall_time, obj

    def scan(self, progress: Progress) -> Scan:
        """Check every line once; choose the step and wall-time columns."""
        progress.phase(f"checking {os.path.basename(self.display)}", self.total_bytes(), "bytes")
        candidates = (self.step_key,) if self.step_key else STEP_KEYS
        # One pass for every candidate step column: which one wins is only known at the end.
        stats = {key: Scan() for key in candidates}
        errors: dict[str, ImportFormatError] = {}
        seen: set[str] = set()
        cache = self._cache = RowCache()
        for lineno, obj in self._objects(progress):
            seen.update(obj)
            cache.add(lineno, obj)
            for key in candidates:
                if key not in obj or obj[key] is None:
                    stats[key].skip(f"rows without {key!r}")
                    continue
                if key in errors:
                    continue
                try:
                    step = parse_step(obj[key], self.display, f"line {lineno}")
                except ImportFormatError as exc:
                    errors[key] = exc
                    continue
                stats[key].add(step, ())
        chosen = pick_key(seen, candidates)
        if chosen is None:
            if self.step_key:
                raise ImportFormatError(self.display, "", f"no column {self.step_key!r} (--step-key) in any line")
            raise ImportFormatError(
                self.display, "", f"no step column (looked for {', '.join(STEP_KEYS)}); name it with --step-key"
            )
        if chosen in errors:
            raise errors[chosen]
        self.step_key = chosen
        self._wall_key = pick_key(seen, WALL_TIME_KEYS)
        scan = stats[chosen]
        scan.keys = seen - _EXCLUDED
        return scan

    def rows(self, progress: Progress) -> Iterator[RawRow]:
        """The rows in file order (as the scan parsed them, unless there were too many to keep)."""
        cache, self._cache = self._cache, RowCache()
        objects = iter(cache) if cache.complete and len(cache) else self._objects(Progress(enabled=False))
        for lineno, obj in objects:
            row = self._split(obj, lineno)
            if row is not None:
                yield row
