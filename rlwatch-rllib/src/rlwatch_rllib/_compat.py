"""The Ray versions this adapter supports, checked from metadata before Ray is imported."""

from __future__ import annotations

import logging
from importlib import metadata

SUPPORTED_RAY = ">=2.40,<3"
"""Declared once here (and mirrored in pyproject.toml); tested on Ray 2.60."""
_MIN = (2, 40)
_MAX_EXCLUSIVE = (3, 0)

logger = logging.getLogger("rlwatch")
_warned = False


def installed_ray_version() -> tuple[int, int] | None:
    """(major, minor) of the installed ``ray`` distribution, or None if absent/unreadable."""
    try:
        parts = metadata.version("ray").split(".")
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)
    except Exception:  # noqa: BLE001 - missing or odd metadata: unknown version
        return None


def check_ray_version() -> bool:
    """True if the installed Ray is in `SUPPORTED_RAY`; warns once (never raises) if not."""
    global _warned
    version = installed_ray_version()
    ok = version is not None and _MIN <= version < _MAX_EXCLUSIVE
    if not ok and not _warned:
        _warned = True
        found = "not installed" if version is None else f"{version[0]}.{version[1]}"
        logger.warning("rlwatch-rllib supports ray%s; found %s. Metrics may be missing.", SUPPORTED_RAY, found)
    return ok
