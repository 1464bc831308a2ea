"""`nox -s bench`: speed and memory, ours beside rlwatch 0.5.1 from PyPI."""

from __future__ import annotations

import nox

from noxsessions._common import PYTHON, ROOT, ensure_postgresql


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Print benchmark numbers; compare with benchmarks/baseline.json and 0.5.1."""
    ensure_postgresql(session)  # the team-store benchmark runs a throwaway local server
    session.install(str(ROOT / "rlwatch-core"), str(ROOT / "rlwatch-notify"), str(ROOT / "rlwatch-postgres"))
    seed_venv = session.create_tmp() + "/rlwatch-0.5.1"
    # 0.5.1 installs the same import name, so it gets a virtualenv of its own.
    session.run("python", "-m", "venv", "--clear", seed_venv)
    session.run(f"{seed_venv}/bin/python", "-m", "pip", "install", "-q", "rlwatch==0.5.1", external=True)
    session.run("python", str(ROOT / "benchmarks" / "run_bench.py"), "--seed-python", f"{seed_venv}/bin/python",
                *session.posargs)
