"""Build the dashboard tests' fixture database through the real rlwatch API.

Run as a script (``python build_fixture.py LOG_DIR``) so the plugin it
registers and the monitors it starts stay out of the test process. Runs:

* ``grpo-collapse``: 400 steps; entropy collapses (entropy_collapse alerts)
  and the loss is NaN at step 300 (a loss_nan alert).
* ``ppo-healthy``: 150 quiet steps, no alerts.
* XSS_RUN: a run id, a metric name, an alert message and recommendation made
  of HTML payloads (the alert comes from a detector plugin registered here).
* ``long-10k``: 10 000 steps with one spike at step 7777 (downsampling).
"""

from __future__ import annotations

import math
import sys
from typing import Any, ClassVar

import numpy as np
import rlwatch
from rlwatch import hookimpl, plugins
from rlwatch.alerts import Alert
from rlwatch.detectors.base import Detector, DetectorConfig, StepArrays, StepValues

XSS_RUN = "<img src=x onerror=alert(1)>"
XSS_METRIC = "<img src=x onerror=alert(2)>"
XSS_MESSAGE = "<img src=x onerror=alert(3)> message"
XSS_RECOMMENDATION = "<script>alert(4)</script> recommendation"
XSS_STEP = 40


class XSSProbeDetector(Detector):
    """Raises one alert made of HTML payloads when the XSS metric hits 1."""

    id: ClassVar[str] = "xss_probe"
    config_class: ClassVar[type[DetectorConfig]] = DetectorConfig
    metrics: ClassVar[tuple[str, ...]] = ()

    def update(self, step: int, values: StepValues, arrays: StepArrays) -> list[Alert] | None:
        """Alert once, at the step where the probe metric equals 1."""
        if values.get(XSS_METRIC) == 1.0:
            return [self.alert(step, "critical", XSS_MESSAGE, {XSS_METRIC: 1.0}, XSS_RECOMMENDATION)]
        return None


class _Probe:
    @hookimpl
    def rlwatch_detectors(self) -> list[type[Detector]]:
        return [XSSProbeDetector]


def _grpo_collapse(log_dir: str) -> None:
    rng = np.random.default_rng(0)
    with rlwatch.attach(run_id="grpo-collapse", log_dir=log_dir, framework="trl") as mon:
        for step in range(400):
            entropy = 2.0 * math.exp(-step / 60) + 0.02 + 0.005 * rng.standard_normal()  # stays > 0
            loss = float("nan") if step == 300 else 1.0 / (step + 1)
            mon.log_step(step, entropy=entropy, kl_divergence=0.02 + 0.001 * rng.random(),
                         reward_mean=step / 400, loss=loss, grad_norm=1.0 + rng.random())


def _ppo_healthy(log_dir: str) -> None:
    rng = np.random.default_rng(1)
    with rlwatch.attach(run_id="ppo-healthy", log_dir=log_dir, framework="custom") as mon:
        for step in range(150):
            mon.log_step(step, entropy=1.5 + 0.01 * rng.standard_normal(), reward_mean=0.5 + 0.01 * rng.random())


def _xss(log_dir: str) -> None:
    extra: dict[str, Any]
    with rlwatch.attach(run_id=XSS_RUN, log_dir=log_dir) as mon:
        for step in range(80):
            extra = {XSS_METRIC: 1.0 if step == XSS_STEP else 0.5}
            mon.log_step(step, entropy=1.0 + 0.001 * step, **extra)


def _long(log_dir: str) -> None:
    rng = np.random.default_rng(2)
    values = 1.0 + 0.01 * rng.standard_normal(10_000)
    values[7777] = 50.0
    with rlwatch.attach(run_id="long-10k", log_dir=log_dir, framework="custom") as mon:
        mon.log_metrics({"step": s, "reward_std": float(values[s])} for s in range(10_000))


def main(log_dir: str) -> None:
    """Write every fixture run into ``LOG_DIR/metrics.db``."""
    plugins.register(_Probe(), name="xss-probe")
    _grpo_collapse(log_dir)
    _ppo_healthy(log_dir)
    _xss(log_dir)
    _long(log_dir)


if __name__ == "__main__":
    main(sys.argv[1])
