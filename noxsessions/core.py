"""Sessions of rlwatch-core: tests, lint, types, demo, bench."""

from __future__ import annotations

import nox

from noxsessions._common import PYTHON, ROOT, TEST_DEPS

PLUGIN_FIXTURES = ROOT / "tests" / "fixtures" / "plugins"


@nox.session(python=PYTHON)
def core(session: nox.Session) -> None:
    """rlwatch-core tests, with the test plugin distributions installed."""
    session.install(str(ROOT / "rlwatch-core"), *TEST_DEPS)
    session.install(str(PLUGIN_FIXTURES / "rlwatch-testplugin"), str(PLUGIN_FIXTURES / "rlwatch-brokenplugin"))
    session.run("pytest", "tests/core", "tests/architecture", "-q", "-p", "no:cacheprovider", *session.posargs,
                env={"RLWATCH_TEST_PLUGINS_INSTALLED": "1"})


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over every package and the tests."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")


@nox.session(python=PYTHON)
def types(session: nox.Session) -> None:
    """mypy, strict on rlwatch-core."""
    session.install("mypy>=1.10", "types-PyYAML", "types-requests", str(ROOT / "rlwatch-core"),
                    str(ROOT / "rlwatch-notify"), str(ROOT / "rlwatch-postgres"))
    session.run("mypy", "--strict", str(ROOT / "rlwatch-core" / "src" / "rlwatch"))
    session.run("mypy", "--strict", str(ROOT / "rlwatch-notify" / "src" / "rlwatch_notify"))
    session.run("mypy", "--strict", str(ROOT / "rlwatch-postgres" / "src" / "rlwatch_postgres"))
    # The adapters, without their (multi-GB) frameworks installed: framework types are Any here,
    # so subclassing them and their untyped decorators are allowed; everything else is strict.
    # Each adapter's own session environment has the framework for a full check.
    session.run("mypy", "--strict", "--disable-error-code=misc", "--disable-error-code=untyped-decorator",
                "--disable-error-code=unused-ignore",
                *(str(ROOT / f"rlwatch-{n}" / "src" / f"rlwatch_{n}")
                  for n in ("trl", "lightning", "rllib", "jax", "verl")))


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The README's main command on a fresh install: `rlwatch demo`."""
    session.install(str(ROOT / "rlwatch-core"))
    tmp = session.create_tmp()
    session.chdir(tmp)
    session.run("rlwatch", "demo", "--delay", "0")
    session.run("rlwatch", "runs")
