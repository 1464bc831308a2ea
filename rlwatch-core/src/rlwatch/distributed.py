"""Which process of a distributed job this is, and so whether it records."""

from __future__ import annotations

import os


def _int_env(*names: str) -> int | None:
    for name in names:
        raw = os.environ.get(name, "").strip()
        if raw:
            try:
                return int(raw)
            except ValueError:
                continue
    return None


def rank_from_env() -> tuple[int, int] | None:
    """(global rank, world size) from launcher variables, or None if absent.

    torchrun/accelerate/DeepSpeed set RANK and WORLD_SIZE; Slurm sets
    SLURM_PROCID/SLURM_NTASKS; Open MPI and MPICH set their own. LOCAL_RANK
    alone (single node) is used only when no global rank is given.
    """
    rank = _int_env("RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK")
    world = _int_env("WORLD_SIZE", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE")
    if rank is None:
        rank = _int_env("LOCAL_RANK")
        if rank is not None and world is None:
            world = _int_env("LOCAL_WORLD_SIZE")
    if rank is None:
        return None
    return rank, max(world or 1, rank + 1)


def resolve_rank(
    configured_rank: int, configured_world: int, from_adapter: tuple[int, int] | None = None
) -> tuple[int, int]:
    """The rank and world size: from config if set, else an adapter's answer, else the environment, else (0, 1)."""
    if configured_rank >= 0:
        return configured_rank, max(configured_world, configured_rank + 1, 1)
    found = from_adapter if from_adapter is not None else rank_from_env()
    if found is None:
        return 0, max(configured_world, 1)
    rank, world = int(found[0]), int(found[1])
    return rank, max(world, rank + 1)
