"""Fixtures for the rlwatch-lightning tests (real Lightning training on CPU)."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

# lightning_bandit.py sits beside the tests and is also run by a subprocess;
# make it importable whatever pytest import mode the repository uses.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(autouse=True)
def _quiet_lightning() -> Iterator[None]:
    # Lightning warns about num_workers=0 and the tiny epoch; not our concern.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"lightning(\..*)?|pytorch_lightning(\..*)?")
        warnings.filterwarnings("ignore", message=r".*(num_workers|LeafSpec|log_every_n_steps).*")
        yield


@pytest.fixture(autouse=True)
def _seeded() -> None:
    import lightning.pytorch as lp

    lp.seed_everything(0, verbose=False)
