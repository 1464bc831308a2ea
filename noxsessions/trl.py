"""Session of rlwatch-trl: real TRL training (tiny GPT-2) on the CPU.

Budget: 15 minutes including installs. Measured on the 2-core machine: about
3 minutes when it is quiet (installs ~1 min, tests ~1m45s, docs examples and
the start-up benchmark ~15 s); about 6 minutes under a load average of ~8
from other work running at the same time.
"""

from __future__ import annotations

import pathlib

import nox

from noxsessions._common import PYTHON, ROOT, TEST_DEPS, install_with_torch


@nox.session(python=PYTHON)
def trl(session: nox.Session) -> None:
    """rlwatch-trl tests against wheels: the .pth start-up hook only exists in a real install.

    Builds the rlwatch-core and rlwatch-trl wheels, installs them with torch
    pinned to the local CPU build, then runs the tests (plain TRL scripts in
    subprocesses), the TRL examples of the docs and the start-up benchmark.
    """
    dist = pathlib.Path(session.create_tmp()) / "dist"
    session.run("python", "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist),
                str(ROOT / "rlwatch-core"), str(ROOT / "rlwatch-trl"))
    wheels = sorted(str(p) for p in dist.glob("rlwatch_*.whl"))
    # trl/accelerate alone would accept any torch: pin it first and constrain the rest.
    install_with_torch(session, *wheels, "transformers>=5,<6", "trl>=1,<2", *TEST_DEPS)
    # A reused venv (nox -r) holds the same version numbers: make sure these builds are the ones installed.
    session.install("--force-reinstall", "--no-deps", *wheels)
    session.run("pytest", "tests/trl", "-q", "-p", "no:cacheprovider", "--durations=8", *session.posargs,
                env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    # The docs examples marked `skip-if-missing: trl` are skipped by the docs session; run them here.
    session.run("pytest", str(ROOT / "tests" / "docs" / "test_snippets.py"), "-q", "-p", "no:cacheprovider",
                "-k", "python_block_runs and trl.md")
    session.run("python", str(ROOT / "benchmarks" / "bench_trl_startup.py"), "--runs", "20")
