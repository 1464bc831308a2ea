"""Every rlwatch plugin hook, in one place.

Plugins are modules or objects with functions marked ``@rlwatch.hookimpl``,
registered through the ``rlwatch`` entry-point group::

    [project.entry-points.rlwatch]
    my_plugin = "my_package.rlwatch_plugin"

rlwatch's own detectors and console channel are registered through these
same hooks (`rlwatch.builtins`). The plugin manager (`rlwatch.plugins`) loads
each entry point on its own (one that fails to import is logged and
skipped), honours ``RLWATCH_DISABLE_PLUGINS=1`` (skip all) and
``RLWATCH_DISABLE_PLUGINS=name,other`` (skip those), and calls hooks through
pluggy.

Common rules, unless a hook says otherwise:

* Raising: every implementation runs inside the boundary guard. An
  exception is logged once (then counted) and that implementation answers
  None; the other implementations still run. `rlwatch.errors.ConfigError`
  is the exception that passes through, to the user, where a hook says so.
* Order: pluggy calls the most recently registered implementation first
  (``tryfirst`` / ``trylast`` adjust it); where results are collected, rlwatch
  reads them in registration order (built-ins first).
* Rank: monitor hooks fire only in processes that record (global rank 0 by
  default; every rank with ``distributed.all_ranks``).

This module is a leaf: it imports nothing of rlwatch at run time, so any
module may import ``hookimpl`` from it.
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
    from rlwatch.storage.protocol import Replicator, Store

PROJECT = "rlwatch"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def rlwatch_detectors() -> list[type[Detector[Any]]]:
    """Return detector classes to add to every monitor.

    When: once per process, the first time the registry is read (building a
    configuration or starting a monitor), on that thread; the classes are
    cached. All results are collected. Each class's ``config_class`` becomes
    the top-level config section named by its ``id`` (YAML, environment,
    ``rlwatch init``, the configuration reference). A second class with an id
    already taken is logged and ignored: the first registered wins, and
    built-ins register first. Raising: logged, that plugin adds no detector.
    """


@hookspec
def rlwatch_config_sections() -> dict[str, type]:
    """Return extra config sections as ``{"dotted.path": dataclass}``.

    When: with `rlwatch_detectors`, once per process, cached. All results are
    collected (the first registration of a path wins). rlwatch-notify returns
    e.g. ``{"alerts.slack": SlackConfig}``. Field metadata is honoured (see
    `rlwatch.options.option`): ``env`` (environment variable), ``secret``
    (redacted everywhere), ``help`` (one line for the docs). A dataclass may
    define ``validate(self) -> None`` raising `rlwatch.errors.ConfigError`;
    that error is not swallowed: it reaches the user at ``attach()`` /
    ``load_config()`` time. Raising in the hook itself: logged, no sections.
    """


@hookspec
def rlwatch_channels(config: RLWatchConfig) -> list[Channel]:
    """Return channel instances built from the resolved configuration.

    When: once per monitor, in `RLWatch.start()`, on the caller's thread (the
    user's setup call). All results are collected. Return only channels that
    are configured and enabled. Raising `rlwatch.errors.ConfigError` aborts
    start with that message; any other exception is logged and that plugin's
    channels are skipped. Not called for replays (``rlwatch import``) unless
    notifications were asked for.
    """


@hookspec(firstresult=True)
def rlwatch_adapt_trainer(monitor: RLWatch, trainer: Any) -> bool | None:
    """Wire `monitor` into a framework object passed to ``attach(trainer=...)``.

    When: in ``rlwatch.attach(trainer=...)``, on the caller's thread. The first
    True wins and no other adapter is asked; return None when the object is
    not yours. Raising: logged, and the next plugin is asked.
    """


@hookspec(firstresult=True)
def rlwatch_detect_framework() -> str | None:
    """Return a framework name (``"trl"``, ``"lightning"``...) if it is in use.

    When: in ``attach(framework="auto")``, on the caller's thread. Must be
    cheap and must not import the framework: look in ``sys.modules``. The
    first non-None result wins. Raising: logged, the next plugin is asked.
    """


@hookspec(firstresult=True)
def rlwatch_detect_rank() -> tuple[int, int] | None:
    """Return ``(global_rank, world_size)`` when the plugin knows them better than the environment.

    When: once per monitor at start, on the caller's thread, in every process
    (this hook decides which process records), before RANK / WORLD_SIZE are
    consulted. The first non-None result wins. Raising: logged, next plugin.
    """


@hookspec
def rlwatch_alert(alert: Alert, status: str, reason: str, monitor: RLWatch) -> None:
    """Observe every alert after the alert manager decided its fate.

    When: for every alert, on the thread that raised it (the training thread,
    or the monitor's timer thread for time-based detectors); keep it cheap.
    ``status`` is ``"sent"`` or ``"suppressed"`` (``reason`` then says why:
    cooldown, cap, ...). Return values are ignored. Raising: logged.
    """


@hookspec
def rlwatch_run_started(monitor: RLWatch) -> None:
    """Called once when a monitor starts (after its run row is written), on the caller's thread.

    Raising: logged; the monitor runs on.
    """


@hookspec
def rlwatch_run_finished(monitor: RLWatch, status: str) -> None:
    """Called once when a monitor stops; ``status`` is finished, failed, crashed or interrupted.

    When: on the thread that stopped it (the user's, or the exit handler's),
    before the monitor flushes, while it still accepts steps, so an adapter
    can drain work in flight here (rlwatch-jax waits for pending JAX
    callbacks). Notification channels are drained after this hook. Raising:
    logged; the monitor still stops.
    """


@hookspec
def rlwatch_cli_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add subcommands to the ``rlwatch`` command line.

    When: each time the CLI builds its parser, in the CLI process. Register
    with ``parser.set_defaults(func=handler)``; the handler receives the
    parsed ``argparse.Namespace`` and returns an exit code. Raising: logged,
    that plugin's commands are missing.
    """


@hookspec(firstresult=True)
def rlwatch_open_store(url: str) -> Store | None:
    """Open a read-only store for a URL whose scheme the plugin handles (else None).

    When: each time a reader (CLI, dashboard, report) is pointed at a URL with
    ``--db``, on that reader's thread. The first non-None result wins.
    Raising: `rlwatch.errors.StoreError` passes through as a clear message to
    the user (unreachable server, newer schema); anything else is logged and
    the next plugin is asked.
    """


@hookspec(firstresult=True)
def rlwatch_replicator(url: str, spool_path: str) -> Replicator | None:
    """Return a started background replicator shipping the SQLite spool at `spool_path` to `url`.

    When: once per (spool file, url) per process, when the first monitor with
    ``storage.url`` starts, on that caller's thread; it must return at once
    (connect in the background). The core keeps the replicator until the last
    monitor using it stops, then calls its ``stop(timeout)``. The first
    non-None result wins; return None when the URL's scheme is not yours.
    Raising `rlwatch.errors.ConfigError` (e.g. a malformed URL) aborts start
    with that message; anything else is logged and the run is recorded
    locally only.
    """
