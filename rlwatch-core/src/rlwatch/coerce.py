"""Turn whatever a training loop passes into float64 values, never raising.

Numbers (Python, numpy, 0-d arrays, torch tensors on any device, jax arrays)
become ``float``; ``rewards``/``advantages`` become float64 ndarrays. Anything
unusable becomes `UNUSABLE`, and the caller counts and warns about it.
"""

from __future__ import annotations

import math
from typing import Any

UNUSABLE = object()
"""Sentinel returned for values that cannot be read as numbers."""

MAX_ARRAY_SIZE = 1_000_000
"""Arrays larger than this are subsampled (evenly) rather than copied whole."""

_NUMERIC_KINDS = frozenset("biuf")


def to_float(value: Any) -> Any:
    """Coerce one scalar to float, or return `UNUSABLE`.

    Python ints beyond float range are unusable (not infinite: they are not
    overflowed measurements, they are bugs upstream).
    """
    t = type(value)
    if t is float:
        return value
    if t is int or t is bool:
        try:
            return float(value)
        except OverflowError:
            return UNUSABLE
    if isinstance(value, (str, bytes, bytearray)):
        return UNUSABLE
    try:
        return _tensor_like_to_float(value)
    except Exception:  # noqa: BLE001 - hostile __float__/__array__ must not escape
        return UNUSABLE


def _tensor_like_to_float(value: Any) -> Any:
    module = type(value).__module__
    if module == "numpy":
        # numpy is already imported when the caller hands us numpy values, so
        # importing it here costs nothing; `import rlwatch` itself stays light.
        import numpy as np

        if isinstance(value, (np.floating, np.integer, np.bool_)):
            return float(value)
    if module.startswith("torch"):
        if value.numel() != 1 or value.is_complex():
            return UNUSABLE
        return float(value.detach().float().cpu().item())
    if module == "numpy" or module.startswith(("jax", "jaxlib")):
        import numpy as np

        arr = np.asarray(value)
        if arr.size != 1 or arr.dtype.kind not in _NUMERIC_KINDS:
            return UNUSABLE
        return float(arr.reshape(()))
    if isinstance(value, complex):
        return UNUSABLE
    if hasattr(value, "__float__"):
        out = float(value)
        return out if type(out) is float else UNUSABLE
    return UNUSABLE


def to_array(value: Any) -> Any:
    """Coerce an array-like to a float64 ndarray (1-D or 2-D), or `UNUSABLE`.

    2-D input is kept (groups x samples). Higher dimensions are flattened.
    Empty arrays are unusable.
    """
    import numpy as np

    try:
        module = type(value).__module__
        if module.startswith("torch"):
            value = value.detach().float().cpu().numpy()
        arr = np.asarray(value)
        if arr.dtype.kind not in _NUMERIC_KINDS or arr.size == 0:
            return UNUSABLE
        if arr.ndim == 0:
            arr = arr.reshape(1)
        elif arr.ndim > 2:
            arr = arr.reshape(-1)
        if arr.size > MAX_ARRAY_SIZE:
            flat = arr.reshape(-1)
            arr = flat[:: math.ceil(flat.size / MAX_ARRAY_SIZE)]
        return np.asarray(arr, dtype=np.float64)
    except Exception:  # noqa: BLE001 - ragged lists, hostile __array__, ...
        return UNUSABLE


def to_step(value: Any) -> int | None:
    """Coerce a step to a non-negative int, or None when it is unusable."""
    if type(value) is int:
        return value if 0 <= value < 2**63 else None
    f = to_float(value)
    if f is UNUSABLE or not math.isfinite(f) or f < 0 or f >= 2**63:
        return None
    return int(f)
