"""Wait for callbacks still in flight before the monitor flushes and closes.

JAX dispatches asynchronously: when the training loop returns, the last
steps' host callbacks may not have run yet (on CPU this shows under pmap;
on accelerators always). `jax.effects_barrier()` waits for them. It must run
*before* the monitor stops, or those steps arrive at a closed monitor and
are lost. Three places call `barrier`:

* the plugin's ``rlwatch_run_finished`` hook, for ``monitor.stop()``;
* an ``atexit`` handler, registered after rlwatch-core's own (handlers run
  last-registered-first), so at interpreter exit the barrier runs before the
  core stops and flushes every monitor;
* the user, explicitly: ``rlwatch_jax.barrier()``.

JAX tracks in-flight effects per dispatching thread: the barrier waits for
work dispatched by the thread that calls it.
"""

from __future__ import annotations

import atexit
import sys
import threading

from rlwatch.integration import swallow

# This module must not import JAX: the plugin uses it in every process.

_staged = False
_in_callback = threading.local()


def in_host_callback() -> bool:
    """True on a thread that is currently running an rlwatch_jax host callback."""
    return bool(getattr(_in_callback, "active", False))


def set_in_host_callback(active: bool) -> None:
    """Mark (or unmark) this thread as running a host callback."""
    _in_callback.active = active


def any_staged() -> bool:
    """True once any rlwatch_jax callback was staged in this process."""
    return _staged


def note_staged() -> None:
    """Remember that at least one callback was staged (so barriers are needed)."""
    global _staged
    if not _staged:
        _staged = True
        install_exit_barrier()


def barrier() -> None:
    """Block until every `rlwatch_jax.log` callback dispatched so far has run.

    Cheap when nothing was logged through rlwatch_jax; a no-op when called
    from inside a host callback (waiting there would deadlock). Never raises.
    """
    if not _staged or in_host_callback():
        return
    jax = sys.modules.get("jax")
    if jax is None:
        return
    with swallow("rlwatch_jax.barrier"):
        jax.effects_barrier()


def install_exit_barrier() -> None:
    """(Re-)register the exit barrier so that it runs before rlwatch-core's exit flush.

    Called when the first callback is staged and whenever a monitor starts
    (after the core has registered its own exit handler), moving ours to the
    end of the atexit list, which runs first.
    """
    atexit.unregister(barrier)
    atexit.register(barrier)
