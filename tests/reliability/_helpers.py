"""Shared helpers of the reliability scenarios."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any


def run_py(code: str, *args: str, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run Python code in a fresh interpreter of this environment."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=timeout, **kw)


def value_types(db: Path) -> set[str]:
    """Every SQLite storage class found in the value columns of the metric rows."""
    conn = sqlite3.connect(db)
    types: set[str] = set()
    for slot in range(32):
        types |= {t for (t,) in conn.execute(f"SELECT DISTINCT typeof(v{slot}) FROM metric_rows")}
    conn.close()
    return types


def integrity(db: Path) -> str:
    """PRAGMA integrity_check of a file, opened read-only."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()
