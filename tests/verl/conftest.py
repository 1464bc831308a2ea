"""Fixtures for the rlwatch-verl tests (the real veRL package, on the CPU, no model)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

# verl_helpers.py and verl_stream.py sit beside the tests; make them importable
# whatever pytest import mode the repository uses.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from verl_helpers import compose  # noqa: E402


@pytest.fixture(scope="session")
def grpo_config() -> Any:
    """veRL's GRPO config as a user composes it (Hydra overrides on veRL's ppo_trainer.yaml)."""
    return compose()


@pytest.fixture(scope="session")
def actor_config(grpo_config: Any) -> Any:
    """The ``ActorConfig`` veRL's workers build from that config (for the policy-loss functions)."""
    from verl.utils.config import omega_conf_to_dataclass

    return omega_conf_to_dataclass(grpo_config.actor_rollout_ref.actor)
