"""Secrets (from plugin config sections) never reach SQLite, logs or CLI output."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import rlwatch
from rlwatch import hookimpl, logsink, plugins

SECRET = "sk-live-SECRET-8f3a9c"


@dataclass
class FakeChannelConfig:
    """A channel section with a secret, contributed by a plugin.

    Attributes:
        token: API token.
    """

    enabled: bool = True
    token: str = field(default="", metadata={"env": "RLWATCH_FAKE_TOKEN", "secret": True})
    url: str = field(default="", metadata={"env": "RLWATCH_FAKE_URL"})

    def validate(self) -> None:
        if self.url and not self.url.startswith("http"):
            raise rlwatch.ConfigError(f"alerts.fake.url: {self.url!r} is not an http(s) URL")


class SectionPlugin:
    @hookimpl
    def rlwatch_config_sections(self) -> dict[str, type]:
        return {"alerts.fake": FakeChannelConfig}


@pytest.fixture
def section_plugin() -> Any:
    plugins.register(SectionPlugin(), name="section-plugin")
    yield
    plugins.unregister("section-plugin")


def test_plugin_section_from_env_yaml_and_validation(section_plugin: None, tmp_path: Path) -> None:
    cfg = rlwatch.load_config(env={"RLWATCH_FAKE_TOKEN": SECRET})
    assert cfg.section("alerts.fake").token == SECRET
    assert SECRET not in str(cfg.to_dict())
    with pytest.raises(rlwatch.ConfigError, match="is not an http"):
        rlwatch.load_config(overrides={"alerts": {"fake": {"url": "ftp://x"}}}, env={})
    with pytest.raises(rlwatch.ConfigError, match="alerts.fake.tokn"):
        rlwatch.load_config(overrides={"alerts": {"fake": {"tokn": "x"}}}, env={})


def test_secret_never_stored_or_logged(section_plugin: None, log_dir: Path, db_path: Path,
                                       monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("RLWATCH_FAKE_TOKEN", SECRET)
    with caplog.at_level(logging.DEBUG, logger="rlwatch"):
        m = rlwatch.attach(log_dir=str(log_dir), run_id="secret")
        m.log_step(0, loss=float("nan"), entropy="bad")
        m.stop()
    logsink.flush()  # rlwatch logs from a background thread
    assert SECRET not in caplog.text
    raw = db_path.read_bytes() + b"".join(p.read_bytes() for p in log_dir.iterdir() if p != db_path)
    assert SECRET.encode() not in raw
    conn = sqlite3.connect(db_path)
    (config_json,) = conn.execute("SELECT config_json FROM runs").fetchone()
    assert "redacted" in config_json


def test_doctor_redacts(tmp_path: Path, rlwatch_cmd: str) -> None:
    (tmp_path / "rlwatch.yaml").write_text("run_id: x\n")
    env = {**os.environ, "RLWATCH_LOG_DIR": str(tmp_path)}
    out = subprocess.run([rlwatch_cmd, "doctor", "--json"], capture_output=True, text=True, cwd=tmp_path, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert '"run_id": "x"' in out.stdout
