"""Reading rlwatch's on/off environment variables, one way everywhere.

``RLWATCH_DISABLE``, ``RLWATCH_ALL_RANKS`` and every boolean option set from
the environment mean the same thing for the monitor, the config loader,
``rlwatch doctor`` and the adapters: ``1 / true / yes / on`` is on,
``0 / false / no / off`` and an empty or unset variable are off. Anything else
is not guessed at: `parse_flag` returns None and the caller reports it.

``RLWATCH_DISABLE_PLUGINS`` is an on/off flag or a list of plugin names:
on skips every plugin (``all`` and ``*`` say the same), off skips none, and
``notify,trl`` skips those entry points.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
"""Spellings of "on" (case-insensitive)."""
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})
"""Spellings of "off" (case-insensitive); empty means unset."""

DISABLE = "RLWATCH_DISABLE"
DISABLE_PLUGINS = "RLWATCH_DISABLE_PLUGINS"


def parse_flag(raw: str) -> bool | None:
    """``True``/``False`` for a recognised spelling, None for anything else."""
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def flag(name: str, env: Mapping[str, str] | None = None) -> bool:
    """Whether the on/off variable `name` is on. Unrecognised values count as off."""
    source = os.environ if env is None else env
    return parse_flag(source.get(name, "")) is True


def disabled_plugins(env: Mapping[str, str] | None = None) -> tuple[bool, frozenset[str]]:
    """``(all_disabled, names)`` from ``RLWATCH_DISABLE_PLUGINS``."""
    source = os.environ if env is None else env
    raw = source.get(DISABLE_PLUGINS, "").strip()
    if raw.lower() in ("all", "*"):
        return True, frozenset()
    on = parse_flag(raw)
    if on is not None:
        return on, frozenset()
    return False, frozenset(n.strip() for n in raw.split(",") if n.strip())
