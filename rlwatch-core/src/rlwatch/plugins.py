"""The plugin manager: pluggy, used as designed, with every implementation guarded.

Hooks are called through pluggy's hook caller (``plugins.hook().rlwatch_...``),
so ``firstresult`` hooks stop at the first non-None answer and ``tryfirst`` /
``trylast`` work as pluggy documents. What pluggy does not do for us is
isolate plugins from each other: a raising implementation would abort the
whole call. So when a plugin is registered, each of its hook implementations
is wrapped in the boundary guard: an exception is logged (`rlwatch.guard`)
and that implementation answers None, so the others still run.
`rlwatch.errors.ConfigError` and `rlwatch.errors.StoreError` pass: bad
configuration must reach the user at setup time, and a store that cannot
be read must say why.

Loading: the built-in plugins (`rlwatch.builtins`) first, then every entry
point of the ``rlwatch`` group, each on its own, so one that fails to import
is logged and skipped. ``RLWATCH_DISABLE_PLUGINS`` (see `rlwatch.envflags`)
blocks entry points with pluggy's own ``set_blocked``.
"""

from __future__ import annotations

import functools
import importlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

from rlwatch import envflags, hookspecs
from rlwatch.builtins import BUILTIN_PLUGINS
from rlwatch.errors import ConfigError, StoreError
from rlwatch.guard import report

if TYPE_CHECKING:
    from rlwatch.detectors.base import Detector

logger = logging.getLogger("rlwatch")

ENTRY_POINT_GROUP = "rlwatch"


@dataclass
class PluginRecord:
    """What `rlwatch doctor` shows about one plugin."""

    name: str
    source: str
    status: str  # "loaded", "failed", "disabled"
    detail: str = ""


_lock = threading.RLock()
_manager: pluggy.PluginManager | None = None
_records: list[PluginRecord] = []
_detector_cache: list[type[Detector[Any]]] | None = None
_sections_cache: dict[str, type] | None = None


def get_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built (and plugins loaded) on first use."""
    global _manager
    with _lock:
        if _manager is None:
            pm = pluggy.PluginManager(hookspecs.PROJECT)
            pm.add_hookspecs(hookspecs)
            for module_name in BUILTIN_PLUGINS:
                _register(pm, importlib.import_module(module_name), module_name, "built-in", record=False)
            _records.append(PluginRecord("builtins", f"rlwatch.builtins ({len(BUILTIN_PLUGINS)} modules)", "loaded"))
            _load_entry_points(pm)
            _manager = pm
        return _manager


def hook() -> Any:
    """The hook relay: ``hook().rlwatch_channels(config=cfg)`` calls every implementation."""
    return get_manager().hook


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    from importlib.metadata import entry_points

    all_off, names_off = envflags.disabled_plugins()
    for name in names_off:
        pm.set_blocked(name)
    try:
        eps = list(entry_points(group=ENTRY_POINT_GROUP))
    except Exception as exc:  # noqa: BLE001 - broken metadata must not stop us
        report("plugins.entry_points", exc)
        return
    seen: set[str] = set()
    for ep in eps:
        if ep.name in seen:
            continue
        seen.add(ep.name)
        if all_off or pm.is_blocked(ep.name):
            _records.append(PluginRecord(ep.name, ep.value, "disabled", envflags.DISABLE_PLUGINS))
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin is skipped, never fatal
            logger.warning("rlwatch plugin %r (%s) failed to load and is skipped: %s", ep.name, ep.value, exc)
            _records.append(PluginRecord(ep.name, ep.value, "failed", f"{type(exc).__name__}: {exc}"))
            continue
        _register(pm, plugin, ep.name, ep.value)


def _register(pm: pluggy.PluginManager, plugin: Any, name: str, source: str, record: bool = True) -> None:
    try:
        pm.register(plugin, name=name)
    except Exception as exc:  # noqa: BLE001 - e.g. a hook with a wrong signature
        logger.warning("rlwatch plugin %r (%s) cannot be registered and is skipped: %s", name, source, exc)
        _records.append(PluginRecord(name, source, "failed", f"{type(exc).__name__}: {exc}"))
        return
    for caller in pm.get_hookcallers(plugin) or ():
        for impl in caller.get_hookimpls():
            if impl.plugin is plugin and not (impl.hookwrapper or impl.wrapper):
                # pluggy calls impl.function; wrapping it is the supported seam for per-plugin guards
                impl.function = _guarded(impl.function, f"plugin {name}.{caller.name}")  # type: ignore[misc]
    if record:
        _records.append(PluginRecord(name, source, "loaded"))


def _guarded(function: Callable[..., Any], where: str) -> Callable[..., Any]:
    @functools.wraps(function)
    def call(*args: Any) -> Any:
        try:
            return function(*args)
        except (ConfigError, StoreError):
            raise  # bad configuration, an unreadable store: the user must see these, not a log line
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not break the others
            report(where, exc)
            return None

    return call


def register(plugin: Any, name: str | None = None) -> None:
    """Register a plugin object at run time (tests, notebooks), guarded like the others."""
    pm = get_manager()
    with _lock:
        _register(pm, plugin, name or repr(plugin), "register()")
        _forget_caches()


def unregister(name: str) -> None:
    """Remove a plugin registered with `register`."""
    pm = get_manager()
    with _lock:
        pm.unregister(name=name)
        _records[:] = [r for r in _records if r.name != name]
        _forget_caches()


def _forget_caches() -> None:
    global _detector_cache, _sections_cache
    _detector_cache = None
    _sections_cache = None


def records() -> list[PluginRecord]:
    """Plugins seen so far, loaded or not."""
    get_manager()
    return list(_records)


def detector_classes() -> list[type[Detector[Any]]]:
    """All detector classes, in registration order (built-ins first); duplicate ids are ignored."""
    global _detector_cache
    with _lock:
        if _detector_cache is None:
            seen: set[str] = set()
            out: list[type[Detector[Any]]] = []
            # pluggy calls the most recently registered implementation first
            for group in reversed(hook().rlwatch_detectors()):
                for cls in group or ():
                    if cls.id in seen:
                        logger.warning("rlwatch: detector id %r registered twice; keeping the first", cls.id)
                        continue
                    seen.add(cls.id)
                    out.append(cls)
            _detector_cache = out
        return list(_detector_cache)


def builtin_detector_classes() -> list[type[Detector[Any]]]:
    """The detectors rlwatch ships (no plugin's), in their documented order."""
    return [cls for cls in detector_classes() if cls.__module__ in BUILTIN_PLUGINS]


def section_classes() -> dict[str, type]:
    """Config sections contributed through the registry: ``{"entropy_collapse": ..., "alerts.slack": ...}``.

    Every detector's ``config_class`` under its id, then the sections of the
    ``rlwatch_config_sections`` hook (the first registration of a path wins).
    """
    global _sections_cache
    with _lock:
        if _sections_cache is None:
            merged: dict[str, type] = {cls.id: cls.config_class for cls in detector_classes()}
            for group in reversed(hook().rlwatch_config_sections()):
                for path, cls in (group or {}).items():
                    merged.setdefault(path, cls)
            _sections_cache = merged
        return dict(_sections_cache)


def reset_for_tests() -> None:
    """Forget the manager so the next use reloads plugins (tests only)."""
    global _manager
    with _lock:
        _manager = None
        _records.clear()
        _forget_caches()
