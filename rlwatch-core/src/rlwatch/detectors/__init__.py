"""rlwatch's detectors: one module each, registered through the ``rlwatch_detectors`` hook.

`rlwatch.builtins` lists the built-in detector modules in the order they are
registered (and documented); a third-party detector is a module of its own
registered through an entry point. The shared pieces:

* `base`: the `Detector` interface and `DetectorConfig` (the options every
  detector has);
* `bands`: `LevelWatch` (bands around a rolling baseline with persistence)
  and `BandOptions` (its options, declared once);
* `wording`: how level detectors word alerts and summaries.
"""

from __future__ import annotations

from rlwatch.detectors.base import Detector, DetectorConfig

__all__ = ["Detector", "DetectorConfig"]
