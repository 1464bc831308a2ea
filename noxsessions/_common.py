"""Helpers shared by session modules."""

from __future__ import annotations

import glob
import pathlib
import shutil

import nox

ROOT = pathlib.Path(__file__).resolve().parent.parent
PYTHON = "3.11"
TORCH = "torch==2.13.0"  # the CPU wheel on the machine; anything looser may pull a CUDA build
TORCH_CONSTRAINTS = ROOT / "noxsessions" / "torch-constraints.txt"
TEST_DEPS = ("pytest>=8", "hypothesis>=6.100")


def install_with_torch(session: nox.Session, *packages: str) -> None:
    """Install `packages` into a session that needs torch, never letting a resolver pick another torch.

    torch==2.13.0 (the local CPU wheel) is installed first and on its own; then
    every other package is resolved under a constraints file that pins it, so
    no dependency (trl, lightning, ray[rllib], jax extras...) can swap it for
    a multi-GB CUDA build.
    """
    session.install(TORCH)
    session.install("-c", str(TORCH_CONSTRAINTS), *packages)


def ensure_postgresql(session: nox.Session) -> None:
    """Install Debian's PostgreSQL server with apt-get when its binaries are missing (CI runs as root)."""
    if glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return
    if shutil.which("apt-get") is None:
        session.error("PostgreSQL server binaries are missing and apt-get is not available: install postgresql")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", "-qq", external=True, env=env)
    session.run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql", external=True, env=env)
