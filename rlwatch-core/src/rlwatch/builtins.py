"""rlwatch's own plugins: the built-in detectors and the console channel.

They are registered through the same hooks as third-party plugins (each
module below implements ``rlwatch_detectors`` or ``rlwatch_channels``), so
the plugin path is the tested path. Order matters: detectors run, and are
documented, in this order.

Adding a built-in detector is one new module under ``rlwatch/detectors/``
plus one line here.
"""

from __future__ import annotations

BUILTIN_PLUGINS: tuple[str, ...] = (
    "rlwatch.detectors.entropy_collapse",
    "rlwatch.detectors.entropy_explosion",
    "rlwatch.detectors.kl_explosion",
    "rlwatch.detectors.reward_hacking",
    "rlwatch.detectors.advantage_variance",
    "rlwatch.detectors.loss_nan",
    "rlwatch.detectors.gradient_norm_spike",
    "rlwatch.detectors.reward_mean_drift",
    "rlwatch.detectors.degenerate_groups",
    "rlwatch.detectors.length_pathology",
    "rlwatch.detectors.stalled",
    "rlwatch.channels.console",
)
"""Module names of the built-in plugins, in registration order."""
