"""Secrets: every channel configured with recognisable secrets; grep everything rlwatch writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SECRETS = {
    "RLWATCH_SLACK_WEBHOOK_URL": "http://127.0.0.1:9/services/T0/B0/SLACKSECRET111",
    "RLWATCH_DISCORD_WEBHOOK_URL": "http://127.0.0.1:9/api/webhooks/1/DISCORDSECRET222",
    "RLWATCH_WEBHOOK_URL": "http://127.0.0.1:9/hook?token=WEBHOOKSECRET333",
    "RLWATCH_PAGERDUTY_ROUTING_KEY": "PDSECRET444PDSECRET444PDSECRET4",
    "RLWATCH_SMTP_HOST": "127.0.0.1",
    "RLWATCH_SMTP_PORT": "9",
    "RLWATCH_SMTP_USER": "mailer",
    "RLWATCH_SMTP_PASSWORD": "SMTPSECRET555",
    "RLWATCH_EMAIL_FROM": "rlwatch@example.com",
    "RLWATCH_EMAIL_TO": "oncall@example.com",
}
MARKERS = ["SLACKSECRET111", "DISCORDSECRET222", "WEBHOOKSECRET333", "PDSECRET444", "SMTPSECRET555"]


def test_no_secret_anywhere(tmp_path: Path, record: Any, rlwatch_cmd: str) -> None:
    pytest.importorskip("rlwatch_notify")
    env = {**os.environ, **SECRETS, "RLWATCH_LOG_DIR": str(tmp_path / "logs")}
    code = """
import logging, sys, rlwatch
logging.basicConfig(level=logging.DEBUG)
m = rlwatch.attach(run_id="secrets", alerts={"exit_flush_timeout_seconds": 3})
for i in range(30):
    m.log_step(i, loss=1.0, entropy=2.0)
m.log_step(30, loss=float("nan"))
m.stop()
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    outputs = {"training stdout+stderr": run.stdout + run.stderr}
    for args in (["doctor"], ["doctor", "--json"], ["runs", "--json"], ["diagnose", "secrets", "--json"],
                 ["export", "secrets", "--format", "jsonl"], ["notify-test"]):
        out = subprocess.run([rlwatch_cmd, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
        outputs[" ".join(args)] = out.stdout + out.stderr
    report = tmp_path / "report.html"
    rep = subprocess.run([rlwatch_cmd, "report", "secrets", "-o", str(report)], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=120)
    if rep.returncode == 0 and report.exists():
        outputs["report.html"] = report.read_text(encoding="utf-8", errors="replace")
    files = {p.name: p.read_bytes().decode("latin-1") for p in (tmp_path / "logs").iterdir()}
    leaks = [(where, m) for where, text in {**outputs, **files}.items() for m in MARKERS if m in text]
    record(tried="all 5 channels configured with secrets; grep DB/WAL, logs (DEBUG), CLI outputs, report",
           places_checked=len(outputs) + len(files), leaks=len(leaks))
    assert not leaks, leaks
