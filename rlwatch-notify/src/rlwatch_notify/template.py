"""Safe ``${field}`` templates for the generic webhook's JSON body.

A template is itself JSON, with placeholders inside its strings::

    {"text": "${severity}: ${message}", "step": "${step}", "metrics": "${metric_values}"}

It is parsed once, when the configuration is validated, and filled by walking
the parsed structure, never by pasting text into text. So quotes, newlines
or braces in an alert message cannot break the JSON or inject keys, and the
result is serialised with ``allow_nan=False``: NaN and infinities become
``null``, never the non-standard ``NaN``/``Infinity`` tokens.

* A string that is exactly one placeholder (``"${step}"``) becomes the value
  with its JSON type: number, string, object or null.
* A placeholder inside longer text is replaced by the value's text form.
* ``${metric_values.NAME}`` picks one metric (null when absent).
* ``$${`` writes a literal ``${``.

The fields are the keys of the default body (`default_body`): see
``docs/channels/webhook.md``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rlwatch_notify.format import format_number, json_safe

_PLACEHOLDER = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[^.{}$]+)?$")

FIELDS: tuple[str, ...] = (
    "schema",
    "event",
    "test",
    "title",
    "text",
    "alert_id",
    "run_id",
    "detector",
    "severity",
    "severity_label",
    "step",
    "message",
    "recommendation",
    "metric_values",
    "timestamp",
    "time",
    "host",
    "framework",
)
"""Names a template may use (``metric_values.NAME`` too)."""


class TemplateError(ValueError):
    """The template is not JSON, or names a field that does not exist."""


def compile_template(text: str) -> Any:
    """Parse and check a template; return the parsed structure.

    Raises:
        TemplateError: not valid JSON, or an unknown/malformed placeholder.
    """
    try:
        parsed = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, TypeError) as exc:
        raise TemplateError(
            f"not valid JSON ({exc}); placeholders go inside strings, e.g. \"step\": \"${{step}}\""
        ) from None
    for string in _strings(parsed):
        for match in _PLACEHOLDER.finditer(string):
            name = match.group(1)
            if name is None:  # "$${" escape
                continue
            if not _NAME.match(name):
                raise TemplateError(f"malformed placeholder ${{{name}}}")
            root = name.split(".", 1)[0]
            if root not in FIELDS or ("." in name and root != "metric_values"):
                raise TemplateError(f"unknown field ${{{name}}}; known fields: {', '.join(FIELDS)}")
    return parsed


def render(template: Any, values: dict[str, Any]) -> Any:
    """Fill a compiled template; the result is JSON-safe (no NaN/inf)."""
    if isinstance(template, str):
        return _render_string(template, values)
    if isinstance(template, dict):
        return {str(_render_text(key, values)): render(item, values) for key, item in template.items()}
    if isinstance(template, list):
        return [render(item, values) for item in template]
    return template


def _render_string(text: str, values: dict[str, Any]) -> Any:
    whole = _PLACEHOLDER.fullmatch(text)
    if whole and whole.group(1) is not None:
        return json_safe(_lookup(whole.group(1), values))
    return _render_text(text, values)


def _render_text(text: str, values: dict[str, Any]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "${"
        return _as_text(_lookup(name, values))

    return _PLACEHOLDER.sub(substitute, text)


def _lookup(name: str, values: dict[str, Any]) -> Any:
    if name.startswith("metric_values."):
        metrics = values.get("metric_values") or {}
        return metrics.get(name.split(".", 1)[1])
    return values.get(name)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return format_number(value)
    if isinstance(value, dict):
        return ", ".join(f"{key}={_as_text(item)}" for key, item in value.items())
    return str(value)


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [*node.keys(), *[s for item in node.values() for s in _strings(item)]]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return []


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not standard JSON")
