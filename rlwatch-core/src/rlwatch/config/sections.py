"""The configuration sections of rlwatch itself (detector sections come from the registry).

Storage, the alert pipeline (with the console channel), the dashboard and
distributed training. Each section validates its own values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rlwatch.alerts import SEVERITIES
from rlwatch.errors import ConfigError
from rlwatch.options import option, require_choice


@dataclass
class StorageConfig:
    """Where and how metrics are stored."""

    log_dir: str = option("./rlwatch_logs", "Folder of the SQLite file.", env="RLWATCH_LOG_DIR")
    db_name: str = option("metrics.db", "SQLite file name inside log_dir.", env="RLWATCH_DB_NAME")
    flush_interval_seconds: float = option(
        0.5,
        "Writer thread commits at least this often; a SIGKILL loses at most this much.",
        env="RLWATCH_FLUSH_INTERVAL",
    )
    queue_max_rows: int = option(
        200_000, "Rows buffered for the writer before new ones are dropped (and counted)."
    )
    url: str = option(
        "",
        "Team store to replicate the local file to (e.g. postgresql://host/db, needs rlwatch-postgres); "
        "the local file stays the spool. Credentials are redacted wherever the URL is shown.",
        env="RLWATCH_STORAGE_URL",
        secret=True,
        redact_as="url",
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

    enabled: bool = option(True, "Print alerts to stderr.")
    min_severity: str = option(
        "info", "Lowest severity printed: info (also one-off configuration findings), warning or critical."
    )

    def validate(self) -> None:
        """Reject unknown severities."""
        require_choice("alerts.console.min_severity", self.min_severity, SEVERITIES)


@dataclass
class AlertConfig:
    """The alert pipeline; channel sections (slack, email, ...) come from plugins."""

    max_alerts_per_run: int = option(
        50,
        "Cap on alerts sent to channels per run; a detector's first critical is always sent.",
    )
    dispatch_queue_size: int = option(
        1000, "Alerts buffered per notification channel before new ones are dropped (counted)."
    )
    exit_flush_timeout_seconds: float = option(
        10.0, "At stop/exit, how long to wait for pending notifications."
    )
    notify: bool = option(
        True,
        "Send alerts to notification channels (Slack, email, ...); false keeps the console and the stored "
        "record only. Replays (rlwatch import) set it false unless asked.",
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

    host: str = option("127.0.0.1", "Interface to bind; anything else is reachable from the network.")
    port: int = option(8501, "TCP port.")

    def validate(self) -> None:
        """Reject impossible ports."""
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"dashboard.port: {self.port!r} must be 0..65535")


@dataclass
class DistributedConfig:
    """Which process writes in multi-process training."""

    rank: int = option(-1, "Global rank of this process; -1 detects it (framework, RANK, ...).")
    world_size: int = option(-1, "Number of processes; -1 detects it.")
    all_ranks: bool = option(
        False,
        "Record every rank (each as run '<run_id>-rank<N>'), not only rank 0.",
        env="RLWATCH_ALL_RANKS",
    )
