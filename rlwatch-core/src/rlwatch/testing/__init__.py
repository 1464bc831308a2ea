"""Testing helpers shipped for users: labelled synthetic runs to check an rlwatch configuration.

`rlwatch.testing.simulate` generates GRPO-like runs, healthy or failing in a
known way from a labelled step (``simulate_run("kl_explosion", seed=1)``), so
a team can check that its own thresholds catch what they should, and stay
quiet otherwise, before a real run depends on them. ``rlwatch demo`` and the
detection-quality suite use the same generator. None of this is on the
monitor's runtime path.
"""

from __future__ import annotations

from rlwatch.testing.demo import demo_run
from rlwatch.testing.simulate import FAILURES, PROFILES, SimulatedRun, scenario_suite, simulate_run

__all__ = ["FAILURES", "PROFILES", "SimulatedRun", "demo_run", "scenario_suite", "simulate_run"]
