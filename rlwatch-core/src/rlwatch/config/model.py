"""`RLWatchConfig`: the root of the configuration (the root of rlwatch.yaml).

Its own fields are the sections of rlwatch itself (`rlwatch.config.sections`).
Detector sections (``cfg.entropy_collapse``) and plugin sections
(``cfg.alerts.slack`` lives at ``cfg.section("alerts.slack")``) come from the
plugin registry: built-in and third-party detectors are assembled the same
way, and a detector's options live beside the detector, not here.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from rlwatch.config.sections import AlertConfig, DashboardConfig, DistributedConfig, StorageConfig
from rlwatch.errors import ConfigError
from rlwatch.options import option


@dataclass
class RLWatchConfig:
    """Top-level rlwatch configuration.

    Attributes beyond the fields below resolve to registry sections:
    ``cfg.entropy_collapse`` is the `entropy_collapse` detector's options
    (its defaults when the configuration was built without them).
    """

    run_id: str = option(
        "", "Run name; empty generates '<framework>-<date>-<time>-<6 random hex digits>'.", env="RLWATCH_RUN_ID"
    )
    framework: str = option(
        "auto", "auto, manual, or an adapter name (trl, lightning, rllib, jax, verl).", env="RLWATCH_FRAMEWORK"
    )
    disable: bool = option(False, "Turn the whole monitor into a no-op.", env="RLWATCH_DISABLE")
    log_every_n_steps: int = option(
        1, "Process only every n-th step (for loops where microseconds matter).",
        env="RLWATCH_LOG_EVERY_N_STEPS",
    )
    alerts: AlertConfig = field(default_factory=AlertConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    sections: dict[str, Any] = field(default_factory=dict, repr=False, metadata={"internal": True})
    """Registry sections by dotted path (detectors by id, plugin channels as ``alerts.<name>``)."""

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: a detector section by its id.
        if name.startswith("_"):
            raise AttributeError(name)
        found = self.section(name)
        if found is None:
            raise AttributeError(f"{type(self).__name__} has no option or section {name!r}")
        return found

    def validate(self) -> None:
        """Reject impossible top-level values."""
        if self.log_every_n_steps < 1:
            raise ConfigError(f"log_every_n_steps: {self.log_every_n_steps!r} must be >= 1")

    def section(self, path: str) -> Any:
        """The section at a dotted path (rlwatch's own, a detector's, or a plugin's), or None.

        A registry section that was not configured is created with its
        defaults on first access, so ``RLWatchConfig()`` works without the
        loader.
        """
        sections = self.__dict__.get("sections")
        if sections is None:
            return None
        if path in sections:
            return sections[path]
        obj: Any = self
        for part in path.split("."):
            if not dataclasses.is_dataclass(obj) or part not in {f.name for f in dataclasses.fields(obj)}:
                obj = None
                break
            obj = getattr(obj, part)
        if obj is not None:
            return obj
        from rlwatch import plugins

        cls = plugins.section_classes().get(path)
        if cls is None:
            return None
        return sections.setdefault(path, cls())

    @property
    def plugin_sections(self) -> dict[str, Any]:
        """The registry sections built so far (an alias of `sections`, kept for plugins written against 0.6)."""
        return self.sections

    @property
    def db_path(self) -> str:
        """Full path of the SQLite file."""
        return os.path.join(self.storage.log_dir, self.storage.db_name)

    def to_dict(self, redact: bool = True) -> dict[str, Any]:
        """Nested plain dict of every option (registry sections included); secrets replaced when `redact`."""
        from rlwatch.config.describe import config_to_dict

        return config_to_dict(self, redact=redact)
