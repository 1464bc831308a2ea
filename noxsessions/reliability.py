"""`nox -s reliability`: hostile input, storage faults, process death, concurrency, outages.

Prints one line per scenario (what was tried, pass/fail, numbers) and fails
if any promise breaks. See RELIABILITY.md.
"""

from __future__ import annotations

import nox

from noxsessions._common import PYTHON, ROOT, TEST_DEPS, install_with_torch

PLUGIN_FIXTURES = ROOT / "tests" / "fixtures" / "plugins"


@nox.session(python=PYTHON)
def reliability(session: nox.Session) -> None:
    """Run the reliability scenarios (torch and jax values included in the hostile inputs)."""
    # torch and jax values are among the hostile inputs; torch stays the CPU build.
    install_with_torch(session, "jax[cpu]", str(ROOT / "rlwatch-core"), str(ROOT / "rlwatch-notify"), *TEST_DEPS,
                       str(PLUGIN_FIXTURES / "rlwatch-testplugin"), str(PLUGIN_FIXTURES / "rlwatch-brokenplugin"))
    session.run("pytest", "tests/reliability", "-p", "no:cacheprovider", "-q", "-rs", *session.posargs,
                env={"RLWATCH_TEST_PLUGINS_INSTALLED": "1", "JAX_PLATFORMS": "cpu"})
