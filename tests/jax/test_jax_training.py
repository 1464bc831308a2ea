"""A real jitted policy-gradient run, watched by rlwatch_jax: healthy, then poisoned."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import jax_bandit as jb
import numpy as np
import pytest
import rlwatch_jax
from conftest import StoredRun
from rlwatch import logsink
from rlwatch.core import RLWatch

STEPS = 240

# One compilation for every test: the compiled step reports to whichever
# monitor is global when its callbacks run (each test attaches its own).
watched_update = jax.jit(rlwatch_jax.watch(jb.update))


def _reference_metrics(steps: int) -> tuple[jax.Array, dict[str, np.ndarray]]:
    """The same run without rlwatch: final params and every step's metrics."""
    params, key = jb.init_params(), jax.random.PRNGKey(0)
    history = []
    for i in range(steps):
        params, metrics = jb.plain_update(params, key, i)
        history.append(metrics)
    rows = jax.device_get(history)  # one transfer at the end, not one per value
    return params, {name: np.asarray([r[name] for r in rows]) for name in rows[0] if name != "rewards"}


def test_healthy_run_is_stored_step_by_step_without_critical_alerts(
    monitor: RLWatch, finish: Callable[[], StoredRun]
) -> None:
    params = jb.train(watched_update, STEPS)

    run = finish()
    assert run.steps == list(range(STEPS))
    assert run.critical() == []
    # The policy really learned (uniform would give 1/8 to the best arm) ...
    assert jb.best_arm_probability(params) > 0.25
    # ... exactly as it does without rlwatch, and what was stored is what the step computed.
    ref_params, ref = _reference_metrics(STEPS)
    np.testing.assert_array_equal(np.asarray(params), np.asarray(ref_params))
    for name in ("loss", "entropy", "kl_divergence", "reward_mean", "advantage_std", "grad_norm"):
        np.testing.assert_allclose(run.metrics[name], ref[name], rtol=1e-6, atol=1e-7, err_msg=name)
    # Entropy started at log(8) (uniform policy) and fell as the policy learned.
    assert run.metrics["entropy"][0] == pytest.approx(np.log(jb.N_ARMS), rel=1e-6)
    assert run.metrics["entropy"][-1] < run.metrics["entropy"][0]


@pytest.mark.parametrize("nan_at", [60, 131])
def test_nan_loss_at_a_known_step_raises_loss_nan_at_that_step(
    nan_at: int, monitor: RLWatch, finish: Callable[[], StoredRun]
) -> None:
    jb.train(watched_update, nan_at + 20, nan_at=nan_at)

    run = finish()
    assert run.steps == list(range(nan_at + 20))
    assert np.isnan(run.metrics["loss"][nan_at]) and np.isfinite(run.metrics["loss"][:nan_at]).all()
    nan_alerts = run.critical("loss_nan")
    assert nan_alerts, "no loss_nan critical alert"
    assert min(a.step for a in nan_alerts) == nan_at
    assert all(a.step >= nan_at for a in run.critical())


def test_log_inside_a_differentiated_loss_logs_each_step_once(
    monitor: RLWatch, finish: Callable[[], StoredRun]
) -> None:
    def loss_fn(params: jax.Array, actions: jax.Array, advantages: jax.Array, step: jax.Array) -> jax.Array:
        loss = jb.policy_loss(params, actions, advantages)
        rlwatch_jax.log(step, loss=loss, entropy=-jnp.sum(jax.nn.softmax(params) * jax.nn.log_softmax(params)))
        return loss

    @jax.jit
    def step_fn(params: jax.Array, key: jax.Array, step: jax.Array) -> jax.Array:
        actions, rewards = jb.rollout(params, jax.random.fold_in(key, step))
        grads = jax.grad(loss_fn)(params, actions, rewards - rewards.mean(), step)
        return params - jb.LEARNING_RATE * grads

    jb.train(step_fn, 50)
    run = finish()
    assert run.steps == list(range(50))
    _, ref = _reference_metrics(50)
    np.testing.assert_allclose(run.metrics["loss"], ref["loss"], rtol=1e-6, atol=1e-7)


def test_watch_takes_the_step_from_a_train_state(monitor: RLWatch, finish: Callable[[], StoredRun]) -> None:
    class TrainState:
        """A minimal pytree state with a step counter, as flax's TrainState has."""

        def __init__(self, params: jax.Array, step: jax.Array) -> None:
            self.params, self.step = params, step

    jax.tree_util.register_pytree_node(
        TrainState, lambda s: ((s.params, s.step), None), lambda _, c: TrainState(*c)
    )

    @jax.jit
    @rlwatch_jax.watch
    def train_step(state: TrainState, key: jax.Array) -> tuple[TrainState, dict[str, jax.Array]]:
        params, metrics = jb.update(state.params, key, state.step)
        return TrainState(params, state.step + 1), metrics

    state, key = TrainState(jb.init_params(), jnp.int32(100)), jax.random.PRNGKey(1)
    for _ in range(30):
        state, _ = train_step(state, key)
    run = finish()
    assert run.steps == list(range(100, 130))


def test_watch_counts_steps_when_there_is_none(monitor: RLWatch, finish: Callable[[], StoredRun]) -> None:
    @jax.jit
    @rlwatch_jax.watch
    def train_step(params: jax.Array, key: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
        return jb.update(params, key, jnp.int32(0))

    params, key = jb.init_params(), jax.random.PRNGKey(2)
    for _ in range(25):
        params, _ = train_step(params, key)
    run = finish()
    assert run.steps == list(range(25))


def test_watch_takes_the_step_from_the_metrics(monitor: RLWatch, finish: Callable[[], StoredRun]) -> None:
    @jax.jit
    @rlwatch_jax.watch
    def train_step(params: jax.Array, key: jax.Array, i: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
        params, metrics = jb.update(params, key, i)
        return params, {"step": 2 * i, **metrics}

    params, key = jb.init_params(), jax.random.PRNGKey(3)
    for i in range(5):
        params, _ = train_step(params, key, i)
    run = finish()
    assert run.steps == [0, 2, 4, 6, 8]
    assert np.isfinite(run.metrics["loss"]).all()


def test_watch_step_option_names_the_argument(monitor: RLWatch, finish: Callable[[], StoredRun]) -> None:
    @jax.jit
    @rlwatch_jax.watch(step="i")
    def train_step(params: jax.Array, key: jax.Array, i: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
        return jb.update(params, key, i)

    params, key = jb.init_params(), jax.random.PRNGKey(3)
    for i in range(10):
        params, _ = train_step(params, key, 7 * i)
    assert finish().steps == [7 * i for i in range(10)]


def test_watch_rejects_a_step_argument_that_does_not_exist() -> None:
    with pytest.raises(TypeError, match="'epoch' is not an argument"):
        rlwatch_jax.watch(step="epoch")(jb.update)


def test_watch_passes_an_unexpected_output_through_and_logs_nothing(
    monitor: RLWatch, finish: Callable[[], StoredRun], caplog: pytest.LogCaptureFixture
) -> None:
    @jax.jit
    @rlwatch_jax.watch
    def not_a_train_step(x: jax.Array) -> jax.Array:
        return x * 2

    with caplog.at_level("WARNING", logger="rlwatch"):
        assert float(not_a_train_step(jnp.float32(2.0))) == 4.0
    logsink.flush()  # rlwatch logs from a background thread
    assert "not_a_train_step returned" in caplog.text and "not (state, metrics_dict)" in caplog.text
    assert finish().steps == []
