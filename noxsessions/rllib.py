"""Session of rlwatch-rllib: real PPO on CartPole-v1 on CPU (local and 2 remote EnvRunners)."""

from __future__ import annotations

import nox

from noxsessions._common import PYTHON, ROOT, TEST_DEPS, install_with_torch


@nox.session(python=PYTHON)
def rllib(session: nox.Session) -> None:
    """rlwatch-rllib tests: healthy and huge-lr PPO runs, multi-agent, old API stack, wiring."""
    # ray[rllib] needs torch but does not pin it, and any resolve that is free to
    # choose takes a multi-GB CUDA build: pin it first and constrain the rest.
    install_with_torch(
        session,
        "ray[rllib]>=2.40,<3",
        "gymnasium",
        str(ROOT / "rlwatch-core"),
        str(ROOT / "rlwatch-rllib"),
        *TEST_DEPS,
    )
    session.run(
        "pytest", "tests/rllib", "-q", "-p", "no:cacheprovider", "--durations=8", *session.posargs,
        env={"RAY_USAGE_STATS_ENABLED": "0"},  # Ray's usage reporting would try the network
    )
    # The docs session has no Ray and skips these examples (skip-if-missing); run them here.
    session.run("pytest", "tests/docs/test_snippets.py", "-q", "-p", "no:cacheprovider",
                "-k", "python_block_runs and (adapters/rllib or getting-started)",
                env={"RAY_USAGE_STATS_ENABLED": "0"})
