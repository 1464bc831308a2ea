"""Which key map reads a source, and the translation of its rows.

The key tables themselves live in `rlwatch.keymaps` (one per framework,
shared with the live adapters); this module only chooses one and applies
it, with two things the tables leave to whoever reads a log:

* Reporter namespaces. transformers' TensorBoard and W&B reporters, and
  OpenRLHF's, write training keys under ``train/`` and evaluation keys under
  ``eval/`` (``train/loss``, ``eval/loss``) while the trainer itself logged
  ``loss`` and ``eval_loss``, the names the key maps know. When the bare
  names match a map better than the logged ones, the namespace is undone
  (``train/x`` -> ``x``, ``eval/x`` -> ``eval_x``, ``test/x`` -> ``test_x``);
  with no map at all, it is undone too.
* ``--map KEY=METRIC`` overrides for one import: the logged KEY (with or
  without its namespace) is stored as METRIC, ahead of the key map;
  ``KEY=`` leaves KEY out.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rlwatch.importers.errors import ImportUsageError
from rlwatch.keymaps import KeyMap, all_keymaps, by_name, usable
from rlwatch.metrics import CANONICAL_ARRAYS

NAMESPACES: tuple[tuple[str, str], ...] = (("train/", ""), ("eval/", "eval_"), ("test/", "test_"))
"""Reporter namespace -> the trainer's own prefix (see the module docstring)."""

ARRAY_METRICS = frozenset(CANONICAL_ARRAYS)
"""Metrics the monitor takes as arrays (per-sample rewards, advantages): kept when logged as lists."""


def bare_key(key: str) -> str:
    """`key` without a reporter namespace (``train/loss`` -> ``loss``)."""
    for namespace, prefix in NAMESPACES:
        if key.startswith(namespace) and len(key) > len(namespace):
            return prefix + key[len(namespace):]
    return key


def parse_overrides(pairs: Iterable[str]) -> dict[str, str]:
    """``["KEY=METRIC", ...]`` as a dict; an empty METRIC means "leave KEY out".

    Raises:
        ImportUsageError: a pair without ``=`` or with an empty KEY.
    """
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, metric = pair.partition("=")
        key, metric = key.strip(), metric.strip()
        if not sep or not key:
            raise ImportUsageError(f"--map expects KEY=METRIC (or KEY= to leave KEY out), got {pair!r}")
        out[key] = metric
    return out


_NUMBERS = (float, int)
_MAX_PLANS = 256


@dataclass
class Translator:
    """Turns a source's logged keys into rlwatch metric names.

    Attributes:
        keymap: The framework's key map, or None when no map matches (every
            key is then stored under its own name).
        unnamespace: Undo reporter namespaces before the key map.
        overrides: ``--map`` pairs (logged key -> metric, ``""`` = drop).
    """

    keymap: KeyMap | None
    unnamespace: bool = False
    overrides: dict[str, str] = field(default_factory=dict)
    _renamed: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _plans: dict[tuple[str, ...], list[tuple[str, int]]] = field(default_factory=dict, init=False, repr=False)

    @property
    def keymap_name(self) -> str:
        """The key map's name, or ``"none"``."""
        return self.keymap.name if self.keymap is not None else "none"

    def __call__(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """One row's logged values as metrics (unusable values left out; NaN kept).

        Rows of a log nearly always repeat the same keys, so the translation
        of a key set is worked out once, by translating a probe row whose
        values say which key they came from, and replayed for every row of
        plain numbers; any other row is translated in full.
        """
        row = list(values.values())
        for value in row:
            if type(value) not in _NUMBERS:
                return self.translate(values)
        keys = tuple(values)
        plan = self._plans.get(keys)
        if plan is None:
            probe = self.translate({key: float(i) for i, key in enumerate(keys)})
            plan = [(name, int(index)) for name, index in probe.items()]
            if len(self._plans) < _MAX_PLANS:
                self._plans[keys] = plan
        return {name: row[index] for name, index in plan}

    def _bare(self, key: str) -> str:
        name = self._renamed.get(key)
        if name is None:
            name = bare_key(key) if self.unnamespace else key
            self._renamed[key] = name
        return name

    def translate(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The full translation of one row: overrides, namespaces, per-sample arrays, the key map."""
        overrides = self.overrides
        forced: dict[str, Any] = {}
        rest: dict[str, Any] = {}
        arrays: dict[str, Any] = {}
        for key, value in values.items():
            bare = self._bare(key)
            if overrides:
                target = overrides.get(key, overrides.get(bare))
                if target is not None:
                    if target and usable(value):
                        forced[target] = value
                    continue
            if bare in ARRAY_METRICS and isinstance(value, list):
                arrays[bare] = value
                continue
            rest[bare] = value
        out = self.keymap.translate(rest) if self.keymap is not None else {k: v for k, v in rest.items() if usable(v)}
        if arrays:
            out.update(arrays)
        if forced:
            out.update(forced)
        return out


MIN_SCORE = 2
"""Signature keys a log must share with a key map for the map to be chosen.

One shared name (``entropy``, ``kl``, ``loss``) is no evidence of a
framework; one is enough when the file format itself names the framework
(a trainer_state.json is transformers', a ``step:N - k:v`` line veRL's).
"""


def _rank(km: KeyMap, score: int, framework_hint: str | None) -> tuple[int, float, bool]:
    # Most signature keys present; then the larger share of the map's signature (an SFT log shares
    # "entropy" with GRPO's map and "mean_token_accuracy" with the offline one: the offline map's
    # signature is smaller, so that one key says more); then the format's framework.
    share = score / len(km.signature) if km.signature else 0.0
    return score, share, km.framework == framework_hint


def choose(
    keys: Collection[str],
    keymap: str | None = None,
    overrides: Mapping[str, str] | None = None,
    framework_hint: str | None = None,
) -> Translator:
    """The translator for a source whose logged keys are `keys`.

    Args:
        keys: Every key the source logged.
        keymap: A key map name to use instead of detecting one (``"none"``:
            store every key under its own name).
        overrides: ``--map`` pairs.
        framework_hint: The framework the file format implies: it lowers the
            evidence needed (see `MIN_SCORE`) and wins ties.

    Raises:
        ImportUsageError: `keymap` names no known key map.
    """
    logged = set(keys)
    bare = {bare_key(k) for k in logged}
    namespaced = bare != logged
    chosen: KeyMap | None = None
    unnamespace = False
    if keymap is not None:
        if keymap != "none":
            chosen = by_name(keymap)
            if chosen is None:
                names = ", ".join(["none", *(km.name for km in all_keymaps())])
                raise ImportUsageError(f"--keymap {keymap!r} is not a known key map; choose one of {names}")
            unnamespace = namespaced and chosen.score(bare) > chosen.score(logged)
        return Translator(chosen, unnamespace, dict(overrides or {}))
    best: tuple[int, float, bool] | None = None
    for km in all_keymaps():
        for candidate, strip in ((logged, False), (bare, True)):
            score = km.score(candidate)
            needed = 1 if framework_hint is not None and km.framework == framework_hint else MIN_SCORE
            if score < needed:
                continue
            rank = _rank(km, score, framework_hint)
            if best is None or rank > best:
                best, chosen, unnamespace = rank, km, strip and namespaced
    if chosen is None:
        # No framework's map: the reporter's namespace still says nothing about the metric
        # (a one-chart W&B export's train/entropy is the entropy).
        unnamespace = namespaced
    return Translator(chosen, unnamespace, dict(overrides or {}))
