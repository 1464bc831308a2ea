"""Describing a configuration: every option (for `rlwatch init` and the reference), plain dicts, redaction.

Secrets are recognised by field metadata (``secret=True``) and, belt and
braces, by name. URLs keep their host visible with credentials removed.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from rlwatch import plugins
from rlwatch.config.tree import set_path
from rlwatch.redaction import REDACTED, redact_url

if TYPE_CHECKING:
    from rlwatch.config.model import RLWatchConfig

_SECRET_WORDS = ("password", "secret", "token", "routing_key", "webhook_url", "api_key")


def is_secret_field(f: dataclasses.Field[Any]) -> bool:
    """True for fields marked secret, or named like one (belt and braces)."""
    return bool(f.metadata.get("secret")) or any(w in f.name.lower() for w in _SECRET_WORDS)


def redact_value(value: Any, redact_as: str = "") -> Any:
    """Replace a secret value, keeping whether it was set visible (and a database URL's host)."""
    if value in ("", None, [], {}):
        return value
    if redact_as == "url" and isinstance(value, str):
        return redact_url(value)
    return REDACTED


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
            out[f.name] = redact_value(value, f.metadata.get("redact_as", ""))
        elif isinstance(value, dict) and redact and f.name == "headers":
            out[f.name] = {k: REDACTED for k in value}
        else:
            out[f.name] = value.copy() if isinstance(value, (list, dict)) else value
    return out


def config_to_dict(cfg: RLWatchConfig, redact: bool = True) -> dict[str, Any]:
    """The whole configuration, every registry section (defaults if unset) placed at its path."""
    out = section_to_dict(cfg, redact)
    for path in plugins.section_classes():
        section = cfg.section(path)
        if dataclasses.is_dataclass(section) and not isinstance(section, type):
            set_path(out, path, section_to_dict(section, redact))
    return out
