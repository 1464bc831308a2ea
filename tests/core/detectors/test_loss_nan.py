"""loss_nan: critical on the first non-finite canonical value, at once."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rlwatch.config import ConfigError
from rlwatch.detectors.loss_nan import LossNaNConfig, LossNaNDetector

GOOD = {"loss": 0.1, "grad_norm": 1.0, "kl_divergence": 0.01, "entropy": 0.5}


@pytest.mark.parametrize("name", ["loss", "kl_divergence", "entropy", "learning_rate"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_first_non_finite_is_critical_immediately(name: str, bad: float) -> None:
    det = LossNaNDetector(LossNaNConfig())
    assert det.update(0, {**GOOD, name: bad}, {}) is not None  # no warmup
    det = LossNaNDetector(LossNaNConfig())
    for i in range(10):
        assert det.update(i, GOOD, {}) is None
    alerts = det.update(10, {**GOOD, name: bad}, {})
    assert alerts is not None and len(alerts) == 1
    a = alerts[0]
    assert a.severity == "critical" and a.step == 10 and name in a.metric_values
    assert name in a.message


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_skipped_fp16_step_is_info_then_critical_when_it_repeats(bad: float) -> None:
    det = LossNaNDetector(LossNaNConfig(skipped_steps_critical=3))
    for i in range(10):
        assert det.update(i, GOOD, {}) is None
    first = det.update(10, {**GOOD, "grad_norm": bad}, {})
    assert first and [a.severity for a in first] == ["info"] and "skip" in first[0].message
    assert det.update(11, GOOD, {}) is None  # the scaler recovered: occasional skips stay quiet
    assert not det.update(12, {**GOOD, "grad_norm": bad}, {})  # reported once, not per skip
    assert not det.update(13, {**GOOD, "grad_norm": bad}, {})
    alerts = det.update(14, {**GOOD, "grad_norm": bad}, {})  # 3 logged steps in a row
    assert alerts and alerts[0].severity == "critical" and "grad_norm" in alerts[0].metric_values


@pytest.mark.parametrize(
    "row",
    [
        {"loss": 0.0, "grad_norm": math.nan},  # TRL's masked loss: the forward pass broke
        {"loss": 0.1, "grad_norm": math.nan},  # entropy and KL vanished from the step
        {**GOOD, "loss": math.nan, "grad_norm": math.nan},
    ],
)
def test_non_finite_grad_norm_with_a_broken_forward_pass_is_critical_at_once(row: dict[str, float]) -> None:
    det = LossNaNDetector(LossNaNConfig())
    for i in range(10):
        assert det.update(i, GOOD, {}) is None
    alerts = det.update(10, row, {})
    assert alerts and alerts[0].severity == "critical"


def test_non_canonical_extras_are_not_judged() -> None:
    det = LossNaNDetector(LossNaNConfig())
    assert det.update(0, {**GOOD, "eval/accuracy": math.nan}, {}) is None


def test_ignore_list_for_fp16_loss_scaling() -> None:
    det = LossNaNDetector(LossNaNConfig(ignore=["grad_norm"]))
    assert det.update(0, {**GOOD, "grad_norm": math.inf}, {}) is None
    assert det.update(1, {**GOOD, "loss": math.nan}, {}) is not None


def test_non_finite_rewards_array() -> None:
    det = LossNaNDetector(LossNaNConfig())
    rewards = np.ones(16)
    assert det.update(0, GOOD, {"rewards": rewards}) is None
    rewards[3] = np.nan
    alerts = det.update(1, GOOD, {"rewards": rewards})
    assert alerts and alerts[0].metric_values["rewards_nonfinite_count"] == 1.0


def test_overflowing_sum_is_not_a_false_alarm() -> None:
    det = LossNaNDetector(LossNaNConfig())
    assert det.update(0, {"loss": 1e308, "grad_norm": 1e308}, {}) is None


def test_message_names_the_first_bad_step() -> None:
    det = LossNaNDetector(LossNaNConfig())
    det.update(5, {"loss": math.nan}, {})
    alerts = det.update(6, {"loss": math.nan}, {})
    assert alerts and "first non-finite at step 5" in alerts[0].message


def test_bad_config() -> None:
    with pytest.raises(ConfigError):
        LossNaNConfig(ignore=[""]).validate()
