"""Importing finished runs: ``rlwatch import`` and ``rlwatch diagnose PATH``.

Logs a run already wrote (a ``trainer_state.json``, TensorBoard event files,
W&B exports, JSONL/CSV rows, veRL or OpenRLHF console logs) are replayed
step by step through the same monitor, detectors and alert pipeline as a
live run, and stored as a run of their own. See docs/import.md.

Modules, in the order the data flows: `sniff` (which format, which
readers), one reader module per format (`trainer_state`, `tensorboard`,
`wandb_csv`, `jsonl`, `csv_rows`, `console`), `keys` (which key map),
`run` (check everything, then replay), `replay` (the monitor), and
`diagnose_path` for ``rlwatch diagnose PATH``.
"""

from __future__ import annotations

from rlwatch.importers.diagnose_path import diagnose_source
from rlwatch.importers.errors import ImportFormatError, ImportProblem, ImportUsageError, MissingExtraError
from rlwatch.importers.run import ImportedRun, ImportOptions, import_paths
from rlwatch.importers.sniff import FORMATS

__all__ = [
    "FORMATS",
    "ImportFormatError",
    "ImportOptions",
    "ImportProblem",
    "ImportUsageError",
    "ImportedRun",
    "MissingExtraError",
    "diagnose_source",
    "import_paths",
]
