"""Which logged Lightning keys become which rlwatch metrics.

A LightningModule logs with ``self.log("kl", value)``; rlwatch's detectors
read canonical names (``kl_divergence``). `DEFAULT_NAME_MAP` translates the
usual spellings. Pass ``name_map={"my_key": "entropy"}`` to `RLWatchCallback`
to add or override entries, or map a key to ``None`` to ignore it.

Lookup rules, in order, for each key in ``trainer.callback_metrics``:

1. the key itself (``"train/kl"``);
2. the part after the last ``/`` (``"kl"``), so ``train/``, ``rl/`` and
   similar prefixes need no entries of their own; not for keys under
   ``val``/``valid``/``validation``/``test``/``predict`` prefixes, which are
   not training metrics.

Keys ending in ``_epoch`` are epoch aggregates from an earlier epoch and are
not read per step unless the user's map names them explicitly. Keys that match nothing are ignored unless the callback
was created with ``include_unmapped=True`` (then they are stored as extra
metrics under their own name).
"""

from __future__ import annotations

from collections.abc import Mapping

_ALIASES: dict[str, str] = {
    "entropy": "entropy",
    "kl": "kl_divergence",
    "kl_divergence": "kl_divergence",
    "approx_kl": "kl_divergence",
    "reward": "reward_mean",
    "reward_mean": "reward_mean",
    "reward_std": "reward_std",
    "advantage_std": "advantage_std",
    "grad_norm": "grad_norm",
    "learning_rate": "learning_rate",
    "clip_fraction": "clip_fraction",
    "clipfrac": "clip_fraction",
    "frac_reward_zero_std": "frac_reward_zero_std",
    "completion_length": "completion_length",
}


def _with_step_variants(aliases: Mapping[str, str]) -> dict[str, str]:
    # self.log(name, on_step=True, on_epoch=True) publishes both "name" and
    # "name_step"; either spelling must map the same way.
    out: dict[str, str] = {}
    for key, canonical in aliases.items():
        out[key] = canonical
        out[f"{key}_step"] = canonical
    return out


DEFAULT_NAME_MAP: Mapping[str, str] = _with_step_variants(_ALIASES)
"""Logged key → canonical rlwatch metric name (read-only; copy to extend).

``loss`` is not in the map: it is read from the ``training_step`` output
(``outputs["loss"]``), which exists whether or not the module logs it.
"""


def build_name_map(extra: Mapping[str, str | None] | None) -> dict[str, str | None]:
    """Return the default map updated with the user's entries (theirs win).

    Args:
        extra: user entries; a value of ``None`` removes (ignores) that key.

    Returns:
        A new dict; `DEFAULT_NAME_MAP` is not modified.

    Raises:
        TypeError: when a key or value is not a string (a setup mistake,
            reported when the callback is created, before training starts).
    """
    merged: dict[str, str | None] = dict(DEFAULT_NAME_MAP)
    for key, value in (extra or {}).items():
        if not isinstance(key, str) or not (value is None or isinstance(value, str)):
            raise TypeError(
                f"name_map entries must be str -> str | None, got {key!r}: {value!r}"
            )
        merged[key] = value
    return merged


_NOT_TRAINING = frozenset({"val", "valid", "validation", "test", "predict"})


def resolve(key: str, name_map: Mapping[str, str | None], include_unmapped: bool) -> str | None:
    """Canonical name for a logged key, or None to skip it (see module doc)."""
    if key in name_map:
        return name_map[key]
    if key.endswith("_epoch"):
        return None
    prefix, _, short = key.rpartition("/")
    if prefix and short in name_map:
        if prefix.split("/", 1)[0].lower() in _NOT_TRAINING:
            return None
        return name_map[short]
    return key if include_unmapped else None
