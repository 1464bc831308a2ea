"""Session of the importer's tests that need real log writers: torch, TensorBoard, Lightning.

The importer's core-only tests (trainer_state.json, JSONL, CSV, W&B chart
exports, console logs) run in the ``core`` session; this one installs
rlwatch-core with its ``import`` extra (the tensorboard package), torch
pinned to the local CPU build, and Lightning, and runs every importer test,
so that the TensorBoard event files imported are the ones torch's
``SummaryWriter`` and Lightning's ``TensorBoardLogger`` write during real
tiny training runs. ``RLWATCH_IMPORT_EXTRAS=1`` makes a missing package a
failure here instead of a skip.
"""

from __future__ import annotations

import nox

from noxsessions._common import PYTHON, ROOT, TEST_DEPS, install_with_torch


@nox.session(python=PYTHON)
def importers(session: nox.Session) -> None:
    """rlwatch import: every format, with the real TensorBoard writers (torch, Lightning)."""
    install_with_torch(session, f"{ROOT / 'rlwatch-core'}[import]", "lightning>=2.2,<3", *TEST_DEPS)
    session.run("pytest", "tests/core/test_import_cli.py", "tests/core/test_import_formats.py",
                "tests/core/test_import_tensorboard.py", "tests/core/test_keymaps.py", "-q",
                "-p", "no:cacheprovider", *session.posargs, env={"RLWATCH_IMPORT_EXTRAS": "1"})
