"""Where the dashboard's files come from: its own static folder and plotly's JS.

plotly.js is not vendored: the ``plotly`` Python package (the optional extra
``rlwatch-core[dashboard]``) ships ``plotly.min.js`` as package data, and the
dashboard serves that file from disk, so it works on an air-gapped machine
and never asks a CDN for anything.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""HTML shells, our JavaScript and CSS."""

INSTALL_HINT = (
    "The rlwatch dashboard and report need the optional extra 'dashboard' (plotly, whose "
    "bundled plotly.min.js is served locally). Install it with:\n"
    "    python3 -m pip install 'rlwatch-core[dashboard]'\n"
    "or, on its own:\n"
    "    python3 -m pip install 'plotly>=5.18'"
)
"""What to tell a user who runs the dashboard without the extra."""


class MissingExtra(RuntimeError):
    """The optional dependencies of the dashboard are not installed."""


def plotly_js_path() -> Path:
    """Path of ``plotly.min.js`` inside the installed ``plotly`` package.

    Found without importing plotly (which would pull in its whole Python API).

    Raises:
        MissingExtra: plotly is not installed, or its bundle is missing.
    """
    try:
        spec = importlib.util.find_spec("plotly")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        candidate = Path(folder) / "package_data" / "plotly.min.js"
        if candidate.is_file():
            return candidate
    raise MissingExtra(INSTALL_HINT)


def read_text(name: str) -> str:
    """Text of one file of the static folder (the report inlines them)."""
    return (STATIC_DIR / name).read_text(encoding="utf-8")
