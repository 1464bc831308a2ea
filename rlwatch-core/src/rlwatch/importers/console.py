"""Console logs: veRL's ``step:N - key:value`` lines and OpenRLHF's ``Global step N: {...}`` lines.

veRL's console logger (``trainer.logger=[console]``) prints one line per
training step::

    (TaskRunner pid=2187) step:12 - actor/entropy:0.532 - actor/pg_clipfrac:0.002 - ...

with values as plain numbers (``0.532``, older versions round to three
decimals) or numpy reprs (``np.float64(0.532)``), often behind Ray's
``(Actor pid=N)`` prefix and colour codes. OpenRLHF's trainers log the
averaged status dict of each global step::

    ... ✨ Global step 12: {'policy_loss': 0.01, 'kl': 0.002, ...}

Every other line of the log (warnings, progress bars, samples) is ignored.
A metric line that ends early (a field without its value, a dict without
its closing brace) is an error: the log was cut.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from typing import Any

from rlwatch.importers.errors import ImportFormatError
from rlwatch.importers.progress import Progress
from rlwatch.importers.source import RawRow, Scan, SourceReader, parse_number, parse_step

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_VERL = re.compile(r"(?:^|[\s)\]])step:(\d+)(?:( - .*)|\s*)$")
_OPENRLHF = re.compile(r"Global step (\d+)(?: \[[^\]]*\])?: (\{.*)$")
_NUMPY_SCALAR = re.compile(r"^(?:np|numpy)\.\w+\((.*)\)$|^tensor\(([^,]*)(?:,.*)?\)$")
# Inside an OpenRLHF dict repr: numpy scalars and the non-literal floats nan/inf.
_REPR_NUMPY = re.compile(r"(?:np|numpy)\.\w+\(([^()]*)\)")
_REPR_NONFINITE = re.compile(r"(?<![\w'\"])(-?(?:nan|inf))(?![\w'\"])")
_NONFINITE = {"nan": float("nan"), "-nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}

VERL_MARKER = re.compile(rb"(?:^|[\s)\]])step:\d+ - \S+:")
OPENRLHF_MARKER = re.compile(rb"Global step \d+(?: \[[^\]]*\])?: \{")


def looks_like(head: bytes) -> bool:
    """True when the start of a text file holds a veRL or OpenRLHF metric line."""
    return bool(VERL_MARKER.search(head) or OPENRLHF_MARKER.search(head))


def _verl_value(text: str) -> float | None:
    text = text.strip()
    match = _NUMPY_SCALAR.match(text)
    if match:
        text = (match.group(1) or match.group(2) or "").strip()
    return parse_number(text)


def _openrlhf_dict(text: str) -> Any:
    text = _REPR_NUMPY.sub(r"\1", text)
    text = _REPR_NONFINITE.sub(r"'\1'", text)
    return ast.literal_eval(text)


class ConsoleReader(SourceReader):
    """Reads the metric lines of one veRL or OpenRLHF console log."""

    format = "console"

    def __init__(self, path: str, display: str | None = None) -> None:
        stem = os.path.splitext(os.path.basename(path))[0]
        super().__init__([path], display or path, stem)

    def _lines(self, progress: Progress) -> Iterator[tuple[int, str]]:
        try:
            # Console logs carry arbitrary bytes (progress bars, samples); only metric lines matter.
            fh = open(self.files[0], encoding="utf-8", errors="replace")
        except OSError as exc:
            raise ImportFormatError(self.display, "", f"cannot read: {exc.strerror or exc}") from None
        with fh:
            for lineno, line in enumerate(fh, 1):
                progress.advance(len(line))
                yield lineno, line

    def _parse(self, progress: Progress, scan: Scan | None) -> Iterator[RawRow]:
        for lineno, raw in self._lines(progress):
            if "step" not in raw:
                continue
            line = _ANSI.sub("", raw).rstrip("\r\n")
            match = _VERL.search(line)
            if match:
                self.framework_hint = "verl"
                yield self._verl_row(match, lineno, scan)
                continue
            match = _OPENRLHF.search(line)
            if match:
                self.framework_hint = "openrlhf"
                yield self._openrlhf_row(match, lineno, scan)

    def _verl_row(self, match: re.Match[str], lineno: int, scan: Scan | None) -> RawRow:
        step = parse_step(match.group(1), self.display, f"line {lineno}")
        values: dict[str, Any] = {}
        rest = match.group(2) or ""
        for field in rest.split(" - ")[1:]:
            key, sep, text = field.rpartition(":")
            if not sep or not key.strip():
                raise ImportFormatError(
                    self.display, f"line {lineno}", f"field {field.strip()!r} has no key:value (the line is cut short?)"
                )
            value = _verl_value(text)
            if value is None:
                if scan is not None:
                    scan.skip(f"non-numeric values of {key.strip()!r}")
                continue
            values[key.strip()] = value
        return step, None, values

    def _openrlhf_row(self, match: re.Match[str], lineno: int, scan: Scan | None) -> RawRow:
        step = parse_step(match.group(1), self.display, f"line {lineno}")
        try:
            status = _openrlhf_dict(match.group(2))
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ImportFormatError(
                self.display, f"line {lineno}", "the status dict is not readable (the line is cut short?)"
            ) from None
        if not isinstance(status, dict):
            raise ImportFormatError(self.display, f"line {lineno}", "expected a status dict after 'Global step N:'")
        values: dict[str, Any] = {}
        for key, value in status.items():
            if isinstance(value, str) and value in _NONFINITE:
                value = _NONFINITE[value]
            values[str(key)] = value
        return step, None, values

    def scan(self, progress: Progress) -> Scan:
        """Check every metric line."""
        progress.phase(f"checking {os.path.basename(self.display)}", self.total_bytes(), "bytes")
        scan = Scan()
        for step, _, values in self._parse(progress, scan):
            scan.add(step, values)
        if not scan.rows:
            raise ImportFormatError(
                self.display, "",
                "no metric lines found (veRL 'step:N - key:value' or OpenRLHF 'Global step N: {...}')",
            )
        return scan

    def rows(self, progress: Progress) -> Iterator[RawRow]:
        """The metric lines' rows, in file order."""
        return self._parse(Progress(enabled=False), None)
