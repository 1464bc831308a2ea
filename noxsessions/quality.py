"""`nox -s quality`: measured detection quality, ours beside rlwatch 0.5.1.

Runs the labelled scenario suite (`rlwatch.simulate.scenario_suite`) through
the real `rlwatch.core.RLWatch` pipeline and prints per-detector recall,
median/p90 detection delay and false alarms on healthy steps; the same runs
are replayed through rlwatch 0.5.1 from PyPI in a virtualenv of its own (it
installs the same import name) and its numbers are printed beside ours. The
session fails if a quality target is missed. Also replays real-framework
traces under tests/fixtures/traces when present, and runs the harness's
own tests (tests/quality).

Budget: about 2-3 minutes on 2 cores (the 0.5.1 venv and replay are about
half of it). ``nox -s quality -- --seeds 20`` for a bigger suite (the default is 10 seeds: with 5,
a median over 10 runs of one detector moves by a step from one seed set to
the next).
"""

from __future__ import annotations

import os

import nox

from noxsessions._common import PYTHON, ROOT, TEST_DEPS


@nox.session(python=PYTHON)
def quality(session: nox.Session) -> None:
    """Print the detection-quality table (ours and 0.5.1); fail on a missed target."""
    session.install(str(ROOT / "rlwatch-core"), *TEST_DEPS)
    # the harness's own tests; the slow one repeats what the table run does
    session.run("pytest", "-q", "-m", "not slow", str(ROOT / "tests" / "quality"))
    legacy = os.path.abspath(session.create_tmp()) + "/rlwatch-0.5.1"
    # 0.5.1 installs the same import name `rlwatch`, so it gets its own venv
    # and is driven in a subprocess (tests/quality/legacy_driver.py).
    session.run("python", "-m", "venv", "--clear", legacy)
    session.run(f"{legacy}/bin/python", "-m", "pip", "install", "-q", "rlwatch==0.5.1", external=True)
    session.run(
        "python",
        str(ROOT / "tests" / "quality" / "quality_suite.py"),
        "--legacy-python",
        f"{legacy}/bin/python",
        *session.posargs,
    )
