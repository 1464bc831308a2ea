"""The plugin system: hooks documented and tested, isolation, discovery, disabling."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import rlwatch
from rlwatch import hookimpl, hookspecs, logsink, plugins
from rlwatch.storage import StoreReader

INSTALLED = os.environ.get("RLWATCH_TEST_PLUGINS_INSTALLED") == "1"
needs_fixture_plugins = pytest.mark.skipif(not INSTALLED, reason="run via `nox -s core` (installs test plugins)")

HOOKS = [name for name, obj in vars(hookspecs).items() if name.startswith("rlwatch_") and callable(obj)]


def test_every_hook_is_documented_and_named_with_the_prefix() -> None:
    assert len(HOOKS) >= 9
    for name in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, name))
        assert doc and len(doc) > 40, f"{name} needs a docstring saying when it is called"


def test_every_hook_has_a_test() -> None:
    tests_dir = Path(__file__).parent.parent
    text = "\n".join(p.read_text(encoding="utf-8") for p in tests_dir.rglob("test_*.py"))
    text += (tests_dir / "fixtures" / "plugins" / "rlwatch-testplugin" / "src" / "rlwatch_testplugin"
             / "__init__.py").read_text(encoding="utf-8")
    missing = [h for h in HOOKS if h not in text]
    assert not missing, f"hooks without a test: {missing}"


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    @hookimpl
    def rlwatch_run_started(self, monitor: Any) -> None:
        self.events.append(("started", monitor.run_id))

    @hookimpl
    def rlwatch_run_finished(self, monitor: Any, status: str) -> None:
        self.events.append(("finished", status))

    @hookimpl
    def rlwatch_alert(self, alert: Any, status: str, reason: str, monitor: Any) -> None:
        self.events.append(("alert", (alert.detector, status)))

    @hookimpl
    def rlwatch_detect_framework(self) -> str | None:
        return "recorderframework"

    @hookimpl
    def rlwatch_detect_rank(self) -> tuple[int, int] | None:
        return (0, 4)

    @hookimpl
    def rlwatch_adapt_trainer(self, monitor: Any, trainer: Any) -> bool | None:
        if isinstance(trainer, dict) and trainer.get("kind") == "mine":
            trainer["monitor"] = monitor
            return True
        return None


class Broken:
    @hookimpl
    def rlwatch_alert(self, alert: Any, status: str, reason: str, monitor: Any) -> None:
        raise RuntimeError("plugin bug")

    @hookimpl
    def rlwatch_detectors(self) -> list[Any]:
        raise RuntimeError("plugin bug")


@pytest.fixture
def recorder() -> Any:
    rec = Recorder()
    plugins.register(rec, name="recorder")
    yield rec
    plugins.unregister("recorder")


def test_lifecycle_alert_framework_rank_and_adapt_hooks(log_dir: Path, recorder: Recorder) -> None:
    trainer: dict[str, Any] = {"kind": "mine"}
    m = rlwatch.attach(log_dir=str(log_dir), run_id="hooks", trainer=trainer)
    assert trainer["monitor"] is m
    assert m.framework == "recorderframework" and m.world_size == 4
    m.log_step(0, loss=float("nan"))
    m.stop()
    assert recorder.events == [("started", "hooks"), ("alert", ("loss_nan", "sent")), ("finished", "finished")]


def test_unknown_trainer_warns(log_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    rlwatch.attach(log_dir=str(log_dir), run_id="unknown", trainer=object())
    logsink.flush()  # rlwatch logs from a background thread
    assert "no installed adapter knows object" in caplog.text


@pytest.mark.expect_internal_error
def test_a_broken_plugin_is_logged_and_skipped(log_dir: Path, recorder: Recorder,
                                               swallowed: list[tuple[str, BaseException]]) -> None:
    plugins.register(Broken(), name="broken")
    try:
        m = rlwatch.attach(log_dir=str(log_dir), run_id="broken")
        alerts = m.log_step(0, loss=float("nan"))
        m.stop()
    finally:
        plugins.unregister("broken")
    assert [a.detector for a in alerts] == ["loss_nan"]  # built-in detectors still there
    assert ("alert", ("loss_nan", "sent")) in recorder.events  # the other plugin still called
    assert {w for w, _ in swallowed} == {"plugin broken.rlwatch_detectors", "plugin broken.rlwatch_alert"}


def test_builtins_come_through_the_hooks() -> None:
    ids = [cls.id for cls in plugins.detector_classes()]
    assert ids[:8] == ["entropy_collapse", "entropy_explosion", "kl_explosion", "reward_hacking",
                       "advantage_variance", "loss_nan", "gradient_norm_spike", "reward_mean_drift"]
    assert {"degenerate_groups", "length_pathology", "stalled"} <= set(ids)


def _python(code: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60, cwd=cwd)


@needs_fixture_plugins
def test_installed_plugin_distribution_is_discovered(log_dir: Path, db_path: Path) -> None:
    out = _python(
        "import sys, rlwatch\n"
        "from rlwatch import plugins\n"
        "print(sorted((r.name, r.status) for r in plugins.records()))\n"
        f"m = rlwatch.attach(log_dir={str(log_dir)!r}, run_id='p', plugin_probe={{'threshold': 5.0}})\n"
        "print([a.detector for a in m.log_step(0, plugin_probe=6.0)])\n"
        "import rlwatch_testplugin; print(rlwatch_testplugin.OBSERVED)\n"
        "m.stop()\n"
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "('brokenplugin', 'failed')" in lines[0] and "('testplugin', 'loaded')" in lines[0]
    assert lines[1] == "['plugin_probe']" and lines[2] == "[('plugin_probe', 'sent')]"
    assert "rlwatch-brokenplugin is broken on purpose" in out.stderr


@needs_fixture_plugins
def test_disable_plugins_env() -> None:
    code = "from rlwatch import plugins; print(sorted((r.name, r.status) for r in plugins.records()))"
    out = _python(code, {"RLWATCH_DISABLE_PLUGINS": "1"})
    assert "('testplugin', 'disabled')" in out.stdout and "('builtins', 'loaded')" in out.stdout
    out = _python(code, {"RLWATCH_DISABLE_PLUGINS": "brokenplugin"})
    assert "('brokenplugin', 'disabled')" in out.stdout and "('testplugin', 'loaded')" in out.stdout


@needs_fixture_plugins
def test_plugin_cli_command_and_doctor(tmp_path: Path, rlwatch_cmd: str) -> None:
    out = subprocess.run([rlwatch_cmd, "plugin-hello"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.stdout.strip() == "hello from rlwatch-testplugin"
    out = subprocess.run([rlwatch_cmd, "doctor"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert "testplugin" in out.stdout and "brokenplugin" in out.stdout and "failed" in out.stdout
    assert "plugin_probe" in out.stdout


@needs_fixture_plugins
def test_a_plugin_detector_options_appear_in_init_and_the_reference(tmp_path: Path, rlwatch_cmd: str) -> None:
    # One module and one registration (rlwatch-testplugin): nothing in core names the probe, yet
    # `rlwatch init` documents its options, the file it writes sets them, and the generated
    # configuration reference lists them.
    target = tmp_path / "rlwatch.yaml"
    out = subprocess.run([rlwatch_cmd, "init", "-o", str(target)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    text = target.read_text(encoding="utf-8")
    section = text[text.index("# plugin_probe:"):].split("\n\n")[0]
    assert "#   # Fire critical when plugin_probe exceeds this.\n#   threshold: 1.0" in section
    assert "#   cooldown_steps: 50" in section  # the shared detector fields come with it
    # Uncommenting the section as a user would sets the plugin's option.
    edited = text.replace(section, "plugin_probe:\n  threshold: 7.5\n")
    target.write_text(edited, encoding="utf-8")
    assert rlwatch.load_config(str(target)).plugin_probe.threshold == 7.5  # type: ignore[attr-defined]

    scripts = Path(__file__).resolve().parents[2] / "scripts"
    page = _python(f"import sys; sys.path.insert(0, {str(scripts)!r}); import gen_docs; "
                   "print(gen_docs.configuration_page())").stdout
    assert "## `plugin_probe`" in page
    assert "| `threshold` | `float` | `1.0` |  | Fire critical when plugin_probe exceeds this. |" in page


@needs_fixture_plugins
def test_plugin_detector_config_is_validated(log_dir: Path) -> None:
    with pytest.raises(rlwatch.ConfigError, match="plugin_probe.threshhold.*Did you mean 'threshold'"):
        rlwatch.attach(log_dir=str(log_dir), plugin_probe={"threshhold": 1.0})


def test_store_reader_sees_plugin_free_run(log_dir: Path, db_path: Path) -> None:
    m = rlwatch.attach(log_dir=str(log_dir), run_id="plain")
    m.log_step(0, loss=1.0)
    m.stop()
    with StoreReader(str(db_path)) as r:
        assert r.run("plain") is not None
