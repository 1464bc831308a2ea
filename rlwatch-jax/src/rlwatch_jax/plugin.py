"""rlwatch plugin hooks of rlwatch-jax (entry point ``jax`` in group ``rlwatch``).

* ``rlwatch_detect_framework``: "jax" when JAX is already imported (never
  imports it). Asked after the other adapters, since JAX is often imported
  alongside other frameworks.
* ``rlwatch_detect_rank``: ``(jax.process_index(), jax.process_count())`` in
  a multi-process JAX job, only if JAX is already imported; None for a
  single process, so launcher variables (RANK, ...) still decide.
* ``rlwatch_run_started``: moves the exit barrier after the core's exit
  handler (see `rlwatch_jax.barrier`).
* ``rlwatch_run_finished``: waits for in-flight callbacks.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from rlwatch import hookimpl

from rlwatch_jax.barrier import any_staged, barrier, install_exit_barrier

if TYPE_CHECKING:
    from rlwatch.core import RLWatch


@hookimpl(trylast=True)
def rlwatch_detect_framework() -> str | None:
    """Return "jax" if JAX is imported in this process."""
    return "jax" if "jax" in sys.modules else None


@hookimpl(trylast=True)
def rlwatch_detect_rank() -> tuple[int, int] | None:
    """Return JAX's (process index, process count) in a multi-process job."""
    jax = sys.modules.get("jax")
    if jax is None:
        return None
    count = int(jax.process_count())
    if count <= 1:
        return None
    return int(jax.process_index()), count


@hookimpl
def rlwatch_run_started(monitor: RLWatch) -> None:
    """Keep the exit barrier ahead of the core's exit flush."""
    del monitor
    if any_staged():
        install_exit_barrier()


@hookimpl
def rlwatch_run_finished(monitor: RLWatch, status: str) -> None:
    """Let callbacks still in flight reach the monitor before it closes."""
    del monitor, status
    barrier()
