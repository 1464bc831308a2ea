"""rlwatch plugin hooks of rlwatch-verl (entry point ``verl`` in group ``rlwatch``).

Loaded by rlwatch-core when it builds its plugin manager. Importing this
module is cheap: it never imports veRL.
"""

from __future__ import annotations

import sys

from rlwatch import hookimpl


@hookimpl
def rlwatch_detect_framework() -> str | None:
    """``"verl"`` once veRL is imported (e.g. ``rlwatch.attach()`` in a custom veRL script)."""
    return "verl" if "verl" in sys.modules else None
