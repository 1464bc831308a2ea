"""The machinery behind `rlwatch.config.load_config`: merge, convert, validate.

Kept apart from the dataclasses so that `rlwatch.config` reads as a plain
list of options.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rlwatch.config import ConfigError, RLWatchConfig

_SHORTHANDS: dict[str, str] = {
    "log_dir": "storage.log_dir",
    "db_name": "storage.db_name",
    "flush_interval_seconds": "storage.flush_interval_seconds",
    "rank": "distributed.rank",
    "world_size": "distributed.world_size",
    "all_ranks": "distributed.all_ranks",
}
"""Keyword shorthands accepted by ``attach(**overrides)``."""

_SECRET_WORDS = ("password", "secret", "token", "routing_key", "webhook_url", "api_key")
_REDACTED = "***redacted***"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Option:
    """One configuration option, for `rlwatch init` and the generated reference."""

    path: str
    type_name: str
    default: Any
    env: str
    help: str
    secret: bool


def plugin_sections() -> dict[str, type]:
    """Sections contributed by plugins: channel configs and plugin detectors."""
    from rlwatch import plugins

    sections = dict(plugins.config_sections())
    builtin = {f.name for f in dataclasses.fields(RLWatchConfig)}
    for cls in plugins.detector_classes():
        if cls.id not in builtin and cls.id not in sections:
            sections[cls.id] = cls.config_class
    return sections


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

    extra = plugin_sections()
    _apply_env(data, env, extra)
    for key, value in overrides.items():
        _set_path(data, _SHORTHANDS.get(key, key), value)

    plugin_data: dict[str, Any] = {p: _pop_path(data, p) for p in extra}
    cfg: RLWatchConfig = _build(RLWatchConfig, data, "", extra)
    for p, cls in extra.items():
        cfg.plugin_sections[p] = _build(cls, plugin_data[p] or {}, p, {})
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


def _deep_merge(dst: dict[str, Any], src: Mapping[str, Any], where: str) -> None:
    if not isinstance(dst, dict):
        raise ConfigError(f"{where}: expected a mapping")
    for k, v in src.items():
        if isinstance(v, Mapping) and isinstance(dst.get(k), dict):
            _deep_merge(dst[k], v, f"{where}.{k}")
        else:
            dst[k] = dict(v) if isinstance(v, Mapping) else v


def _set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{dotted}: {part!r} is not a section")
        node = child
    if isinstance(value, Mapping):
        # merged into what the file/environment set, as a dict of our own
        target = node.get(parts[-1])
        if not isinstance(target, dict):
            target = node[parts[-1]] = {}
        _deep_merge(target, value, dotted)
    else:
        node[parts[-1]] = value


def _pop_path(data: dict[str, Any], dotted: str) -> Any:
    parts = dotted.split(".")
    node: Any = data
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    return node.pop(parts[-1], None) if isinstance(node, dict) else None


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _sections(extra: Mapping[str, type]) -> Iterator[tuple[str, type]]:
    """Every (path, dataclass) of the config tree, plugins included."""

    def walk(cls: type, prefix: str) -> Iterator[tuple[str, type]]:
        yield prefix, cls
        hints = _hints(cls)
        for f in dataclasses.fields(cls):
            t = hints[f.name]
            if isinstance(t, type) and dataclasses.is_dataclass(t):
                yield from walk(t, f"{prefix}.{f.name}" if prefix else f.name)

    yield from walk(RLWatchConfig, "")
    for path, cls in extra.items():
        yield from walk(cls, path)


def _apply_env(data: dict[str, Any], env: Mapping[str, str], extra: Mapping[str, type]) -> None:
    for prefix, cls in _sections(extra):
        for f in dataclasses.fields(cls):
            var = f.metadata.get("env")
            # An empty variable means "not set": it must never enable anything.
            if var and env.get(var, "") != "":
                _set_path(data, f"{prefix}.{f.name}" if prefix else f.name, _EnvValue(env[var], var))


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
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = str(unknown[0])
        path = f"{prefix}.{key}" if prefix else key
        valid = sorted(fields)
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
        if from_env and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
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
    for section in cfg.plugin_sections.values():
        if dataclasses.is_dataclass(section):
            walk(section)


def is_secret_field(f: dataclasses.Field[Any]) -> bool:
    """True for fields marked secret, or named like one (belt and braces)."""
    return bool(f.metadata.get("secret")) or any(w in f.name.lower() for w in _SECRET_WORDS)


def redact_value(value: Any) -> Any:
    """Replace a secret value, keeping whether it was set visible."""
    if value in ("", None, [], {}):
        return value
    return _REDACTED


def section_to_dict(obj: Any, redact: bool) -> dict[str, Any]:
    """Dataclass section → nested dict, secrets redacted."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        if f.metadata.get("internal"):
            continue
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out[f.name] = section_to_dict(value, redact)
        elif redact and is_secret_field(f):
            out[f.name] = redact_value(value)
        elif isinstance(value, dict) and redact and f.name == "headers":
            out[f.name] = {k: _REDACTED for k in value}
        else:
            out[f.name] = value.copy() if isinstance(value, (list, dict)) else value
    return out


def config_to_dict(cfg: RLWatchConfig, redact: bool = True) -> dict[str, Any]:
    """The whole configuration, plugin sections placed at their paths."""
    out = section_to_dict(cfg, redact)
    for path, section in cfg.plugin_sections.items():
        if dataclasses.is_dataclass(section) and not isinstance(section, type):
            _set_path(out, path, section_to_dict(section, redact))
    return out


def iter_options(include_plugins: bool = True) -> Iterator[Option]:
    """Every option of the configuration tree, in declaration order."""
    extra = plugin_sections() if include_plugins else {}
    for prefix, cls in _sections(extra):
        hints = _hints(cls)
        instance = cls()
        documented = _attribute_docs(cls)
        for f in dataclasses.fields(cls):
            if f.metadata.get("internal"):
                continue
            t = hints[f.name]
            if isinstance(t, type) and dataclasses.is_dataclass(t):
                continue
            yield Option(
                path=f"{prefix}.{f.name}" if prefix else f.name,
                type_name=_type_name(t),
                default=getattr(instance, f.name),
                env=f.metadata.get("env", ""),
                help=f.metadata.get("help", "") or documented.get(f.name, ""),
                secret=is_secret_field(f),
            )


def _attribute_docs(cls: type) -> dict[str, str]:
    """``name: text`` lines of the "Attributes:" sections of a class and its bases."""
    import inspect

    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        doc = inspect.getdoc(klass) or ""
        in_attrs = False
        current = ""
        for line in doc.splitlines():
            stripped = line.strip()
            if stripped.rstrip(":") in ("Attributes", "Args", "Fields"):
                in_attrs = True
                continue
            if not in_attrs:
                continue
            if not stripped:
                current = ""
                continue
            if line.startswith("    ") and ":" in stripped and not line.startswith("        "):
                name, _, text = stripped.partition(":")
                current = name.strip().split(" ")[0]
                out[current] = text.strip()
            elif current and line.startswith("        "):
                out[current] = (out[current] + " " + stripped).strip()
            elif not line.startswith(" "):
                in_attrs = False
    return out


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")
