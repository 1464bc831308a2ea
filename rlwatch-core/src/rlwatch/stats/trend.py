"""Trend statistics of a short window: Mann-Kendall z score and Theil-Sen slope.

One O(n^2) pass over all pairs serves both; meant for a few dozen values and
run only when a detector's O(1) pre-check asks for it.
"""

from __future__ import annotations

import math
from typing import Any

_PAIRS: dict[int, tuple[Any, Any, Any]] = {}


def _pairs(n: int) -> tuple[Any, Any, Any]:
    """Cached (i, j, j - i) index arrays of all pairs i < j of a window."""
    import numpy as np  # deferred: keeps `import rlwatch` light
    got = _PAIRS.get(n)
    if got is None:
        i, j = np.triu_indices(n, 1)
        got = (i, j, (j - i).astype(np.float64))
        if len(_PAIRS) < 64:
            _PAIRS[n] = got
    return got


def trend_statistics(x: Any) -> tuple[float, float]:
    """Mann-Kendall z score and Theil-Sen slope of a short series.

    One pass over all pairs serves both statistics (O(n^2), meant for a few
    dozen values, run only when a detector's O(1) pre-check asks for it).

    Args:
        x: 1-D sequence of finite floats.

    Returns:
        ``(z, slope)``: the Mann-Kendall normal score with continuity and tie
        corrections (z < 0: decreasing) and the Theil-Sen slope per step.
        ``(0.0, 0.0)`` for fewer than 3 values.
    """
    import numpy as np  # deferred: keeps `import rlwatch` light
    a = np.asarray(x, dtype=np.float64)
    n = a.size
    if n < 3:
        return 0.0, 0.0
    i, j, gap = _pairs(n)
    d = a[j] - a[i]
    s = float(np.count_nonzero(d > 0.0)) - float(np.count_nonzero(d < 0.0))
    slope = float(np.median(d / gap))
    var = n * (n - 1) * (2 * n + 5) / 18.0
    ties = n - np.unique(a).size
    if ties:
        # exact tie correction needs group sizes; only then pay for them
        _, counts = np.unique(a, return_counts=True)
        t = counts[counts > 1].astype(np.float64)
        var -= float((t * (t - 1) * (2 * t + 5)).sum()) / 18.0
    if var <= 0.0 or s == 0.0:
        return 0.0, slope
    z = (s - 1.0 if s > 0 else s + 1.0) / math.sqrt(var)
    return z, slope
