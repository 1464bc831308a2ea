"""Session of rlwatch-jax: its tests (real jitted training, 2-device pmap in a subprocess) and its benchmark."""

from __future__ import annotations

import nox

from noxsessions._common import PYTHON, ROOT, TEST_DEPS


@nox.session(python=PYTHON, name="jax")
def jax_session(session: nox.Session) -> None:
    """rlwatch-jax: tests, then the overhead benchmark (fails above 1.5x a bare jax.debug.callback)."""
    session.install(str(ROOT / "rlwatch-core"), str(ROOT / "rlwatch-jax"), *TEST_DEPS)
    session.run("pytest", "tests/jax", "-q", "-p", "no:cacheprovider", *session.posargs)
    # The docs session has no JAX and skips these examples (skip-if-missing); run them here.
    session.run("pytest", "tests/docs/test_snippets.py", "-q", "-p", "no:cacheprovider",
                "-k", "python_block_runs and (adapters/jax or getting-started)")
    session.run("python", "benchmarks/bench_jax.py", "--rounds", "5", "--steps", "300")
