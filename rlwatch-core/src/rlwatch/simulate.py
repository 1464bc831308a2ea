"""Kept for code written against rlwatch 0.6: the simulator lives in `rlwatch.testing.simulate`."""

from __future__ import annotations

from rlwatch.testing.demo import demo_run
from rlwatch.testing.simulate import FAILURES, PROFILES, SimulatedRun, scenario_suite, simulate_run

__all__ = ["FAILURES", "PROFILES", "SimulatedRun", "demo_run", "scenario_suite", "simulate_run"]
