"""Cost of `rlwatch_jax.log` per jitted step, next to a bare `jax.debug.callback`.

Three versions of the same tiny jitted step (so the callback dominates) are
timed in interleaved rounds:

* ``no callback``   the step alone;
* ``bare callback`` ``jax.debug.callback(noop, {"step": step, **metrics})``,
                    the same values, a host function that does nothing;
* ``bare packed``   a bare callback with the scalars stacked into one vector,
                    as rlwatch_jax sends them (the cheapest a callback gets);
* ``rlwatch_jax``   ``rlwatch_jax.log(step, **metrics)`` into a real monitor
                    (SQLite store, every detector on).

Prints the median time per step of each, the ratio rlwatch_jax / bare
callback (the budget is 1.5x, exit status 1 when over), the ratio to the
packed bare callback, and the increments over the step alone. A second case
adds a ``rewards`` array.

Usage: ``python benchmarks/bench_jax.py [--steps N] [--rounds R] [--no-check]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import rlwatch
import rlwatch_jax

BUDGET = 1.5
SCALARS = ("loss", "entropy", "kl_divergence", "reward_mean", "reward_std", "advantage_std", "grad_norm",
           "learning_rate")


def make_metrics(x: jax.Array, with_rewards: bool) -> dict[str, jax.Array]:
    """Eight scalar metrics (and optionally a 64-sample rewards array) computed from the state."""
    base = jnp.tanh(x.mean())
    metrics = {name: base * (i + 1) + 1.0 for i, name in enumerate(SCALARS)}
    if with_rewards:
        metrics["rewards"] = jnp.sin(x[:64] + base)
    return metrics


def build(with_rewards: bool) -> dict[str, Callable[[jax.Array, jax.Array], jax.Array]]:
    def noop(_: Any) -> None:
        return None

    @jax.jit
    def no_callback(x: jax.Array, step: jax.Array) -> jax.Array:
        make_metrics(x, with_rewards)
        return x + 1.0

    @jax.jit
    def bare_callback(x: jax.Array, step: jax.Array) -> jax.Array:
        jax.debug.callback(noop, {"step": step, **make_metrics(x, with_rewards)})
        return x + 1.0

    @jax.jit
    def bare_packed(x: jax.Array, step: jax.Array) -> jax.Array:
        metrics = make_metrics(x, with_rewards)
        scalars = jnp.stack([metrics.pop(name) for name in SCALARS])
        jax.debug.callback(noop, {"step": step, "scalars": scalars, **metrics})
        return x + 1.0

    @jax.jit
    def with_rlwatch(x: jax.Array, step: jax.Array) -> jax.Array:
        rlwatch_jax.log(step, **make_metrics(x, with_rewards))
        return x + 1.0

    return {"no callback": no_callback, "bare callback": bare_callback, "bare packed": bare_packed,
            "rlwatch_jax": with_rlwatch}


def time_round(fn: Callable[[jax.Array, jax.Array], jax.Array], start: int, steps: int) -> float:
    """Seconds per step over `steps` consecutive calls (all callbacks finished)."""
    x = jnp.zeros(256, jnp.float32)
    jax.effects_barrier()
    t0 = time.perf_counter()
    for i in range(start, start + steps):
        x = fn(x, jnp.int32(i))
    x.block_until_ready()
    jax.effects_barrier()
    return (time.perf_counter() - t0) / steps


_next_step = 0


def _timed(fn: Callable[[jax.Array, jax.Array], jax.Array], steps: int) -> float:
    global _next_step
    sec = time_round(fn, _next_step, steps)
    _next_step += steps  # the monitor only ever sees new, increasing steps
    return sec


def run_case(with_rewards: bool, steps: int, rounds: int) -> dict[str, float]:
    fns = build(with_rewards)
    for fn in fns.values():  # compile and warm up
        _timed(fn, 50)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():  # interleaved, so machine noise hits all alike
            samples[name].append(_timed(fn, steps))
    return {name: statistics.median(v) for name, v in samples.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (median taken)")
    parser.add_argument("--no-check", action="store_true", help="report only; never fail")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as log_dir:
        monitor = rlwatch.attach(run_id="bench-jax", log_dir=log_dir)
        print(f"jax {jax.__version__} on {jax.devices()[0].platform}; {args.rounds} rounds x {args.steps} steps")
        worst = 0.0
        for with_rewards in (False, True):
            label = "8 scalars" + (" + rewards[64]" if with_rewards else "")
            t = run_case(with_rewards, args.steps, args.rounds)
            ratio = t["rlwatch_jax"] / t["bare callback"]
            bare_inc = t["bare callback"] - t["no callback"]
            ours_inc = t["rlwatch_jax"] - t["no callback"]
            print(f"\n{label}:")
            for name, sec in t.items():
                print(f"  {name:<14} {sec * 1e3:8.4f} ms/step")
            print(f"  ratio rlwatch_jax / bare callback: {ratio:.2f}x (budget {BUDGET}x)")
            print(f"  ratio rlwatch_jax / bare packed:   {t['rlwatch_jax'] / t['bare packed']:.2f}x")
            if bare_inc > 0:
                print(f"  callback cost over the step alone: bare {bare_inc * 1e3:.4f} ms, "
                      f"rlwatch_jax {ours_inc * 1e3:.4f} ms ({ours_inc / bare_inc:.2f}x)")
            if not with_rewards:
                worst = ratio  # the budget applies to the scalar case, the common one
        monitor.stop()
    if worst > BUDGET and not args.no_check:
        print(f"\nFAIL: rlwatch_jax.log costs {worst:.2f}x a bare callback (budget {BUDGET}x)")
        return 1
    print(f"\nOK: {worst:.2f}x <= {BUDGET}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
