"""Start-up hook: wait for the few veRL modules rlwatch patches, and nothing else.

``rlwatch_verl.pth`` (and ``rlwatch_verl.start`` on Python >= 3.15, PEP 829)
calls `install` at every interpreter start, Ray's worker processes included
(that is where veRL's trainer, and so its ``Tracking``, runs). It must cost
next to nothing there, so this module imports only ``sys`` (loaded before
site.py runs) and puts one finder in ``sys.meta_path``. The
finder ignores every import except the modules in `TARGETS`; when one of them
has finished executing, it hands it to `rlwatch_verl.autopatch`. A process
that never imports veRL never loads anything else of rlwatch.

Nothing here ever raises into the importing program: a failure leaves veRL
untouched.
"""

# Only sys: it is loaded before site.py runs this (no typing, no __future__),
# so importing this module at start-up costs one small file.
import sys

TYPE_CHECKING = False  # type checkers treat this name as True
if TYPE_CHECKING:
    from typing import Any

TRACKING = "verl.utils.tracking"
"""veRL's ``Tracking`` (the metric loggers): gains the ``rlwatch`` backend."""
METRIC_UTILS = "verl.trainer.ppo.metric_utils"
"""``compute_data_metrics``: where the per-response scores of a step are in reach."""
LEGACY_TRAINER = "verl.trainer.ppo.ray_trainer"
"""``RayPPOTrainer`` (veRL's v0 trainer): its ``fit`` ending in an exception ends the run."""
V1_TRAINER = "verl.trainer.ppo.v1.trainer_base"
"""``PPOTrainer`` (veRL's v1 trainers): the same for their ``fit``."""

TARGETS = frozenset({TRACKING, METRIC_UTILS, LEGACY_TRAINER, V1_TRAINER})
"""The modules whose import triggers a patch."""


def _run_patch(module: "Any") -> None:
    try:
        from rlwatch_verl import autopatch

        autopatch.on_module(module)
    except Exception:  # noqa: BLE001 - never break the user's import of veRL
        pass


class _PatchingLoader:
    """Wraps the real loader of a target module to run the patch right after it."""

    def __init__(self, loader: "Any") -> None:
        self._loader = loader

    def create_module(self, spec: "Any") -> "Any":
        return self._loader.create_module(spec)

    def exec_module(self, module: "Any") -> None:
        self._loader.exec_module(module)
        # Hand the real loader back so that inspect, importlib.resources and
        # reload never meet this wrapper.
        try:
            module.__loader__ = self._loader
            if getattr(module, "__spec__", None) is not None:
                module.__spec__.loader = self._loader
        except Exception:  # noqa: BLE001
            pass
        _run_patch(module)

    def __getattr__(self, name: str) -> "Any":
        return getattr(self._loader, name)


class VerlImportHook:
    """Meta-path finder that patches each module of `TARGETS` once it has executed.

    For any other name `find_spec` returns None after one set lookup. For a
    target it asks the finders after it for the real spec and wraps that
    spec's loader. It stays in ``sys.meta_path``: removing a finder while the
    import system walks that list would make it skip the next one.
    """

    def __init__(self) -> None:
        self._searching: set[str] = set()

    def find_spec(self, fullname: str, path: "Any" = None, target: "Any" = None) -> "Any":
        if fullname not in TARGETS or fullname in self._searching:
            return None
        self._searching.add(fullname)
        try:
            spec = None
            for finder in list(sys.meta_path):
                if isinstance(finder, VerlImportHook):
                    continue
                find = getattr(finder, "find_spec", None)
                if find is None:
                    continue
                spec = find(fullname, path, target)
                if spec is not None:
                    break
            if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
                return None  # the normal machinery imports it; we stay out of the way
            spec.loader = _PatchingLoader(spec.loader)
            return spec
        except Exception:  # noqa: BLE001 - fall back to the normal import
            return None
        finally:
            self._searching.discard(fullname)


def install() -> None:
    """Install the import hook (idempotent) and patch the targets already imported.

    Called at interpreter start-up by the .pth/.start file and when
    `rlwatch_verl` itself is imported. Never raises.
    """
    try:
        for name in sorted(TARGETS):  # metric_utils before the trainers that import from it
            module = sys.modules.get(name)
            if module is not None:
                _run_patch(module)
        if not any(isinstance(f, VerlImportHook) for f in sys.meta_path):
            sys.meta_path.insert(0, VerlImportHook())
    except Exception:  # noqa: BLE001
        pass


def uninstall() -> None:
    """Remove the import hook from ``sys.meta_path`` (a no-op if absent; for tests)."""
    try:
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, VerlImportHook)]
    except Exception:  # noqa: BLE001
        pass
