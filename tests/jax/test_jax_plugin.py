"""The `jax` entry point: loaded by the core, detection without importing JAX, rank."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import pytest
import rlwatch
import rlwatch_jax
from rlwatch import plugins
from rlwatch_jax import plugin


def test_the_entry_point_is_loaded_by_the_core() -> None:
    plugins.get_manager()
    names = {r.name: r.status for r in plugins._records}  # what `rlwatch doctor` shows
    assert names.get("jax") == "loaded"


def test_attach_detects_jax_when_it_is_imported() -> None:
    assert plugin.rlwatch_detect_framework() == "jax"
    assert rlwatch.attach().framework == "jax"


def test_detection_does_not_import_jax() -> None:
    code = textwrap.dedent("""
        import sys
        from rlwatch import plugins
        from rlwatch_jax import plugin
        assert plugins.hook().rlwatch_detect_framework() is None
        assert plugins.hook().rlwatch_detect_rank() is None
        assert plugin.rlwatch_detect_framework() is None and plugin.rlwatch_detect_rank() is None
        assert "jax" not in sys.modules, "detection imported jax"
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_single_process_leaves_the_rank_to_the_launcher_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    assert jax.process_count() == 1
    assert plugin.rlwatch_detect_rank() is None
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    mon = rlwatch.attach()
    assert (mon.rank, mon.world_size, mon.active) == (1, 2, False)

    @jax.jit
    def f(x: jax.Array) -> jax.Array:
        rlwatch_jax.log(0, loss=x)
        return x

    # A process that never records stages no callback at all.
    assert "callback" not in str(jax.make_jaxpr(f)(jnp.float32(1.0)))
