"""Detectors are called only at steps that carry what they read (rlwatch.routing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import rlwatch
from rlwatch import hookimpl, plugins
from rlwatch.alerts import Alert
from rlwatch.detectors.base import Detector, DetectorConfig, StepArrays, StepValues
from rlwatch.routing import Router


class _Counting(Detector[DetectorConfig]):
    id: ClassVar[str] = ""
    seen: ClassVar[list[int]]

    def update(self, step: int, values: StepValues, arrays: StepArrays) -> list[Alert] | None:
        type(self).seen.append(step)
        return None


class WantsValueLoss(_Counting):
    id: ClassVar[str] = "wants_value_loss"
    metrics: ClassVar[tuple[str, ...]] = ("value_loss",)
    seen: ClassVar[list[int]] = []


class WantsAdvantages(_Counting):
    id: ClassVar[str] = "wants_advantages"
    arrays: ClassVar[tuple[str, ...]] = ("advantages",)
    seen: ClassVar[list[int]] = []


class Undeclared(_Counting):
    id: ClassVar[str] = "undeclared"
    seen: ClassVar[list[int]] = []


class EveryStep(_Counting):
    id: ClassVar[str] = "every_step_probe"
    metrics: ClassVar[tuple[str, ...]] = ("value_loss",)
    every_step: ClassVar[bool] = True
    seen: ClassVar[list[int]] = []


class ClockOnly(_Counting):
    id: ClassVar[str] = "clock_only"
    per_step: ClassVar[bool] = False
    seen: ClassVar[list[int]] = []


PROBES = (WantsValueLoss, WantsAdvantages, Undeclared, EveryStep, ClockOnly)


def test_router_calls_a_detector_only_when_its_inputs_are_logged() -> None:
    for cls in PROBES:
        cls.seen = []
    dets: list[Detector[Any]] = [cls() for cls in PROBES]
    router = Router(dets)
    steps: list[tuple[dict[str, float], dict[str, Any]]] = [
        ({"loss": 1.0}, {}),
        ({"loss": 1.0, "value_loss": 2.0}, {}),
        ({"loss": 1.0}, {"advantages": np.ones(4)}),
        ({}, {"advantages": np.ones(4)}),
        ({"loss": 1.0}, {}),  # a shape seen before: served from the cache, same answer
    ]
    for step, (values, arrays) in enumerate(steps):
        for det in router.route(values, arrays):
            det.update(step, values, arrays)
    assert WantsValueLoss.seen == [1]
    assert WantsAdvantages.seen == [2, 3]
    assert Undeclared.seen == [0, 1, 2, 3, 4]
    assert EveryStep.seen == [0, 1, 2, 3, 4]
    assert ClockOnly.seen == []


def test_a_scalar_named_like_an_array_shape_does_not_share_its_route() -> None:
    WantsAdvantages.seen = []
    router = Router([WantsAdvantages()])
    assert router.route({"advantages": 1.0}, {}) == []  # a scalar, not the array it reads
    assert len(router.route({}, {"advantages": np.ones(2)})) == 1


def test_a_plugin_detector_that_declares_its_metric_is_skipped_without_it(log_dir: Path) -> None:
    WantsValueLoss.seen = []

    class Plugin:
        @hookimpl
        def rlwatch_detectors(self) -> list[type[Detector[Any]]]:
            return [WantsValueLoss]

    plugins.register(Plugin(), name="routing-probe")
    try:
        m = rlwatch.attach(log_dir=str(log_dir), run_id="routing")
        for step in range(10):
            m.log_step(step, loss=1.0, **({"value_loss": 1.0} if step % 3 == 0 else {}))
        m.stop()
    finally:
        plugins.unregister("routing-probe")
    assert WantsValueLoss.seen == [0, 3, 6, 9]
