"""`diagnose_source`: import a log into a database for ``rlwatch diagnose PATH``.

``rlwatch diagnose trainer_state.json`` must give the diagnosis a stored
run gets, with the same exit codes, so it can gate CI. This module does the
import part; the command prints the diagnosis of the returned run.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from rlwatch.importers.errors import ImportUsageError
from rlwatch.importers.run import ImportOptions, import_paths


def diagnose_source(path: str, db: str | None = None, **options: Any) -> tuple[str, str]:
    """Import the log at `path` (any format `rlwatch import` reads) for a diagnosis.

    Args:
        path: A file or folder holding exactly one run.
        db: The SQLite file to import into; None: a new file in a fresh
            temporary folder (left for the caller to delete or to keep, e.g.
            to open the dashboard on it).
        **options: `ImportOptions` fields (``format``, ``keymap``,
            ``overrides``, ``step_key``, ``config_path``, ``run_id``,
            ``progress``...). A source already imported into `db` is not
            imported again: its run is diagnosed.

    Returns:
        ``(db_path, run_id)``.

    Raises:
        ImportFormatError: a malformed or truncated file (exit code 2).
        ImportUsageError: no such path, unknown format, or a path holding
            several runs (exit code 2).
        MissingExtraError: TensorBoard input without the ``import`` extra (exit code 4).
        ConfigError: invalid configuration.
    """
    if db is None:
        db = os.path.join(tempfile.mkdtemp(prefix="rlwatch-diagnose-"), "metrics.db")
    opts = ImportOptions(db=db, **options)
    results = import_paths([path], opts)
    if len(results) != 1:
        names = ", ".join(r.display for r in results)
        raise ImportUsageError(
            f"{path}: holds {len(results)} runs ({names}); diagnose one of them, or import them all "
            "with `rlwatch import` and diagnose each run"
        )
    return results[0].db_path, results[0].run_id
