"""Plugins that raise at import, at registration and inside every hook: logged, skipped, the rest works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import rlwatch
from rlwatch import hookimpl, plugins
from rlwatch.storage import StoreReader


class RaisesEverywhere:
    """Implements every hook, and every one raises."""

    @hookimpl
    def rlwatch_detectors(self) -> Any:
        raise RuntimeError("detectors")

    @hookimpl
    def rlwatch_config_sections(self) -> Any:
        raise RuntimeError("config_sections")

    @hookimpl
    def rlwatch_channels(self, config: Any) -> Any:
        raise RuntimeError("channels")

    @hookimpl
    def rlwatch_adapt_trainer(self, monitor: Any, trainer: Any) -> Any:
        raise RuntimeError("adapt")

    @hookimpl
    def rlwatch_detect_framework(self) -> Any:
        raise RuntimeError("framework")

    @hookimpl
    def rlwatch_detect_rank(self) -> Any:
        raise RuntimeError("rank")

    @hookimpl
    def rlwatch_alert(self, alert: Any, status: str, reason: str, monitor: Any) -> None:
        raise RuntimeError("alert")

    @hookimpl
    def rlwatch_run_started(self, monitor: Any) -> None:
        raise RuntimeError("started")

    @hookimpl
    def rlwatch_run_finished(self, monitor: Any, status: str) -> None:
        raise RuntimeError("finished")

    @hookimpl
    def rlwatch_cli_commands(self, subparsers: Any) -> None:
        raise RuntimeError("cli")


@pytest.mark.expect_internal_error
def test_plugin_raising_in_every_hook(tmp_path: Path, record: Any, swallowed: list[Any]) -> None:
    plugins.register(RaisesEverywhere(), name="raises-everywhere")
    try:
        m = rlwatch.attach(log_dir=str(tmp_path), run_id="plug", trainer=object(),
                           alerts={"console": {"enabled": False}})
        alerts = m.log_step(0, loss=float("nan"))
        m.stop()
        from rlwatch.cli.main import build_parser

        build_parser()
    finally:
        plugins.unregister("raises-everywhere")
    with StoreReader(str(tmp_path / "metrics.db")) as r:
        stored = r.alerts("plug")
    hooks_hit = sorted({w.split(".")[-1] for w, _ in swallowed if "raises-everywhere" in w})
    record(tried="a plugin raising inside all 10 hooks", hooks_that_raised=len(hooks_hit),
           builtin_alert=alerts[0].detector if alerts else None, stored_alerts=len(stored))
    assert [a.detector for a in alerts] == ["loss_nan"] and len(stored) == 1
    assert len(hooks_hit) == 10, hooks_hit


def test_plugin_failing_at_import_and_at_registration(tmp_path: Path, record: Any) -> None:
    pytest.importorskip("rlwatch_testplugin", reason="installed by the reliability session")
    code = (
        "from rlwatch import plugins\n"
        "print(sorted((r.name, r.status) for r in plugins.records()))\n"
        "import rlwatch\n"
        f"m = rlwatch.attach(log_dir={str(tmp_path)!r}, run_id='ok')\n"
        "print([a.detector for a in m.log_step(0, loss=float('nan'))])\n"
        "m.stop()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ})
    assert out.returncode == 0, out.stderr
    record(tried="entry points that fail at import (broken plugin dist)", plugins=out.stdout.splitlines()[0],
           alerts_still_fire=out.stdout.splitlines()[1])
    assert "('brokenplugin', 'failed')" in out.stdout and "['loss_nan']" in out.stdout


def test_plugin_with_invalid_hook_signature_is_skipped(record: Any, tmp_path: Path) -> None:
    called: list[Any] = []

    class BadSignature:
        @hookimpl
        def rlwatch_alert(self, not_a_hook_argument: Any) -> None:
            called.append(not_a_hook_argument)

    plugins.register(BadSignature(), name="bad-signature")  # must not raise: skipped with a warning
    try:
        # the record is what `rlwatch doctor` shows (the warning itself goes through rlwatch's log queue)
        status = {r.name: (r.status, r.detail) for r in plugins.records()}
        assert status["bad-signature"][0] == "failed" and "not_a_hook_argument" in status["bad-signature"][1], status
        m = rlwatch.attach(log_dir=str(tmp_path), run_id="after-bad-signature")
        alerts = [a.detector for a in m.log_step(0, loss=float("nan"))]
        m.stop()
    finally:
        plugins.unregister("bad-signature")
    assert alerts == ["loss_nan"] and called == []
    record(tried="registering a plugin whose hook has an unknown argument",
           outcome="skipped with a warning", alerts_still_fire=alerts)
