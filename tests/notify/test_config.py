"""Channel configuration through the real core loader: YAML, environment, enabled, validation, redaction."""

from __future__ import annotations

import pytest
from rlwatch.config import ConfigError, load_config
from rlwatch_notify.config import EmailConfig, SlackConfig, WebhookConfig
from rlwatch_notify.plugin import build_channels

SLACK = "https://hooks.slack.com/services/T000/B000/CFGSECRET"
KEY = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12"


def names(config):
    return [channel.name for channel in build_channels(config)]


def test_nothing_configured_builds_nothing():
    assert names(load_config(env={})) == []


def test_env_vars_configure_channels():
    env = {
        "RLWATCH_SLACK_WEBHOOK_URL": SLACK,
        "RLWATCH_DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/1/tok",
        "RLWATCH_WEBHOOK_URL": "https://example.org/hook",
        "RLWATCH_PAGERDUTY_ROUTING_KEY": KEY,
        "RLWATCH_SMTP_HOST": "smtp.example.org",
        "RLWATCH_SMTP_PORT": "2525",
        "RLWATCH_SMTP_USER": "bot",
        "RLWATCH_SMTP_PASSWORD": "pw-secret",
        "RLWATCH_EMAIL_FROM": "bot@example.org",
        "RLWATCH_EMAIL_TO": "a@example.org, b@example.org",
    }
    config = load_config(env=env)
    assert names(config) == ["slack", "discord", "email", "webhook", "pagerduty"]
    email = config.section("alerts.email")
    assert isinstance(email, EmailConfig)
    assert (email.smtp_port, email.recipients()) == (2525, ["a@example.org", "b@example.org"])


def test_empty_env_var_enables_nothing():
    config = load_config(env={"RLWATCH_SLACK_WEBHOOK_URL": "", "RLWATCH_PAGERDUTY_ROUTING_KEY": ""})
    assert names(config) == []


def test_explicit_enabled_false_wins_over_env_url(tmp_path):
    path = tmp_path / "rlwatch.yaml"
    path.write_text("alerts:\n  slack:\n    enabled: false\n")
    config = load_config(str(path), env={"RLWATCH_SLACK_WEBHOOK_URL": SLACK})
    assert names(config) == []
    # disabled sections are not validated either: a placeholder may stay
    path.write_text("alerts:\n  slack:\n    enabled: false\n    webhook_url: TODO\n")
    assert names(load_config(str(path), env={})) == []


def test_yaml_section_with_all_options(tmp_path):
    path = tmp_path / "rlwatch.yaml"
    path.write_text(
        "alerts:\n"
        "  webhook:\n"
        "    url: https://example.org/hook\n"
        "    method: PUT\n"
        "    headers: {Authorization: 'Bearer ${env:TOKEN}'}\n"
        "    template: '{\"text\": \"${title}\"}'\n"
        "    severity_labels: {critical: P1}\n"
        "    min_severity: critical\n"
        "    timeout: 3\n"
        "    max_attempts: 2\n"
    )
    config = load_config(str(path), env={})
    section = config.section("alerts.webhook")
    assert isinstance(section, WebhookConfig)
    assert (section.method, section.timeout, section.max_attempts, section.min_severity) == ("PUT", 3.0, 2, "critical")
    (channel,) = build_channels(config)
    assert channel.min_severity == "critical"


def test_unknown_key_is_an_error(tmp_path):
    path = tmp_path / "rlwatch.yaml"
    path.write_text("alerts:\n  slack:\n    webhook: https://hooks.slack.com/x\n")
    with pytest.raises(ConfigError, match="webhook_url"):  # did-you-mean
        load_config(str(path), env={})


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"RLWATCH_SLACK_WEBHOOK_URL": "hooks.slack.com/services/T/B/NOSCHEME"}, "alerts.slack.webhook_url"),
        ({"RLWATCH_EMAIL_TO": "a@example.org"}, "smtp_host is required"),
        ({"RLWATCH_SMTP_HOST": "smtp.example.org", "RLWATCH_EMAIL_FROM": "a@b.org"}, "recipient"),
        ({"RLWATCH_PAGERDUTY_ROUTING_KEY": "not a key"}, "routing_key"),
    ],
)
def test_misconfiguration_fails_at_load(env, error):
    with pytest.raises(ConfigError, match=error) as info:
        load_config(env=env)
    assert "NOSCHEME" not in str(info.value) and "not a key" not in str(info.value)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"min_severity": "info-ish"}, "min_severity"),
        ({"min_severity": "fatal"}, "min_severity"),
        ({"timeout": 0.0}, "timeout"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"breaker_threshold": 0}, "breaker_threshold"),
    ],
)
def test_common_options_are_checked(changes, error):
    with pytest.raises(ConfigError, match=error):
        SlackConfig(webhook_url=SLACK, **changes).validate()


def test_secrets_are_redacted_in_config_dump():
    env = {
        "RLWATCH_SLACK_WEBHOOK_URL": SLACK,
        "RLWATCH_PAGERDUTY_ROUTING_KEY": KEY,
        "RLWATCH_SMTP_HOST": "smtp.example.org",
        "RLWATCH_SMTP_USER": "bot",
        "RLWATCH_SMTP_PASSWORD": "pw-secret",
        "RLWATCH_EMAIL_FROM": "bot@example.org",
        "RLWATCH_EMAIL_TO": "a@example.org",
        "RLWATCH_WEBHOOK_URL": "https://example.org/hook?token=QSECRET",
        "RLWATCH_WEBHOOK_SECRET": "hmac-secret",
    }
    dumped = str(load_config(env=env).to_dict(redact=True))
    for secret in ("CFGSECRET", KEY, "pw-secret", "QSECRET", "hmac-secret"):
        assert secret not in dumped
    assert "smtp.example.org" in dumped  # not everything is hidden
