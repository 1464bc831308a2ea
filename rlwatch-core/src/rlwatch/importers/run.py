"""`import_paths`: files in, runs out. Check everything first, then replay each source.

The order is what keeps a failed import from writing anything half:

1. find the sources and their formats (`rlwatch.importers.sniff`);
2. read and check every source completely (`SourceReader.scan`): a
   malformed or truncated file stops the import here, before the database
   is opened for writing;
3. choose each source's key map from the keys it logged
   (`rlwatch.importers.keys`);
4. skip sources imported before (same run id, see `default_run_id`) unless
   asked to import them again;
5. replay each source through the monitor (`rlwatch.importers.replay`),
   which removes its run again if anything fails on the way.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rlwatch.importers import keys, sniff
from rlwatch.importers.errors import ImportUsageError
from rlwatch.importers.progress import Progress
from rlwatch.importers.replay import ReplayTarget, replay
from rlwatch.importers.source import RawRow, Scan, SourceReader


@dataclass
class ImportOptions:
    """How to import (the options of ``rlwatch import``).

    Attributes:
        db: The SQLite file (default: the configured one).
        run_id: The run id (several sources: ``<run_id>-<source name>``);
            default: `default_run_id`.
        format: One of `rlwatch.importers.sniff.FORMATS`.
        keymap: A key map name instead of detecting one (``"none"``: keep
            every key's own name).
        overrides: ``--map`` pairs, logged key -> metric (``""`` drops the key).
        step_key: The step column of JSONL/CSV files.
        logging_steps: The trainer's logging interval, for console logs whose
            lines carry no step (the dicts a transformers Trainer prints): their
            rows become steps ``logging_steps``, ``2 * logging_steps``, ...
        force: Import a source again even if it was imported before (as a new run).
        notify: Send alerts to the configured notification channels.
        config_path: The rlwatch.yaml to use (detector settings, storage).
        progress: Draw a progress bar: True, False, or None for "on a terminal".
    """

    db: str | None = None
    run_id: str | None = None
    format: str = "auto"
    keymap: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    step_key: str | None = None
    logging_steps: int = 1
    force: bool = False
    notify: bool = False
    config_path: str | None = None
    progress: bool | None = None


@dataclass
class ImportedRun:
    """The outcome of one source.

    Attributes:
        run_id: The run holding the source (the earlier one when `already`).
        db_path: The SQLite file.
        format: The format read.
        display: The source as named in messages.
        source_path: The file or folder recorded on the run.
        keymap: The key map used (``"none"`` when none matched).
        namespaced: Whether reporter namespaces (``train/``) were undone.
        already: True when the source had been imported before and nothing was written.
        rows: Rows stored.
        first_step: The source's first step.
        last_step: The source's last step.
        skipped: What was left out, by reason (the importer's and the monitor's counts).
    """

    run_id: str
    db_path: str
    format: str
    display: str
    source_path: str
    keymap: str
    namespaced: bool = False
    already: bool = False
    rows: int = 0
    first_step: int | None = None
    last_step: int | None = None
    skipped: dict[str, int] = field(default_factory=dict)


def resolve_db(db: str | None, config_path: str | None = None) -> str:
    """The absolute database path: `db`, else the configured one."""
    if db:
        return os.path.abspath(os.path.expanduser(db))
    from rlwatch.config import load_config

    return os.path.abspath(load_config(config_path).db_path)


def source_digest(reader: SourceReader) -> str:
    """SHA-256 of the source's bytes (and of the W&B run it is, for chart exports)."""
    digest = hashlib.sha256()
    for path in reader.files:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    if reader.format == "wandb-csv":
        digest.update(reader.name.encode())
    return digest.hexdigest()


def slug(name: str) -> str:
    """`name` as a readable run id part: letters, digits, ``._-``, at most 48 characters."""
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return text[:48] or "run"


def default_run_id(reader: SourceReader) -> str:
    """``<source name>-<first 8 hex digits of the source's SHA-256>``.

    The same bytes imported again get the same id, which is how a second
    import of a file is recognised (and skipped unless forced); a file that
    changed since (the run went on) is a new source with a new id.
    """
    return f"{slug(reader.name)}-{source_digest(reader)[:8]}"


def merge_steps(rows: Iterator[RawRow]) -> Iterator[RawRow]:
    """Consecutive rows of one step as one row (later values win); other rows as they are."""
    current: RawRow | None = None
    for row in rows:
        if current is not None and row[0] == current[0]:
            current[2].update(row[2])
            if row[1] is not None:
                current = (current[0], row[1], current[2])
            continue
        if current is not None:
            yield current
        current = row
    if current is not None:
        yield current


def metric_rows(
    reader: SourceReader, translator: keys.Translator, progress: Progress, result: ImportedRun | None = None
) -> Iterator[dict[str, Any]]:
    """The rows `RLWatch.log_metrics` takes: ``{"step", "wall_time"?, **metrics}``; empty rows left out.

    With `result`, its first and last step become those of the rows replayed
    (a veRL log's step 0 holds only validation results, which are not metrics).
    """
    first: int | None = None
    last: int | None = None
    for step, wall, values in merge_steps(reader.rows(progress)):
        metrics = translator(values)
        metrics.pop("step", None)
        metrics.pop("wall_time", None)
        if not metrics:
            continue
        metrics["step"] = step
        if wall is not None:
            metrics["wall_time"] = wall
        first = step if first is None or step < first else first
        last = step if last is None or step > last else last
        progress.advance()
        yield metrics
    if result is not None:
        result.first_step, result.last_step = first, last


def existing_runs(db_path: str) -> set[str]:
    """Run ids already in the database (none if it does not exist yet)."""
    if not os.path.exists(db_path):
        return set()
    from rlwatch.storage import StoreError, StoreReader

    try:
        with StoreReader(db_path) as reader:
            return {run.run_id for run in reader.runs()}
    except StoreError as exc:
        raise ImportUsageError(f"{db_path}: {exc}") from None


def _run_ids(readers: list[SourceReader], options: ImportOptions) -> list[str]:
    if options.run_id:
        if len(readers) == 1:
            return [options.run_id]
        return [f"{options.run_id}-{slug(r.name)}" for r in readers]
    return [default_run_id(r) for r in readers]


def _free_id(base: str, taken: set[str]) -> str:
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def import_paths(paths: list[str], options: ImportOptions | None = None) -> list[ImportedRun]:
    """Import every source found at `paths`, one run each.

    Args:
        paths: Files and folders (see `rlwatch.importers.sniff` for what is recognised).
        options: How; defaults for everything.

    Returns:
        One `ImportedRun` per source, in order.

    Raises:
        ImportFormatError: a malformed or truncated file (nothing written).
        ImportUsageError: a missing path, an unknown format or key map, an unusable database.
        MissingExtraError: TensorBoard files without the ``import`` extra.
        ConfigError: the configuration is invalid.
    """
    opts = options or ImportOptions()
    progress = Progress(opts.progress)
    try:
        readers = sniff.readers_for(paths, opts.format, opts.step_key, opts.logging_steps)
        if not readers:
            raise ImportUsageError(f"nothing to import in {', '.join(paths)}")
        db_path = resolve_db(opts.db, opts.config_path)
        scans: list[Scan] = [reader.scan(progress) for reader in readers]
        translators = [
            keys.choose(scan.keys, opts.keymap, opts.overrides, reader.framework_hint)
            for reader, scan in zip(readers, scans, strict=True)
        ]
        run_ids = _run_ids(readers, opts)
        taken = existing_runs(db_path)
        results: list[ImportedRun] = []
        for reader, scan, translator, run_id in zip(readers, scans, translators, run_ids, strict=True):
            result = ImportedRun(
                run_id=run_id, db_path=db_path, format=reader.format, display=reader.display,
                source_path=reader.source_path, keymap=translator.keymap_name, namespaced=translator.unnamespace,
                first_step=scan.first_step, last_step=scan.last_step, skipped=dict(scan.skipped),
            )
            if run_id in taken:
                if not opts.force:
                    result.already = True
                    results.append(result)
                    continue
                result.run_id = run_id = _free_id(run_id, taken)
            target = ReplayTarget(
                db_path=db_path, run_id=run_id, source=reader.format, source_path=reader.source_path,
                framework=_framework(translator, reader), notify=opts.notify, config_path=opts.config_path,
                db_existed=os.path.exists(db_path),
            )
            progress.phase(f"replaying {reader.name}", scan.rows, "rows")
            outcome = replay(metric_rows(reader, translator, progress, result), target)
            result.rows = outcome.rows
            for name, count in outcome.skipped.items():
                result.skipped[f"unusable values of {name!r}"] = count
            taken.add(run_id)
            results.append(result)
        return results
    finally:
        progress.close()


def _framework(translator: keys.Translator, reader: SourceReader) -> str:
    if translator.keymap is not None:
        return translator.keymap.framework
    return reader.framework_hint or "imported"
