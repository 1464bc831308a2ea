"""Helpers shared by session modules."""

from __future__ import annotations

import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PYTHON = "3.11"
TORCH = "torch==2.13.0"  # the CPU wheel on the machine; anything looser may pull a CUDA build
TEST_DEPS = ("pytest>=8", "hypothesis>=6.100")


def core(session: object) -> str:
    """Path of rlwatch-core, for ``session.install``."""
    return str(ROOT / "rlwatch-core")
