"""Hugging Face ``trainer_state.json``: the ``log_history`` of a transformers / TRL run.

Every ``Trainer`` (GRPO, PPO, RLOO, Online DPO, DPO, SFT, plain) appends one
entry per ``on_log`` call to ``state.log_history`` and saves it as
``trainer_state.json`` in each ``checkpoint-*`` folder (and in the output
folder with ``trainer.save_state()``). An entry is ``{"step": N, key:
value, ...}``; evaluation entries and the end-of-training summary share the
list and are told apart by the key map (``eval_*``, ``train_runtime``...).
Consecutive entries of one step are replayed as one row.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

from rlwatch.importers.errors import ImportFormatError
from rlwatch.importers.progress import Progress
from rlwatch.importers.source import RawRow, Scan, SourceReader, parse_step


def run_name(path: str) -> str:
    """The output folder's name: ``out`` for ``out/trainer_state.json`` and ``out/checkpoint-500/...``."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.basename(folder).startswith("checkpoint-"):
        folder = os.path.dirname(folder)
    return os.path.basename(folder) or "trainer_state"


def looks_like(head: bytes) -> bool:
    """True when the first bytes of a file look like a trainer_state.json."""
    return head.lstrip()[:1] == b"{" and b'"log_history"' in head


class TrainerStateReader(SourceReader):
    """Reads one ``trainer_state.json``."""

    format = "trainer-state"
    framework_hint = "trl"

    def __init__(self, path: str, display: str | None = None) -> None:
        super().__init__([path], display or path, run_name(path))
        self._history: list[Any] | None = None

    def _load(self) -> list[Any]:
        path = self.files[0]
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise ImportFormatError(self.display, "", f"cannot read: {exc.strerror or exc}") from None
        try:
            state = json.loads(data)
        except json.JSONDecodeError as exc:
            # A cut file fails at its end, or inside the string it was cut in.
            cut = exc.pos >= len(data.rstrip()) - 1 or exc.msg.startswith("Unterminated string")
            hint = " (the file ends early: truncated?)" if cut else ""
            raise ImportFormatError(
                self.display, f"line {exc.lineno}, column {exc.colno} (byte {exc.pos})",
                f"not valid JSON: {exc.msg}{hint}",
            ) from None
        except UnicodeDecodeError as exc:
            raise ImportFormatError(
                self.display, f"byte {exc.start}", "not UTF-8 text: not a trainer_state.json"
            ) from None
        if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
            raise ImportFormatError(
                self.display, "top level", "no \"log_history\" list: not a Hugging Face trainer_state.json"
            )
        history: list[Any] = state["log_history"]
        return history

    def scan(self, progress: Progress) -> Scan:
        """Parse the file and check every entry of ``log_history``."""
        progress.phase(f"reading {os.path.basename(self.display)}", 1, "file")
        history = self._load()
        progress.advance()
        scan = Scan()
        progress.phase("checking", len(history), "entries")
        last: int | None = None
        for i, entry in enumerate(history):
            position = f"entry {i} of log_history"
            if not isinstance(entry, dict):
                raise ImportFormatError(self.display, position, f"expected an object, got {type(entry).__name__}")
            if "step" not in entry:
                raise ImportFormatError(self.display, position, "has no \"step\"")
            step = parse_step(entry["step"], self.display, position)
            if step != last:
                scan.add(step, entry)
                last = step
            else:
                scan.keys.update(entry)
            progress.advance()
        scan.keys.discard("step")
        self._history = history
        return scan

    def rows(self, progress: Progress) -> Iterator[RawRow]:
        """One row per entry, in order (the replay merges consecutive entries of one step)."""
        history = self._history if self._history is not None else self._load()
        self._history = None  # the replay is the last use: let the memory go with it
        for i, entry in enumerate(history):
            values = dict(entry)
            yield parse_step(values.pop("step"), self.display, f"entry {i} of log_history"), None, values
