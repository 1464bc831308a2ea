"""``rlwatch notify-test``: one marked test alert per configured channel, exit code says if all arrived."""

from __future__ import annotations

import subprocess
import sys

from rlwatch.cli.main import main

KEY = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12"


def write_config(tmp_path, server, **extra):
    lines = [
        "alerts:",
        "  slack:",
        f"    webhook_url: {server.url('/services/T000/B000/CLISECRET')}",
        "    backoff_base: 0.05",
        "    max_attempts: 2",
        "  pagerduty:",
        f"    routing_key: {KEY}",
        f"    events_url: {server.url('/v2/enqueue')}",
        "    backoff_base: 0.05",
    ]
    path = tmp_path / "rlwatch.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_sends_a_marked_test_alert_to_each_channel(http_server, tmp_path, capsys):
    code = main(["notify-test", "--config", write_config(tmp_path, http_server)])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.strip().splitlines()
    assert [line.split()[:2] for line in lines] == [["slack", "delivered"], ["pagerduty", "delivered"]]
    assert "CLISECRET" not in out and KEY not in out
    bodies = {r.path: r.json() for r in http_server.wait_for(3)}  # slack, PD trigger + resolve
    assert bodies["/services/T000/B000/CLISECRET"]["text"].startswith("[TEST] ")
    assert [r.json()["event_action"] for r in http_server.requests if r.path == "/v2/enqueue"] == [
        "trigger", "resolve"]


def test_failure_gives_non_zero_exit(http_server, tmp_path, capsys):
    http_server.reply(500)
    http_server.reply(500)
    code = main(["notify-test", "--config", write_config(tmp_path, http_server), "--channel", "slack"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.split()[:3] == ["slack", "failed", "2"]
    assert "HTTP 500" in out and "CLISECRET" not in out


def test_unconfigured_channel_named_is_a_failure(http_server, tmp_path, capsys):
    code = main(["notify-test", "--config", write_config(tmp_path, http_server), "--channel", "discord"])
    assert code == 1
    assert "discord    not configured" in capsys.readouterr().out
    assert http_server.requests == []


def test_nothing_configured(capsys):
    assert main(["notify-test"]) == 1
    assert "No notification channel is configured" in capsys.readouterr().out


def test_bad_config_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "rlwatch.yaml"
    path.write_text("alerts:\n  slack:\n    webhook_url: nope://BADSECRET\n")
    assert main(["notify-test", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "alerts.slack.webhook_url" in err and "BADSECRET" not in err


def test_real_command_line_process(http_server, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "rlwatch.cli.main", "notify-test", "--config", write_config(tmp_path, http_server),
         "--channel", "slack"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("slack      delivered  1 try")
