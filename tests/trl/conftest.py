"""Fixtures for the rlwatch-trl tests (real TRL training on the CPU)."""

from __future__ import annotations

import sys
from pathlib import Path

# trl_helpers.py and scripts/ sit beside the tests; make them importable
# whatever pytest import mode the repository uses.
_HERE = Path(__file__).resolve().parent
for _path in (str(_HERE), str(_HERE / "scripts")):
    if _path not in sys.path:
        sys.path.insert(0, _path)
