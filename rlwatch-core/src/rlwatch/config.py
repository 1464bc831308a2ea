"""Configuration: dataclasses with defaults, loaded from YAML, env and overrides.

Precedence, lowest first: dataclass defaults → YAML file (``config_path``,
else ``$RLWATCH_CONFIG``, else ``./rlwatch.yaml`` if present) → environment
variables (named in each field's ``metadata["env"]``) → keyword overrides.

Bad configuration fails loudly: an unknown key, a wrong type or an impossible
value raises one `ConfigError` naming the key path, the bad value and the
valid choices (with a did-you-mean). Plugins add sections through the
``rlwatch_config_sections`` hook and detectors through their ``config_class``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from rlwatch.detectors.advantage_variance import AdvantageVarianceConfig
from rlwatch.detectors.degenerate_groups import DegenerateGroupsConfig
from rlwatch.detectors.entropy_collapse import EntropyCollapseConfig
from rlwatch.detectors.gradient_norm_spike import GradientNormSpikeConfig
from rlwatch.detectors.kl_explosion import KLExplosionConfig
from rlwatch.detectors.length_pathology import LengthPathologyConfig
from rlwatch.detectors.loss_nan import LossNaNConfig
from rlwatch.detectors.reward_hacking import RewardHackingConfig
from rlwatch.detectors.reward_mean_drift import RewardMeanDriftConfig
from rlwatch.detectors.stalled import StalledConfig

SEVERITY_CHOICES = ("warning", "critical")


class ConfigError(ValueError):
    """Raised for bad configuration, at ``attach()`` / ``load_config()`` time."""


def _opt(default: Any, help: str, env: str = "", secret: bool = False) -> Any:
    """A dataclass field with the metadata the loader, docs and redaction use."""
    meta: dict[str, Any] = {"help": help}
    if env:
        meta["env"] = env
    if secret:
        meta["secret"] = True
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class StorageConfig:
    """Where and how metrics are stored."""

    log_dir: str = _opt("./rlwatch_logs", "Folder of the SQLite file.", env="RLWATCH_LOG_DIR")
    db_name: str = _opt("metrics.db", "SQLite file name inside log_dir.", env="RLWATCH_DB_NAME")
    flush_interval_seconds: float = _opt(
        0.5,
        "Writer thread commits at least this often; a SIGKILL loses at most this much.",
        env="RLWATCH_FLUSH_INTERVAL",
    )
    queue_max_rows: int = _opt(
        200_000, "Rows buffered for the writer before new ones are dropped (and counted)."
    )

    def validate(self) -> None:
        """Reject impossible values."""
        if not self.db_name or "/" in self.db_name:
            raise ConfigError(f"storage.db_name: {self.db_name!r} must be a plain file name")
        if not 0 < self.flush_interval_seconds <= 60:
            raise ConfigError(
                f"storage.flush_interval_seconds: {self.flush_interval_seconds!r} "
                "must be > 0 and <= 60"
            )
        if self.queue_max_rows < 100:
            raise ConfigError(f"storage.queue_max_rows: {self.queue_max_rows!r} must be >= 100")


@dataclass
class ConsoleConfig:
    """The built-in console channel (stderr)."""

    enabled: bool = _opt(True, "Print alerts to stderr.")
    min_severity: str = _opt("warning", "Lowest severity printed: warning or critical.")

    def validate(self) -> None:
        """Reject unknown severities."""
        _check_choice("alerts.console.min_severity", self.min_severity, SEVERITY_CHOICES)


@dataclass
class AlertConfig:
    """The alert pipeline; channel sections (slack, email, ...) come from plugins."""

    max_alerts_per_run: int = _opt(
        50,
        "Cap on alerts sent to channels per run; a detector's first critical is always sent.",
    )
    dispatch_queue_size: int = _opt(
        1000, "Alerts buffered per notification channel before new ones are dropped (counted)."
    )
    exit_flush_timeout_seconds: float = _opt(
        10.0, "At stop/exit, how long to wait for pending notifications."
    )
    console: ConsoleConfig = field(default_factory=ConsoleConfig)

    def validate(self) -> None:
        """Reject impossible values."""
        if self.max_alerts_per_run < 1:
            raise ConfigError("alerts.max_alerts_per_run must be >= 1")
        if self.dispatch_queue_size < 1:
            raise ConfigError("alerts.dispatch_queue_size must be >= 1")
        if self.exit_flush_timeout_seconds < 0:
            raise ConfigError("alerts.exit_flush_timeout_seconds must be >= 0")


@dataclass
class DashboardConfig:
    """The local dashboard (`rlwatch dashboard`)."""

    host: str = _opt("127.0.0.1", "Interface to bind; anything else is reachable from the network.")
    port: int = _opt(8501, "TCP port.")

    def validate(self) -> None:
        """Reject impossible ports."""
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"dashboard.port: {self.port!r} must be 0..65535")


@dataclass
class DistributedConfig:
    """Which process writes in multi-process training."""

    rank: int = _opt(-1, "Global rank of this process; -1 detects it (framework, RANK, ...).")
    world_size: int = _opt(-1, "Number of processes; -1 detects it.")
    all_ranks: bool = _opt(
        False,
        "Record every rank (each as run '<run_id>-rank<N>'), not only rank 0.",
        env="RLWATCH_ALL_RANKS",
    )


@dataclass
class RLWatchConfig:
    """Top-level rlwatch configuration (the root of rlwatch.yaml)."""

    run_id: str = _opt(
        "", "Run name; empty generates '<framework>-<date>-<time>-<6 random hex digits>'.", env="RLWATCH_RUN_ID"
    )
    framework: str = _opt(
        "auto", "auto, manual, or an adapter name (trl, lightning, rllib, jax).", env="RLWATCH_FRAMEWORK"
    )
    disable: bool = _opt(False, "Turn the whole monitor into a no-op.", env="RLWATCH_DISABLE")
    log_every_n_steps: int = _opt(
        1, "Process only every n-th step (for loops where microseconds matter).",
        env="RLWATCH_LOG_EVERY_N_STEPS",
    )
    entropy_collapse: EntropyCollapseConfig = field(default_factory=EntropyCollapseConfig)
    kl_explosion: KLExplosionConfig = field(default_factory=KLExplosionConfig)
    reward_hacking: RewardHackingConfig = field(default_factory=RewardHackingConfig)
    advantage_variance: AdvantageVarianceConfig = field(default_factory=AdvantageVarianceConfig)
    loss_nan: LossNaNConfig = field(default_factory=LossNaNConfig)
    gradient_norm_spike: GradientNormSpikeConfig = field(default_factory=GradientNormSpikeConfig)
    reward_mean_drift: RewardMeanDriftConfig = field(default_factory=RewardMeanDriftConfig)
    degenerate_groups: DegenerateGroupsConfig = field(default_factory=DegenerateGroupsConfig)
    length_pathology: LengthPathologyConfig = field(default_factory=LengthPathologyConfig)
    stalled: StalledConfig = field(default_factory=StalledConfig)
    alerts: AlertConfig = field(default_factory=AlertConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    plugin_sections: dict[str, Any] = field(
        default_factory=dict, repr=False, metadata={"internal": True}
    )

    def validate(self) -> None:
        """Reject impossible top-level values."""
        if self.log_every_n_steps < 1:
            raise ConfigError(f"log_every_n_steps: {self.log_every_n_steps!r} must be >= 1")

    def section(self, path: str) -> Any:
        """Return the section at a dotted path (built-in or from a plugin).

        Args:
            path: e.g. ``"storage"``, ``"entropy_collapse"``, ``"alerts.slack"``.

        Returns:
            The section's dataclass instance, or None if no such section.
        """
        if path in self.plugin_sections:
            return self.plugin_sections[path]
        obj: Any = self
        for part in path.split("."):
            if not dataclasses.is_dataclass(obj) or part not in _field_names(type(obj)):
                return None
            obj = getattr(obj, part)
        return obj

    @property
    def db_path(self) -> str:
        """Full path of the SQLite file."""
        return os.path.join(self.storage.log_dir, self.storage.db_name)

    def to_dict(self, redact: bool = True) -> dict[str, Any]:
        """Nested plain dict of every option; secrets replaced when `redact`."""
        from rlwatch._config_loader import config_to_dict

        return config_to_dict(self, redact=redact)


def _field_names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _check_choice(path: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{path}: {value!r} is not valid; choose one of {', '.join(choices)}")


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
    from rlwatch._config_loader import build_config

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
