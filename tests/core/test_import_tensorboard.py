"""Importing TensorBoard event files written by the real writers during real (tiny) training runs.

The runs: a policy-gradient bandit (16 samples per step, group-normalised
advantages, as in GRPO) trained with torch, whose learning rate is raised
mid-run so that its policy collapses onto one arm; logged once with
``torch.utils.tensorboard.SummaryWriter`` under transformers' ``train/``
names, and once with Lightning's ``TensorBoardLogger``. Their event files
are imported and must yield the run, its steps and the entropy collapse the
live detectors would raise; damaged and cut copies must fail with the byte
position, exit code 2 and the database untouched.

Needs torch and the ``import`` extra (tensorboard), Lightning for its test:
the ``importers`` nox session installs them (RLWATCH_IMPORT_EXTRAS=1 there
turns a missing one into a failure instead of a skip).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from rlwatch.cli.main import main
from rlwatch.importers import ImportOptions, import_paths
from rlwatch.storage import StoreReader

JUMP_AT = 60
STEPS = 140


def need(module: str) -> ModuleType:
    """Import `module`, or skip (fail when the session promises the extras)."""
    if os.environ.get("RLWATCH_IMPORT_EXTRAS"):
        return importlib.import_module(module)
    return pytest.importorskip(module)


def bandit_run(log: Any, steps: int = STEPS, jump_at: int = JUMP_AT, seed: int = 0) -> None:
    """Train an 8-armed softmax bandit with REINFORCE and group-normalised advantages; `log(step, **values)`."""
    torch = need("torch")
    torch.manual_seed(seed)
    logits = torch.zeros(8, requires_grad=True)
    reference = torch.softmax(torch.zeros(8), dim=0)
    optimizer = torch.optim.SGD([logits], lr=0.05)
    pay = torch.tensor([1.0, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    for step in range(1, steps + 1):
        if step == jump_at:
            for group in optimizer.param_groups:
                group["lr"] = 20.0  # a bad config change: the policy collapses onto one arm
        probs = torch.softmax(logits, dim=0)
        policy = torch.distributions.Categorical(probs=probs)
        actions = policy.sample((16,))
        rewards = pay[actions] + 0.1 * torch.randn(16)
        advantages = (rewards - rewards.mean()) / (rewards.std() + 1e-6)
        loss = -(policy.log_prob(actions) * advantages).mean()
        optimizer.zero_grad()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_([logits], max_norm=1e9)
        optimizer.step()
        with torch.no_grad():
            kl = (probs * (probs / reference).log()).sum()
        log(step, entropy=policy.entropy().item(), kl=kl.item(), reward=rewards.mean().item(),
            reward_std=rewards.std().item(), loss=loss.item(), grad_norm=grad_norm.item(),
            learning_rate=optimizer.param_groups[0]["lr"])


def torch_event_dir(folder: Path) -> Path:
    """A TensorBoard run folder written by torch's SummaryWriter during a bandit run (TRL's tag names)."""
    tensorboard = need("torch.utils.tensorboard")
    need("tensorboard")
    writer = tensorboard.SummaryWriter(log_dir=str(folder))

    def log(step: int, **values: float) -> None:
        for name, value in values.items():
            writer.add_scalar(f"train/{name}", value, step)
        writer.add_text("train/sample", f"completion at step {step}", step)  # not a metric: skipped

    bandit_run(log)
    writer.close()
    return folder


def event_file(folder: Path) -> Path:
    (path,) = sorted(folder.glob("events.out.tfevents.*"))
    return path


def detectors_fired(db: Path, run_id: str) -> dict[str, int]:
    with StoreReader(str(db)) as reader:
        first: dict[str, int] = {}
        for alert in reader.alerts(run_id):
            if alert.status != "suppressed" and alert.step is not None:
                first.setdefault(alert.detector, alert.step)
        return first


def db_state(db: Path) -> tuple[bytes, ...]:
    files = [db, db.with_name(db.name + "-wal")]
    return tuple(f.read_bytes() if f.exists() else b"<absent>" for f in files)


def test_torch_summary_writer_run(tmp_path: Path) -> None:
    folder = torch_event_dir(tmp_path / "runs" / "Jan01_10-00-00_host")
    db = tmp_path / "m.db"
    (result,) = import_paths([str(tmp_path / "runs")], ImportOptions(db=str(db)))
    assert result.format == "tensorboard" and result.keymap == "trl-grpo" and result.namespaced
    assert result.rows == STEPS and (result.first_step, result.last_step) == (1, STEPS)
    assert result.skipped == {"non-scalar summaries (histograms, text, images...)": STEPS}
    assert result.run_id.startswith("runs-Jan01_10-00-00_host-")
    with StoreReader(str(db)) as reader:
        metrics = reader.metrics(result.run_id)
        rows = list(reader.iter_rows(result.run_id, start=1, end=1))
    assert metrics["step"].tolist() == list(range(1, STEPS + 1))
    assert {"entropy", "kl_divergence", "reward_mean", "reward_std", "loss", "grad_norm", "learning_rate"} <= set(
        metrics)
    assert rows[0]["wall_time"] == pytest.approx(event_file(folder).stat().st_mtime, abs=600)
    fired = detectors_fired(db, result.run_id)
    assert "entropy_collapse" in fired and JUMP_AT <= fired["entropy_collapse"] <= JUMP_AT + 15, fired
    assert all(step >= JUMP_AT for step in fired.values()), fired  # nothing before the bad change


def test_resumed_run_folder_and_several_runs(tmp_path: Path) -> None:
    tensorboard = need("torch.utils.tensorboard")
    need("tensorboard")
    first = tensorboard.SummaryWriter(log_dir=str(tmp_path / "logs" / "a"), filename_suffix=".0")
    for step in range(1, 21):
        first.add_scalar("loss", 1.0, step)
    first.close()
    # A restart from the checkpoint at step 10 writes a second file in the same folder; its steps win.
    second = tensorboard.SummaryWriter(log_dir=str(tmp_path / "logs" / "a"), filename_suffix=".1")
    for step in range(10, 31):
        second.add_scalar("loss", 2.0, step)
    second.close()
    other = tensorboard.SummaryWriter(log_dir=str(tmp_path / "logs" / "b"))
    for step in range(0, 50, 5):
        other.add_scalar("loss", 3.0, step)
    other.close()
    db = tmp_path / "m.db"
    results = {r.display.rsplit(os.sep, 1)[-1]: r for r in import_paths([str(tmp_path / "logs")],
                                                                          ImportOptions(db=str(db)))}
    assert set(results) == {"a", "b"}
    with StoreReader(str(db)) as reader:
        a = reader.metrics(results["a"].run_id)
        b = reader.metrics(results["b"].run_id)
    assert a["step"].tolist() == list(range(1, 31))
    assert a["loss"].tolist() == [1.0] * 9 + [2.0] * 21
    assert b["step"].tolist() == list(range(0, 50, 5))  # sparse steps stay sparse


def test_lightning_tensorboard_logger_run(tmp_path: Path) -> None:
    torch = need("torch")
    need("tensorboard")
    lightning = need("lightning")

    class Bandit(lightning.LightningModule):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.logits = torch.nn.Parameter(torch.zeros(8))
            self.pay = torch.tensor([1.0, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            step = self.global_step + 1
            if step == JUMP_AT:
                for group in self.optimizers().param_groups:
                    group["lr"] = 20.0
            policy = torch.distributions.Categorical(logits=self.logits)
            actions = policy.sample((16,))
            rewards = self.pay[actions] + 0.1 * torch.randn(16)
            advantages = (rewards - rewards.mean()) / (rewards.std() + 1e-6)
            loss = -(policy.log_prob(actions) * advantages).mean()
            self.log_dict({"entropy": policy.entropy(), "reward_mean": rewards.mean(),
                           "reward_std": rewards.std(), "loss": loss})
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.05)

        def train_dataloader(self) -> Any:
            return torch.utils.data.DataLoader(torch.zeros(STEPS, 1), batch_size=1)

    torch.manual_seed(0)
    logger = lightning.pytorch.loggers.TensorBoardLogger(save_dir=str(tmp_path), name="lightning_logs")
    trainer = lightning.Trainer(max_steps=STEPS, logger=logger, log_every_n_steps=1, accelerator="cpu",
                                enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Bandit())
    db = tmp_path / "m.db"
    (result,) = import_paths([str(tmp_path / "lightning_logs")], ImportOptions(db=str(db)))
    assert result.run_id.startswith("lightning_logs-version_0-")
    with StoreReader(str(db)) as reader:
        metrics = reader.metrics(result.run_id)
    assert {"entropy", "reward_mean", "loss"} <= set(metrics)
    assert len(metrics["step"]) >= STEPS - 1
    fired = detectors_fired(db, result.run_id)
    assert "entropy_collapse" in fired and fired["entropy_collapse"] >= JUMP_AT - 2, fired


@pytest.mark.parametrize("damage", ["cut", "flipped-byte"])
def test_damaged_event_file_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str) -> None:
    folder = torch_event_dir(tmp_path / "run")
    path = event_file(folder)
    data = bytearray(path.read_bytes())
    if damage == "cut":
        data = data[: len(data) * 2 // 3]
    else:
        data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    seed = tmp_path / "seed.jsonl"
    seed.write_text("".join(f'{{"step": {s}, "loss": 0.5}}\n' for s in range(20)))
    db = tmp_path / "m.db"
    import_paths([str(seed)], ImportOptions(db=str(db)))
    before = db_state(db)
    code = main(["import", str(folder), "--db", str(db)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"rlwatch import: {path}: byte "), err
    assert "damaged or cut-off event record" in err
    assert db_state(db) == before
