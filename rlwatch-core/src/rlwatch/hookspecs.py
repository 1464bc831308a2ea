"""Every rlwatch plugin hook, in one place.

Plugins are modules or objects with functions marked ``@rlwatch.hookimpl``,
registered through the ``rlwatch`` entry-point group::

    [project.entry-points.rlwatch]
    my_plugin = "my_package.rlwatch_plugin"

The core loads each entry point on its own; one that fails to import or
register is logged and skipped. ``RLWATCH_DISABLE_PLUGINS=1`` skips all of
them (``RLWATCH_DISABLE_PLUGINS=name,other`` skips the named ones). The
built-in detectors and the console channel are registered through these same
hooks (`rlwatch.builtins`).

Unless a hook says otherwise: it is called on the thread that called the
public API (usually the training thread), only on the process that writes
(global rank 0 by default), every implementation is called in isolation (an
exception in one is logged and skipped; the others still run), and all
results are collected.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from rlwatch.alerts import Alert
    from rlwatch.channels.base import Channel
    from rlwatch.config import RLWatchConfig
    from rlwatch.core import RLWatch
    from rlwatch.detectors.base import Detector

PROJECT = "rlwatch"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def rlwatch_detectors() -> list[type[Detector]]:
    """Return detector classes to add to every monitor.

    Called once per process when the plugin manager is built, and the classes
    are cached. Each class's ``config_class`` becomes the top-level config
    section named by its ``id``. A second class with an id already taken is
    logged and ignored (the first registered wins; built-ins register first).
    """


@hookspec
def rlwatch_config_sections() -> dict[str, type]:
    """Return extra config sections as ``{"dotted.path": dataclass}``.

    Called by `rlwatch.load_config` (any thread). rlwatch-notify returns e.g.
    ``{"alerts.slack": SlackConfig}``. Field metadata is honoured by the
    loader: ``env`` (name of an environment variable that sets the field),
    ``secret`` (True: redacted everywhere), ``help`` (one line for docs).
    A dataclass may define ``validate(self) -> None`` raising
    `rlwatch.config.ConfigError`; that error is NOT swallowed: it reaches the
    user at attach/load time, as bad configuration must.
    """
    ...


@hookspec
def rlwatch_channels(config: RLWatchConfig) -> list[Channel]:
    """Return channel instances built from the resolved configuration.

    Called once per monitor in `RLWatch.start()`, on the caller's thread.
    Return only channels that are configured and enabled. Raising
    `rlwatch.config.ConfigError` aborts start with that message; any other
    exception is logged and the plugin's channels are skipped.
    """
    ...


@hookspec(firstresult=True)
def rlwatch_adapt_trainer(monitor: RLWatch, trainer: Any) -> bool | None:
    """Wire `monitor` into a framework object passed to ``attach(trainer=...)``.

    Return True when this plugin recognised and adapted the object (the first
    True wins and no other adapter is asked), None when it is not yours.
    Exceptions are logged and the next plugin is asked.
    """


@hookspec(firstresult=True)
def rlwatch_detect_framework() -> str | None:
    """Return a framework name (``"trl"``, ``"lightning"``, ...) if it is in use.

    Called by ``attach(framework="auto")``. Must be cheap and must not import
    the framework: look in ``sys.modules``. First non-None result wins.
    """


@hookspec(firstresult=True)
def rlwatch_detect_rank() -> tuple[int, int] | None:
    """Return ``(global_rank, world_size)`` when the plugin knows them better.

    Called once per monitor at start, before the environment variables
    RANK / WORLD_SIZE are consulted. First non-None result wins.
    """


@hookspec
def rlwatch_alert(alert: Alert, status: str, reason: str, monitor: RLWatch) -> None:
    """Observe every alert after the alert manager decided its fate.

    ``status`` is ``"sent"`` or ``"suppressed"`` (``reason`` then says why:
    cooldown, cap, ...). Called on the thread that raised the alert (the
    training thread, or the timer thread for time-based detectors); keep it
    cheap. Return values are ignored.
    """


@hookspec
def rlwatch_run_started(monitor: RLWatch) -> None:
    """Called once when a monitor starts (after its run row is written)."""


@hookspec
def rlwatch_run_finished(monitor: RLWatch, status: str) -> None:
    """Called once when a monitor stops; ``status`` is finished or crashed.

    Called before the monitor flushes, while it still accepts steps, so an
    adapter can drain work in flight here (rlwatch-jax waits for pending JAX
    callbacks). Notification channels are drained after this hook.
    """


@hookspec
def rlwatch_cli_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add subcommands to the ``rlwatch`` command line.

    Called when the CLI builds its parser. Register with
    ``parser.set_defaults(func=handler)``; the handler receives the parsed
    ``argparse.Namespace`` and returns an exit code.
    """
