"""Session of rlwatch-lightning: real Lightning training on CPU, including 2-process DDP."""

from __future__ import annotations

import nox

from noxsessions._common import PYTHON, ROOT, TEST_DEPS, install_with_torch


@nox.session(python=PYTHON)
def lightning(session: nox.Session) -> None:
    """rlwatch-lightning: tests (REINFORCE policy, zero-code registration, 2-process DDP), then its docs examples."""
    # lightning alone would accept any torch: pin it first and constrain the rest.
    install_with_torch(session, "lightning>=2.1,<3", str(ROOT / "rlwatch-core"), str(ROOT / "rlwatch-lightning"),
                       *TEST_DEPS)
    session.run("pytest", "tests/lightning", "-q", "-p", "no:cacheprovider", "--durations=5", *session.posargs)
    # The docs session has no Lightning and skips these examples; run them here.
    session.run("pytest", "tests/docs/test_snippets.py", "-k", "adapters/lightning or getting-started", "-q",
                "-p", "no:cacheprovider")
