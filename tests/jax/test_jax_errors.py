"""The host side never aborts the user's computation."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import jax_bandit as jb
import numpy as np
import pytest
import rlwatch_jax
from conftest import read_run
from rlwatch.config import load_config
from rlwatch.core import RLWatch


class FailingAtStep(RLWatch):
    """A real monitor with a fault injected: delivering step `bad` raises.

    Stands in for any bug on the host side of the callback (a detector, the
    coercion, the storage queue) that escapes the monitor's own guard.
    """

    def __init__(self, bad: int, **overrides: Any) -> None:
        super().__init__(load_config(None, overrides))
        self.bad = bad

    def log_step(self, step: Any = None, **metrics: Any) -> list[Any]:
        if step == self.bad:
            raise RuntimeError(f"injected failure at step {step}")
        return super().log_step(step, **metrics)


def test_without_the_guard_an_exception_in_a_host_callback_aborts_the_computation() -> None:
    # The JAX fact this adapter guards against.
    def boom(x: jax.Array) -> None:
        raise RuntimeError("host failure")

    @jax.jit
    def f(x: jax.Array) -> jax.Array:
        jax.debug.callback(boom, x)
        return x + 1

    with pytest.raises(Exception, match=r"host failure|callback"):
        f(jnp.float32(0.0)).block_until_ready()
        jax.effects_barrier()


@pytest.mark.expect_internal_error
def test_an_exception_inside_the_host_function_does_not_abort_training(
    log_dir: str, swallowed: list[tuple[str, BaseException]]
) -> None:
    mon = FailingAtStep(bad=5, run_id="faulty", log_dir=str(log_dir)).start()
    step_fn = jax.jit(rlwatch_jax.watch(jb.update, monitor=mon))
    params = jb.train(step_fn, 30)
    mon.stop()

    # Training ran to the end and computed exactly what it computes unwatched.
    ref = jb.train(jb.plain_update, 30)
    np.testing.assert_array_equal(np.asarray(params), np.asarray(ref))
    # Every other step was recorded; the failure was reported through the guard.
    assert read_run(mon.db_path, "faulty").steps == [s for s in range(30) if s != 5]
    ours = [(where, exc) for where, exc in swallowed if where.startswith("rlwatch_jax")]
    assert [where for where, _ in ours] == ["rlwatch_jax.log"]
    assert "injected failure at step 5" in str(ours[0][1])
