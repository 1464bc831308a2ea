"""Loading and calling plugins, one at a time, so one broken plugin is skipped.

The built-in plugin (`rlwatch.builtins`) is always registered first. Then
every entry point of the ``rlwatch`` group is loaded on its own, unless
``RLWATCH_DISABLE_PLUGINS`` is ``1``/``true``/``all`` (skip all) or a comma
list of entry-point names (skip those).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

from rlwatch import hookspecs
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
_detector_cache: list[type[Detector]] | None = None
_sections_cache: dict[str, type] | None = None


def _disabled_names() -> tuple[bool, set[str]]:
    raw = os.environ.get("RLWATCH_DISABLE_PLUGINS", "").strip()
    if raw.lower() in {"1", "true", "yes", "all", "*"}:
        return True, set()
    return False, {n.strip() for n in raw.split(",") if n.strip()}


def get_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built (and plugins loaded) on first use."""
    global _manager
    with _lock:
        if _manager is None:
            pm = pluggy.PluginManager(hookspecs.PROJECT)
            pm.add_hookspecs(hookspecs)
            from rlwatch import builtins

            pm.register(builtins, name="rlwatch.builtins")
            _records.append(PluginRecord("builtins", "rlwatch.builtins", "loaded"))
            _load_entry_points(pm)
            _manager = pm
        return _manager


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    from importlib.metadata import entry_points

    all_off, names_off = _disabled_names()
    try:
        eps = list(entry_points(group=ENTRY_POINT_GROUP))
    except Exception as exc:  # noqa: BLE001 - broken metadata must not stop us
        report("plugins.entry_points", exc)
        return
    seen: set[str] = set()
    for ep in eps:
        if ep.name in seen or ep.value == "rlwatch.builtins":
            continue
        seen.add(ep.name)
        if all_off or ep.name in names_off:
            _records.append(PluginRecord(ep.name, ep.value, "disabled", "RLWATCH_DISABLE_PLUGINS"))
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
            _records.append(PluginRecord(ep.name, ep.value, "loaded"))
        except Exception as exc:  # noqa: BLE001 - a broken plugin is skipped, never fatal
            logger.warning("rlwatch plugin %r (%s) failed to load and is skipped: %s", ep.name, ep.value, exc)
            _records.append(PluginRecord(ep.name, ep.value, "failed", f"{type(exc).__name__}: {exc}"))


def register(plugin: Any, name: str | None = None) -> None:
    """Register a plugin object at run time (tests, notebooks)."""
    global _detector_cache, _sections_cache
    pm = get_manager()
    with _lock:
        pm.register(plugin, name=name)
        _records.append(PluginRecord(name or repr(plugin), "register()", "loaded"))
        _detector_cache = None
        _sections_cache = None


def unregister(name: str) -> None:
    """Remove a plugin registered with `register`."""
    global _detector_cache, _sections_cache
    pm = get_manager()
    with _lock:
        pm.unregister(name=name)
        _records[:] = [r for r in _records if r.name != name]
        _detector_cache = None
        _sections_cache = None


def records() -> list[PluginRecord]:
    """Plugins seen so far, loaded or not."""
    get_manager()
    return list(_records)


def _call_isolated(hook_name: str, kwargs: dict[str, Any], first: bool) -> list[Any]:
    """Call implementations one by one (registration order); a raising one is logged and skipped.

    get_hookimpls() is in registration order (pluggy itself calls LIFO); we
    want registration order so that built-ins come first. `ConfigError`
    passes through: bad configuration must reach the user.
    """
    hook = getattr(get_manager().hook, hook_name)
    results: list[Any] = []
    for impl in hook.get_hookimpls():
        try:
            value = impl.function(**{name: kwargs[name] for name in impl.argnames})
        except Exception as exc:
            if _is_config_error(exc):
                raise
            report(f"plugin {impl.plugin_name}.{hook_name}", exc)
            continue
        if value is not None:
            results.append(value)
            if first:
                break
    return results


def call_each(hook_name: str, **kwargs: Any) -> list[Any]:
    """Call every implementation of a hook in isolation; collect non-None results."""
    return _call_isolated(hook_name, kwargs, first=False)


def call_first(hook_name: str, **kwargs: Any) -> Any:
    """Call implementations in registration order until one returns non-None."""
    found = _call_isolated(hook_name, kwargs, first=True)
    return found[0] if found else None


def _is_config_error(exc: BaseException) -> bool:
    from rlwatch.config import ConfigError

    return isinstance(exc, ConfigError)


def detector_classes() -> list[type[Detector]]:
    """All detector classes, built-ins first; duplicate ids are ignored."""
    global _detector_cache
    with _lock:
        if _detector_cache is None:
            seen: set[str] = set()
            out: list[type[Detector]] = []
            for group in call_each("rlwatch_detectors"):
                for cls in group:
                    if cls.id in seen:
                        logger.warning("rlwatch: detector id %r registered twice; keeping the first", cls.id)
                        continue
                    seen.add(cls.id)
                    out.append(cls)
            _detector_cache = out
        return list(_detector_cache)


def config_sections() -> dict[str, type]:
    """Config sections contributed by plugins (``{"alerts.slack": SlackConfig}``)."""
    global _sections_cache
    with _lock:
        if _sections_cache is None:
            merged: dict[str, type] = {}
            for group in call_each("rlwatch_config_sections"):
                for path, cls in group.items():
                    merged.setdefault(path, cls)
            _sections_cache = merged
        return dict(_sections_cache)


def reset_for_tests() -> None:
    """Forget the manager so the next use reloads plugins (tests only)."""
    global _manager, _detector_cache, _sections_cache
    with _lock:
        _manager = None
        _records.clear()
        _detector_cache = None
        _sections_cache = None
