"""The start-up hook: free until transformers.trainer is imported, then one patch.

Most checks run in a fresh interpreter of this environment, where the nox
session installed rlwatch-trl from its wheel, so rlwatch_trl.pth is live.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from trl_helpers import PTH_FILE, require_pth


def _python(code: str, **env: str) -> dict:  # type: ignore[type-arg]
    """Run `code` in a fresh interpreter; it prints one JSON object last."""
    require_pth()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RLWATCH_")}
    environment.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **env)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environment,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_wheel_ships_the_start_files_at_the_root() -> None:
    require_pth()
    assert PTH_FILE.read_text().startswith("import ")
    start = PTH_FILE.with_suffix(".start").read_text().splitlines()
    assert [line for line in start if line and not line.startswith("#")] == ["rlwatch_trl._bootstrap:install"]


def test_start_up_loads_only_the_bootstrap() -> None:
    out = _python(
        """
        import json, sys
        print(json.dumps({
            "ours": sorted(m for m in sys.modules if "rlwatch" in m),
            "heavy": sorted(m for m in ("transformers", "torch", "numpy", "rlwatch") if m in sys.modules),
            "finders": [type(f).__name__ for f in sys.meta_path],
        }))
        """
    )
    assert out["ours"] == ["rlwatch_trl", "rlwatch_trl._bootstrap"]
    assert out["heavy"] == []
    assert out["finders"].count("TrainerImportHook") == 1


def test_the_bootstrap_imports_nothing_but_itself() -> None:
    # Without site (-S) nothing else runs at start-up: what the hook adds to
    # sys.modules is exactly its own two small modules (no typing, no __future__).
    code = textwrap.dedent(
        f"""
        import json, os, sys  # os: site.py has always imported it before any .pth runs
        sys.path.append({str(PTH_FILE.parent)!r})
        before = set(sys.modules)
        import rlwatch_trl._bootstrap as boot
        boot.install()
        print(json.dumps(sorted(set(sys.modules) - before)))
        """
    )
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(proc.stdout) == ["rlwatch_trl", "rlwatch_trl._bootstrap"]


def test_other_imports_pass_straight_through() -> None:
    out = _python(
        """
        import json, sys
        import email.message, sqlite3, numpy
        print(json.dumps({"rlwatch": [m for m in sys.modules if m.startswith("rlwatch.") or m == "rlwatch"]}))
        """
    )
    assert out["rlwatch"] == []


def test_importing_transformers_trainer_patches_once_and_hides_the_loader_wrapper() -> None:
    out = _python(
        """
        import json, importlib
        import transformers.trainer as tt
        from transformers.integrations import integration_utils as iu
        import rlwatch_trl._bootstrap as boot
        first = tt.Trainer.__init__
        boot.install(); boot.install()           # idempotent
        from rlwatch_trl import autopatch
        autopatch.patch_trainer_class(tt.Trainer)
        print(json.dumps({
            "wrapped": getattr(tt.Trainer.__init__, "__rlwatch_trl_wrapped__", False),
            "same": tt.Trainer.__init__ is first,
            "report_to": iu.INTEGRATION_TO_CALLBACK.get("rlwatch").__name__,
            "loader": type(tt.__loader__).__name__,
            "spec_loader": type(tt.__spec__.loader).__name__,
            "trainer_module_source": bool(__import__("inspect").getsource(tt)[:10]),
        }))
        """
    )
    assert out == {"wrapped": True, "same": True, "report_to": "RLWatchCallback", "loader": "SourceFileLoader",
                   "spec_loader": "SourceFileLoader", "trainer_module_source": True}


def test_a_broken_adapter_never_breaks_transformers() -> None:
    # Make the patch module unimportable: importing transformers must still work.
    out = _python(
        """
        import json, sys
        sys.modules["rlwatch_trl.autopatch"] = None
        import transformers.trainer as tt
        print(json.dumps({"wrapped": getattr(tt.Trainer.__init__, "__rlwatch_trl_wrapped__", False)}))
        """
    )
    assert out == {"wrapped": False}


def test_rlwatch_disable_skips_the_automatic_callback() -> None:
    # RLWATCH_DISABLE is read each time a trainer is built.
    out = _python(
        """
        import json, os
        from transformers import Trainer, TrainingArguments, GPT2Config, GPT2LMHeadModel
        model = GPT2LMHeadModel(GPT2Config(vocab_size=8, n_positions=8, n_embd=8, n_layer=1, n_head=1))
        args = TrainingArguments(output_dir=os.environ["OUT"], report_to="none", use_cpu=True)
        counts = {}
        for value in ("1", "true", "0", ""):
            os.environ["RLWATCH_DISABLE"] = value
            t = Trainer(model=model, args=args)
            counts[value] = [type(c).__name__ for c in t.callback_handler.callbacks].count("RLWatchCallback")
        print(json.dumps(counts))
        """,
        OUT=os.path.join(os.getcwd(), "out"),
    )
    assert out == {"1": 0, "true": 0, "0": 1, "": 1}
