"""The local rlwatch dashboard: ``rlwatch dashboard [--db PATH]``.

A small standard-library web server (`rlwatch.dashboard.server`) over the
SQLite file, opened read-only while training keeps writing. Pages: the runs
list, a run page (one chart per metric with alert markers, live updates, the
alert table, diagnosis and redacted config), a comparison view and an alert
timeline; JSON endpoints under ``/api/`` and CSV/JSONL export.

Charts use plotly.js from the optional extra ``rlwatch-core[dashboard]``,
served from the installed ``plotly`` package, never from a CDN.
"""

from __future__ import annotations

from rlwatch.dashboard.assets import INSTALL_HINT, MissingExtra, plotly_js_path

__all__ = ["INSTALL_HINT", "MissingExtra", "plotly_js_path"]
