"""Imports point one way: no cycles in any distribution, no upward imports in rlwatch-core.

Static (ast), so it runs without any framework installed: function-level
imports count, ``if TYPE_CHECKING:`` imports do not. The layers are the ones
docs/architecture.md draws; plugin distributions (adapters, notify,
postgres) may use only rlwatch's public plugin API.
"""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from import_graph import ROOT, Edge, cycles, graph, modules_of

CORE_LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("leaves", ("rlwatch._version", "rlwatch.errors", "rlwatch.alerts", "rlwatch.metrics", "rlwatch.guard",
                "rlwatch.envflags", "rlwatch.coerce", "rlwatch.options", "rlwatch.redaction", "rlwatch.hookspecs",
                "rlwatch.derive", "rlwatch.intake", "rlwatch.logsink", "rlwatch.offload", "rlwatch.stats",
                "rlwatch.stats.*", "rlwatch.terminal", "rlwatch.keymaps", "rlwatch.keymaps.*")),
    ("components", ("rlwatch.detectors", "rlwatch.detectors.*", "rlwatch.channels", "rlwatch.channels.*",
                    "rlwatch.storage", "rlwatch.storage.*", "rlwatch.alert_manager", "rlwatch.distributed")),
    ("registry and config", ("rlwatch.builtins", "rlwatch.plugins", "rlwatch.config", "rlwatch.config.*")),
    ("spine", ("rlwatch.core", "rlwatch.api", "rlwatch.assembly", "rlwatch.alerting", "rlwatch.process",
               "rlwatch.routing", "rlwatch.replication", "rlwatch.integration", "rlwatch.stores")),
    ("readers and entry points", ("rlwatch", "rlwatch.__main__", "rlwatch.cli", "rlwatch.cli.*",
                                  "rlwatch.dashboard", "rlwatch.dashboard.*", "rlwatch.diagnose",
                                  "rlwatch.importers", "rlwatch.importers.*", "rlwatch.testing",
                                  "rlwatch.testing.*", "rlwatch.simulate")),
]
"""rlwatch-core's layers, lowest first. A module may import its own layer and those below."""

PLUGIN_API = (
    "rlwatch", "rlwatch.integration", "rlwatch.hookspecs", "rlwatch.errors", "rlwatch.alerts", "rlwatch.metrics",
    "rlwatch.keymaps", "rlwatch.keymaps.*", "rlwatch.options", "rlwatch.config", "rlwatch.channels.base",
    "rlwatch.redaction", "rlwatch.envflags", "rlwatch.stores", "rlwatch.storage.protocol",
    "rlwatch.storage.records", "rlwatch.storage.schema", "rlwatch.storage.reader", "rlwatch.cli._common",
)
"""What plugin distributions may import from rlwatch (documented in docs/plugins.md)."""

DISTRIBUTIONS = {
    "rlwatch-core": "rlwatch", "rlwatch-notify": "rlwatch_notify", "rlwatch-trl": "rlwatch_trl",
    "rlwatch-lightning": "rlwatch_lightning", "rlwatch-rllib": "rlwatch_rllib", "rlwatch-jax": "rlwatch_jax",
    "rlwatch-verl": "rlwatch_verl", "rlwatch-postgres": "rlwatch_postgres",
}


def _layer_of(module: str) -> int:
    for i, (_, patterns) in enumerate(CORE_LAYERS):
        if any(fnmatch.fnmatchcase(module, p) for p in patterns):
            return i
    raise AssertionError(f"{module} is in no layer: add it to CORE_LAYERS (and docs/architecture.md)")


def _present() -> list[tuple[str, str]]:
    return [(d, p) for d, p in DISTRIBUTIONS.items() if (ROOT / d / "src" / p).is_dir()]


@pytest.mark.parametrize(("dist", "package"), _present())
def test_no_import_cycles(dist: str, package: str) -> None:
    modules, edges = graph(ROOT / dist / "src", package)
    found = cycles(set(modules), edges)
    detail = [" -> ".join(c) for c in found]
    assert not found, f"{dist} has import cycles (function-level imports count): {detail}"


def test_every_core_module_is_in_a_layer() -> None:
    for module in modules_of(ROOT / "rlwatch-core" / "src", "rlwatch"):
        _layer_of(module)


def test_core_imports_point_down() -> None:
    modules, edges = graph(ROOT / "rlwatch-core" / "src", "rlwatch")
    upward: list[Edge] = []
    for e in edges:
        if e.target not in modules:
            continue
        if _layer_of(e.target) > _layer_of(e.source):
            upward.append(e)
    shown = [f"{e.source}:{e.line} imports {e.target} ({CORE_LAYERS[_layer_of(e.target)][0]})" for e in upward]
    assert not upward, "upward imports in rlwatch-core:\n" + "\n".join(shown)


@pytest.mark.parametrize(("dist", "package"), [(d, p) for d, p in _present() if d != "rlwatch-core"])
def test_plugins_use_only_the_public_plugin_api(dist: str, package: str) -> None:
    core = set(modules_of(ROOT / "rlwatch-core" / "src", "rlwatch"))
    _, edges = graph(ROOT / dist / "src", package, extra_known=core)
    private = [e for e in edges if e.target.split(".")[0] == "rlwatch"
               and not any(fnmatch.fnmatchcase(e.target, p) for p in PLUGIN_API)]
    shown = [f"{e.source}:{e.line} imports {e.target}" for e in private]
    assert not private, f"{dist} reaches into rlwatch internals:\n" + "\n".join(shown)


def test_modules_stay_readable() -> None:
    """Modules stay under ~450 lines (generated data and the dip test's numerics excepted)."""
    allowed = {"rlwatch.stats.dip"}
    long = []
    for dist, package in _present():
        for module, path in modules_of(ROOT / dist / "src", package).items():
            n = sum(1 for _ in path.open(encoding="utf-8"))
            if n > 450 and module not in allowed:
                long.append(f"{module}: {n} lines")
    assert not long, "split these modules by what they hold:\n" + "\n".join(long)


def test_architecture_page_lists_the_layers() -> None:
    page = (Path(ROOT) / "docs" / "architecture.md").read_text(encoding="utf-8")
    for name, _ in CORE_LAYERS:
        assert name in page
