"""Console logs: veRL's ``step:N - key:value`` lines, OpenRLHF's ``Global step N: {...}`` lines,
and the dicts a transformers/TRL Trainer prints at each logging step.

veRL's console logger (``trainer.logger=[console]``) prints one line per
training step::

    (TaskRunner pid=2187) step:12 - actor/entropy:0.532 - actor/pg_clipfrac:0.002 - ...

with values as plain numbers (``0.532``, older versions round to three
decimals) or numpy reprs (``np.float64(0.532)``), often behind Ray's
``(Actor pid=N)`` prefix and colour codes. OpenRLHF's trainers log the
averaged status dict of each global step::

    ... ✨ Global step 12: {'policy_loss': 0.01, 'kl': 0.002, ...}

A transformers ``Trainer`` (TRL's included) prints each logging step's dict
on a line of its own, with no step number::

    {'loss': 0.0541, 'grad_norm': 0.0, 'learning_rate': 9.99e-06, 'reward': 1.85, 'epoch': 0.03}

(Unsloth prints the values as strings: ``'grad_norm': '0.359'``). Such lines
are numbered in order, times ``logging_steps`` (`ConsoleReader`'s argument,
``--logging-steps``), so that the steps are the run's training steps when
the logging interval is known; the end-of-training summary
(``{'train_runtime': ...}``) is not a step.

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
from rlwatch.importers.row_cache import RowCache
from rlwatch.importers.source import RawRow, Scan, SourceReader, open_source, parse_number, parse_step

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_VERL = re.compile(r"(?:^|[\s)\]])step:(\d+)(?:( - .*)|\s*)$")
_OPENRLHF = re.compile(r"Global step (\d+)(?: \[[^\]]*\])?: (\{.*)$")
_NUMPY_SCALAR = re.compile(r"^(?:np|numpy)\.\w+\((.*)\)$|^tensor\(([^,]*)(?:,.*)?\)$")
# Inside an OpenRLHF dict repr: numpy scalars and the non-literal floats nan/inf.
_REPR_NUMPY = re.compile(r"(?:np|numpy)\.\w+\(([^()]*)\)")
_REPR_NONFINITE = re.compile(r"(?<![\w'\"])(-?(?:nan|inf))(?![\w'\"])")
_NONFINITE = {"nan": float("nan"), "-nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}

_TRAINER_DICT = re.compile(r"^\s*(\{'[^']+': .*\})\s*$")
_SUMMARY_KEYS = frozenset({"train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos"})

VERL_MARKER = re.compile(rb"(?:^|[\s)\]])step:\d+ - \S+:")
TRAINER_DICT_MARKER = re.compile(rb"(?m)^\s*\{'(?:loss|grad_norm|learning_rate|reward|entropy|kl|epoch)': ")
OPENRLHF_MARKER = re.compile(rb"Global step \d+(?: \[[^\]]*\])?: \{")


def looks_like(head: bytes) -> bool:
    """True when the start of a text file holds a veRL or OpenRLHF metric line."""
    return bool(VERL_MARKER.search(head) or OPENRLHF_MARKER.search(head) or TRAINER_DICT_MARKER.search(head))


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

    def __init__(self, path: str, display: str | None = None, logging_steps: int = 1) -> None:
        """Read `path`; printed Trainer dicts get steps ``logging_steps``, ``2 * logging_steps``, ..."""
        stem = os.path.splitext(os.path.basename(path))[0]
        super().__init__([path], display or path, stem)
        self._cache = RowCache()
        self.logging_steps = max(1, int(logging_steps))

    def _lines(self, progress: Progress) -> Iterator[tuple[int, str]]:
        # Console logs carry arbitrary bytes (progress bars, samples); only metric lines matter.
        with open_source(self.files[0], self.display, text=True) as fh:
            for lineno, line in enumerate(fh, 1):
                progress.advance(len(line))
                yield lineno, line

    def _parse(self, progress: Progress, scan: Scan | None) -> Iterator[RawRow]:
        printed = 0
        for lineno, raw in self._lines(progress):
            if raw.lstrip().startswith("{'"):
                line = _ANSI.sub("", raw).rstrip("\r\n")
                found = _TRAINER_DICT.match(line)
                if found:
                    values = self._trainer_dict(found.group(1), lineno, scan)
                    if values is not None:
                        printed += 1
                        self.framework_hint = self.framework_hint or "trl"
                        yield printed * self.logging_steps, None, values
                continue
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

    def _trainer_dict(self, text: str, lineno: int, scan: Scan | None) -> dict[str, Any] | None:
        """The values of a printed Trainer dict; None for the end-of-training summary."""
        try:
            logged = _openrlhf_dict(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ImportFormatError(self.display, f"line {lineno}", "the printed dict is not readable "
                                                                    "(the line is cut short?)") from None
        if not isinstance(logged, dict) or _SUMMARY_KEYS & logged.keys():
            return None
        values: dict[str, Any] = {}
        for key, value in logged.items():
            if isinstance(value, str):
                number = _NONFINITE.get(value, parse_number(value))
                if number is None:
                    if scan is not None:
                        scan.skip(f"non-numeric values of {key!r}")
                    continue
                value = number
            values[str(key)] = value
        return values

    def scan(self, progress: Progress) -> Scan:
        """Check every metric line."""
        progress.phase(f"checking {os.path.basename(self.display)}", self.total_bytes(), "bytes")
        scan = Scan()
        cache = self._cache = RowCache()
        for step, _, values in self._parse(progress, scan):
            scan.add(step, values)
            cache.add(step, values)
        if not scan.rows:
            raise ImportFormatError(
                self.display, "",
                "no metric lines found (veRL 'step:N - key:value', OpenRLHF 'Global step N: {...}', or the "
                "dicts a transformers Trainer prints)",
            )
        return scan

    def rows(self, progress: Progress) -> Iterator[RawRow]:
        """The metric lines' rows, in file order (as the scan parsed them, unless there were too many to keep)."""
        cache, self._cache = self._cache, RowCache()
        if cache.complete and len(cache):
            return ((step, None, values) for step, values in cache)
        return self._parse(Progress(enabled=False), None)
