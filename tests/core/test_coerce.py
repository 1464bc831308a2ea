"""Inputs never crash training: every kind of value is coerced or skipped and counted."""

from __future__ import annotations

import logging
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rlwatch
from rlwatch import logsink
from rlwatch.coerce import UNUSABLE, to_array, to_float, to_step
from rlwatch.storage import StoreReader


class RaisingFloat:
    def __float__(self) -> float:
        raise RuntimeError("no")


class RaisingArray:
    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        raise RuntimeError("no")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.5, 1.5), (3, 3.0), (True, 1.0), (np.float32(2.5), 2.5), (np.int64(7), 7.0), (np.bool_(True), 1.0),
        (np.array(4.0), 4.0), (np.array([5.0]), 5.0), (Decimal("1.25"), 1.25), (Fraction(1, 4), 0.25),
        (np.float16(0.5), 0.5), (np.uint8(255), 255.0), (-0.0, -0.0),
    ],
)
def test_numbers_become_floats(value: Any, expected: float) -> None:
    out = to_float(value)
    assert type(out) is float and out == expected


@pytest.mark.parametrize(
    "value", ["1.0", b"1", bytearray(b"1"), object(), RaisingFloat(), [1.0, 2.0], {"a": 1}, 10**400, 1 + 2j,
              np.array([1.0, 2.0]), np.array("x"), np.zeros((0,))],
)
def test_unusable_values(value: Any) -> None:
    assert to_float(value) is UNUSABLE


def test_nan_and_inf_are_data() -> None:
    assert to_float(float("inf")) == float("inf")
    nan = to_float(np.float64("nan"))
    assert nan != nan


def test_arrays() -> None:
    assert to_array([1, 2, 3]).dtype == np.float64
    assert to_array(np.ones((4, 8))).shape == (4, 8)
    assert to_array(np.ones((2, 2, 2))).shape == (8,)
    assert to_array(5.0).shape == (1,)
    assert to_array([]) is UNUSABLE
    assert to_array([[1, 2], [3]]) is UNUSABLE
    assert to_array(["a", "b"]) is UNUSABLE
    assert to_array(RaisingArray()) is UNUSABLE
    assert to_array(np.ones(3_000_000)).size <= 1_000_000


def test_steps() -> None:
    assert to_step(5) == 5
    assert to_step(np.int32(5)) == 5
    assert to_step(np.array(7)) == 7
    assert to_step(5.0) == 5
    assert to_step(-1) is None
    assert to_step(float("nan")) is None
    assert to_step(2**70) is None
    assert to_step("3") is None


def test_torch_values_if_available() -> None:
    torch = pytest.importorskip("torch")
    t = torch.tensor(2.5, requires_grad=True) * 2
    assert to_float(t) == 5.0
    assert to_float(torch.tensor([1.0, 2.0])) is UNUSABLE
    assert to_array(torch.ones(4, requires_grad=True)).tolist() == [1.0] * 4


def test_bad_values_are_counted_and_warned_once(log_dir: Path, db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    m = rlwatch.attach(log_dir=str(log_dir), run_id="bad")
    with caplog.at_level(logging.WARNING, logger="rlwatch"):
        for i in range(5):
            assert m.log_step(i, loss="oops", entropy=1.0, weird=object(), rewards="x") == []
        m.log_step(None, loss=1.0)
        m.log_step(-3, loss=1.0)
        m.log_step(2, loss=1.0)  # backwards
    m.stop()
    logsink.flush()  # rlwatch logs from a background thread
    messages = [r.message for r in caplog.records]
    assert sum("'loss'" in msg for msg in messages) == 1, messages
    assert any("step=None" in msg for msg in messages)
    assert any("not after the previous step" in msg for msg in messages)
    with StoreReader(str(db_path)) as r:
        run = r.run("bad")
        assert run is not None
        assert run.skipped == {"loss": 5, "weird": 5, "rewards": 5, "<step>": 1}
        assert list(r.metrics("bad")["step"]) == [0, 1, 2, 3, 4, 5]


def test_rewards_array_fills_reward_mean(log_dir: Path, db_path: Path) -> None:
    m = rlwatch.attach(log_dir=str(log_dir), run_id="arr")
    m.log_step(0, rewards=np.array([[0.0, 1.0], [1.0, 1.0]]))
    m.stop()
    with StoreReader(str(db_path)) as r:
        data = r.metrics("arr")
        assert data["reward_mean"][0] == 0.75
        assert abs(data["reward_std"][0] - np.std([0, 1, 1, 1])) < 1e-12
