"""Which format a path is, and the readers that import it (``--format auto``).

Folders:

* a ``trainer_state.json`` inside, else the one of the latest
  ``checkpoint-*`` folder (highest step number): a transformers/TRL run;
* else TensorBoard event files anywhere below: one run per folder that
  holds some (``lightning_logs/version_0``, ``runs/<date>_<host>``...).

Files, by name and then by their first bytes:

* ``*tfevents*``: TensorBoard;
* ``trainer_state.json``, or a JSON object with ``"log_history"``: trainer_state.json;
* ``*.jsonl`` / ``*.ndjson``: JSONL;
* a CSV header of ``"<run> - <metric>"`` columns: a W&B chart export (all
  such files of one import are merged by W&B run); any other CSV: rows;
* one JSON object per line: JSONL (flat, W&B history or veRL's file logger);
* a text file with veRL ``step:N - key:value`` or OpenRLHF
  ``Global step N: {...}`` lines (searched through the whole file: they
  start after the start-up chatter): a console log.
"""

from __future__ import annotations

import csv
import io
import os
import re

from rlwatch.importers import console, jsonl, trainer_state, wandb_csv
from rlwatch.importers.csv_rows import CsvReader
from rlwatch.importers.errors import ImportFormatError, ImportUsageError
from rlwatch.importers.source import STEP_KEYS, SourceReader

FORMATS = ("auto", "trainer-state", "tensorboard", "wandb-csv", "jsonl", "csv", "console")
"""``--format`` choices."""

_HEAD_BYTES = 64 * 1024
_CHUNK_BYTES = 1 << 20
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def latest_trainer_state(folder: str) -> str | None:
    """The folder's own trainer_state.json, else the latest ``checkpoint-*`` one's, else None."""
    own = os.path.join(folder, "trainer_state.json")
    if os.path.isfile(own):
        return own
    best: tuple[int, str] | None = None
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    for name in names:
        match = _CHECKPOINT.match(name)
        path = os.path.join(folder, name, "trainer_state.json")
        if match and os.path.isfile(path) and (best is None or int(match.group(1)) > best[0]):
            best = (int(match.group(1)), path)
    return best[1] if best else None


def _tensorboard_readers(folder: str, display: str) -> list[SourceReader]:
    from rlwatch.importers.tensorboard import TensorBoardReader, event_files

    readers: list[SourceReader] = []
    root = os.path.abspath(folder)
    base = os.path.basename(root.rstrip(os.sep)) or "tensorboard"
    for run_folder, files in event_files(folder).items():
        rel = os.path.relpath(run_folder, root)
        name = base if rel == "." else f"{base}-{rel.replace(os.sep, '-')}"
        shown = display if rel == "." else os.path.join(display, rel)
        readers.append(TensorBoardReader(files, shown, name))
    return readers


def _head(path: str, display: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(_HEAD_BYTES)
    except OSError as exc:
        raise ImportFormatError(display, "", f"cannot read: {exc.strerror or exc}") from None


def _csv_header(head: bytes) -> list[str]:
    text = head.decode("utf-8-sig", errors="replace")
    first = text.split("\n", 1)[0]
    try:
        return [h.strip() for h in next(csv.reader(io.StringIO(first)))]
    except (StopIteration, csv.Error):
        return []


def _has_console_lines(path: str) -> bool:
    # Metric lines come after the start-up chatter (model loading, vLLM), so look through the file.
    tail = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK_BYTES):
            window = tail + chunk
            if console.looks_like(window):
                return True
            tail = window[-4096:]
    return False


def sniff_file(path: str, display: str) -> str:
    """The format of one file.

    Raises:
        ImportUsageError: the format cannot be told (the message suggests ``--format``).
    """
    from rlwatch.importers.tensorboard import is_event_file

    if is_event_file(path):
        return "tensorboard"
    name = os.path.basename(path).lower()
    if name == "trainer_state.json":
        return "trainer-state"
    head = _head(path, display)
    if not head.strip():
        raise ImportFormatError(display, "", "empty file")
    if trainer_state.looks_like(head):
        return "trainer-state"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if path.lower().endswith((".csv", ".tsv")) or _looks_like_csv(head):
        header = _csv_header(head)
        return "wandb-csv" if wandb_csv.looks_like(header) or wandb_csv.is_runs_table(header) else "csv"
    if jsonl.looks_like(head):
        return "jsonl"
    if b"\x00" not in head and _has_console_lines(path):
        return "console"
    raise ImportUsageError(
        f"{display}: cannot tell the format (not a trainer_state.json, TensorBoard event file, W&B chart "
        "export, JSONL, CSV or veRL/OpenRLHF console log); name it with --format"
    )


def _looks_like_csv(head: bytes) -> bool:
    header = _csv_header(head)
    return len(header) > 1 and (any(k in header for k in STEP_KEYS) or wandb_csv.looks_like(header))


def readers_for(
    paths: list[str], fmt: str = "auto", step_key: str | None = None, logging_steps: int = 1
) -> list[SourceReader]:
    """The readers for the paths of one import, one per run to create.

    Args:
        paths: Files and folders, as the user named them.
        fmt: One of `FORMATS`.
        step_key: ``--step-key`` for JSONL and CSV.

    Raises:
        ImportUsageError: a path is missing, or its format cannot be told.
        ImportFormatError: a W&B export's header is not one.
        MissingExtraError: TensorBoard files without the ``import`` extra.
    """
    if fmt not in FORMATS:
        raise ImportUsageError(f"--format {fmt!r} is not known; choose one of {', '.join(FORMATS)}")
    readers: list[SourceReader] = []
    charts: list[tuple[str, str]] = []
    for display in paths:
        path = os.path.expanduser(display)
        if os.path.isdir(path):
            readers.extend(_folder_readers(path, display, fmt))
            continue
        if not os.path.exists(path):
            raise ImportUsageError(f"{display}: no such file or folder")
        kind = sniff_file(path, display) if fmt == "auto" else fmt
        if kind == "wandb-csv":
            charts.append((path, display))
        else:
            readers.append(_file_reader(kind, path, display, step_key, logging_steps))
    if charts:
        readers.extend(wandb_csv.readers_for(charts))
    return readers


def _folder_readers(path: str, display: str, fmt: str) -> list[SourceReader]:
    if fmt in ("auto", "trainer-state"):
        found = latest_trainer_state(path)
        if found is not None:
            shown = os.path.join(display, os.path.relpath(found, path))
            return [trainer_state.TrainerStateReader(found, shown)]
    if fmt in ("auto", "tensorboard"):
        readers = _tensorboard_readers(path, display)
        if readers:
            return readers
    if fmt in ("auto", "trainer-state", "tensorboard"):
        wanted = {
            "auto": "trainer_state.json, checkpoint-*/trainer_state.json or TensorBoard event files",
            "trainer-state": "trainer_state.json or checkpoint-*/trainer_state.json",
            "tensorboard": "TensorBoard event files",
        }[fmt]
        raise ImportUsageError(f"{display}: no {wanted} in this folder")
    raise ImportUsageError(f"{display}: is a folder; --format {fmt} reads a file")


def _file_reader(kind: str, path: str, display: str, step_key: str | None, logging_steps: int = 1) -> SourceReader:
    if kind == "trainer-state":
        return trainer_state.TrainerStateReader(path, display)
    if kind == "tensorboard":
        from rlwatch.importers.tensorboard import TensorBoardReader

        name = os.path.basename(os.path.dirname(os.path.abspath(path))) or "tensorboard"
        return TensorBoardReader([path], display, name)
    if kind == "jsonl":
        return jsonl.JsonlReader(path, display, step_key)
    if kind == "csv":
        return CsvReader(path, display, step_key)
    if kind == "console":
        return console.ConsoleReader(path, display, logging_steps)
    raise ImportUsageError(f"--format {kind!r} is not known; choose one of {', '.join(FORMATS)}")
