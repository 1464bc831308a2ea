"""The first stop of every logged step: a usable step number and float values, never an exception.

`Intake.read` turns what a training loop passed (``step`` and a mapping of
Python/numpy/torch/jax values) into a step number and plain floats (arrays
for ``rewards`` / ``advantages``). Unusable values are skipped, counted per
name (stored on the run, shown by ``rlwatch diagnose``) and warned about once.
It runs on the training thread for every step: a few dict operations.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from rlwatch.coerce import UNUSABLE, to_array, to_float, to_step
from rlwatch.derive import derive_from_arrays

logger = logging.getLogger("rlwatch")

ARRAY_METRICS = frozenset({"rewards", "advantages"})
"""The metrics that take arrays."""
MAX_NAME = 1024
"""Longer metric names are skipped (they are bugs, not names)."""


class Intake:
    """Step numbering and value coercion of one run.

    Attributes:
        last_step: The highest step seen so far (None before the first).
        skipped: Unusable values skipped so far, by metric name.
    """

    def __init__(self) -> None:
        self.last_step: int | None = None
        self.skipped: dict[str, int] = {}
        self._warned: set[str] = set()

    def read(
        self, step: Any, raw: Mapping[str, Any]
    ) -> tuple[int, bool, dict[str, float], dict[str, Any]] | None:
        """``(step, repeated, values, arrays)``, or None when the step itself is unusable.

        ``repeated`` is True for a step at or before the highest seen (a
        restart from a checkpoint): its values overwrite the stored ones.
        """
        st = step if type(step) is int and 0 <= step < 9_223_372_036_854_775_807 else self._fix_step(step)
        if st is None:
            return None
        last = self.last_step
        repeated = last is not None and st <= last
        if repeated:
            self.warn_once("step", f"rlwatch: step {st} is not after the previous step {last}; "
                                   "values at repeated steps overwrite the stored ones (e.g. after a restart)")
        else:
            self.last_step = st
        values: dict[str, float] = {}
        arrays: dict[str, Any] = {}
        for name, v in raw.items():
            if v is None:
                continue
            if type(v) is float:
                values[name] = v
                continue
            if name in ARRAY_METRICS:
                arr = to_array(v)
                if arr is UNUSABLE:
                    self.skip(name, v)
                else:
                    arrays[name] = arr
                continue
            if type(name) is not str or not name or len(name) > MAX_NAME:
                self.skip(str(name)[:80], v)
                continue
            f = to_float(v)
            if f is UNUSABLE:
                self.skip(name, v)
            else:
                values[name] = f
        if arrays:
            derive_from_arrays(values, arrays)
        return st, repeated, values, arrays

    def _fix_step(self, step: Any) -> int | None:
        if step is None:
            self.warn_once("step-none", "rlwatch: log_step called with step=None; numbering steps 0, 1, 2, ...")
            return 0 if self.last_step is None else self.last_step + 1
        st = to_step(step)
        if st is None:
            self.skip("<step>", step)
        return st

    def skip(self, name: str, value: Any) -> None:
        """Count an unusable value (and warn the first time for its name)."""
        self.skipped[name] = self.skipped.get(name, 0) + 1
        if name not in self._warned:
            kind = type(value).__name__
            hint = "an array" if hasattr(value, "__len__") and not isinstance(value, (str, bytes)) else kind
            self.warn_once(name, f"rlwatch: metric {name!r} has an unusable value ({hint}); it is skipped "
                                 "and counted (see `rlwatch diagnose`). Only rewards/advantages take arrays.")

    def warn_once(self, key: str, message: str) -> None:
        """Log `message` the first time `key` comes up in this run."""
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message)
