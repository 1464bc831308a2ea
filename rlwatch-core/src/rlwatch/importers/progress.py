"""A progress bar on stderr for imports that take more than a second.

Hand-made rather than tqdm or rich: the formats that need nothing but the
core (trainer_state.json, JSONL, CSV, console logs) must have a bar too,
and rlwatch-core depends on numpy, scipy, pluggy and PyYAML only. It is one
line, redrawn at most ten times a second, drawn only on a terminal and only
once the work has taken a second, and erased when the work is done, so
short imports, pipes and CI logs see nothing.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

_WIDTH = 24
_REDRAW_SECONDS = 0.1


class Progress:
    """One progress line on a stream.

    Args:
        enabled: True to draw (after `delay`), False never, None to draw only
            when `stream` is a terminal.
        stream: Where to draw (stderr).
        delay: Seconds of work before the bar first appears.
    """

    def __init__(self, enabled: bool | None = None, stream: TextIO | None = None, delay: float = 1.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty()) if callable(isatty) else False
        self.enabled = enabled
        self.delay = delay
        self.label = ""
        self.unit = ""
        self.total = 0
        self.done = 0
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False

    def phase(self, label: str, total: int, unit: str) -> None:
        """Start counting a new piece of work of `total` units (the clock keeps running)."""
        self.label, self.total, self.unit, self.done = label, max(0, int(total)), unit, 0
        self._last_draw = 0.0

    def advance(self, n: int = 1) -> None:
        """Count `n` more units done; redraw if it is time."""
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._started < self.delay or now - self._last_draw < _REDRAW_SECONDS:
            return
        self._last_draw = now
        self._draw()

    def _draw(self) -> None:
        total = self.total
        frac = min(1.0, self.done / total) if total else 0.0
        filled = int(frac * _WIDTH)
        bar = "#" * filled + "-" * (_WIDTH - filled)
        if self.unit == "bytes":
            counts = f"{self.done / 1e6:,.1f}/{total / 1e6:,.1f} MB" if total else f"{self.done / 1e6:,.1f} MB"
        else:
            counts = f"{self.done:,}/{total:,} {self.unit}" if total else f"{self.done:,} {self.unit}"
        self.stream.write(f"\r{self.label} [{bar}] {frac * 100:3.0f}% {counts}\x1b[K")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Erase the line if one was drawn."""
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False


NO_PROGRESS = Progress(enabled=False)
"""A progress that never draws (library use, tests)."""
