"""Shared set-up for the RLlib adapter tests: one small local Ray for the whole package."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for the `_ppo` helpers


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """A 2-CPU local Ray without dashboard, started once (start-up costs seconds)."""
    import _ppo
    import ray
    from ray import cloudpickle

    # Remote EnvRunners cannot import the test helpers: ship their classes by value.
    cloudpickle.register_pickle_by_value(_ppo)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
