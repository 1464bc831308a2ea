"""Session of rlwatch-verl: the real veRL package (Tracking, metric functions, trainers' fit, Ray) on the CPU.

Budget: 6 minutes including installs. No GPU, no rollout engine (vllm and
sglang are extras of verl that are never installed here), no model download:
the tests build small synthetic batches and let veRL's own code compute the
metrics.
"""

from __future__ import annotations

import pathlib
import shutil
import tempfile

import nox

from noxsessions._common import PYTHON, ROOT, TEST_DEPS, install_with_torch

VERL = "verl>=0.9,<0.10"
# verl's base requirements cover Tracking and metric_utils. Importing its trainer
# modules (whose fit rlwatch-verl wraps) also needs these four, which verl lists
# only in its GPU-bound extras (verl[fsdp], verl[vllm], ... all pin CUDA torch builds).
TRAINER_IMPORTS = ("cachetools", "fastapi", "uvicorn", "TransferQueue>=0.1.10")
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "WANDB_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",  # Ray's usage reporting would try the network
    "RAY_AUTH_MODE": "disabled",  # no token file written under ~/.ray for a throw-away local cluster
}


@nox.session(python=PYTHON)
def verl(session: nox.Session) -> None:
    """rlwatch-verl tests against wheels: the .pth start-up hook only exists in a real install.

    Builds the rlwatch-core and rlwatch-verl wheels, installs them with torch
    pinned to the local CPU build, then runs the tests and the veRL examples
    of the docs.
    """
    # Not session.create_tmp(): it points TMPDIR into the virtualenv, where Ray refuses to put its
    # session directory (the workers of the Ray test would die at start).
    dist = pathlib.Path(tempfile.mkdtemp(prefix="rlwatch-verl-wheels-"))
    try:
        session.run("python", "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist),
                    str(ROOT / "rlwatch-core"), str(ROOT / "rlwatch-verl"))
        wheels = sorted(str(p) for p in dist.glob("rlwatch_*.whl"))
        # verl and its dependencies (tensordict, torchdata, accelerate, peft) accept any torch: pin it first.
        install_with_torch(session, *wheels, VERL, *TRAINER_IMPORTS, *TEST_DEPS)
        # A reused venv (nox -r) holds the same version numbers: make sure these builds are the ones installed.
        session.install("--force-reinstall", "--no-deps", *wheels)
    finally:
        shutil.rmtree(dist, ignore_errors=True)
    session.run("pytest", "tests/verl", "-q", "-p", "no:cacheprovider", "--durations=8", *session.posargs,
                env=OFFLINE)
    # The docs examples marked `skip-if-missing: verl` are skipped by the docs session; run them here.
    session.run("pytest", str(ROOT / "tests" / "docs" / "test_snippets.py"), "-q", "-p", "no:cacheprovider",
                "-k", "python_block_runs and adapters/verl", env=OFFLINE)
