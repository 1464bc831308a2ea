"""Which detectors a step concerns: only those whose inputs were logged at it.

A training loop logs the same metric names step after step, so the answer is
cached per set of names: routing costs one tuple and one dict lookup per step,
and a detector whose metrics are absent (no rewards array, no completion
lengths) is not called at all. That keeps `log_step` cheap for the common
run that logs a handful of scalars.
"""

from __future__ import annotations

from typing import Any

from rlwatch.detectors.base import Detector

MAX_SHAPES = 64
"""Distinct sets of metric names remembered; a run past that routes each step afresh (correct, slower)."""


class Router:
    """The detectors to call for a step, by the names logged at it.

    A detector is called when one of its declared `metrics` or `arrays` is
    present, on every step when it says ``every_step`` or declares no inputs
    (a plugin that did not say what it reads), and never when it says
    ``per_step`` is False (it works from the clock, not from values).

    Args:
        detectors: The run's detectors, in the order they must run.
    """

    __slots__ = ("_always", "_cache", "_detectors", "_inputs")

    def __init__(self, detectors: list[Detector[Any]]) -> None:
        self._detectors = [d for d in detectors if type(d).per_step]
        self._inputs: list[tuple[frozenset[str], frozenset[str]]] = [
            (frozenset(type(d).metrics), frozenset(type(d).arrays)) for d in self._detectors
        ]
        self._always = [type(d).every_step or not (scalars or arrays)
                        for d, (scalars, arrays) in zip(self._detectors, self._inputs, strict=True)]
        self._cache: dict[tuple[Any, ...], list[Detector[Any]]] = {}

    def route(self, values: dict[str, float], arrays: dict[str, Any]) -> list[Detector[Any]]:
        """The detectors concerned by a step with these scalar and array names, in run order."""
        # a key of names, or of two tuples of names when arrays came too: the two kinds never compare equal
        key: tuple[Any, ...] = (tuple(values), tuple(arrays)) if arrays else tuple(values)
        found = self._cache.get(key)
        if found is None:
            routes = zip(self._detectors, self._inputs, self._always, strict=True)
            found = [d for d, (scalars, arrays_read), always in routes
                     if always or not scalars.isdisjoint(values) or not arrays_read.isdisjoint(arrays)]
            if len(self._cache) < MAX_SHAPES:
                self._cache[key] = found
        return found
