"""The alert pipeline: cooldown, escalation, cap, persistence, channels, exit delivery."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
import rlwatch
from rlwatch import hookimpl, plugins
from rlwatch.alert_manager import AlertManager
from rlwatch.alerts import Alert
from rlwatch.channels.base import Channel, Delivery, RunContext
from rlwatch.channels.console import ConsoleChannel, format_alert
from rlwatch.storage import StoreReader


def A(detector: str, severity: str, step: int) -> Alert:
    return Alert(detector, severity, step, "m", {}, "r")


def test_cooldown_escalation_dedupe() -> None:
    m = AlertManager(max_alerts_per_run=100, cooldowns={"d": 10})
    assert m.decide(A("d", "warning", 0)) == ("sent", "")
    assert m.decide(A("d", "warning", 5))[1].startswith("cooldown")
    assert m.decide(A("d", "critical", 6)) == ("sent", "")  # escalation inside the cooldown
    assert m.decide(A("d", "warning", 7))[0] == "suppressed"  # no de-escalation
    assert m.decide(A("d", "critical", 8))[0] == "suppressed"
    assert m.decide(A("d", "warning", 20)) == ("sent", "")  # cooldown over
    assert m.decide(A("d", "warning", 20)) == ("suppressed", "duplicate")
    assert m.decide(A("other", "warning", 8)) == ("sent", "")  # per detector


def test_cap_never_drops_a_first_critical() -> None:
    m = AlertManager(max_alerts_per_run=2, cooldowns={})
    assert m.decide(A("a", "warning", 0))[0] == "sent"
    assert m.decide(A("b", "warning", 1))[0] == "sent"
    assert m.decide(A("c", "warning", 2))[1].startswith("cap")
    assert m.decide(A("c", "critical", 3))[0] == "sent"  # c's first critical
    assert m.decide(A("c", "critical", 300))[1].startswith("cap")
    assert m.decide(A("a", "critical", 400))[0] == "sent"  # a's first critical


def test_every_alert_is_persisted_with_status(log_dir: Path, db_path: Path) -> None:
    m = rlwatch.attach(log_dir=str(log_dir), run_id="persist", loss_nan={"cooldown_steps": 100})
    sent = []
    for i in range(10):
        sent += m.log_step(i, loss=float("nan"))
    m.stop()
    assert len(sent) == 1
    with StoreReader(str(db_path)) as r:
        rows = r.alerts("persist")
        assert [x.status for x in rows] == ["sent"] + ["suppressed"] * 9
        assert all(x.reason.startswith("cooldown") for x in rows[1:])
        assert r.run("persist").alert_counts == {"warning": 0, "critical": 1, "info": 0}  # type: ignore[union-attr]


def test_console_block_is_readable() -> None:
    stream = io.StringIO()
    alert = Alert("loss_nan", "critical", 12, "loss is NaN", {"loss": float("nan")}, "lower the learning rate")
    ConsoleChannel(stream=stream).send(alert, RunContext(run_id="r"))
    text = stream.getvalue()
    assert "CRITICAL loss_nan at step 12 (run r)" in text and "what to do: lower the learning rate" in text
    assert format_alert(alert, RunContext("r")).count("\n") == 3


def test_console_channel_prints_to_stderr(log_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = rlwatch.attach(log_dir=str(log_dir), run_id="console")
    m.log_step(0, loss=float("inf"))
    m.stop()
    assert "CRITICAL loss_nan at step 0" in capsys.readouterr().err


class RecordingChannel(Channel):
    """A slow notification channel registered through the channel hook."""

    synchronous: ClassVar[bool] = False

    def __init__(self, delay: float, fail: bool = False) -> None:
        super().__init__("recording", "critical")
        self.delay, self.fail = delay, fail
        self.got: list[Alert] = []
        self.finished: list[str] = []

    def send(self, alert: Alert, context: RunContext) -> Delivery:
        time.sleep(self.delay)
        if self.fail:
            raise ConnectionError("endpoint down")
        self.got.append(alert)
        return Delivery("delivered", 2, "HTTP 200")

    def run_finished(self, context: RunContext, status: str) -> None:
        self.finished.append(status)


class ChannelPlugin:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    @hookimpl
    def rlwatch_channels(self, config: Any) -> list[Channel]:
        return [self.channel]


@pytest.fixture
def channel_plugin() -> Any:
    registered: list[str] = []

    def add(channel: Channel) -> Channel:
        name = f"test-channel-{len(registered)}"
        plugins.register(ChannelPlugin(channel), name=name)
        registered.append(name)
        return channel

    yield add
    for name in registered:
        plugins.unregister(name)


def test_slow_channel_never_blocks_training_and_outcomes_are_recorded(log_dir: Path, db_path: Path,
                                                                      channel_plugin: Any) -> None:
    channel = channel_plugin(RecordingChannel(delay=0.5))
    m = rlwatch.attach(log_dir=str(log_dir), run_id="slow", alerts={"console": {"enabled": False}})
    t0 = time.perf_counter()
    m.log_step(0, loss=float("nan"))
    m.log_step(1, entropy=1.0)
    assert time.perf_counter() - t0 < 0.1
    m.stop()
    assert len(channel.got) == 1 and channel.finished == ["finished"]
    with StoreReader(str(db_path)) as r:
        (alert,) = r.alerts("slow")
        assert alert.deliveries[0]["channel"] == "recording"
        assert alert.deliveries[0]["status"] == "delivered" and alert.deliveries[0]["attempts"] == 2


def test_failing_channel_is_recorded_as_failed(log_dir: Path, db_path: Path, channel_plugin: Any) -> None:
    channel_plugin(RecordingChannel(delay=0.0, fail=True))
    m = rlwatch.attach(log_dir=str(log_dir), run_id="failing", alerts={"console": {"enabled": False}})
    m.log_step(0, loss=float("nan"))
    m.stop()
    with StoreReader(str(db_path)) as r:
        assert r.alerts("failing")[0].deliveries[0]["status"] == "failed"


def test_pending_notifications_wait_is_bounded(log_dir: Path, db_path: Path, channel_plugin: Any) -> None:
    channel_plugin(RecordingChannel(delay=2.0))
    m = rlwatch.attach(log_dir=str(log_dir), run_id="bounded",
                       alerts={"exit_flush_timeout_seconds": 0.3, "console": {"enabled": False}},
                       loss_nan={"cooldown_steps": 0})
    for i in range(3):
        m.log_step(i, loss=float("nan"))
    t0 = time.perf_counter()
    m.stop()
    assert time.perf_counter() - t0 < 1.5
    with StoreReader(str(db_path)) as r:
        details = [d["detail"] for a in r.alerts("bounded") for d in a.deliveries]
        assert "not delivered before exit" in details


def test_alerts_from_a_timer_thread_and_training_thread_do_not_collide(log_dir: Path, channel_plugin: Any) -> None:
    m = rlwatch.attach(log_dir=str(log_dir), run_id="ids", loss_nan={"cooldown_steps": 0},
                       alerts={"console": {"enabled": False}, "max_alerts_per_run": 10_000})
    ids: list[int] = []

    def work(base: int) -> None:
        for i in range(200):
            ids.extend(a.alert_id for a in m.log_step(base + i, loss=float("nan")))

    threads = [threading.Thread(target=work, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    m.stop()
    assert len(ids) == len(set(ids)) == 800
