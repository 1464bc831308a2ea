"""stalled: timer-driven; timeout learned from the run's own step interval."""

from __future__ import annotations

import pytest
from rlwatch.config import ConfigError
from rlwatch.detectors.stalled import StalledConfig, StalledDetector


def tick_run(det: StalledDetector, interval: float, steps: int, hang: float) -> list[tuple[float, str, int]]:
    """Steps every ``interval`` s, then nothing for ``hang`` s; ticks every second."""
    out = []
    now = 0.0
    last = -1
    end = interval * steps
    while now < end + hang:
        now += 1.0
        last = min(steps - 1, int(now // interval) - 1)
        for a in det.check_time(now, last) or ():
            out.append((now - end, a.severity, a.step))
    return out


def test_learned_timeout_from_step_interval() -> None:
    det = StalledDetector(StalledConfig())
    alerts = tick_run(det, interval=20.0, steps=50, hang=1000.0)
    assert [s for _, s, _ in alerts] == ["warning", "critical"]
    waited_warning = alerts[0][0]
    assert 195 <= waited_warning <= 225  # 10 x 20 s
    assert alerts[0][2] == 49
    assert det.summary()["step_interval"] == pytest.approx(20.0, rel=0.1)


def test_minimum_timeout_for_fast_steps() -> None:
    det = StalledDetector(StalledConfig())
    alerts = tick_run(det, interval=2.0, steps=100, hang=100.0)
    assert alerts and 59 <= alerts[0][0] <= 63


def test_explicit_timeout_and_no_alert_before_first_step() -> None:
    det = StalledDetector(StalledConfig(timeout_seconds=30.0))
    assert det.check_time(1000.0, -1) is None
    assert det.check_time(1001.0, 0) is None
    assert det.check_time(1020.0, 0) is None
    alerts = det.check_time(1032.0, 0)
    assert alerts and alerts[0].severity == "warning"
    assert det.check_time(1033.0, 0) is None  # once per severity per stall
    assert det.check_time(1034.0, 1) is None  # progress resets
    assert det.check_time(1070.0, 1)


def test_healthy_run_with_checkpoint_pauses_is_silent_after_first_pause() -> None:
    det = StalledDetector(StalledConfig())
    now, last, alerts = 0.0, -1, []
    for step in range(300):
        dur = 10.0 if step % 100 else 60.0
        end = now + dur
        while now < end:
            now += 1.0
            for a in det.check_time(now, last) or ():
                alerts.append((step, a.severity))
        last = step
    assert alerts == []


def test_update_is_a_no_op() -> None:
    det = StalledDetector(StalledConfig())
    assert det.update(0, {"loss": 1.0}, {}) is None


def test_bad_config() -> None:
    with pytest.raises(ConfigError):
        StalledConfig(critical_factor=1.0).validate()
    with pytest.raises(ConfigError):
        StalledConfig(timeout_seconds=-5.0).validate()
