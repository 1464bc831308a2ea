"""Hostile inputs: ≥100k Hypothesis-driven calls; nothing escapes, the store stays clean."""

from __future__ import annotations

import math
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rlwatch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from rlwatch.storage import StoreReader

from ._helpers import integrity, value_types

try:
    import torch
except ImportError:  # pragma: no cover - the reliability session installs it
    torch = None
try:
    import jax.numpy as jnp
except ImportError:  # pragma: no cover
    jnp = None


class BadFloat:
    def __float__(self) -> float:
        raise RuntimeError("__float__ raises")


class BadArray:
    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        raise RuntimeError("__array__ raises")

    def __len__(self) -> int:
        raise RuntimeError("__len__ raises")


class WeirdFloat:
    def __float__(self) -> Any:
        return "not a float"


DTYPES = [np.float16, np.float32, np.float64, np.longdouble, np.int8, np.int16, np.int32, np.int64,
          np.uint8, np.uint16, np.uint32, np.uint64, np.bool_, np.complex64]

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.booleans(),
    st.just(-0.0),
)
numpy_scalars = st.sampled_from(DTYPES).flatmap(
    lambda d: hnp.from_dtype(np.dtype(d)).map(lambda v: np.dtype(d).type(v))
)
arrays = st.one_of(
    hnp.arrays(st.sampled_from([np.float64, np.float32, np.int64, np.bool_]), hnp.array_shapes(min_dims=0, max_dims=3,
                                                                                               min_side=0, max_side=6)),
    st.just(np.zeros((0,))),
    st.just(np.full(200_000, 0.5)),
    st.just(np.array(["a", "b"])),
    st.just(np.array([object(), 1], dtype=object)),
)
junk = st.one_of(st.none(), st.text(max_size=20), st.binary(max_size=20), st.builds(BadFloat), st.builds(BadArray),
                 st.builds(WeirdFloat), st.builds(object), st.complex_numbers(),
                 st.recursive(st.lists(numbers, max_size=3), lambda c: st.lists(c, max_size=3) | st.dictionaries(
                     st.text(max_size=3), c, max_size=2), max_leaves=6))


def _tensors(draw_value: float) -> list[Any]:
    out: list[Any] = []
    if torch is not None:
        out += [torch.tensor(draw_value, requires_grad=True) * 1, torch.tensor([draw_value, 1.0]),
                torch.tensor(draw_value, dtype=torch.float16), torch.tensor(3, dtype=torch.int32)]
    if jnp is not None:
        out += [jnp.asarray(draw_value), jnp.ones(3)]
    return out


values = st.one_of(numbers, numpy_scalars, arrays, junk,
                   st.floats(allow_nan=True).flatmap(lambda f: st.sampled_from(_tensors(f) or [f])))
names = st.one_of(
    st.sampled_from(["entropy", "kl_divergence", "reward_mean", "loss", "grad_norm", "rewards", "advantages",
                     "frac_reward_zero_std", "completion_length"]),
    st.text(min_size=1, max_size=30),
    st.sampled_from(["'; DROP TABLE metrics; --", 'quote"name', "ünïcødé/指标", "x" * 10_000, "step", "wall_time",
                     "nan_metrics", "m1", "run_pk"]),
)
steps = st.one_of(st.integers(min_value=-5, max_value=2**70), st.none(), st.floats(allow_nan=True),
                  st.just(np.int64(7)), st.just(np.array(3)), st.text(max_size=3))
call = st.tuples(steps, st.dictionaries(names, values, max_size=6))

COUNT = {"calls": 0, "alerts": 0}


@pytest.fixture(scope="module")
def monitor(tmp_path_factory: pytest.TempPathFactory) -> Any:
    d = tmp_path_factory.mktemp("hostile")
    mon = rlwatch.RLWatch(rlwatch.load_config(overrides={"run_id": "hostile", "log_dir": str(d),
                                                         "alerts": {"console": {"enabled": False}}})).start()
    yield mon
    mon.stop()


EXAMPLES = int(os.environ.get("RLWATCH_FUZZ_EXAMPLES", "1000"))
CALLS_PER_EXAMPLE = 100


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(pool=st.lists(call, min_size=1, max_size=12), rnd=st.randoms(use_true_random=False))
def _fuzz_log_step(monitor: Any, pool: list[tuple[Any, dict[str, Any]]], rnd: Any) -> None:
    # Hypothesis draws a small pool of hostile calls; 100 calls are made from it
    # (repeats and reorderings included), so 100k calls fit in minutes.
    for _ in range(CALLS_PER_EXAMPLE):
        step, metrics = rnd.choice(pool)
        if rnd.random() < 0.5:  # mix metrics of two drawn calls
            metrics = {**metrics, **rnd.choice(pool)[1]}
        result = monitor.log_step(step, **{k: v for k, v in metrics.items() if k != "step"})
        assert isinstance(result, list)
        COUNT["calls"] += 1
        COUNT["alerts"] += len(result)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(rows=st.lists(st.one_of(st.dictionaries(names, values, max_size=5), junk), max_size=30))
def _fuzz_log_metrics(monitor: Any, rows: list[Any]) -> None:
    monitor.log_metrics(rows)
    COUNT["calls"] += 1


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(overrides=st.dictionaries(st.text(max_size=12) | st.sampled_from(["storage", "log_dir", "alerts", "run_id"]),
                                 values | st.dictionaries(st.text(max_size=5), values, max_size=2), max_size=3))
def _fuzz_attach(tmp: Path, overrides: dict[str, Any]) -> None:
    try:
        m = rlwatch.attach(log_dir=str(tmp), **overrides)
    except rlwatch.ConfigError:
        return
    except TypeError:  # e.g. a keyword that collides with attach's own parameters
        return
    m.stop()


def test_hostile_calls_never_escape(monitor: Any, tmp_path: Path, record: Any, rlwatch_cmd: str) -> None:
    _fuzz_log_step(monitor)
    _fuzz_log_metrics(monitor)
    _fuzz_attach(tmp_path)
    monitor.flush(timeout=60)
    db = Path(monitor.db_path)
    types = value_types(db)
    check = integrity(db)
    cli = {}
    for args in (["runs", "--json"], ["diagnose", "hostile"], ["export", "hostile", "--format", "jsonl"],
                 ["export", "hostile", "--format", "csv"]):
        out = subprocess.run([rlwatch_cmd, *args, "--db", str(db)], capture_output=True, text=True, timeout=300)
        cli[args[0] + ("-" + args[-1] if args[0] == "export" else "")] = out.returncode
        assert out.returncode in (0, 1), out.stderr[-2000:]
    with StoreReader(str(db)) as reader:
        run = reader.run("hostile")
        assert run is not None
        names_stored = len(reader.metric_names("hostile"))
    record(
        tried=f"{COUNT['calls']} hostile log_step/log_metrics calls + 200 attach() calls "
              f"(torch={'yes' if torch is not None else 'no'}, jax={'yes' if jnp is not None else 'no'})",
        calls=COUNT["calls"], storage_classes="/".join(sorted(types)), integrity=check,
        skipped_values=sum(run.skipped.values()), metric_names=names_stored, cli_exit_codes=str(cli),
    )
    assert COUNT["calls"] >= CALLS_PER_EXAMPLE * EXAMPLES
    assert types <= {"real", "null"}
    assert check == "ok"


def test_numbers_survive_round_trip(tmp_path: Path) -> None:
    m = rlwatch.attach(log_dir=str(tmp_path), run_id="exact")
    vals = [-0.0, 5e-324, 1.7976931348623157e308, -math.inf, math.inf, 1 / 3]
    for i, v in enumerate(vals):
        m.log_step(i, probe=v)
    m.stop()
    with StoreReader(str(tmp_path / "metrics.db")) as r:
        got = list(r.metrics("exact")["probe"])
    assert got == vals  # -0.0 reads back as 0.0: SQLite does not keep the sign of zero
