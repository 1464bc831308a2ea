"""Hartigan & Hartigan's dip test of unimodality, in pure Python and numpy.

The dip of a sample is the sup-distance between its empirical distribution
function F and the closest unimodal distribution function (convex up to the
mode, concave after it, an atom allowed at the mode). It is computed here
exactly, with the greatest-convex-minorant / least-concave-majorant iteration
described in J. A. Hartigan and P. M. Hartigan, "The Dip Test of Unimodality",
Annals of Statistics 13(1), 1985, section 3:

1. start with the modal interval [x_L, x_U] = [x_1, x_n] and D = 0;
2. take the GCM G and the LCM L of F on [x_L, x_U];
3. d = the largest vertical distance between G and L (attained at a knot);
   if d <= D, stop: the dip is D/2;
4. if d is attained at a GCM knot g, the new interval is [g, first LCM knot
   >= g]; if at an LCM knot l, it is [last GCM knot <= l, l];
5. D = max(D, sup|G - F| left of the new interval, sup|L - F| right of it);
6. repeat from 2 on the new interval.

The D of these steps is twice the dip. The code counts in samples, so it
carries 2n times the dip and divides at the end; the result is the dip itself
(not twice it), in [1/(2n), 1/4].

The p-value comes from a table of null quantiles of sqrt(n)*D under the
uniform distribution (the least favourable unimodal null), simulated by
``scripts/generate_dip_table.py`` with this very implementation and shipped as
``dip_null_quantiles.json`` next to this module. The table is read lazily on
the first p-value, so ``import rlwatch.stats`` stays cheap.
"""

from __future__ import annotations

import bisect
import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    # typing only: importing numpy.typing costs ~1 ms, paid by a live monitor's first dip test
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

__all__ = ["DipResult", "dip_statistic", "dip_test"]

_TABLE_FILE = "dip_null_quantiles.json"

# Stopping slack, in counts: d and D are sums of integer counts and linear
# interpolations, so a genuine difference is far larger than rounding error.
_EPS_COUNTS = 1e-9

# Recursion guard for the quickhull fast path (Python's limit is ~1000).
_MAX_QUICKHULL_DEPTH = 64

# Hull points the iteration may recompute in total before it switches to the
# linear-time links (see _dip_counts).
_HULL_WORK_PER_POINT = 16
_HULL_WORK_SLACK = 1024

# From this sample size on, p-values beyond the table's last quantile come
# from an exponential tail; below it D is coarsely discrete with a hard
# maximum near the last quantile, and p is floored at the table's last tail.
_TAIL_FROM_N = 30

# Up to this many distinct values the links route is the faster one.
_LINKS_UP_TO = 200

# Below this many points a plain Python loop beats numpy's per-call overhead.
_SMALL_HULL = 48


@dataclass(frozen=True, slots=True)
class DipResult:
    """Result of :func:`dip_test`.

    Attributes:
        dip: The dip statistic D (not 2D), in [1/(2n), 1/4]; NaN when the
            sample had no finite value.
        p_value: Probability under the uniform null of a dip at least this
            large, interpolated in the shipped null table; 1.0 when n < 4 or
            the sample is constant.
    """

    dip: float
    p_value: float


def dip_statistic(x: npt.ArrayLike) -> float:
    """Return the exact dip D of a sample (non-finite values dropped).

    Args:
        x: Numbers of any shape and real dtype (flattened).

    Returns:
        D in [1/(2n), 1/4] where n counts the finite values; a constant
        sample gives 1/(2n) by convention; NaN for an empty sample.
    """
    return _dip_and_size(x)[0]


def dip_test(x: npt.ArrayLike) -> DipResult:
    """Hartigan's dip test of unimodality.

    Args:
        x: Numbers of any shape and real dtype (flattened). NaN and +-Inf
            are dropped first.

    Returns:
        ``DipResult(dip, p_value)``. n < 4 or a constant sample gives
        p_value 1.0. Beyond the table's last quantile (p < 0.001) the p-value
        follows a conservative exponential tail for n >= 30, and is floored
        at 0.001 for smaller n.

    Raises:
        TypeError: if ``x`` is not numeric (e.g. strings or complex).
    """
    dip, n, distinct = _dip_and_size(x)
    if n < 4 or distinct < 2:
        return DipResult(dip, 1.0)
    return DipResult(dip, _null_table().p_value(dip, n))


# ---------------------------------------------------------------------------
# The statistic


def _dip_and_size(x: npt.ArrayLike) -> tuple[float, int, int]:
    """Return (D, number of finite values, number of distinct values)."""
    sample = _finite_sorted(x)
    n = int(sample.size)
    if n == 0:
        return math.nan, 0, 0
    # Collapse ties: v holds the distinct values, below[j] counts samples
    # strictly below v[j] (F(v_j-) in counts) and upto[j] those <= v[j].
    is_new = np.empty(n, dtype=bool)
    is_new[0] = True
    np.not_equal(sample[1:], sample[:-1], out=is_new[1:])
    first = np.flatnonzero(is_new)
    distinct = int(first.size)
    if distinct == 1:
        return 1.0 / (2 * n), n, 1
    values = sample[first]
    # Affine normalisation to [0, 1]: the dip is invariant under it, and it
    # keeps the cross products below finite whatever the data's scale.
    scale = max(abs(float(values[0])), abs(float(values[-1])))
    values = values / scale
    values = (values - values[0]) / (values[-1] - values[0])
    below = first.astype(np.float64)
    upto = np.empty_like(below)
    upto[:-1] = below[1:]
    upto[-1] = n
    if np.any(values[1:] <= values[:-1]):
        # Distinct values so close that normalising merged some of them
        # (closer than float resolution, ~1e-16 of the range): merge them.
        keep = np.empty(distinct, dtype=bool)
        keep[0] = True
        np.greater(values[1:], values[:-1], out=keep[1:])
        last = np.append(np.flatnonzero(keep)[1:] - 1, distinct - 1)
        values, below, upto = values[keep], below[keep], upto[last]
        if values.size == 1:
            return 1.0 / (2 * n), n, 1
    counts = _dip_counts(values, below, upto)
    # At least one jump of F is not at the mode once there are two distinct
    # values, and a continuous G misses it by half its size: 2nD >= 1.
    return max(counts, 1.0) / (2 * n), n, distinct


def _finite_sorted(x: npt.ArrayLike) -> FloatArray:
    """Flatten to float64, drop non-finite values and sort."""
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        if array.dtype.kind == "c":
            raise TypeError("dip_test needs real numbers, got complex values")
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError) as error:
            raise TypeError(f"dip_test needs numbers, got dtype {array.dtype}") from error
    flat = np.ravel(array).astype(np.float64)  # always a fresh array: sorted in place
    finite = np.isfinite(flat)
    if not finite.all():
        flat = flat[finite]
    flat.sort()
    return flat


def _dip_counts(values: FloatArray, below: FloatArray, upto: FloatArray) -> float:
    """Hartigan's iteration on distinct sorted ``values``; returns 2nD.

    The GCM is taken of the points (v_j, below_j), the left limits of F, and
    the LCM of (v_j, upto_j), the right values: a continuous minorant must
    pass under F's left limit at each jump, a continuous majorant over its
    right value.
    """
    size = values.size
    negated_upto = -upto  # the LCM of y is minus the GCM of -y
    lo, hi = 0, size - 1
    # Two routes to the hulls, with identical results. Small samples: the
    # paper's linear scheme (one pass of links, then walks along them) costs
    # less than numpy's per-call overhead. Larger ones: vectorised hulls,
    # recomputing only the pieces that change; should an input make those
    # add up to more than linear work, switch to the links after all.
    hull_work, hull_budget = 0, _HULL_WORK_PER_POINT * size + _HULL_WORK_SLACK
    links: _HullLinks | None = None
    if size <= _LINKS_UP_TO:
        links = _HullLinks(values, below, negated_upto)
        gcm, lcm = links.gcm(lo, hi), links.lcm(lo, hi)
    else:
        gcm = _lower_hull(values, below, lo, hi)
        lcm = _lower_hull(values, negated_upto, lo, hi)
    dip = 0.0
    while True:
        gcm_x, gcm_y = values[gcm], below[gcm]
        lcm_x, lcm_y = values[lcm], upto[lcm]
        # L - G is piecewise linear, so its maximum is at a knot of one of them.
        gap_at_gcm = np.interp(gcm_x, lcm_x, lcm_y) - gcm_y
        gap_at_lcm = lcm_y - np.interp(lcm_x, gcm_x, gcm_y)
        at_gcm = int(np.argmax(gap_at_gcm))
        at_lcm = int(np.argmax(gap_at_lcm))
        widest = max(float(gap_at_gcm[at_gcm]), float(gap_at_lcm[at_lcm]))
        if widest <= dip + _EPS_COUNTS:
            break
        if gap_at_gcm[at_gcm] >= gap_at_lcm[at_lcm]:
            new_lo = gcm[at_gcm]
            new_hi = lcm[bisect.bisect_left(lcm, new_lo)]
        else:
            new_hi = lcm[at_lcm]
            new_lo = gcm[bisect.bisect_right(gcm, new_hi) - 1]
        # Left of the new modal interval the fit is the GCM: its largest
        # miss is under F's right values; right of it, the LCM over F's left
        # limits. The slices are disjoint across iterations: O(n) in total.
        if new_lo > lo:
            miss = upto[lo:new_lo] - np.interp(values[lo:new_lo], gcm_x, gcm_y)
            dip = max(dip, float(miss.max()))
        if new_hi < hi:
            span = slice(new_hi + 1, hi + 1)
            miss = np.interp(values[span], lcm_x, lcm_y) - below[span]
            dip = max(dip, float(miss.max()))
        if new_lo == new_hi or (new_lo == lo and new_hi == hi):
            break
        lo, hi = new_lo, new_hi
        if links is None and hull_work > hull_budget:
            links = _HullLinks(values, below, negated_upto)
        if links is None:
            gcm = _shrink_gcm(values, below, gcm, lo, hi)
            lcm = _shrink_lcm(values, negated_upto, lcm, lo, hi)
            hull_work += hi - lo
        else:
            gcm = links.gcm(lo, hi)
            lcm = links.lcm(lo, hi)
    return dip


def _shrink_gcm(values: FloatArray, heights: FloatArray, knots: list[int], lo: int, hi: int) -> list[int]:
    """GCM knots on [lo, hi] from the knots on a wider range.

    ``lo`` is a knot of the wider hull. A knot of the hull of a point set
    stays a knot of the hull of any subset holding it, and the points between
    two kept consecutive knots stay above their chord, so only the piece from
    the last kept knot to ``hi`` has to be recomputed.
    """
    start = bisect.bisect_left(knots, lo)
    stop = bisect.bisect_right(knots, hi)
    kept = knots[start:stop]
    if kept[-1] == hi:
        return kept
    return kept[:-1] + _lower_hull(values, heights, kept[-1], hi)


def _shrink_lcm(values: FloatArray, negated: FloatArray, knots: list[int], lo: int, hi: int) -> list[int]:
    """LCM knots on [lo, hi] (``hi`` is a knot of the wider LCM); see _shrink_gcm."""
    start = bisect.bisect_left(knots, lo)
    stop = bisect.bisect_right(knots, hi)
    kept = knots[start:stop]
    if kept[0] == lo:
        return kept
    return _lower_hull(values, negated, lo, kept[0]) + kept[1:]


class _HullLinks:
    """Every prefix GCM and suffix LCM at once, as linked lists.

    One monotone-chain pass leaves, for each point j, the knot before j on the
    GCM of the points up to j; the GCM of [lo, hi] is then the walk back from
    hi, provided lo is a knot of the GCM of [0, hi]. That holds for every
    modal interval of the iteration: the first starts at 0, and each new lo
    is a knot of the previous GCM, hence of the GCM of any subset holding it.
    The LCM side is the mirror image.
    """

    def __init__(self, values: FloatArray, below: FloatArray, negated_upto: FloatArray) -> None:
        self.values, self.below, self.negated_upto = values, below, negated_upto
        self.before = _chain_links(values.tolist(), below.tolist())
        # The suffix hulls are prefix hulls of the mirrored points (-x, y).
        last = values.size - 1
        mirrored = _chain_links((-values[::-1]).tolist(), negated_upto[::-1].tolist())
        self.after = [last - mirrored[last - j] for j in range(values.size)]

    def gcm(self, lo: int, hi: int) -> list[int]:
        """GCM knots on [lo, hi]."""
        knots = [hi]
        while knots[-1] > lo:
            knots.append(self.before[knots[-1]])
        if knots[-1] != lo:  # cannot happen (see the class docstring); stay exact anyway
            return _monotone_chain(self.values, self.below, lo, hi)
        knots.reverse()
        return knots

    def lcm(self, lo: int, hi: int) -> list[int]:
        """LCM knots on [lo, hi]."""
        knots = [lo]
        while knots[-1] < hi:
            knots.append(self.after[knots[-1]])
        if knots[-1] != hi:  # cannot happen; see gcm
            return _monotone_chain(self.values, self.negated_upto, lo, hi)
        return knots


def _chain_links(xs: list[float], ys: list[float]) -> list[int]:
    """Monotone chain over all points; returns the knot before each point."""
    stack: list[int] = []
    before = [0] * len(xs)
    for j, (xj, yj) in enumerate(zip(xs, ys, strict=True)):
        while len(stack) >= 2:
            a, b = stack[-2], stack[-1]
            # Drop b when it is on or above the segment a-j.
            if (ys[b] - ys[a]) * (xj - xs[a]) >= (yj - ys[a]) * (xs[b] - xs[a]):
                stack.pop()
            else:
                break
        before[j] = stack[-1] if stack else j
        stack.append(j)
    return before


class _HullBudgetExceeded(Exception):
    """Quickhull is doing more work than the linear-time chain would."""


def _lower_hull(values: FloatArray, heights: FloatArray, lo: int, hi: int) -> list[int]:
    """Indices of the knots of the greatest convex minorant on [lo, hi].

    Collinear points are not knots. The vectorised quickhull below is the
    fast path (a few numpy calls per knot); if a pathological input makes it
    scan too much, the linear-time monotone chain takes over, so the cost
    never exceeds a constant times (hi - lo).
    """
    if hi - lo < 2:
        return [lo, hi] if hi > lo else [lo]
    knots = [lo]
    budget = [8 * (hi - lo) + 256]
    try:
        _quickhull(values, heights, lo, hi, knots, budget, 0)
    except _HullBudgetExceeded:
        return _monotone_chain(values, heights, lo, hi)
    return knots


def _quickhull(
    values: FloatArray,
    heights: FloatArray,
    lo: int,
    hi: int,
    knots: list[int],
    budget: list[int],
    depth: int,
) -> None:
    """Append the lower-hull knots in (lo, hi] to ``knots``, left to right."""
    while hi - lo >= 2:
        if hi - lo <= _SMALL_HULL:
            knots.extend(_monotone_chain(values, heights, lo, hi)[1:])
            return
        budget[0] -= hi - lo
        if budget[0] < 0 or depth > _MAX_QUICKHULL_DEPTH:
            raise _HullBudgetExceeded
        x0, y0 = values[lo], heights[lo]
        # Cross product sign: negative means strictly below the chord lo-hi;
        # the most negative point is the farthest below, hence a hull knot.
        cross = (heights[lo + 1 : hi] - y0) * (values[hi] - x0) - (heights[hi] - y0) * (values[lo + 1 : hi] - x0)
        lowest = int(np.argmin(cross))
        if cross[lowest] >= 0.0:
            break
        pivot = lo + 1 + lowest
        _quickhull(values, heights, lo, pivot, knots, budget, depth + 1)
        lo = pivot  # the right half continues in this frame (no recursion)
    knots.append(hi)


def _monotone_chain(values: FloatArray, heights: FloatArray, lo: int, hi: int) -> list[int]:
    """Lower hull knots on [lo, hi] by Andrew's monotone chain, O(hi - lo)."""
    xs = values[lo : hi + 1].tolist()
    ys = heights[lo : hi + 1].tolist()
    # The hull lives in the first `top` slots of three parallel lists.
    hull_x = xs[:]
    hull_y = ys[:]
    hull_i = list(range(lo, hi + 1))
    top = 2
    for j in range(2, len(xs)):
        xj = xs[j]
        yj = ys[j]
        # Drop the last knot while it is on or above the segment from the
        # knot before it to the new point.
        while top >= 2:
            ax = hull_x[top - 2]
            ay = hull_y[top - 2]
            if (hull_y[top - 1] - ay) * (xj - ax) >= (yj - ay) * (hull_x[top - 1] - ax):
                top -= 1
            else:
                break
        hull_x[top] = xj
        hull_y[top] = yj
        hull_i[top] = lo + j
        top += 1
    return hull_i[:top]


# ---------------------------------------------------------------------------
# The p-value


class _NullTable:
    """Null quantiles of sqrt(n)*D on a grid of n and probabilities."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.probabilities = np.asarray(document["probabilities"], dtype=np.float64)
        self.sizes: list[int] = [int(n) for n in document["n"]]
        self.rows: list[FloatArray] = [np.asarray(row, dtype=np.float64) for row in document["quantiles"]]
        # The asymptotic row closes the grid: used as is for every n beyond it.
        self.sizes.append(int(document["asymptotic"]["n"]))
        self.rows.append(np.asarray(document["asymptotic"]["quantiles"], dtype=np.float64))
        self.floor = round(1.0 - float(self.probabilities[-1]), 12)

    def row(self, n: int) -> FloatArray:
        """Quantiles for sample size n, linear in 1/sqrt(n) between rows."""
        i = bisect.bisect_left(self.sizes, n)
        if i == len(self.sizes):
            return self.rows[-1]
        if self.sizes[i] == n or i == 0:
            return self.rows[i]
        lower_n, upper_n = self.sizes[i - 1], self.sizes[i]
        # sqrt(n)*D approaches its limit roughly linearly in 1/sqrt(n).
        t = (lower_n**-0.5 - n**-0.5) / (lower_n**-0.5 - upper_n**-0.5)
        row: FloatArray = self.rows[i - 1] + t * (self.rows[i] - self.rows[i - 1])
        return row

    def p_value(self, dip: float, n: int) -> float:
        """P(sqrt(n)*D >= observed) under the uniform null."""
        row = self.row(n)
        statistic = math.sqrt(n) * dip
        if statistic > row[-1] and n >= _TAIL_FROM_N:
            return self._tail(statistic, row)
        # For small n the statistic is discrete and quantiles repeat. Keep the
        # lowest probability of each repeated quantile: at an attainable value
        # s that is about P(S < s), so the p-value is P(S >= s), as it should
        # be, and np.interp sees a strictly increasing abscissa.
        first_of_run = np.append(True, row[1:] > row[:-1])
        below_probability = float(
            np.interp(
                statistic,
                row[first_of_run],
                self.probabilities[first_of_run],
                left=0.0,
            )
        )
        # Rounded so that 1 - 0.999 reads 0.001 (the table holds 6 digits anyway).
        return max(round(1.0 - below_probability, 12), self.floor)

    def _tail(self, statistic: float, row: FloatArray) -> float:
        """p beyond the last tabulated quantile: an exponential tail.

        log p is extended linearly through the last two tail quantiles (e.g.
        0.99 and 0.999). The dip's own tail is lighter than exponential (it
        is Gaussian-like for large n and D <= 1/4), so this overstates p:
        conservative, continuous at the last quantile and strictly below the
        floor beyond it, so a threshold such as ``p < 0.001`` can still fire.
        """
        # The tabulated tail nearest ten times the last one (0.01 for 0.001).
        tails = np.round(1.0 - self.probabilities[:-1], 12)
        usable = tails > self.floor
        if not usable.any():
            return self.floor
        distance = np.where(usable, np.abs(np.log(np.maximum(tails, 1e-300) / (10.0 * self.floor))), np.inf)
        previous = int(np.argmin(distance))
        step = float(row[-1] - row[previous])
        if step <= 0.0:
            return self.floor
        decay = math.log(float(tails[previous]) / self.floor) / step
        # Kept above 0 (log p stays finite); such dips are beyond any doubt.
        return max(min(self.floor, self.floor * math.exp(-decay * (statistic - float(row[-1])))), 1e-300)


_table: _NullTable | None = None
_table_lock = threading.Lock()


def _null_table() -> _NullTable:
    """Load the shipped table once (lazily, thread-safe)."""
    global _table
    if _table is None:
        with _table_lock:
            if _table is None:
                # Imported here: only the first p-value pays for it.
                import json

                _table = _NullTable(json.loads(_table_text()))
    return _table


def _table_text() -> str:
    """The shipped table's text: read next to this module, through importlib.resources only when zipped.

    importlib.resources costs ~2 ms to import; the first dip test runs on a live monitor's
    worker thread, and a training thread waiting for the GIL would pay for it.
    """
    import os

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), _TABLE_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError:
        from importlib import resources

        return resources.files("rlwatch.stats").joinpath(_TABLE_FILE).read_text("utf-8")
