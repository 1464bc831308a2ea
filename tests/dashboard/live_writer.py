"""A training process stand-in for the live-update test.

Usage: ``python live_writer.py LOG_DIR``. Logs steps 0-19, flushes and prints
``phase1``; on a line from stdin logs steps 20-59 (slowly, like training) and
prints ``phase2`` (the loss is NaN at step 45: a loss_nan alert while the
page is open); on the next line stops the run (status finished).
"""

from __future__ import annotations

import sys
import time

import rlwatch


def main(log_dir: str) -> None:
    """Write the live run in two phases driven by stdin."""
    mon = rlwatch.attach(run_id="live-run", storage={"log_dir": log_dir, "flush_interval_seconds": 0.2},
                         alerts={"console": {"enabled": False}})
    for step in range(20):
        mon.log_step(step, entropy=1.0 + 0.01 * step, reward_mean=0.1 * step, loss=1.0 / (step + 1))
    mon.flush()
    print("phase1", flush=True)
    sys.stdin.readline()
    for step in range(20, 60):
        loss = float("nan") if step == 45 else 1.0 / (step + 1)
        mon.log_step(step, entropy=1.0 + 0.01 * step, reward_mean=0.1 * step, loss=loss)
        time.sleep(0.02)
    mon.flush()
    print("phase2", flush=True)
    sys.stdin.readline()
    mon.stop()
    print("stopped", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
