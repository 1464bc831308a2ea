"""`nox -s dashboard`: the dashboard and report, tested in a real headless Chromium.

Chromium is Debian's package (installed here when missing; Playwright's own
browser download is never used). Ends with the page-load benchmark
(benchmarks/bench_dashboard.py), which prints its numbers.
"""

from __future__ import annotations

import os
import shutil

import nox

from noxsessions._common import PYTHON, ROOT, TEST_DEPS

CHROMIUM = "/usr/bin/chromium"


def _ensure_chromium(session: nox.Session) -> None:
    if os.path.exists(CHROMIUM):
        return
    if shutil.which("apt-get") is None:
        session.error(f"{CHROMIUM} is missing and apt-get is not available: install Debian's chromium package")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", "-qq", external=True, env=env)
    session.run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", external=True, env=env)


@nox.session(python=PYTHON)
def dashboard(session: nox.Session) -> None:
    """Dashboard + report tests (Playwright + Debian chromium), then the load benchmark."""
    _ensure_chromium(session)
    session.install(f"{ROOT / 'rlwatch-core'}[dashboard]", "playwright>=1.40", *TEST_DEPS)
    session.run("pytest", "tests/dashboard", "-q", "-p", "no:cacheprovider", *session.posargs)
    if not session.posargs:
        session.run("python", str(ROOT / "benchmarks" / "bench_dashboard.py"))
