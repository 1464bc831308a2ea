"""Configuration: precedence, validation with clear errors, the starter file."""

from __future__ import annotations

from pathlib import Path

import pytest
import rlwatch
import yaml
from rlwatch.cli.cmd_init import starter_yaml
from rlwatch.config import ConfigError, RLWatchConfig, load_config


def test_defaults() -> None:
    cfg = load_config(env={})
    assert cfg.storage.log_dir == "./rlwatch_logs" and cfg.storage.db_name == "metrics.db"
    assert cfg.dashboard.host == "127.0.0.1"
    assert isinstance(cfg, RLWatchConfig)


def test_precedence_yaml_env_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "run_id: from-yaml\nstorage:\n  log_dir: yaml-dir\n  db_name: y.db\nentropy_collapse:\n  warmup_steps: 7\n"
    )
    cfg = load_config(str(path), env={"RLWATCH_LOG_DIR": "env-dir"})
    assert (cfg.run_id, cfg.storage.log_dir, cfg.storage.db_name) == ("from-yaml", "env-dir", "y.db")
    assert cfg.entropy_collapse.warmup_steps == 7
    cfg = load_config(str(path), {"log_dir": "kw-dir", "storage": {"db_name": "k.db"}}, env={"RLWATCH_LOG_DIR": "e"})
    assert (cfg.storage.log_dir, cfg.storage.db_name) == ("kw-dir", "k.db")


def test_rlwatch_config_env_and_cwd_file(tmp_path: Path) -> None:
    (tmp_path / "rlwatch.yaml").write_text("run_id: cwd\n")
    assert load_config(env={}).run_id == "cwd"
    other = tmp_path / "other.yaml"
    other.write_text("run_id: other\n")
    assert load_config(env={"RLWATCH_CONFIG": str(other)}).run_id == "other"


def test_env_parsing_and_empty_values() -> None:
    cfg = load_config(env={"RLWATCH_DISABLE": "yes", "RLWATCH_LOG_EVERY_N_STEPS": "4", "RLWATCH_RUN_ID": ""})
    assert cfg.disable is True and cfg.log_every_n_steps == 4 and cfg.run_id == ""
    with pytest.raises(ConfigError, match=r"log_every_n_steps.*RLWATCH_LOG_EVERY_N_STEPS"):
        load_config(env={"RLWATCH_LOG_EVERY_N_STEPS": "four"})


@pytest.mark.parametrize(
    ("overrides", "pattern"),
    [
        ({"entropy_colapse": {}}, r"unknown option 'entropy_colapse'\. Did you mean 'entropy_collapse'\?"),
        ({"storage": {"log_dri": "x"}}, r"'storage\.log_dri'.*Did you mean 'log_dir'.*Valid keys under storage"),
        ({"storage": {"flush_interval_seconds": "fast"}},
         r"storage\.flush_interval_seconds: 'fast' \(str\) is not a number"),
        ({"alerts": {"console": {"min_severity": "loud"}}},
         r"min_severity: 'loud' is not valid; choose one of info, warning, critical"),
        ({"log_every_n_steps": 0}, r"log_every_n_steps: 0 must be >= 1"),
        ({"disable": "no"}, r"disable: 'no' \(str\) is not a boolean"),
        ({"alerts": {"slak": {}}}, r"alerts\.slak"),
        ({"storage": 5}, r"storage: expected a mapping"),
    ],
)
def test_bad_config_fails_loudly(overrides: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        load_config(overrides=overrides, env={})


def test_attach_raises_config_errors(log_dir: Path) -> None:
    with pytest.raises(ConfigError):
        rlwatch.attach(log_dir=str(log_dir), storag={})


def test_bad_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("storage: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(path), env={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.yaml"), env={})


def test_starter_yaml_covers_every_option_and_loads(tmp_path: Path) -> None:
    text = starter_yaml()
    import re

    option = re.compile(r"^# ( *[a-z_]+:.*)$")
    uncommented = "\n".join(m.group(1) for line in text.splitlines() if (m := option.match(line)))
    data = yaml.safe_load(uncommented)
    path = tmp_path / "full.yaml"
    path.write_text(yaml.safe_dump(data))
    cfg = load_config(str(path), env={})
    assert cfg.to_dict() == load_config(env={}).to_dict()
    for section in ("entropy_collapse", "kl_explosion", "stalled", "storage", "alerts", "distributed"):
        assert section in data


def test_to_dict_redacts_secret_looking_fields() -> None:
    from dataclasses import dataclass, field

    from rlwatch.config.describe import section_to_dict

    @dataclass
    class Section:
        webhook_url: str = "https://hooks.example/secret-path"
        password: str = field(default="hunter2", metadata={"secret": True})
        note: str = "visible"
        headers: dict[str, str] = field(default_factory=lambda: {"Authorization": "Bearer x"})

    out = section_to_dict(Section(), redact=True)
    assert "secret-path" not in str(out) and "hunter2" not in str(out) and "Bearer" not in str(out)
    assert out["note"] == "visible"
