"""Zero-code registration, de-duplication, attach(trainer=...) and the off switches."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lightning.pytorch as lp
import pytest
import pytorch_lightning
import rlwatch
from lightning_bandit import BanditPolicy, BanditPolicyLogic, make_trainer
from rlwatch.storage import StoreReader
from rlwatch_lightning import RLWatchCallback, plugin
from rlwatch_lightning.factory import _zero_code_callbacks, zero_code_disabled
from rlwatch_lightning.hooks import RLWatchHooks
from rlwatch_lightning.pl_callback import RLWatchCallback as PLRLWatchCallback


def _ours(trainer: object) -> list[RLWatchHooks]:
    return [cb for cb in trainer.callbacks if isinstance(cb, RLWatchHooks)]  # type: ignore[attr-defined]


def _runs(db: Path) -> list[tuple[str, str | None, int]]:
    reader = StoreReader(str(db))
    try:
        return [(r.run_id, r.framework, r.n_steps) for r in reader.runs()]
    finally:
        reader.close()


def test_installing_is_enough_to_be_monitored(tmp_path: Path) -> None:
    trainer = make_trainer()
    [callback] = _ours(trainer)
    assert isinstance(callback, RLWatchCallback) and callback._from_factory
    trainer.fit(BanditPolicy(n_batches=5))

    [(run_id, framework, n_steps)] = _runs(tmp_path / "rlwatch_logs" / "metrics.db")  # the default place
    assert framework == "lightning" and run_id.startswith("lightning") and n_steps == 10


def test_an_explicit_callback_and_the_zero_code_one_record_one_run(tmp_path: Path, log_dir: Path) -> None:
    explicit = RLWatchCallback(run_id="mine", storage={"log_dir": str(log_dir)})
    trainer = make_trainer(callbacks=[explicit])
    assert len(_ours(trainer)) == 2  # Lightning appended the factory's too
    trainer.fit(BanditPolicy(n_batches=5))

    assert _runs(log_dir / "metrics.db") == [("mine", "lightning", 10)]
    assert not (tmp_path / "rlwatch_logs").exists()  # the zero-code callback stayed idle


def test_two_explicit_callbacks_still_record_once(log_dir: Path) -> None:
    first = RLWatchCallback(run_id="first", storage={"log_dir": str(log_dir)})
    second = RLWatchCallback(run_id="second", storage={"log_dir": str(log_dir)})
    make_trainer(callbacks=[first, second]).fit(BanditPolicy(n_batches=3))
    assert _runs(log_dir / "metrics.db") == [("first", "lightning", 6)]


def test_attach_with_a_trainer_binds_the_zero_code_callback(log_dir: Path) -> None:
    trainer = make_trainer()
    monitor = rlwatch.attach(trainer=trainer, run_id="attached", log_dir=str(log_dir))
    [callback] = _ours(trainer)
    assert not callback._from_factory
    trainer.fit(BanditPolicy(n_batches=4))

    assert monitor.active  # the user's monitor: flushed at the end of fit, not stopped
    assert _runs(log_dir / "metrics.db") == [("attached", "lightning", 8)]
    monitor.stop()


def test_attach_with_a_trainer_adds_a_callback_when_none_is_there(
    log_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RLWATCH_DISABLE_PLUGINS", "lightning")
    trainer = make_trainer()
    assert _ours(trainer) == []
    monkeypatch.delenv("RLWATCH_DISABLE_PLUGINS")
    monitor = rlwatch.attach(trainer=trainer, run_id="added", log_dir=str(log_dir))
    [callback] = _ours(trainer)
    assert type(callback) is RLWatchCallback
    trainer.fit(BanditPolicy(n_batches=3))
    monitor.stop()
    assert _runs(log_dir / "metrics.db") == [("added", "lightning", 6)]


def test_the_zero_code_callback_feeds_a_monitor_the_user_attached(log_dir: Path) -> None:
    monitor = rlwatch.attach(run_id="global", log_dir=str(log_dir))
    make_trainer().fit(BanditPolicy(n_batches=3))
    monitor.log_step(100, loss=0.5)  # still the user's: not stopped by the callback
    monitor.stop()
    assert _runs(log_dir / "metrics.db") == [("global", "lightning", 7)]


def test_rlwatch_disable_turns_everything_off(tmp_path: Path, log_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLWATCH_DISABLE", "1")
    assert _ours(make_trainer()) == []  # the factory adds nothing
    explicit = RLWatchCallback(storage={"log_dir": str(log_dir)})
    make_trainer(callbacks=[explicit]).fit(BanditPolicy(n_batches=3))
    assert list(log_dir.iterdir()) == []
    assert not (tmp_path / "rlwatch_logs").exists()


def test_zero_code_switches() -> None:
    assert not zero_code_disabled({})
    assert zero_code_disabled({"RLWATCH_DISABLE": "true"})
    assert not zero_code_disabled({"RLWATCH_DISABLE": "0"})
    assert zero_code_disabled({"RLWATCH_DISABLE_PLUGINS": "1"})
    assert zero_code_disabled({"RLWATCH_DISABLE_PLUGINS": "notify, lightning"})
    assert not zero_code_disabled({"RLWATCH_DISABLE_PLUGINS": "notify"})


class PLBanditPolicy(BanditPolicyLogic, pytorch_lightning.LightningModule):  # type: ignore[misc]
    """The bandit policy on the standalone pytorch_lightning package."""


def test_the_standalone_pytorch_lightning_package_is_monitored_too(tmp_path: Path) -> None:
    trainer = make_trainer(namespace=pytorch_lightning)
    [callback] = _ours(trainer)
    assert isinstance(callback, PLRLWatchCallback) and isinstance(callback, pytorch_lightning.Callback)
    trainer.fit(PLBanditPolicy(n_batches=3))
    [(_, framework, n_steps)] = _runs(tmp_path / "rlwatch_logs" / "metrics.db")
    assert framework == "lightning" and n_steps == 6


def test_plugin_hooks_recognise_only_lightning_objects(log_dir: Path) -> None:
    assert plugin.rlwatch_detect_framework() == "lightning"  # lightning is imported here
    monitor = rlwatch.attach(run_id="x", log_dir=str(log_dir))
    assert plugin.rlwatch_adapt_trainer(monitor, object()) is None
    assert plugin.rlwatch_adapt_trainer(monitor, lp.LightningModule()) is None
    assert plugin.rlwatch_adapt_trainer(monitor, make_trainer()) is True
    monitor.stop()


@pytest.mark.expect_internal_error
def test_a_failing_factory_returns_nothing_instead_of_breaking_the_trainer(
    swallowed: list[tuple[str, BaseException]],
) -> None:
    assert _zero_code_callbacks("lightning", "rlwatch_lightning.no_such_module") == []
    assert [type(exc) for _, exc in swallowed] == [ModuleNotFoundError]


def test_loading_the_plugin_and_the_factory_does_not_import_lightning() -> None:
    code = (
        "import sys, rlwatch_lightning, rlwatch_lightning.plugin, rlwatch_lightning.factory\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning', 'torch'))\n"
        "print(loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
