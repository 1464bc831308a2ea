"""Building a configuration: defaults, YAML, environment, keyword overrides; then validation.

Precedence, lowest first: dataclass defaults, the YAML file (``config_path``,
else ``$RLWATCH_CONFIG``, else ``./rlwatch.yaml`` if present), environment
variables (named in each field's ``metadata["env"]``), keyword overrides.

Bad configuration fails loudly: an unknown key, a wrong type or an impossible
value raises one `ConfigError` naming the key path, the bad value and the
valid choices (with a did-you-mean).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from collections.abc import Mapping
from typing import Any

from rlwatch import envflags, plugins
from rlwatch.config.model import RLWatchConfig
from rlwatch.config.tree import iter_sections, pop_path, set_path, type_hints
from rlwatch.errors import ConfigError

_SHORTHANDS: dict[str, str] = {
    "log_dir": "storage.log_dir",
    "db_name": "storage.db_name",
    "flush_interval_seconds": "storage.flush_interval_seconds",
    "rank": "distributed.rank",
    "world_size": "distributed.world_size",
    "all_ranks": "distributed.all_ranks",
}
"""Keyword shorthands accepted by ``attach(**overrides)``."""

def build_config(
    config_path: str | None, overrides: Mapping[str, Any], env: Mapping[str, str] | None
) -> RLWatchConfig:
    """Implementation of `rlwatch.config.load_config`."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    path = config_path or env.get("RLWATCH_CONFIG") or ""
    if path:
        if not os.path.isfile(path):
            raise ConfigError(f"config file {path!r} does not exist")
        data = _read_yaml(path)
    elif os.path.isfile("rlwatch.yaml"):
        data = _read_yaml("rlwatch.yaml")

    extra = plugins.section_classes()
    _apply_env(data, env, extra)
    for key, value in overrides.items():
        set_path(data, _SHORTHANDS.get(key, key), value)

    plugin_data: dict[str, Any] = {p: pop_path(data, p) for p in extra}
    cfg: RLWatchConfig = _build(RLWatchConfig, data, "", extra)
    for p, cls in extra.items():
        cfg.sections[p] = _build(cls, plugin_data[p] or {}, p, {})
    _validate_all(cfg)
    return cfg


def _read_yaml(path: str) -> dict[str, Any]:
    import yaml  # deferred: only needed when a file exists

    try:
        with open(path, encoding="utf-8") as fh:
            loaded = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path!r} is not valid YAML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"config file {path!r} cannot be read: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path!r} must hold a mapping at the top level")
    return loaded


def _apply_env(data: dict[str, Any], env: Mapping[str, str], extra: Mapping[str, type]) -> None:
    for prefix, cls in iter_sections(RLWatchConfig, extra):
        for f in dataclasses.fields(cls):
            var = f.metadata.get("env")
            # An empty variable means "not set": it must never enable anything.
            if var and env.get(var, "") != "":
                set_path(data, f"{prefix}.{f.name}" if prefix else f.name, _EnvValue(env[var], var))


class _EnvValue(str):
    """A string from the environment; converted leniently and named in errors."""

    var: str

    def __new__(cls, value: str, var: str) -> _EnvValue:
        obj = super().__new__(cls, value)
        obj.var = var
        return obj


def _build(cls: type, data: Any, prefix: str, extra: Mapping[str, type]) -> Any:
    where = prefix or "<root>"
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping of options, got {_show(data)}")
    hints = type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = str(unknown[0])
        path = f"{prefix}.{key}" if prefix else key
        # Registry sections (detectors at the root, channels under alerts) are valid keys too.
        children = {p[len(prefix) + 1:] if prefix else p for p in extra if p.startswith(f"{prefix}.") or not prefix}
        valid = sorted(set(fields) | {c for c in children if "." not in c})
        close = difflib.get_close_matches(key, valid, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        extra_hint = ""
        if prefix == "alerts":
            extra_hint = " (notification channels need `pip install rlwatch-notify`)"
        raise ConfigError(
            f"unknown option {path!r}.{hint} Valid keys under {where}: {', '.join(valid)}{extra_hint}"
        )
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        path = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _convert(path, hints[name], value, extra)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _show(value: Any) -> str:
    if isinstance(value, _EnvValue):
        return f"{str(value)!r} (from ${value.var})"
    return f"{value!r} ({type(value).__name__})"


def _convert(path: str, tp: Any, value: Any, extra: Mapping[str, type]) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    from_env = isinstance(value, _EnvValue)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        last: ConfigError | None = None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(path, arg, value, extra)
            except ConfigError as exc:
                last = exc
        raise last or ConfigError(f"{path}: {_show(value)} is not valid")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _build(tp, value, path, extra)
    if tp is bool:
        if isinstance(value, bool):
            return value
        parsed = envflags.parse_flag(value) if from_env else None
        if parsed is not None:
            return parsed
        raise ConfigError(f"{path}: {_show(value)} is not a boolean; use true or false")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if from_env:
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{path}: {_show(value)} is not an integer")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if from_env:
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{path}: {_show(value)} is not a number")
    if tp is str:
        if isinstance(value, str):
            return str(value)
        raise ConfigError(f"{path}: {_show(value)} is not a string")
    if origin is list:
        (item_type,) = args or (Any,)
        if from_env:
            value = [v.strip() for v in str(value).split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: {_show(value)} is not a list")
        return [_convert(f"{path}[{i}]", item_type, v, extra) for i, v in enumerate(value)]
    if origin is dict:
        key_type, val_type = args or (Any, Any)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: {_show(value)} is not a mapping")
        return {
            _convert(path, key_type, k, extra): _convert(f"{path}.{k}", val_type, v, extra)
            for k, v in value.items()
        }
    if tp is Any:
        return value
    raise ConfigError(f"{path}: unsupported option type {tp!r}")


def _validate_all(cfg: RLWatchConfig) -> None:
    def walk(obj: Any) -> None:
        validate = getattr(obj, "validate", None)
        if callable(validate):
            validate()
        for f in dataclasses.fields(obj):
            if f.metadata.get("internal"):
                continue
            child = getattr(obj, f.name)
            if dataclasses.is_dataclass(child) and not isinstance(child, type):
                walk(child)

    walk(cfg)
    for section in cfg.sections.values():
        if dataclasses.is_dataclass(section):
            walk(section)


def load_config(
    config_path: str | None = None,
    overrides: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> RLWatchConfig:
    """Build the configuration from defaults, YAML, environment and overrides.

    Args:
        config_path: YAML file; None looks at ``$RLWATCH_CONFIG`` then ./rlwatch.yaml.
        overrides: Nested dict (``{"storage": {"log_dir": "x"}}``) or shorthands
            (``log_dir``, ``db_name``, ``rank``, ``world_size``).
        env: Environment to read (defaults to ``os.environ``).

    Returns:
        A validated `RLWatchConfig`.

    Raises:
        ConfigError: unknown key, wrong type, impossible value, unreadable file.
    """
    if config_path is not None and not isinstance(config_path, (str, os.PathLike)):
        raise ConfigError(f"config_path must be a path, got {type(config_path).__name__}")
    try:
        return build_config(None if config_path is None else os.fspath(config_path), overrides or {}, env)
    except ConfigError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        # Hostile override objects (keys that are not strings, values whose
        # __eq__/__len__ raise, ...) are bad configuration too: fail loudly, clearly.
        raise ConfigError(f"invalid configuration value: {type(exc).__name__}: {exc}") from None
