"""Start-up hook: watch for ``transformers.trainer`` and nothing else.

``rlwatch_trl.pth`` (and ``rlwatch_trl.start`` on Python >= 3.15, PEP 829)
calls `install` at every interpreter start. It must cost next to nothing
there, so this module imports only ``sys`` and ``os`` (both already loaded by
then) and installs one meta-path finder. The finder ignores every import
except ``transformers.trainer``; when that module has finished executing, it
hands it to `rlwatch_trl.autopatch`, which wraps ``Trainer.__init__``. A
process that never imports transformers never loads anything else of rlwatch.

Nothing here ever raises into the importing program: a failure leaves
transformers untouched.
"""

# Only sys and os: both are loaded before site.py runs this (no typing, no
# __future__), so importing this module at start-up costs one small file.
import sys

TYPE_CHECKING = False  # type checkers treat this name as True
if TYPE_CHECKING:
    from typing import Any

TARGET = "transformers.trainer"
"""The module whose import triggers the patch."""

def _run_patch(module: "Any") -> None:
    try:
        from rlwatch_trl import autopatch

        autopatch.on_trainer_module(module)
    except Exception:  # noqa: BLE001 - never break the user's import of transformers
        pass


class _PatchingLoader:
    """Wraps the real loader of ``transformers.trainer`` to run the patch after it."""

    def __init__(self, loader: "Any") -> None:
        self._loader = loader

    def create_module(self, spec: "Any") -> "Any":
        return self._loader.create_module(spec)

    def exec_module(self, module: "Any") -> None:
        self._loader.exec_module(module)
        # Put the real loader back so that nothing downstream (inspect,
        # importlib.resources, reload) ever sees this wrapper.
        try:
            module.__loader__ = self._loader
            if getattr(module, "__spec__", None) is not None:
                module.__spec__.loader = self._loader
        except Exception:  # noqa: BLE001
            pass
        _run_patch(module)

    def __getattr__(self, name: str) -> "Any":
        return getattr(self._loader, name)


class TrainerImportHook:
    """Meta-path finder that fires once, after ``transformers.trainer`` is executed.

    For any other module name `find_spec` returns None at the cost of one
    string comparison. For the target it asks the other finders for the real
    spec and wraps that spec's loader. It stays in ``sys.meta_path`` (removing
    a finder while the import system iterates that list would make it skip
    the next finder); a re-import of the module is patched again, harmlessly.
    """

    def __init__(self) -> None:
        self._searching = False

    def find_spec(self, fullname: str, path: "Any" = None, target: "Any" = None) -> "Any":
        if fullname != TARGET or self._searching:
            return None
        self._searching = True
        try:
            spec = None
            for finder in list(sys.meta_path):
                if finder is self or isinstance(finder, TrainerImportHook):
                    continue
                find = getattr(finder, "find_spec", None)
                if find is None:
                    continue
                spec = find(fullname, path, target)
                if spec is not None:
                    break
            if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
                return None  # let the normal machinery do it; we stay out of the way
            spec.loader = _PatchingLoader(spec.loader)
            return spec
        except Exception:  # noqa: BLE001 - fall back to the normal import
            return None
        finally:
            self._searching = False


def install() -> None:
    """Install the import hook (idempotent); patch now if transformers.trainer is loaded.

    Called at interpreter start-up by the .pth/.start file and when
    `rlwatch_trl` itself is imported. Never raises.
    """
    try:
        module = sys.modules.get(TARGET)
        if module is not None:
            _run_patch(module)
            return
        if any(isinstance(f, TrainerImportHook) for f in sys.meta_path):
            return
        sys.meta_path.insert(0, TrainerImportHook())
    except Exception:  # noqa: BLE001
        pass


def uninstall() -> None:
    """Remove the import hook from ``sys.meta_path`` (a no-op if absent; for tests)."""
    try:
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, TrainerImportHook)]
    except Exception:  # noqa: BLE001
        pass
