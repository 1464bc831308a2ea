"""Train the bandit policy with DDP on 2 CPU processes (gloo); zero-code rlwatch.

Run by test_lightning_ddp.py as ``python ddp_run.py <n_batches> <mode>`` with
RLWATCH_LOG_DIR / RLWATCH_RUN_ID in the environment. Lightning's "ddp"
strategy re-runs this script for rank 1. Each process prints one line
``RANK <global_rank> STEPS <global_step> RECORDING <bool>`` for the test.

Modes: ``zero-code`` (nothing but the installed package), ``user-attach``
(every process calls ``rlwatch.attach(trainer=...)`` itself and, to make the
point, tells rlwatch it is rank 0: Lightning's rank must still win).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import lightning.pytorch as lp
import rlwatch
from lightning_bandit import BanditPolicy, make_trainer
from rlwatch_lightning.hooks import RLWatchHooks


def main() -> None:
    n_batches, mode = int(sys.argv[1]), sys.argv[2]
    lp.seed_everything(0, verbose=False)
    trainer: Any = make_trainer(strategy="ddp", devices=2, max_epochs=1)
    seen: list[bool] = []

    class Probe(lp.Callback):
        def on_train_batch_end(self, trainer: Any, *args: object) -> None:
            seen.extend(cb.recording for cb in trainer.callbacks if isinstance(cb, RLWatchHooks))

    trainer.callbacks.append(Probe())
    if mode == "user-attach":
        rlwatch.attach(trainer=trainer, distributed={"rank": 0, "world_size": 1})
    trainer.fit(BanditPolicy(n_batches=n_batches))
    # One write(2) of a short line: both ranks share the pipe, and print()
    # writes the text and the newline separately, so two ranks' lines could
    # interleave ("...TrueRANK 1 ..."). A pipe write under PIPE_BUF is atomic.
    line = f"RANK {trainer.global_rank} STEPS {trainer.global_step} RECORDING {any(seen)}\n"
    sys.stdout.flush()
    os.write(sys.stdout.fileno(), line.encode())


if __name__ == "__main__":
    main()
