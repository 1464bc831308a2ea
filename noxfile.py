"""nox sessions: one per distribution, plus lint, types, bench, demo, quality, docs.

Plain ``nox`` runs what CI runs. Session modules live in noxsessions/ (one
file per package or concern) and are imported here so that each can be
edited without touching the others.
"""

from __future__ import annotations

import importlib
import pathlib
import sys

import nox

ROOT = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = False

for module in sorted((ROOT / "noxsessions").glob("*.py")):
    if not module.name.startswith("_"):
        importlib.import_module(f"noxsessions.{module.stem}")

# What plain `nox` (and so CI) runs, cheapest first so that a broken basic
# check fails fast. Sessions not (yet) defined are left out.
_CI_ORDER = [
    "lint", "types", "core", "docs", "notify", "dashboard", "postgres", "importers", "jax", "lightning", "trl",
    "verl", "rllib", "quality", "reliability", "bench", "demo",
]
_defined = set(nox.registry.get())
nox.options.sessions = [name for name in _CI_ORDER if name in _defined]
