"""The configuration reference: every option with its type, default, environment variable and help.

Read by ``rlwatch init`` (a commented rlwatch.yaml) and the generated
docs/configuration.md, so neither can drift from the code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rlwatch import plugins
from rlwatch.config.describe import is_secret_field
from rlwatch.config.model import RLWatchConfig
from rlwatch.config.tree import iter_sections, type_hints


@dataclass(frozen=True)
class Option:
    """One configuration option, for `rlwatch init` and the generated reference."""

    path: str
    type_name: str
    default: Any
    env: str
    help: str
    secret: bool


def iter_options(include_plugins: bool = True) -> Iterator[Option]:
    """Every option of the configuration tree, in declaration order."""
    extra = plugins.section_classes() if include_plugins else {}
    for prefix, cls in iter_sections(RLWatchConfig, extra):
        hints = type_hints(cls)
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
