"""The plugin is found and wired like any other rlwatch plugin, and claims only PostgreSQL URLs."""

from __future__ import annotations

from pathlib import Path

import pytest
import rlwatch
from rlwatch import plugins
from rlwatch.errors import ConfigError
from rlwatch_postgres import plugin

from ._helpers import rlwatch_cli


def test_the_entry_point_is_loaded() -> None:
    records = {r.name: r for r in plugins.records()}
    assert records["postgres"].status == "loaded"
    assert records["postgres"].source == "rlwatch_postgres.plugin"


def test_other_schemes_are_not_ours(tmp_path: Path) -> None:
    assert plugin.rlwatch_open_store("mysql://h/db") is None
    assert plugin.rlwatch_replicator("s3://bucket/x", str(tmp_path / "m.db")) is None


def test_a_malformed_url_fails_at_attach(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="storage.url") as err:
        rlwatch.attach(run_id="bad", storage={"log_dir": str(tmp_path), "url": "postgresql://u:pw1234@h:notaport/db x"})
    assert "pw1234" not in str(err.value)


def test_sync_is_an_rlwatch_command() -> None:
    result = rlwatch_cli("sync", "--help")
    assert result.returncode == 0 and "--to URL" in result.stdout and "--init" in result.stdout
