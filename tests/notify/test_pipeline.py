"""End to end through the real core: attach → log_step → detector → dispatcher → channel → SQLite.

The channel is found through the installed ``rlwatch`` entry point, exactly as
in a user's process; the endpoints are local servers.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
import rlwatch
from rlwatch import hookimpl, plugins
from rlwatch.config import ConfigError
from rlwatch.detectors.base import Detector, DetectorConfig
from rlwatch.storage import StoreReader

FAST = {"backoff_base": 0.05, "backoff_max": 0.1, "timeout": 2.0}


@dataclass
class ProbeConfig(DetectorConfig):
    """Options of the test detector (no warmup, no cooldown)."""

    warmup_steps: int = 0
    cooldown_steps: int = 0


class ProbeDetector(Detector):
    """Alerts when metric ``notify_probe`` is >= 1 (warning) or >= 2 (critical).

    Lets a test choose the severity exactly, independent of real detectors' tuning.
    """

    id: ClassVar[str] = "notify_probe"
    config_class: ClassVar[type[DetectorConfig]] = ProbeConfig
    metrics: ClassVar[tuple[str, ...]] = ("notify_probe",)

    def update(self, step: int, values: Any, arrays: Any) -> list[Any] | None:
        """Alert on the probe metric's level."""
        value = values.get("notify_probe")
        if value is None or math.isnan(value) or value < 1:
            return None
        severity = "critical" if value >= 2 else "warning"
        return [self.alert(step, severity, f"probe at {value}", {"notify_probe": value}, "none")]


class ProbePlugin:
    """Registers `ProbeDetector` through the real detector hook."""

    @hookimpl
    def rlwatch_detectors(self) -> list[type[Detector]]:
        """The probe detector."""
        return [ProbeDetector]


@pytest.fixture
def probe() -> Any:
    plugins.register(ProbePlugin(), name="notify-test-probe")
    yield
    plugins.unregister("notify-test-probe")


def deliveries(db_path: str, detector: str) -> list[dict[str, Any]]:
    with StoreReader(db_path) as reader:
        rows = [a for a in reader.alerts() if a.detector == detector]
    assert rows, f"no {detector} alert stored"
    return [d for row in rows for d in row.deliveries]


def test_notify_plugin_is_loaded_from_its_entry_point():
    record = {r.name: r for r in plugins.records()}["notify"]
    assert (record.source, record.status) == ("rlwatch_notify.plugin", "loaded")


def test_nan_loss_alert_is_delivered_and_recorded(http_server, tmp_path):
    url = http_server.url("/services/T000/B000/E2ESECRET")
    monitor = rlwatch.attach(run_id="e2e-nan", log_dir=str(tmp_path), alerts={"slack": {"webhook_url": url, **FAST}})
    for step in range(30):
        monitor.log_step(step, loss=1.0 / (step + 1), grad_norm=1.0, entropy=2.0)
    monitor.log_step(30, loss=float("nan"), grad_norm=1.0, entropy=2.0)
    request = http_server.wait_for(1)[0]
    assert "loss_nan" in request.json()["text"]
    monitor.stop()
    (delivery,) = [d for d in deliveries(monitor.db_path, "loss_nan") if d["channel"] == "slack"][:1]
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 1)
    with StoreReader(monitor.db_path) as reader:
        stored = str(reader.run("e2e-nan").config)
    assert "E2ESECRET" not in stored  # the webhook URL is redacted in the stored config


def test_failed_delivery_is_recorded_with_tries(http_server, tmp_path, probe):
    http_server.default.status = 500
    config = {"webhook": {"url": http_server.url("/hook"), "max_attempts": 2, **FAST}}
    monitor = rlwatch.attach(run_id="e2e-fail", log_dir=str(tmp_path), alerts=config)
    monitor.log_step(1, notify_probe=2.0)
    monitor.stop()
    (delivery,) = deliveries(monitor.db_path, "notify_probe")
    assert (delivery["channel"], delivery["status"], delivery["attempts"]) == ("webhook", "failed", 2)
    assert delivery["detail"].startswith("HTTP 500")


def test_below_min_severity_is_recorded_as_suppressed(http_server, tmp_path, probe):
    key = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12"
    config = {
        "pagerduty": {"routing_key": key, "events_url": http_server.url("/v2/enqueue"), **FAST},
        "webhook": {"url": http_server.url("/hook"), **FAST},
    }
    monitor = rlwatch.attach(run_id="e2e-sev", log_dir=str(tmp_path), alerts=config)
    monitor.log_step(1, notify_probe=1.0)  # warning: webhook yes, PagerDuty no
    monitor.stop()
    outcome = {d["channel"]: d["status"] for d in deliveries(monitor.db_path, "notify_probe")}
    assert outcome == {"webhook": "delivered", "pagerduty": "suppressed"}
    assert [r.path for r in http_server.requests] == ["/hook"]


def test_pagerduty_resolves_when_run_finishes(http_server, tmp_path, probe):
    http_server.default.status = 202
    key = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12"
    config = {"pagerduty": {"routing_key": key, "events_url": http_server.url("/v2/enqueue"), **FAST}}
    monitor = rlwatch.attach(run_id="e2e-pd", log_dir=str(tmp_path), alerts=config)
    monitor.log_step(1, notify_probe=2.0)
    monitor.stop("finished")
    events = [r.json() for r in http_server.wait_for(2)]
    assert [e["event_action"] for e in events] == ["trigger", "resolve"]
    assert events[0]["dedup_key"] == events[1]["dedup_key"] == "rlwatch:e2e-pd:notify_probe"


def test_bad_url_fails_at_attach(tmp_path):
    with pytest.raises(ConfigError, match=r"alerts\.slack\.webhook_url") as error:
        rlwatch.attach(log_dir=str(tmp_path), alerts={"slack": {"webhook_url": "hooks.slack.com/services/SECRETX"}})
    assert "SECRETX" not in str(error.value)


def test_missing_recipient_fails_at_attach(tmp_path):
    with pytest.raises(ConfigError, match="recipient"):
        rlwatch.attach(log_dir=str(tmp_path), alerts={"email": {"smtp_host": "smtp.example.org", "from_addr": "a@b.c"}})


_SCRIPT = textwrap.dedent(
    """
    import math, sys
    import rlwatch
    from rlwatch import hookimpl, plugins
    from rlwatch.detectors.base import Detector, DetectorConfig

    class Probe(Detector):
        id = "notify_probe"
        config_class = DetectorConfig
        def update(self, step, values, arrays):
            if values.get("notify_probe", 0) >= 2:
                return [self.alert(step, "critical", "probe", {}, "")]

    class Plugin:
        @hookimpl
        def rlwatch_detectors(self):
            return [Probe]

    plugins.register(Plugin(), name="probe")
    url, log_dir, ending = sys.argv[1:4]
    monitor = rlwatch.attach(
        run_id="crashy", log_dir=log_dir,
        alerts={"webhook": {"url": url, "backoff_base": 0.05}, "exit_flush_timeout_seconds": 5.0},
        notify_probe={"warmup_steps": 0},
    )
    monitor.log_step(1, notify_probe=2.0)
    if ending == "raise":
        raise RuntimeError("training blew up right after the alert")
    sys.exit(7)
    """
)


@pytest.mark.parametrize(("ending", "code"), [("raise", 1), ("exit", 7)])
def test_alert_raised_right_before_a_crash_is_delivered(http_server, tmp_path, ending, code):
    http_server.reply(503)  # first try fails: the retry must also happen before exit
    script = tmp_path / "crashy.py"
    script.write_text(_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script), http_server.url("/hook"), str(tmp_path), ending],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert result.returncode == code, result.stderr
    requests = http_server.wait_for(2, timeout=1)
    assert requests[-1].json()["detector"] == "notify_probe"
    (delivery,) = deliveries(str(tmp_path / "metrics.db"), "notify_probe")
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 2)
    if ending == "raise":
        with StoreReader(str(tmp_path / "metrics.db")) as reader:
            assert reader.run("crashy").status == "crashed"


def test_hanging_endpoint_does_not_hold_exit_beyond_the_flush_timeout(http_server, tmp_path):
    http_server.hang(30.0)
    script = tmp_path / "crashy.py"
    script.write_text(_SCRIPT.replace('"exit_flush_timeout_seconds": 5.0', '"exit_flush_timeout_seconds": 1.0'))
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(script), http_server.url("/hook"), str(tmp_path), "exit"],
        capture_output=True, text=True, timeout=60,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 7, result.stderr
    assert elapsed < 10, f"exit took {elapsed:.1f} s with a hanging endpoint"
    http_server.wait_for(1)


def test_alert_in_flight_at_exit_is_recorded_as_failed(http_server, tmp_path):
    # Needs the core dispatcher to record the delivery it was still waiting
    # on when the exit flush timed out (else the alert has no outcome at all).
    http_server.hang(30.0)
    script = tmp_path / "crashy.py"
    script.write_text(_SCRIPT.replace('"exit_flush_timeout_seconds": 5.0', '"exit_flush_timeout_seconds": 0.5'))
    result = subprocess.run(
        [sys.executable, str(script), http_server.url("/hook"), str(tmp_path), "exit"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 7, result.stderr
    (delivery,) = deliveries(str(tmp_path / "metrics.db"), "notify_probe")
    assert (delivery["channel"], delivery["status"]) == ("webhook", "failed")


def test_disabling_the_plugin_sends_nothing(http_server, tmp_path):
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(
        """
        import sys
        import rlwatch
        from rlwatch import plugins
        monitor = rlwatch.attach(run_id="off", log_dir=sys.argv[1])
        for step in range(30):
            monitor.log_step(step, loss=1.0, grad_norm=1.0)
        monitor.log_step(30, loss=float("nan"), grad_norm=1.0)
        monitor.stop()
        print([r.status for r in plugins.records() if r.name == "notify"])
        """
    ))
    env = {**os.environ, "RLWATCH_DISABLE_PLUGINS": "notify",
           "RLWATCH_SLACK_WEBHOOK_URL": http_server.url("/services/T/B/OFF")}
    result = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True,
                            timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['disabled']"
    time.sleep(0.2)
    assert http_server.requests == []
