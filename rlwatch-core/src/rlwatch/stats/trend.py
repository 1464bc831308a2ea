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
    z = _z_score(a, d)
    q = d / gap
    m = q.size
    # the median by partition (np.median sorts and checks for NaN: 3x slower at this size)
    if m % 2:
        slope = float(np.partition(q, m // 2)[m // 2])
    else:
        part = np.partition(q, (m // 2 - 1, m // 2))
        slope = 0.5 * float(part[m // 2 - 1] + part[m // 2])
    return z, slope


def mann_kendall_z(x: Any) -> float:
    """The Mann-Kendall z score of `trend_statistics` alone (no slope: cheaper)."""
    import numpy as np  # deferred: keeps `import rlwatch` light
    a = np.asarray(x, dtype=np.float64)
    if a.size < 3:
        return 0.0
    i, j, _ = _pairs(a.size)
    return _z_score(a, a[j] - a[i])


def _z_score(a: Any, d: Any) -> float:
    """Mann-Kendall z of series `a` from its pairwise differences `d` (later minus earlier)."""
    import numpy as np  # deferred: keeps `import rlwatch` light
    n = a.size
    pos = int(np.count_nonzero(d > 0.0))
    neg = int(np.count_nonzero(d < 0.0))
    s = float(pos - neg)
    var = n * (n - 1) * (2 * n + 5) / 18.0
    if pos + neg < d.size:
        # a zero difference means tied values; only then pay for the exact tie correction
        # tie group sizes from the sorted values (np.unique would do the same, but its first call
        # in a process pays a ~7 ms lazy import inside numpy, on the training thread)
        ordered = np.sort(a)
        edges = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
        counts = np.diff(np.concatenate(([0], edges, [n])))
        t = counts[counts > 1].astype(np.float64)
        var -= float((t * (t - 1) * (2 * t + 5)).sum()) / 18.0
    if var <= 0.0 or s == 0.0:
        return 0.0
    return (s - 1.0 if s > 0 else s + 1.0) / math.sqrt(var)
