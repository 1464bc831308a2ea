"""rlwatch for veRL (PyPI ``verl``): GRPO/PPO post-training on Ray, watched from its config.

Name the backend and the run is watched, with no code change::

    python -m verl.trainer.main_ppo ... trainer.logger='[console,rlwatch]'

or ``logger: [console, rlwatch]`` under ``trainer:`` in the Hydra config.

What it hooks: a start-up hook (``rlwatch_verl.pth``) waits, at no cost,
until veRL's ``verl.utils.tracking`` is imported, then lets ``Tracking``
accept the ``rlwatch`` backend. The process that logs veRL's metrics (the
trainer's driver, a Ray actor under ``main_ppo``, where veRL has already
reduced the workers' metrics across ranks and nodes) then runs one rlwatch
monitor for the job. It also wraps ``metric_utils.compute_data_metrics``
(to read the step's per-response scores) and the trainers' ``fit`` (so an
exception ends the run as ``crashed``); see `rlwatch_verl.autopatch`.

What it records: every step veRL logs, at veRL's ``global_steps``, under
rlwatch's names (``actor/entropy`` -> ``entropy``, ``actor/kl_loss`` ->
``kl_divergence``, ``critic/score/mean`` -> ``reward_mean``, ...; the table
is `rlwatch.keymaps.verl`), plus the per-response scores as ``rewards``
(groups x ``rollout.n``) and per-response advantages. Timing, throughput
and validation keys are not recorded. The run ends ``finished`` or
``crashed`` (``Tracking.finish(exit_code)``, an exception out of ``fit``).

Runs that do not name ``rlwatch`` are not watched: the backend list is
where veRL users choose where metrics go, and an adapter that is merely
installed (in a shared cluster image, say) should not start writing files
in every job's working directory.

Turning it off: drop ``rlwatch`` from ``trainer.logger``; or set
``RLWATCH_DISABLE=1`` in the environment of the process that logs (the
name stays valid, nothing is recorded); or ``pip uninstall rlwatch-verl``.

See docs/adapters/verl.md for the key table, Ray notes and the limits.
"""

# The start-up hook imports this package in every Python process (each Ray
# worker included): keep it to sys-only modules (no typing, no __future__,
# no veRL, no rlwatch).
from rlwatch_verl import _bootstrap

TYPE_CHECKING = False  # type checkers treat this name as True
if TYPE_CHECKING:
    from rlwatch_verl._version import __version__
    from rlwatch_verl.backend import RLWatchBackend

__all__ = ["RLWatchBackend", "__version__"]

# Importing the package (e.g. for RLWatchBackend) also arms the hook, for
# environments where the .pth file is not processed (editable installs).
_bootstrap.install()


def __getattr__(name: str) -> object:
    # Lazy: importing rlwatch_verl must not import rlwatch or veRL.
    if name == "RLWatchBackend":
        from rlwatch_verl.backend import RLWatchBackend

        return RLWatchBackend
    if name == "__version__":
        from rlwatch_verl._version import __version__

        return __version__
    raise AttributeError(f"module 'rlwatch_verl' has no attribute {name!r}")
