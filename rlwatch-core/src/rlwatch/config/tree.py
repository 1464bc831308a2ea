"""Walking configuration trees: nested dicts from YAML and nested section dataclasses.

Shared by the loader (building a configuration) and the describers
(dumping, documenting); knows nothing of `RLWatchConfig` itself.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from rlwatch.errors import ConfigError


def deep_merge(dst: dict[str, Any], src: Mapping[str, Any], where: str) -> None:
    """Merge `src` into `dst` recursively; `where` names the path in errors."""
    if not isinstance(dst, dict):
        raise ConfigError(f"{where}: expected a mapping")
    for k, v in src.items():
        if isinstance(v, Mapping) and isinstance(dst.get(k), dict):
            deep_merge(dst[k], v, f"{where}.{k}")
        else:
            dst[k] = dict(v) if isinstance(v, Mapping) else v


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``dotted = "a.b.c"``; mappings are merged."""
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
        deep_merge(target, value, dotted)
    else:
        node[parts[-1]] = value


def pop_path(data: dict[str, Any], dotted: str) -> Any:
    """Remove and return ``data[a][b]`` for ``dotted = "a.b"`` (None if absent)."""
    parts = dotted.split(".")
    node: Any = data
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    return node.pop(parts[-1], None) if isinstance(node, dict) else None


def type_hints(cls: type) -> dict[str, Any]:
    """Resolved annotations of a section dataclass."""
    return typing.get_type_hints(cls)


def iter_sections(root: type, extra: Mapping[str, type]) -> Iterator[tuple[str, type]]:
    """Every (path, dataclass) of the config tree under `root`, registry sections included."""

    def walk(cls: type, prefix: str) -> Iterator[tuple[str, type]]:
        yield prefix, cls
        hints = type_hints(cls)
        for f in dataclasses.fields(cls):
            t = hints[f.name]
            if isinstance(t, type) and dataclasses.is_dataclass(t):
                yield from walk(t, f"{prefix}.{f.name}" if prefix else f.name)

    yield from walk(root, "")
    for path, cls in extra.items():
        yield from walk(cls, path)
