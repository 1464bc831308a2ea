"""Putting a monitor together at start: its detectors, its channels, its run row.

Everything here runs once, in the user's setup call (`RLWatch.start`), never
on the training path.
"""

from __future__ import annotations

import json
import os
import platform
import time
import uuid
from typing import Any

from rlwatch import plugins
from rlwatch._version import __version__
from rlwatch.channels.base import Channel
from rlwatch.config import RLWatchConfig
from rlwatch.detectors.base import Detector
from rlwatch.guard import report


def build_detectors(config: RLWatchConfig) -> list[Detector[Any]]:
    """One instance of every registered, enabled detector (a detector whose constructor fails is skipped)."""
    detectors: list[Detector[Any]] = []
    for cls in plugins.detector_classes():
        section = config.section(cls.id)
        if not getattr(section, "enabled", True):
            continue
        try:
            detectors.append(cls(section))
        except Exception as exc:  # noqa: BLE001 - a broken detector is skipped
            report(f"detector {cls.id}.__init__", exc)
    return detectors


def build_channels(config: RLWatchConfig) -> list[Channel]:
    """The channels every plugin builds from the configuration (built-ins first).

    With ``alerts.notify: false`` (replays, unless asked) only the local,
    synchronous channels (the console) are kept.
    """
    channels: list[Channel] = []
    for group in reversed(plugins.hook().rlwatch_channels(config=config)):
        channels.extend(group or ())
    if not config.alerts.notify:
        channels = [c for c in channels if c.synchronous]
    return channels


def generate_run_id(framework: str) -> str:
    """``<framework>-<date>-<time>-<6 random hex digits>``."""
    name = framework if framework not in ("", "auto") else "run"
    return f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def run_row(
    config: RLWatchConfig, run_id: str, run_uid: str, rank: int, world_size: int, source: str, source_path: str
) -> dict[str, Any]:
    """The ``runs`` row of a starting run (config redacted: no secret reaches the file)."""
    now = time.time()
    return {
        "run_id": run_id, "run_uid": run_uid, "status": "running", "started_at": now, "updated_at": now,
        "framework": config.framework, "host": platform.node(), "pid": os.getpid(), "rank": rank,
        "world_size": world_size, "rlwatch_version": __version__,
        "config_json": json.dumps(config.to_dict(redact=True), default=str),
        "source": source or None, "source_path": source_path or None,
    }
