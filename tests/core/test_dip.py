"""Tests of rlwatch.stats.dip_test, Hartigan & Hartigan's dip test.

The exactness check solves the definition of the dip directly as linear
programs (scipy's HiGHS): for each candidate mode, the smallest tube around
the empirical distribution function that holds a distribution function which
is convex up to the mode and concave after it. That shares nothing with the
GCM/LCM iteration under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rlwatch.stats import DipResult, dip_test
from rlwatch.stats import dip as dip_module
from rlwatch.stats.dip import dip_statistic

FloatArray = npt.NDArray[np.float64]

# Values on a binary grid: differences are exact in float64. (Values closer
# than the float resolution of the data's range cannot be told apart by any
# float computation of the hulls; they act as ties.)
grid_floats = st.integers(min_value=-(10**8), max_value=10**8).map(lambda k: k / 64)


# ---------------------------------------------------------------------------
# The definition, solved directly


def dip_by_linear_programs(sample: npt.ArrayLike) -> float:
    """The dip inf_G sup_x |F_n(x) - G(x)| over unimodal G, by linear programs.

    G ranges over distribution functions convex on (-inf, m] and concave on
    [m, inf) (an atom at m allowed). An optimal mode can be moved onto a data
    point without loss, and only G's values at the data points (plus its left
    limit at the mode) matter, so for each data point m the best tube
    half-width is one LP over those values; the dip is the smallest.
    """
    x = np.sort(np.asarray(sample, dtype=np.float64))
    values, counts = np.unique(x, return_counts=True)
    right = np.cumsum(counts) / x.size  # F(v_j)
    left = right - counts / x.size  # F(v_j-)
    return min(_tube_half_width(values, left, right, mode) for mode in range(values.size))


def _tube_half_width(values: FloatArray, left: FloatArray, right: FloatArray, mode: int) -> float:
    """Smallest d such that a unimodal G with mode at values[mode] fits F +- d."""
    from scipy.optimize import linprog

    size = values.size
    # Variables: G(v_0) .. G(v_{K-1}), G(v_mode-), d.
    left_limit, width = size, size + 1
    rows: list[FloatArray] = []
    bounds: list[float] = []

    def constraint(coefficients: dict[int, float], bound: float) -> None:
        row = np.zeros(size + 2)
        for index, coefficient in coefficients.items():
            row[index] += coefficient
        rows.append(row)
        bounds.append(bound)

    for j in range(size):
        constraint({j: -1.0, width: -1.0}, -right[j])  # G(v_j) >= F(v_j) - d
        limit = left_limit if j == mode else j  # G is continuous off the mode
        constraint({limit: 1.0, width: -1.0}, left[j])  # G(v_j-) <= F(v_j-) + d
    constraint({left_limit if mode == 0 else 0: -1.0}, 0.0)  # G >= 0
    constraint({size - 1: 1.0}, 1.0)  # G <= 1
    constraint({left_limit: 1.0, mode: -1.0}, 0.0)  # the atom at the mode is >= 0

    def slope(a: tuple[float, int], b: tuple[float, int]) -> dict[int, float]:
        return {b[1]: 1.0 / (b[0] - a[0]), a[1]: -1.0 / (b[0] - a[0])}

    def minus(first: dict[int, float], second: dict[int, float]) -> dict[int, float]:
        result = dict(first)
        for index, coefficient in second.items():
            result[index] = result.get(index, 0.0) - coefficient
        return result

    convex = [(float(values[j]), j) for j in range(mode)] + [(float(values[mode]), left_limit)]
    if len(convex) >= 2:
        constraint(minus({}, slope(convex[0], convex[1])), 0.0)  # non-decreasing
    for t in range(1, len(convex) - 1):  # slopes increase up to the mode
        constraint(minus(slope(convex[t - 1], convex[t]), slope(convex[t], convex[t + 1])), 0.0)
    concave = [(float(values[j]), j) for j in range(mode, size)]
    if len(concave) >= 2:
        constraint(minus({}, slope(concave[-2], concave[-1])), 0.0)  # non-decreasing
    for t in range(1, len(concave) - 1):  # slopes decrease after it
        constraint(minus(slope(concave[t], concave[t + 1]), slope(concave[t - 1], concave[t])), 0.0)
    objective = np.zeros(size + 2)
    objective[width] = 1.0
    result = linprog(
        objective,
        A_ub=np.array(rows),
        b_ub=np.array(bounds),
        bounds=[(None, None)] * (size + 2),
        method="highs",
    )
    assert result.status == 0, result.message
    return float(result.fun)


small_samples = st.one_of(
    st.lists(st.integers(min_value=-1000, max_value=1000).map(lambda k: k / 8), min_size=2, max_size=10),
    # Few distinct values: ties are where dip algorithms usually go wrong.
    st.lists(st.integers(min_value=0, max_value=4).map(float), min_size=2, max_size=12),
    st.lists(st.integers(min_value=-3, max_value=3).map(lambda k: k * 0.1), min_size=2, max_size=12),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_samples)
def test_dip_equals_the_definition_solved_as_linear_programs(sample: list[float]) -> None:
    assume(len(set(sample)) >= 2)
    assert dip_statistic(sample) == pytest.approx(dip_by_linear_programs(sample), abs=1e-7)


@pytest.mark.parametrize("route", ["links", "vectorised"])
def test_dip_equals_the_definition_on_seeded_samples(route: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Shapes hypothesis rarely draws (bimodal mixtures, heavy tails, n = 12),
    # through both hull routes (small samples take the links by default).
    monkeypatch.setattr(dip_module, "_LINKS_UP_TO", 10**9 if route == "links" else 0)
    rng = np.random.default_rng(20260101)
    for _ in range(12):
        n = 12
        sample = np.concatenate([rng.normal(0, 1, n // 2), rng.normal(rng.uniform(0, 6), 1, n - n // 2)])
        assert dip_statistic(sample) == pytest.approx(dip_by_linear_programs(sample), abs=1e-7)
        tailed = np.round(rng.standard_t(2, n), 1)
        if np.unique(tailed).size >= 2:
            assert dip_statistic(tailed) == pytest.approx(dip_by_linear_programs(tailed), abs=1e-7)


# ---------------------------------------------------------------------------
# Properties


@settings(max_examples=200, deadline=None)
@given(st.lists(grid_floats, min_size=2, max_size=300))
def test_dip_lies_between_one_over_2n_and_a_quarter(sample: list[float]) -> None:
    assume(len(set(sample)) >= 2)
    dip = dip_statistic(sample)
    n = len(sample)
    assert 1 / (2 * n) - 1e-12 <= dip <= 0.25 + 1e-12


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=200),
    st.integers(min_value=1, max_value=200),
    grid_floats,
    st.floats(min_value=1e-6, max_value=1e6),
)
def test_two_point_sample_has_dip_min_k_over_2n(k: int, rest: int, low: float, spread: float) -> None:
    high = low + spread
    assume(high > low)
    n = k + rest
    sample = np.array([low] * k + [high] * rest)
    np.random.default_rng(k).shuffle(sample)
    assert dip_statistic(sample) == pytest.approx(min(k, rest) / (2 * n), abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(grid_floats, min_size=4, max_size=200),
    st.floats(min_value=1e-3, max_value=1e3),
    st.floats(min_value=-1e3, max_value=1e3),
)
def test_dip_is_invariant_under_increasing_affine_maps(sample: list[float], scale: float, shift: float) -> None:
    x = np.array(sample)
    y = scale * x + shift
    # Rounding may merge values that were distinct; that is a different sample.
    assume(np.unique(y).size == np.unique(x).size)
    assert dip_statistic(y) == pytest.approx(dip_statistic(x), abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(st.lists(grid_floats, min_size=4, max_size=200))
def test_dip_is_invariant_under_reflection(sample: list[float]) -> None:
    # Reflection swaps the roles of the GCM and the LCM in the iteration.
    x = np.array(sample)
    assert dip_statistic(-x) == pytest.approx(dip_statistic(x), abs=1e-9)


# ---------------------------------------------------------------------------
# Conventions and inputs


def test_fewer_than_four_values_give_p_one() -> None:
    for sample in ([], [1.0], [1.0, 2.0], [0.0, 5.0, 10.0]):
        assert dip_test(sample).p_value == 1.0
    assert dip_test([1.0, 2.0]) == DipResult(0.25, 1.0)
    assert np.isnan(dip_test([]).dip)


def test_constant_sample_gives_one_over_2n_and_p_one() -> None:
    for n in (1, 4, 7, 100):
        assert dip_test([3.5] * n) == DipResult(1 / (2 * n), 1.0)


def test_non_finite_values_are_dropped() -> None:
    rng = np.random.default_rng(3)
    clean = rng.normal(size=50)
    dirty = np.concatenate([clean[:20], [np.nan, np.inf], clean[20:], [-np.inf, np.nan]])
    assert dip_test(dirty) == dip_test(clean)
    assert dip_test([np.nan, np.inf, 1.0, 1.0]) == DipResult(0.25, 1.0)


def test_accepts_any_shape_and_real_dtype() -> None:
    rng = np.random.default_rng(4)
    grouped = rng.integers(0, 10, size=(8, 16))
    expected = dip_test(grouped.ravel().astype(np.float64))
    for variant in (grouped, grouped.astype(np.int8), grouped.astype(np.float32), grouped.tolist()):
        assert dip_test(variant) == expected
    assert dip_test(np.array([True, False, True, True, False])).dip == pytest.approx(0.2)
    assert dip_test(np.float64(2.0)) == DipResult(0.5, 1.0)


def test_rejects_non_numbers() -> None:
    with pytest.raises(TypeError):
        dip_test(["a", "b", "c", "d"])
    with pytest.raises(TypeError):
        dip_test(np.array([1 + 1j, 2, 3, 4]))


def test_does_not_modify_its_input() -> None:
    sample = np.array([3.0, 1.0, np.nan, 2.0, 5.0])
    dip_test(sample)
    assert np.array_equal(sample, [3.0, 1.0, np.nan, 2.0, 5.0], equal_nan=True)


def test_result_is_frozen() -> None:
    result = dip_test([1.0, 2.0, 3.0, 10.0])
    with pytest.raises(AttributeError):
        result.dip = 0.0  # type: ignore[misc]


# ---------------------------------------------------------------------------
# p-values


def test_uniform_sample_gets_a_large_p_value() -> None:
    sample = np.random.default_rng(11).random(500)
    assert dip_test(sample).p_value > 0.2


def test_unimodal_normal_sample_is_not_rejected() -> None:
    sample = np.random.default_rng(12).normal(size=1000)
    assert dip_test(sample).p_value > 0.5


def test_well_separated_bimodal_mixture_is_rejected() -> None:
    rng = np.random.default_rng(13)
    sample = np.concatenate([rng.normal(0, 1, 100), rng.normal(6, 1, 100)])
    result = dip_test(sample)
    assert result.p_value < 0.01
    assert result.dip > 0.05


@pytest.mark.parametrize("n", [4, 5, 9, 17, 64, 100, 256, 777, 1024, 5000, 12000, 20000, 50000])
def test_p_value_is_monotone_in_the_dip(n: int) -> None:
    table = dip_module._null_table()
    dips = np.linspace(1 / (2 * n), 0.25, 400)
    p_values = np.array([table.p_value(float(d), n) for d in dips])
    assert np.all(np.diff(p_values) <= 0.0)
    assert p_values[0] == 1.0
    assert np.all((p_values > 0.0) & (p_values <= 1.0))
    # D = 1/4 is the largest possible dip: far in the tail once n is not tiny.
    if n >= 30:
        assert p_values[-1] < table.floor
    else:
        assert p_values[-1] <= 0.01
        assert np.all(p_values >= table.floor)


@pytest.mark.parametrize("n", [30, 64, 256, 1024, 5000, 40000])
def test_p_value_tail_goes_below_the_table_continuously(n: int) -> None:
    # A detector thresholding at p < 0.001 must be able to fire: beyond the
    # 0.999 quantile p keeps falling (exponential tail), starting from 0.001.
    table = dip_module._null_table()
    last_quantile = float(table.row(n)[-1]) / np.sqrt(n)
    assert table.p_value(last_quantile, n) == pytest.approx(0.001)
    assert 0.0009 < table.p_value(last_quantile * 1.001, n) < 0.001
    assert table.p_value(last_quantile * 1.2, n) < 1e-4
    # Two separated clusters of 200 and 100 values: p far below 0.001.
    if n == 256:
        assert dip_test([0.0] * 200 + [1.0] * 100).p_value < 1e-6


def test_p_values_are_roughly_uniform_under_the_null() -> None:
    # Fresh uniform samples (a seed the table generator never used): the
    # fraction of p-values under a level should be near that level.
    rng = np.random.default_rng(987654321)
    p_values = np.array([dip_test(rng.random(100)).p_value for _ in range(400)])
    assert 0.02 <= np.mean(p_values < 0.05) <= 0.09
    assert 0.40 <= np.mean(p_values < 0.5) <= 0.60


def test_shipped_table_is_documented_and_ordered() -> None:
    text = resources.files("rlwatch.stats").joinpath("dip_null_quantiles.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    assert document["statistic"] == "sqrt(n)*D"
    assert document["replicates_per_row"] >= 10000
    assert document["cpu_seconds"] > 0
    sizes = np.array(document["n"])
    quantiles = np.array(document["quantiles"])
    assert np.all(np.diff(sizes) > 0) and sizes[0] == 4
    assert quantiles.shape == (sizes.size, len(document["probabilities"]))
    assert np.all(np.diff(quantiles, axis=1) >= 0)
    # sqrt(n)*D lies in [1/(2 sqrt(n)), sqrt(n)/4].
    assert np.all(quantiles >= 0.5 / np.sqrt(sizes)[:, None] - 1e-6)
    assert np.all(quantiles <= np.sqrt(sizes)[:, None] / 4 + 1e-6)


_IMPORT_PROBE = """
import sys, traceback


class ScipyWatch:
    # Records who imports scipy first, and lets the import go ahead.
    first = None

    def find_spec(self, name, path=None, target=None):
        if name == "scipy" and ScipyWatch.first is None:
            ScipyWatch.first = "".join(traceback.format_stack(limit=12))
        return None


sys.meta_path.insert(0, ScipyWatch())
import rlwatch.stats
from rlwatch.stats import dip

assert ScipyWatch.first is None, "import rlwatch.stats imported scipy:\\n" + ScipyWatch.first
assert dip._table is None, "the dip table was read at import"
rlwatch.stats.dip_test([1.0, 2.0, 3.0, 7.0, 8.0])
assert dip._table is not None
assert ScipyWatch.first is None, "dip_test imported scipy:\\n" + ScipyWatch.first
"""


def test_import_is_cheap_and_lazy() -> None:
    # A fresh interpreter: this one has imported scipy for the LP already.
    # The child must import the same rlwatch as this process, installed or not.
    source_root = str(Path(dip_module.__file__).resolve().parents[2])
    path = os.pathsep.join(filter(None, [source_root, os.environ.get("PYTHONPATH")]))
    child = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
    )
    assert child.returncode == 0, child.stderr


# ---------------------------------------------------------------------------
# The hull helpers: fast path, fallback and brute force agree


def _brute_force_lower_hull(x: FloatArray, y: FloatArray) -> list[int]:
    """Knots = points strictly below every chord of a pair around them."""
    knots = []
    for j in range(x.size):
        if j in (0, x.size - 1):
            knots.append(j)
            continue
        below_all = all(
            y[j] < y[a] + (y[b] - y[a]) * (x[j] - x[a]) / (x[b] - x[a]) - 1e-12
            for a in range(j)
            for b in range(j + 1, x.size)
        )
        if below_all:
            knots.append(j)
    return knots


def test_hull_paths_agree_with_brute_force() -> None:
    rng = np.random.default_rng(5)
    for size in (3, 5, 20, 60, 200):
        for _ in range(5):
            x = np.sort(rng.choice(10 * size, size=size, replace=False)).astype(np.float64)
            y = rng.integers(0, 5, size).cumsum().astype(np.float64)
            expected = _brute_force_lower_hull(x, y) if size <= 60 else None
            chain = dip_module._monotone_chain(x, y, 0, size - 1)
            fast = dip_module._lower_hull(x, y, 0, size - 1)
            assert fast == chain
            if expected is not None:
                assert chain == expected


def test_quickhull_fallback_gives_the_same_dip(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(6)
    samples = [rng.normal(size=n) for n in (50, 300, 2000)] + [np.sqrt(np.arange(3000.0))]
    expected = [dip_statistic(s) for s in samples]
    # Force the linear-time monotone chain everywhere.
    monkeypatch.setattr(dip_module, "_MAX_QUICKHULL_DEPTH", -1)
    monkeypatch.setattr(dip_module, "_SMALL_HULL", 0)
    assert [dip_statistic(s) for s in samples] == pytest.approx(expected, abs=1e-12)


def test_both_hull_routes_give_the_same_dip(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(9)
    samples = [rng.normal(size=n) for n in (10, 60, 500)]
    samples += [
        rng.integers(0, 6, 300).astype(np.float64),
        np.concatenate([rng.normal(0, 1, 150), rng.normal(5, 1, 150)]),
    ]
    samples += [rng.standard_t(2, 400) for _ in range(5)] + [rng.random(150) for _ in range(5)]

    def dips() -> list[float]:
        return [dip_statistic(s) for s in samples]

    monkeypatch.setattr(dip_module, "_LINKS_UP_TO", 0)
    vectorised = dips()
    monkeypatch.setattr(dip_module, "_LINKS_UP_TO", 10**9)
    linked = dips()
    # Vectorised first, then a zero budget for recomputed pieces: the
    # iteration switches to the links at its first shrink.
    monkeypatch.setattr(dip_module, "_LINKS_UP_TO", 0)
    monkeypatch.setattr(dip_module, "_HULL_WORK_PER_POINT", 0)
    monkeypatch.setattr(dip_module, "_HULL_WORK_SLACK", -1)
    switched = dips()
    assert linked == pytest.approx(vectorised, abs=1e-12)
    assert switched == pytest.approx(vectorised, abs=1e-12)


# ---------------------------------------------------------------------------
# Optional: the GPL PyPI `diptest` package as a black box, in a throw-away
# virtualenv, only when RLWATCH_DIPTEST_REFERENCE=1 (it needs a package index).


@pytest.mark.skipif(
    os.environ.get("RLWATCH_DIPTEST_REFERENCE") != "1",
    reason="set RLWATCH_DIPTEST_REFERENCE=1 to compare with PyPI diptest",
)
def test_agrees_with_pypi_diptest_as_a_black_box(tmp_path: Path) -> None:
    env_dir = tmp_path / "diptest-venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--only-binary", ":all:", "diptest", "numpy"],
        capture_output=True,
        text=True,
    )
    if install.returncode != 0:
        pytest.skip(f"diptest wheel not installable: {install.stderr[-300:]}")
    rng = np.random.default_rng(8)
    samples = []
    for i in range(600):
        n = int(rng.integers(4, 400))
        kind = i % 3
        if kind == 0:
            sample = rng.random(n)
        elif kind == 1:
            sample = rng.integers(0, int(rng.integers(2, 6)), n).astype(np.float64)
        else:
            sample = np.concatenate([rng.normal(0, 1, n // 2), rng.normal(4, 1, n - n // 2)])
        samples.append(sample.tolist())
    code = (
        "import json, sys, numpy, diptest\n"
        "print(json.dumps([float(diptest.dipstat(numpy.asarray(s))) for s in json.load(sys.stdin)]))\n"
    )
    reference = json.loads(
        subprocess.run(
            [str(python), "-c", code], input=json.dumps(samples), capture_output=True, text=True, check=True
        ).stdout
    )
    ours = [dip_statistic(s) for s in samples]
    assert ours == pytest.approx(reference, abs=1e-9)
