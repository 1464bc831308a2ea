"""`rlwatch_jax.log` under JAX transformations: one record per step, the documented one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import jax_bandit as jb
import numpy as np
import pytest
import rlwatch
import rlwatch_jax
from conftest import StoredRun, read_run
from rlwatch import logsink
from rlwatch.config import ConfigError, load_config
from rlwatch.core import RLWatch

SEEDS = 4


def _vmapped_training(steps: int, log: bool) -> tuple[jax.Array, list[list[float]]]:
    """Train SEEDS policies side by side under vmap; return params and each seed's losses."""

    def one_seed(params: jax.Array, key: jax.Array, step: jax.Array) -> tuple[jax.Array, jax.Array]:
        new_params, metrics = jb.update(params, key, step)
        if log:
            rlwatch_jax.log(step, loss=metrics["loss"], entropy=metrics["entropy"], rewards=metrics["rewards"])
        return new_params, metrics["loss"]

    step_fn = jax.jit(jax.vmap(one_seed, in_axes=(0, 0, None)))
    params = jnp.stack([jb.init_params()] * SEEDS)
    keys = jax.random.split(jax.random.PRNGKey(0), SEEDS)
    losses = []
    for i in range(steps):
        params, loss = step_fn(params, keys, i)
        losses.append(loss)
    return params, np.asarray(jax.device_get(losses)).tolist()


def test_under_vmap_each_step_is_logged_once_with_the_first_element(
    monitor: RLWatch, finish: Callable[[], StoredRun]
) -> None:
    params, losses = _vmapped_training(40, log=True)
    run = finish()
    assert run.steps == list(range(40))
    first_seed = [row[0] for row in losses]
    np.testing.assert_allclose(run.metrics["loss"], first_seed, rtol=1e-6)
    assert not np.allclose(first_seed, [row[1] for row in losses])  # the seeds really differ
    # Logging changed nothing in the batched computation.
    ref_params, _ = _vmapped_training(40, log=False)
    np.testing.assert_array_equal(np.asarray(params), np.asarray(ref_params))


def test_a_bare_debug_callback_would_run_once_per_batch_element() -> None:
    # The fact the vmap rule above exists for: without it, B host calls per step.
    calls: list[int] = []

    @jax.jit
    @jax.vmap
    def f(x: jax.Array) -> jax.Array:
        jax.debug.callback(lambda v: calls.append(int(v)), x)
        return x

    f(jnp.arange(SEEDS))
    jax.effects_barrier()
    assert sorted(calls) == list(range(SEEDS))


def test_nested_vmap_and_a_batched_step_still_log_once_per_call(
    monitor: RLWatch, finish: Callable[[], StoredRun]
) -> None:
    @jax.jit
    @jax.vmap
    @jax.vmap
    def f(x: jax.Array, step: jax.Array) -> jax.Array:
        rlwatch_jax.log(step, loss=x)
        return x

    x = jnp.arange(12.0).reshape(3, 4)
    for i in range(3):
        f(x + i, jnp.full((3, 4), i) + jnp.arange(4))  # every element has its own step
    run = finish()
    # One record per call: element [0, 0], whose step is i.
    assert run.steps == [0, 1, 2]
    np.testing.assert_allclose(run.metrics["loss"], [0.0, 1.0, 2.0])


def test_log_inside_scan_records_every_iteration(monitor: RLWatch, finish: Callable[[], StoredRun]) -> None:
    def body(carry: tuple[jax.Array, jax.Array], step: jax.Array) -> tuple[tuple[jax.Array, jax.Array], None]:
        params, key = carry
        params, metrics = jb.update(params, key, step)
        rlwatch_jax.log(step, **metrics)
        return (params, key), None

    run_all = jax.jit(lambda p, k: jax.lax.scan(body, (p, k), jnp.arange(64))[0][0])
    params = run_all(jb.init_params(), jax.random.PRNGKey(0))
    run = finish()
    assert run.steps == list(range(64))
    assert jb.best_arm_probability(params) > 1 / jb.N_ARMS
    assert run.critical() == []


def test_without_jit_the_values_are_logged_immediately(monitor: RLWatch, finish: Callable[[], StoredRun]) -> None:
    _, metrics = jb.plain_update(jb.init_params(), jax.random.PRNGKey(0), 0)
    rlwatch_jax.log(0, **metrics)  # outside any trace: runs the host side at once
    rlwatch_jax.log(1, loss=1.5, entropy=np.float32(0.7), kl_divergence=None)
    run = finish()
    assert run.steps == [0, 1]
    assert run.metrics["loss"][0] == pytest.approx(float(metrics["loss"]), rel=1e-6)
    assert run.metrics["loss"][1] == 1.5


def test_the_same_step_from_one_call_site_is_recorded_once(
    monitor: RLWatch, finish: Callable[[], StoredRun]
) -> None:
    # Gradient accumulation calls the step function several times per optimizer step.
    @jax.jit
    def micro_step(x: jax.Array, step: jax.Array) -> jax.Array:
        rlwatch_jax.log(step, loss=x)
        return x

    for step, loss in [(0, 1.0), (0, 2.0), (1, 3.0), (1, 4.0), (2, 5.0)]:
        micro_step(jnp.float32(loss), jnp.int32(step))
    run = finish()
    assert run.steps == [0, 1, 2]
    np.testing.assert_allclose(run.metrics["loss"], [1.0, 3.0, 5.0])


def test_two_call_sites_may_log_the_same_step(monitor: RLWatch, finish: Callable[[], StoredRun]) -> None:
    @jax.jit
    def step_fn(x: jax.Array, step: jax.Array) -> jax.Array:
        rlwatch_jax.log(step, loss=x)
        rlwatch_jax.log(step, grad_norm=2 * x)
        return x

    step_fn(jnp.float32(1.0), jnp.int32(0))
    run = finish()
    assert run.steps == [0]
    assert run.metrics["loss"][0] == 1.0 and run.metrics["grad_norm"][0] == 2.0


def test_a_compiled_function_follows_the_current_global_monitor(log_dir: str) -> None:
    @jax.jit
    def step_fn(x: jax.Array, step: jax.Array) -> jax.Array:
        rlwatch_jax.log(step, loss=x)
        return x + 1

    first = rlwatch.attach(run_id="first", log_dir=str(log_dir))
    x = jnp.float32(0.0)
    for i in range(3):
        x = step_fn(x, jnp.int32(i))
    first.stop()
    second = rlwatch.attach(run_id="second", log_dir=str(log_dir))
    for i in range(3):  # a new run starts again at step 0: not mistaken for repeats
        x = step_fn(x, jnp.int32(i))
    second.stop()
    np.testing.assert_allclose(read_run(first.db_path, "first").metrics["loss"], [0, 1, 2])
    np.testing.assert_allclose(read_run(second.db_path, "second").metrics["loss"], [3, 4, 5])


def test_an_explicit_monitor_gets_the_values_not_the_global_one(log_dir: str) -> None:
    glob = rlwatch.attach(run_id="global", log_dir=str(log_dir))
    mine = RLWatch(load_config(None, {"run_id": "mine", "log_dir": str(log_dir)})).start()

    @jax.jit
    def step_fn(x: jax.Array, step: jax.Array) -> jax.Array:
        rlwatch_jax.log(step, monitor=mine, loss=x)
        return x

    step_fn(jnp.float32(4.0), jnp.int32(0))
    mine.stop()
    glob.stop()
    assert read_run(mine.db_path, "mine").metrics["loss"].tolist() == [4.0]
    assert read_run(glob.db_path, "global").steps == []


def test_without_a_monitor_one_is_attached_on_first_use() -> None:
    assert rlwatch.get_monitor() is None

    @jax.jit
    def step_fn(x: jax.Array) -> jax.Array:
        rlwatch_jax.log(0, loss=x)
        return x

    step_fn(jnp.float32(1.5))
    mon = rlwatch.get_monitor()
    assert mon is not None and mon.framework == "jax"
    mon.stop()
    assert read_run(mon.db_path, mon.run_id).metrics["loss"].tolist() == [1.5]


def test_a_disabled_monitor_stages_no_callback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLWATCH_DISABLE", "1")
    rlwatch.attach()

    def step_fn(x: jax.Array) -> jax.Array:
        rlwatch_jax.log(0, loss=x)
        return x

    assert "callback" not in str(jax.make_jaxpr(step_fn)(jnp.float32(1.0)))


def test_metric_values_that_are_not_numbers_are_skipped_with_a_warning(
    monitor: RLWatch, finish: Callable[[], StoredRun], caplog: pytest.LogCaptureFixture
) -> None:
    @jax.jit
    def step_fn(x: jax.Array) -> jax.Array:
        rlwatch_jax.log(step=0, loss=x, note="hello", nested={"value_loss": 2 * x, "step": 1})
        return x

    with caplog.at_level(logging.WARNING, logger="rlwatch"):
        step_fn(jnp.float32(1.0))
    run = finish()
    assert run.steps == [0]
    assert run.metrics["loss"].tolist() == [1.0]
    assert run.metrics["nested/value_loss"].tolist() == [2.0]
    logsink.flush()  # rlwatch logs from a background thread
    assert "'note' is not numeric" in caplog.text


def test_log_under_lax_cond_records_only_the_chosen_steps(
    monitor: RLWatch, finish: Callable[[], StoredRun]
) -> None:
    # The documented way to pay for the callback only every k-th step.
    @jax.jit
    def step_fn(x: jax.Array, step: jax.Array) -> jax.Array:
        jax.lax.cond(step % 3 == 0, lambda: rlwatch_jax.log(step, loss=x), lambda: None)
        return x + 1

    x = jnp.float32(0.0)
    for i in range(10):
        x = step_fn(x, jnp.int32(i))
    run = finish()
    assert run.steps == [0, 3, 6, 9]
    np.testing.assert_allclose(run.metrics["loss"], [0, 3, 6, 9])


def test_bad_configuration_found_by_the_automatic_attach_fails_loudly_while_tracing(tmp_path: Path) -> None:
    (tmp_path / "rlwatch.yaml").write_text("storage:\n  log_dirr: typo\n")  # cwd is tmp_path

    @jax.jit
    def step_fn(x: jax.Array) -> jax.Array:
        rlwatch_jax.log(0, loss=x)
        return x

    with pytest.raises(ConfigError, match="log_dirr"):
        step_fn(jnp.float32(1.0))
