"""Shape-preserving downsampling of one metric series for the overview charts.

A 100k-step run cannot be shipped to a browser point by point and still load in
a blink, but plain striding (every n-th point) hides exactly what users look
for: the one spike or the one collapse. So the series is cut into equal buckets
and each bucket keeps its minimum and its maximum, in step order. Every spike
survives, and the drawn envelope is the envelope of the full data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_MAX_POINTS = 2000
"""Points per series above which the overview is downsampled (2 per bucket)."""


def finite_series(
    steps: np.ndarray[Any, Any], values: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Drop the steps where the metric was not logged or is not finite.

    A metric logged every 10th step is NaN in between; keeping those would
    break the line into dots. Non-finite values (NaN loss, Inf) cannot be drawn
    and cannot be sent as JSON; the alerts already mark where they happened.
    """
    mask = np.isfinite(values)
    return steps[mask], values[mask]


def min_max_downsample(
    steps: np.ndarray[Any, Any],
    values: np.ndarray[Any, Any],
    max_points: int = DEFAULT_MAX_POINTS,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Reduce a finite series to at most ``max_points`` points, keeping extremes.

    Args:
        steps: Ascending step numbers.
        values: Finite values, same length as ``steps``.
        max_points: Upper bound of returned points (at least 4).

    Returns:
        ``(steps, values)``: the input itself when it is short enough, else the
        first and last points plus the minimum and maximum of each of
        ``(max_points - 2) // 2`` equal buckets, in step order (a point that is
        both keeps its place once).
    """
    n = len(values)
    max_points = max(4, int(max_points))
    if n <= max_points:
        return steps, values
    n_buckets = (max_points - 2) // 2
    # Equal-count buckets by index: steps are monotone, and equal counts keep
    # the reshape below a single vectorised pass.
    bucket_size = -(-n // n_buckets)
    n_buckets = -(-n // bucket_size)
    padded = n_buckets * bucket_size
    lo = np.full(padded, np.inf)
    hi = np.full(padded, -np.inf)
    lo[:n] = values
    hi[:n] = values
    offsets = np.arange(n_buckets) * bucket_size
    i_min = lo.reshape(n_buckets, bucket_size).argmin(axis=1) + offsets
    i_max = hi.reshape(n_buckets, bucket_size).argmax(axis=1) + offsets
    keep = np.unique(np.concatenate([[0, n - 1], i_min, i_max]))
    return steps[keep], values[keep]
